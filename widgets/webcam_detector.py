"""The webcam mask detector: the browser's camera, the pipeline in the page or in the kernel.

``run_on="device"`` (the default): the page runs the detector and the classifier itself
(``widgets/page_inference``: ONNX Runtime Web, WebAssembly SIMD, one thread), with the
kernel's pre- and post-processing. The kernel hands it the four files it needs once —
the bundled pipeline, the WebAssembly and both networks, asked for by name and kept by the
browser (IndexedDB, by sha256), so a second visit downloads nothing — and then receives
only each frame's detections (boxes, scores, labels: 28 bytes a face, never a picture). It
follows the faces into people (:class:`kit.vision.live.tracking.FaceTracker`) and keeps
the counts, exactly as in the server mode. In this mode the kernel never imports
TensorFlow or ONNX Runtime.

``run_on="server"``: the page sends each frame as a JPEG (at most one in flight; later
frames are dropped, never queued); the kernel decodes it, runs
:class:`kit.vision.live.pipeline.MaskDetector` and answers with the faces, counts and
people. The page uses it by itself where it cannot run WebAssembly SIMD, and for the
other detectors and for classifiers without an ONNX file. Either way the page keeps the
pixels of a frame and draws the boxes on *that* frame. At its first frame a server-mode
kernel lowers its own CPU priority (:func:`kit.vision.runtime.yield_cpu_to_starting_sessions`).

Everything that arrives from the browser is checked before any work is done: message
types and ids, a frame's bytes and pixels, a detections buffer's length, every number in
it (finite, inside the frame, a known label) and the count of faces, the message rate
(a flood is refused and counted), asset names, and every synced setting. Bad input gets
an error message back (or is counted, for a flood); the kernel keeps running.
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
RUN_ON = ("device", "server")
MAX_FACES = 256              # detections of one frame the kernel accepts from a page
MAX_FRAME_SIDE = 4096        # a frame a page says it detected on
MAX_MESSAGES_PER_S = 120     # more from one page is a flood: refused and counted
MAX_ASSET_REQUESTS = 3       # each file sent at most this often to one page
ASSET_CHUNK = 1 << 20        # page files go in chunks of this many bytes, one at a time
FACE_FIELDS = 7              # x1, y1, x2, y2, score, label index, probability (float32)
MAX_BATCH = 64               # frames one detections message may carry
REPORT_MS_RANGE = (0, 2000)  # how long a page gathers frames' detections before sending them
REPORT_MS = 500              # ... by default: the kernel's cost is per message; the count follows twice a second


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
        The browser downscales frames to at most this width before detecting or sending them.
    run_on : "device" or "server"
        Where faces are found and labelled (see the module); the visitor can switch.
    report_ms : int
        Device mode: the page gathers this many milliseconds of frames' detections into one
        message to the kernel (0: every frame its own message).
    """

    _esm = _HERE / "webcam_detector.js"
    _css = _HERE / "webcam_detector.css"
    # computed by the kernel: never taken from the browser (widgets.browser_state)
    KERNEL_OUTPUTS = frozenset({"counts", "people", "frames_processed", "kernel_ms", "last_error", "detectors",
                                "labels", "page_assets", "page_config", "refused_messages"})

    detector = traitlets.Unicode(DEFAULT_DETECTOR).tag(sync=True)
    detectors = traitlets.List(list(DETECTOR_CHOICES)).tag(sync=True)
    threshold = traitlets.Float(0.5).tag(sync=True)
    min_face = traitlets.Float(LIVE_MIN_FACE).tag(sync=True)
    max_width = traitlets.Int(640).tag(sync=True)
    # The kernel's figures, for the notebook (read or observed in Python). Not synced: the page
    # shows each answer from the reply itself, and a trait message per answer cost the kernel
    # and Voila more CPU than the tracking (and a flood of refusals would have doubled itself).
    counts = traitlets.Dict({})
    people = traitlets.Int(0)
    frames_processed = traitlets.Int(0)
    kernel_ms = traitlets.Float(0.0)
    last_error = traitlets.Unicode("")
    # how each class is shown (kit.vision.masks.labels): the page draws with these, never its own copy
    labels = traitlets.Dict({}).tag(sync=True)
    run_on = traitlets.Unicode("device").tag(sync=True)
    # what the page's pipeline needs (widgets.page_inference): {name: {sha256, bytes}} and its settings
    page_assets = traitlets.Dict({}).tag(sync=True)
    page_config = traitlets.Dict({}).tag(sync=True)
    refused_messages = traitlets.Int(0)  # not synced either (above)
    # device mode: the page sends the detections of this many milliseconds in one message. Every
    # message costs the kernel about 3 ms of CPU whatever it carries (ipykernel's own handling),
    # so gathering frames is what lets one server take a class (benchmarks/live_demo_load.py)
    report_ms = traitlets.Int(REPORT_MS).tag(sync=True)

    @traitlets.validate("report_ms")
    def _check_report_ms(self, proposal):
        return int(_in_range("report_ms", proposal["value"], *REPORT_MS_RANGE))

    @traitlets.validate("run_on")
    def _check_run_on(self, proposal):
        value = proposal["value"]
        if value not in RUN_ON:
            raise traitlets.TraitError(f"run_on must be one of {', '.join(RUN_ON)}, got {value!r:.40}")
        if value == "device" and not getattr(self, "_assets", None):
            raise traitlets.TraitError("this detector or classifier cannot run in the page: "
                                       + getattr(self, "_page_problem", "no page assets"))
        return value

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
                 min_face: float = LIVE_MIN_FACE, max_width: int = 640, run_on: str = "device",
                 report_ms: int = REPORT_MS, **kwargs):
        from kit.errors import KitError
        from kit.vision.masks.labels import COLOURS_HEX, display_name

        super().__init__(detector=detector, min_face=min_face, max_width=max_width, report_ms=report_ms, **kwargs)
        self._classifier_name, self._classifier = classifier, None
        self._pipelines: dict = {}
        self._tracker = None
        self._yielded = False
        self._assets: dict = {}
        self._asset_requests: dict = {}
        self._message_times: list = []
        self._frames = 0
        self.history: list = []  # (time, counts per label) per processed frame, for statistics
        own = None
        if run_on == "device":  # the page detects: only the files and the cards, no network loaded here
            from .page_inference import page_assets

            try:
                if detector != "centerface":
                    raise KitError(f"the page runs the centerface detector, not {detector}")
                self._assets, config = page_assets(classifier, min_face=min_face)
            except KitError as exc:
                self._page_problem = str(exc)
                run_on = "server"
            else:
                self.page_assets = {name: asset.describe() for name, asset in self._assets.items()}
                self.page_config = config
                self._classes = tuple(config["classifier"]["classes"])
                own = config["detector"]["threshold"]
                self.tracker()  # its imports now, not at the page's first answer
        self.run_on = run_on
        if run_on == "server":
            self._classes = self.classifier().classes
            # The detector's own threshold (read before pipeline() applies the slider's value to it),
            # within the slider's range (Haar's own is 0: every candidate).
            own = float(getattr(self._pipeline_for(self.detector).detector, "threshold", 0.5))
        self.labels = {c: {"name": display_name(c), "colour": COLOURS_HEX.get(c, "#c8c8c8")} for c in self._classes}
        self.threshold = threshold if threshold is not None else min(max(own, THRESHOLD_RANGE[0]), THRESHOLD_RANGE[1])
        if run_on == "server":
            self.pipeline()  # load the models now, not on the first frame
        self.on_msg(self._on_message)

    def classifier(self):
        """The classifier, loaded the first time the server detects."""
        if self._classifier is None:
            from kit.vision.masks.classifier import MaskClassifier

            self._classifier = MaskClassifier(self._classifier_name)
        return self._classifier

    def static_html(self) -> str:
        return note_html(f"Live mask detector ({self.detector} faces, {self._classifier_name} classifier): it "
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
            self._pipelines[detector] = MaskDetector(detector, self.classifier(), min_face=self.min_face)
        return self._pipelines[detector]

    def tracker(self):
        """People seen in this session (a new one after :meth:`reset`)."""
        if self._tracker is None:
            from kit.vision.live.tracking import FaceTracker

            self._tracker = FaceTracker(self._classes)
        return self._tracker

    def reset(self) -> None:
        """Forget the people seen (the browser sends this on Start and on a new upload)."""
        self._tracker = None
        self.people = 0
        if self.run_on == "device":
            self.tracker()  # ready before the first detections arrive

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

    def handle_detections(self, content: dict, buffer: bytes) -> dict:
        """Track the faces a page found on one or more frames; returns the message for the browser.

        ``content``: ``{"id", "frames": [{"id", "width", "height", "faces"}, ...]}`` in the
        order they were seen; ``buffer``: their faces one after the other, float32 rows of
        ``x1, y1, x2, y2, score, label index, probability``. The page sends the frames of
        ``report_ms`` at once (the kernel's cost is per message, not per face). Checked
        before any frame is tracked: at most :data:`MAX_BATCH` frames and :data:`MAX_FACES`
        faces a frame, the buffer's length, every value finite, boxes inside their frame
        and not empty, scores and probabilities in 0..1, a known label.
        """
        import numpy as np

        from kit.vision.live.pipeline import Face

        message_id, frames = content.get("id"), content.get("frames")

        def refuse(why):
            return {"type": "error", "id": message_id, "message": f"detections {message_id}: refused: {why}"}

        if not isinstance(frames, list) or not 1 <= len(frames) <= MAX_BATCH:
            return refuse(f"frames must be a list of 1..{MAX_BATCH} frames")
        whole = lambda v, lo, hi: not isinstance(v, bool) and isinstance(v, int) and lo <= v <= hi
        for f in frames:
            if not isinstance(f, dict) or not whole(f.get("id"), 0, MAX_FRAME_ID):
                return refuse("each frame needs a whole-number id")
            if not (whole(f.get("width"), 1, MAX_FRAME_SIDE) and whole(f.get("height"), 1, MAX_FRAME_SIDE)):
                return refuse(f"frame {f['id']}: width and height must be whole numbers in 1..{MAX_FRAME_SIDE}")
            if not whole(f.get("faces"), 0, MAX_FACES):
                return refuse(f"frame {f['id']}: faces must be a whole number in 0..{MAX_FACES} (the most a frame "
                              f"may have)")
        expected = sum(f["faces"] for f in frames) * FACE_FIELDS * 4
        if len(buffer) != expected:
            return refuse(f"{len(buffer)} bytes where the frames' faces need {expected}")
        rows = np.frombuffer(buffer, "<f4").reshape(-1, FACE_FIELDS).astype(float)
        if not np.isfinite(rows).all():
            return refuse("a value is not a finite number")
        sizes = np.repeat([[f["width"], f["height"]] for f in frames], [f["faces"] for f in frames], axis=0)
        x1, y1, x2, y2, score, label, prob = rows.T
        if len(rows) and ((x1 < 0) | (y1 < 0) | (x2 > sizes[:, 0]) | (y2 > sizes[:, 1]) | (x2 <= x1)
                          | (y2 <= y1)).any():
            return refuse("a box lies outside its frame or is empty")
        if ((score < 0) | (score > 1) | (prob < 0) | (prob > 1)).any():
            return refuse("scores and probabilities must be in 0..1")
        if ((label != np.round(label)) | (label < 0) | (label >= len(self._classes))).any():
            return refuse(f"a label index is not one of 0..{len(self._classes) - 1}")
        t0 = time.perf_counter()
        faces, start = [], 0
        for f in frames:
            chunk = rows[start:start + f["faces"]]
            start += f["faces"]
            faces = self.tracker().update([Face(tuple(int(round(v)) for v in r[:4]), self._classes[int(r[5])],
                                                float(r[6]), float(r[4])) for r in chunk])
            counts = {c: sum(face.label == c for face in faces) for c in self._classes}
            self.history.append((time.time(), counts))
        del self.history[:-10_000]
        return {"type": "tracked", "id": message_id, "frames": [f["id"] for f in frames],
                "tracks": [face.track for face in faces], "counts": counts, "people": len(self.tracker().people),
                "kernel_ms": round((time.perf_counter() - t0) * 1000, 2)}

    def _flooded(self) -> bool:
        """More than :data:`MAX_MESSAGES_PER_S` messages in the last second from this page."""
        now = time.monotonic()
        times = self._message_times
        times.append(now)
        while times and now - times[0] > 1.0:
            times.pop(0)
        return len(times) > MAX_MESSAGES_PER_S

    def _send_asset(self, name, offset=0) -> None:
        """One chunk of a page file, from ``offset``: the page asks for the next one when a
        chunk arrives, so that a class downloading 16 MB each never holds up another
        visitor's page in Voila's single event loop."""
        if not isinstance(name, str) or name not in self._assets:
            self.send({"type": "error", "id": None, "message": f"no page file named {str(name)[:40]!r}"})
            return
        asset = self._assets[name]
        if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset < len(asset.data) \
                or offset % ASSET_CHUNK:
            self.send({"type": "error", "id": None, "message": f"{name}: no chunk starts at {str(offset)[:20]}"})
            return
        if offset == 0:
            sent = self._asset_requests.get(name, 0)
            if sent >= MAX_ASSET_REQUESTS:
                self.refused_messages += 1
                self.send({"type": "error", "id": None, "message": f"{name}: already sent {sent} times to this page"})
                return
            self._asset_requests[name] = sent + 1
        self.send({"type": "asset", "name": name, "sha256": asset.sha256, "offset": offset, "total": len(asset.data)},
                  [asset.data[offset:offset + ASSET_CHUNK]])

    def _on_message(self, _widget, content, buffers):
        if not isinstance(content, dict):
            return
        if self._flooded():  # before any other work: a flood costs the kernel almost nothing
            self.refused_messages += 1
            return
        kind = content.get("type")
        if kind == "reset":
            self.reset()
            return
        if kind == "asset":
            self._send_asset(content.get("name"), content.get("offset", 0))
            return
        if kind not in ("frame", "detections"):
            return
        frame_id = content.get("id")
        if isinstance(frame_id, bool) or not isinstance(frame_id, int) or not 0 <= frame_id <= MAX_FRAME_ID:
            self.send({"type": "error", "id": None, "message": "a frame needs a whole-number id"})
            return
        if kind == "frame" and self.run_on == "device":  # a picture would make this kernel load the networks
            self.send({"type": "error", "id": frame_id, "message": f"frame {frame_id}: this app detects in the page; "
                                                                   f"choose 'run on: the server' to send frames"})
            return
        try:
            if kind == "detections":
                reply = self.handle_detections(content, bytes(buffers[0]) if buffers else b"")
            else:
                reply = self.handle_frame(bytes(buffers[0]) if buffers else b"", frame_id,
                                          content.get("track", True) is not False)
        except Exception as exc:  # never let one bad frame take the widget down; the message names it
            reply = {"type": "error", "id": frame_id, "message": f"frame {frame_id}: {type(exc).__name__}: {exc}"}
        self.send(reply)
        if reply["type"] in ("result", "tracked"):
            self._frames += len(reply["frames"]) if kind == "detections" else 1
            with self.hold_trait_notifications():
                self.frames_processed = self._frames
                self.kernel_ms = reply["kernel_ms"]
                self.counts = reply["counts"]
                self.people = reply["people"]
                self.last_error = ""
        else:
            with self.hold_trait_notifications():
                self.refused_messages += kind == "detections"
                self.last_error = reply["message"]
