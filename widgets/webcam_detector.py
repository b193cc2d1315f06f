"""The webcam mask detector: the browser's camera, the kernel's pipeline.

The front end (``webcam_detector.js``) asks for the camera with getUserMedia, draws
the video into a canvas, and sends downscaled JPEG frames to the kernel as binary
buffers — at most one frame in flight, later frames are dropped, never queued. The
kernel decodes each frame, runs :class:`kit.vision.pipeline.MaskDetector` and sends
back the faces, which the browser draws over the live video with FPS, round-trip
latency and counts per label. Users without a camera upload an image or a video.
A frame that cannot be decoded gets an error message back; the kernel keeps running.
"""
from __future__ import annotations

import pathlib
import time

import anywidget
import numpy as np
import traitlets

_HERE = pathlib.Path(__file__).parent


class WebcamDetector(anywidget.AnyWidget):
    """Live mask detection on the user's own camera.

    Parameters
    ----------
    detector : {"ssd", "haar", "mtcnn"}
    classifier : str
        ``reference`` or a model exported by ``kit vision train``.
    threshold : float
        Detector score threshold.
    max_width : int
        The browser downscales frames to at most this width before sending them.
    """

    _esm = _HERE / "webcam_detector.js"
    _css = _HERE / "webcam_detector.css"

    detector = traitlets.Unicode("ssd").tag(sync=True)
    detectors = traitlets.List(["ssd", "haar", "mtcnn"]).tag(sync=True)
    threshold = traitlets.Float(0.5).tag(sync=True)
    max_width = traitlets.Int(480).tag(sync=True)
    counts = traitlets.Dict({}).tag(sync=True)
    frames_processed = traitlets.Int(0).tag(sync=True)
    kernel_ms = traitlets.Float(0.0).tag(sync=True)
    last_error = traitlets.Unicode("").tag(sync=True)

    def __init__(self, detector: str = "ssd", classifier: str = "reference", threshold: float = 0.5,
                 max_width: int = 480, fast: bool = True, **kwargs):
        super().__init__(detector=detector, threshold=threshold, max_width=max_width, **kwargs)
        self._classifier_name = classifier
        self._fast = fast
        self._pipelines: dict = {}
        self.history: list = []  # (time, counts per label) per processed frame, for statistics
        self.pipeline()  # load models now, not on the first frame
        self.on_msg(self._on_frame)

    def pipeline(self):
        """The pipeline for the current detector (built once per detector)."""
        from kit.vision.pipeline import MaskDetector

        if self.detector not in self._pipelines:
            shared = next(iter(self._pipelines.values()), None)
            classifier = shared.classifier if shared else self._classifier_name
            self._pipelines[self.detector] = MaskDetector(self.detector, classifier, fast=self._fast)
        pipe = self._pipelines[self.detector]
        if hasattr(pipe.detector, "threshold"):
            pipe.detector.threshold = float(self.threshold)
        return pipe

    def handle_frame(self, jpeg: bytes, frame_id=None) -> dict:
        """Decode one JPEG frame and detect; returns the message sent back to the browser."""
        import cv2

        if not jpeg:
            return {"type": "error", "id": frame_id, "message": f"frame {frame_id}: no image data received"}
        frame = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        if frame is None:
            return {"type": "error", "id": frame_id,
                    "message": f"frame {frame_id}: could not decode {len(jpeg)} bytes as an image (malformed JPEG)"}
        pipe = self.pipeline()
        t0 = time.perf_counter()
        result = pipe.process(frame, stream=True)
        ms = (time.perf_counter() - t0) * 1000
        counts = {label: sum(f.label == label for f in result.faces) for label in pipe.classifier.classes}
        self.history.append((time.time(), counts))
        return {"type": "result", "id": frame_id, "width": int(frame.shape[1]), "height": int(frame.shape[0]),
                "faces": [f.to_json() for f in result.faces], "kernel_ms": round(ms, 1),
                "detected": result.detected, "counts": counts}

    def _on_frame(self, _widget, content, buffers):
        if not isinstance(content, dict) or content.get("type") != "frame":
            return
        try:
            reply = self.handle_frame(bytes(buffers[0]) if buffers else b"", content.get("id"))
        except Exception as exc:  # never let one bad frame take the kernel's widget down
            reply = {"type": "error", "id": content.get("id"),
                     "message": f"frame {content.get('id')}: {type(exc).__name__}: {exc}"}
        if reply["type"] == "result":
            self.frames_processed += 1
            self.kernel_ms = reply["kernel_ms"]
            self.counts = reply["counts"]
            self.last_error = ""
        else:
            self.last_error = reply["message"]
        self.send(reply)
