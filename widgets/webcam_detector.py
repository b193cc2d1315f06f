"""The webcam mask detector: the browser's camera, the kernel's pipeline.

The front end (``webcam_detector.js``) asks for the camera with getUserMedia, draws each
video frame into a canvas and sends it to the kernel as a JPEG buffer — at most one
frame in flight; later frames are dropped, never queued. It keeps the pixels it sent,
and when the answer comes back it shows *that* frame with its boxes, so a box is never
drawn over a picture it was not computed on. The kernel decodes the frame, runs
:class:`kit.vision.live.pipeline.MaskDetector`, follows the faces into people
(:class:`kit.vision.live.tracking.FaceTracker`) and sends back the faces, the counts and the
people seen. Users without a camera upload an image or a video. At its first frame a
kernel lowers its own CPU priority
(:func:`kit.vision.runtime.yield_cpu_to_starting_sessions`), so that a visitor opening the
app while others stream does not wait for it.

Everything that arrives from the browser is checked before any work is done: the
message type and frame id, the frame's size in bytes and (from its header) in pixels,
and every synced setting (detector name, threshold, smallest face, frame width). A bad
frame gets an error message back; the kernel keeps running.
"""
from __future__ import annotations

import math
import pathlib
import time

import anywidget
import traitlets

from kit.vision.faces.detectors import DEFAULT_DETECTOR, DETECTORS, LIVE_MIN_FACE

from .browser_state import KernelOutputs
from .static_view import StaticView, note_html

_HERE = pathlib.Path(__file__).parent
DETECTOR_CHOICES = tuple(name for name in ("centerface", "ssd", "haar", "yunet", "mtcnn") if name in DETECTORS)
THRESHOLD_RANGE = (0.05, 0.95)
MIN_FACE_RANGE = (8.0, 400.0)
WIDTH_RANGE = (64, 1280)
MAX_FRAME_ID = 2**53


def _in_range(name, value, lo, hi):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not lo <= value <= hi:
        raise traitlets.TraitError(f"{name} must be a number in {lo}..{hi}, got {value!r}")
    return value


