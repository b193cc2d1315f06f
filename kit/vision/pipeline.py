"""The detection pipeline: detect faces, crop, classify all crops of a frame in one
call, and return ``(box, label, probability)`` per face with timings.

Speed (the course's target is 30 frames/s at 640x480 with three faces on two cores)
comes from three measured choices, each switchable so the benchmark can show it:
the classifier runs as TFLite (XNNPACK), faces are batched into one call per frame,
and on a stream detector and classifier run on every ``detect_every``-th frame with
the faces reused in between (people move little in 1/15 s). ``kit detect bench`` compares all of this with
the seed-style pipeline (SSD + Keras ``model.predict`` per frame) on the same frames.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from .detectors import as_bgr, make_detector

COLOURS_BGR = {"with_mask": (0, 200, 0), "without_mask": (0, 0, 230), "mask_weared_incorrect": (0, 210, 255)}
DISPLAY = {"with_mask": "Mask", "without_mask": "No Mask", "mask_weared_incorrect": "Incorrect"}


@dataclass
class Face:
    """One classified face."""

    box: tuple[int, int, int, int]
    label: str
    prob: float
    score: float

    def to_json(self) -> dict:
        return {"box": list(self.box), "label": self.label, "prob": round(float(self.prob), 4),
                "score": round(float(self.score), 4)}


@dataclass
class FrameResult:
    """Faces of one frame and where the time went (milliseconds)."""

    faces: list[Face]
    timings: dict = field(default_factory=dict)
    detected: bool = True  # False when the boxes were reused from an earlier frame


def crop(frame_bgr: np.ndarray, box, margin: float = 0.0) -> np.ndarray:
    """The RGB crop of a box, enlarged by ``margin`` (a fraction of its size) and clipped."""
    import cv2

    x1, y1, x2, y2 = box
    h, w = frame_bgr.shape[:2]
    mx, my = int((x2 - x1) * margin), int((y2 - y1) * margin)
    x1, y1, x2, y2 = max(0, x1 - mx), max(0, y1 - my), min(w, x2 + mx), min(h, y2 + my)
    return cv2.cvtColor(frame_bgr[y1:y2, x1:x2], cv2.COLOR_BGR2RGB)


class MaskDetector:
    """Face detector + mask classifier.

    Parameters
    ----------
    detector : str or detector object
        ``ssd`` (default), ``haar`` or ``mtcnn``.
    classifier : str or MaskClassifier
        ``reference`` or a path exported by ``kit vision train``.
    threshold : float, optional
        Detector score threshold.
    margin : float
        Crop margin around each face box.
    detect_every : int
        Run detector and classifier on every n-th frame of a stream and reuse the faces
        in between (1 = every frame). Single images are always processed.
    fast : bool
        The real-time setting ``detect_every=2`` (see ``kit detect bench`` for its
        speed and its agreement with the every-frame pipeline).
    """

    def __init__(self, detector="ssd", classifier="reference", threshold: float | None = None,
                 margin: float = 0.0, detect_every: int = 1, fast: bool = False):
        from .classifier import MaskClassifier

        if fast:
            detect_every = max(detect_every, 2)
        self.detector = make_detector(detector, threshold) if isinstance(detector, str) else detector
        self.classifier = MaskClassifier(classifier) if isinstance(classifier, str) else classifier
        self.margin = margin
        self.detect_every = max(1, int(detect_every))
        self._count = 0
        self._last: FrameResult | None = None

    def reset(self) -> None:
        """Forget the reused faces (a new stream starts)."""
        self._count = 0
        self._last = None

    def process(self, frame, stream: bool = False) -> FrameResult:
        """Detect and classify the faces of one frame.

        Parameters
        ----------
        frame : ndarray
            BGR, BGRA or grayscale uint8 image.
        stream : bool
            Part of a stream: allows reusing the last detection (``detect_every``).
        """
        t0 = time.perf_counter()
        frame = as_bgr(frame)
        fresh = not stream or self._count % self.detect_every == 0 or self._last is None
        self._count += 1
        if not fresh:
            # Between detections the same people are in view: reuse boxes and labels.
            return FrameResult(list(self._last.faces), {"detect_ms": 0.0, "classify_ms": 0.0,
                                                        "total_ms": (time.perf_counter() - t0) * 1000}, False)
        detections = self.detector.detect(frame)
        t1 = time.perf_counter()
        crops = [crop(frame, d.box, self.margin) for d in detections]
        probs = self.classifier.predict(crops)
        t2 = time.perf_counter()
        faces = []
        for det, p in zip(detections, probs):
            k = int(np.argmax(p))
            faces.append(Face(det.box, self.classifier.classes[k], float(p[k]), det.score))
        result = FrameResult(faces, {"detect_ms": (t1 - t0) * 1000, "classify_ms": (t2 - t1) * 1000,
                                     "total_ms": (time.perf_counter() - t0) * 1000}, True)
        self._last = result
        return result


def annotate(frame_bgr: np.ndarray, result: FrameResult) -> np.ndarray:
    """A copy of the frame with coloured boxes and "Mask 98 %" labels."""
    import cv2

    out = as_bgr(frame_bgr).copy()
    for face in result.faces:
        x1, y1, x2, y2 = face.box
        colour = COLOURS_BGR.get(face.label, (200, 200, 200))
        cv2.rectangle(out, (x1, y1), (x2, y2), colour, 2)
        text = f"{DISPLAY.get(face.label, face.label)} {face.prob * 100:.0f}%"
        cv2.putText(out, text, (x1, max(12, y1 - 8)), cv2.FONT_HERSHEY_SIMPLEX, 0.5, colour, 2)
    return out