class WebcamDetector(KernelOutputs, StaticView, anywidget.AnyWidget):
    """Live mask detection on the user's own camera.

    Parameters
    ----------
    detector : str
        One of :data:`DETECTOR_CHOICES` (default ``centerface``).
    classifier : str
        ``default`` (the kit's three-class model), ``reference`` or a model folder.
    threshold : float, optional
        Detector score threshold (default: the detector's own).
    min_face : float
        Smallest face to find, in pixels of the frame the browser sends.
    max_width : int
        The browser downscales frames to at most this width before sending them.
    """

    _esm = _HERE / "webcam_detector.js"
    _css = _HERE / "webcam_detector.css"
    # computed by the kernel: never taken from the browser (widgets.browser_state)
    KERNEL_OUTPUTS = frozenset({"counts", "people", "frames_processed", "kernel_ms", "last_error", "detectors",
                                "labels"})

    detector = traitlets.Unicode(DEFAULT_DETECTOR).tag(sync=True)
    detectors = traitlets.List(list(DETECTOR_CHOICES)).tag(sync=True)
    threshold = traitlets.Float(0.5).tag(sync=True)
    min_face = traitlets.Float(LIVE_MIN_FACE).tag(sync=True)
    max_width = traitlets.Int(640).tag(sync=True)
    counts = traitlets.Dict({}).tag(sync=True)
    people = traitlets.Int(0).tag(sync=True)
    frames_processed = traitlets.Int(0).tag(sync=True)
    kernel_ms = traitlets.Float(0.0).tag(sync=True)
    last_error = traitlets.Unicode("").tag(sync=True)
    # how each class is shown (kit.vision.masks.labels): the page draws with these, never its own copy
    labels = traitlets.Dict({}).tag(sync=True)

    @traitlets.validate("detector")
    def _check_detector(self, proposal):
        if proposal["value"] not in DETECTOR_CHOICES:
            raise traitlets.TraitError(f"detector must be one of {', '.join(DETECTOR_CHOICES)}, got {proposal['value']!r:.40}")
        return proposal["value"]

    @traitlets.validate("detectors")
    def _check_detectors(self, proposal):
        value = proposal["value"]
        if not isinstance(value, list) or not value or any(v not in DETECTOR_CHOICES for v in value):
            raise traitlets.TraitError(f"detectors must be a list drawn from {', '.join(DETECTOR_CHOICES)}")
        return value

    @traitlets.validate("threshold")
    def _check_threshold(self, proposal):
        return _in_range("threshold", proposal["value"], *THRESHOLD_RANGE)

    @traitlets.validate("min_face")
    def _check_min_face(self, proposal):
        return _in_range("min_face", proposal["value"], *MIN_FACE_RANGE)

    @traitlets.validate("max_width")
    def _check_max_width(self, proposal):
        return int(_in_range("max_width", proposal["value"], *WIDTH_RANGE))

    def __init__(self, detector: str = DEFAULT_DETECTOR, classifier: str = "default", threshold: float | None = None,
                 min_face: float = LIVE_MIN_FACE, max_width: int = 640, **kwargs):
        from kit.vision.masks.classifier import MaskClassifier
        from kit.vision.masks.labels import COLOURS_HEX, display_name

        super().__init__(detector=detector, min_face=min_face, max_width=max_width, **kwargs)
        self._classifier = MaskClassifier(classifier)
        self.labels = {c: {"name": display_name(c), "colour": COLOURS_HEX.get(c, "#c8c8c8")}
                       for c in self._classifier.classes}
        self._pipelines: dict = {}
        self._tracker = None
        self._yielded = False
        self.history: list = []  # (time, counts per label) per processed frame, for statistics
        # The detector's own threshold (read before pipeline() applies the slider's value to it),
        # within the slider's range (Haar's own is 0: every candidate).
        own = float(getattr(self._pipeline_for(self.detector).detector, "threshold", 0.5))
        self.threshold = threshold if threshold is not None else min(max(own, THRESHOLD_RANGE[0]), THRESHOLD_RANGE[1])
        self.pipeline()  # load the models now, not on the first frame
        self.on_msg(self._on_frame)

    def static_html(self) -> str:
        return note_html(f"Live mask detector ({self.detector} faces, {self._classifier.name} classifier): it "
                         f"needs your browser's camera and a running kernel. Open this lesson in JupyterLab, or "
                         f"run `kit serve mask_detector.ipynb` and open the address it prints.")

    def pipeline(self):
        """The pipeline for the current detector (built once per detector), with the
        current threshold and smallest face."""
        pipe = self._pipeline_for(self.detector)
        if hasattr(pipe.detector, "threshold"):
            pipe.detector.threshold = float(self.threshold)
        if hasattr(pipe.detector, "min_face"):
            pipe.detector.min_face = float(self.min_face)
        return pipe

    def _pipeline_for(self, detector: str):
        """The pipeline of one detector, built once, with the detector's own settings."""
        from kit.vision.live.pipeline import MaskDetector

        if detector not in self._pipelines:
            self._pipelines[detector] = MaskDetector(detector, self._classifier, min_face=self.min_face)
        return self._pipelines[detector]

    def tracker(self):
        """People seen in this session (a new one after :meth:`reset`)."""
        if self._tracker is None:
            from kit.vision.live.tracking import FaceTracker

            self._tracker = FaceTracker(self._classifier.classes)
        return self._tracker

    def reset(self) -> None:
        """Forget the people seen (the browser sends this on Start and on a new upload)."""
        self._tracker = None
        self.people = 0

    def handle_frame(self, jpeg: bytes, frame_id=None, track: bool = True) -> dict:
        """Check and decode one JPEG frame and detect; returns the message for the browser."""
        from kit.data.images import BROWSER_FORMATS, decode_bgr
        from kit.errors import KitError
        from kit.limits import max_frame_bytes

        if not jpeg:
            return {"type": "error", "id": frame_id, "message": f"frame {frame_id}: no image data received"}
        if len(jpeg) > max_frame_bytes():
            return {"type": "error", "id": frame_id,
                    "message": f"frame {frame_id}: {len(jpeg):,} bytes is more than the limit of "
                               f"{max_frame_bytes():,} (KIT_MAX_FRAME_BYTES); send smaller frames"}
        try:
            frame = decode_bgr(jpeg, f"frame {frame_id}", "KIT_MAX_FRAME_PIXELS", BROWSER_FORMATS)
        except KitError as exc:
            return {"type": "error", "id": frame_id, "message": str(exc)}
        if not self._yielded:  # a streaming kernel lets other visitors' apps start first
            from kit.vision.runtime import yield_cpu_to_starting_sessions

            yield_cpu_to_starting_sessions()
            self._yielded = True
        pipe = self.pipeline()
        t0 = time.perf_counter()
        result = pipe.process(frame)
        faces = self.tracker().update(result.faces) if track else result.faces
        ms = (time.perf_counter() - t0) * 1000
        counts = {label: sum(f.label == label for f in faces) for label in pipe.classes}
        self.history.append((time.time(), counts))
        del self.history[:-10_000]  # a long session keeps the last hour or so
        return {"type": "result", "id": frame_id, "width": int(frame.shape[1]), "height": int(frame.shape[0]),
                "faces": [f.to_json() for f in faces], "kernel_ms": round(ms, 1), "counts": counts,
                "people": len(self.tracker().people) if track else 0,
                "stages_ms": {k: round(v, 1) for k, v in result.timings.items()}}

    def _on_frame(self, _widget, content, buffers):
        if not isinstance(content, dict):
            return
        kind = content.get("type")
        if kind == "reset":
            self.reset()
            return
        if kind != "frame":
            return
        frame_id = content.get("id")
        if isinstance(frame_id, bool) or not isinstance(frame_id, int) or not 0 <= frame_id <= MAX_FRAME_ID:
            self.send({"type": "error", "id": None, "message": "a frame needs a whole-number id"})
            return
        track = content.get("track", True) is not False
        try:
            reply = self.handle_frame(bytes(buffers[0]) if buffers else b"", frame_id, track)
        except Exception as exc:  # never let one bad frame take the widget down; the message names it
            reply = {"type": "error", "id": frame_id, "message": f"frame {frame_id}: {type(exc).__name__}: {exc}"}
        if reply["type"] == "result":
            self.frames_processed += 1
            self.kernel_ms = reply["kernel_ms"]
            self.counts = reply["counts"]
            self.people = reply["people"]
            self.last_error = ""
        else:
            self.last_error = reply["message"]
        self.send(reply)
