"""The detection pipeline: detect faces, crop them the way the classifier was trained,
classify all crops of a frame in one call, and return ``(box, label, probability)`` per
face with the time each stage took.

The crop margin comes from the classifier's model card (the margin it was trained
with), so the live detector serves a model the crops it learnt from.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from kit.errors import ParameterError

from ..faces.detectors import DEFAULT_DETECTOR, as_bgr, make_detector
from ..imagesets import crop_box
from ..masks.labels import colour_bgr, display_name


@dataclass
class Face:
    """One classified face; ``track`` is the person's id when faces are tracked."""

    box: tuple[int, int, int, int]
    label: str
    prob: float
    score: float
    track: int | None = None

    def to_json(self) -> dict:
        out = {"box": [int(v) for v in self.box], "label": self.label, "prob": round(float(self.prob), 4),
               "score": round(float(self.score), 4)}
        if self.track is not None:
            out["track"] = int(self.track)
        return out


@dataclass
class FrameResult:
    """Faces of one frame and where the time went (milliseconds per stage)."""

    faces: list[Face]
    timings: dict = field(default_factory=dict)
    detected: bool = True  # False when the boxes were carried over from an earlier frame


def crop(frame_bgr: np.ndarray, box, margin: float = 0.0) -> np.ndarray:
    """The RGB crop of a box of a BGR frame, enlarged by ``margin`` (see :func:`kit.data.images.crop_box`)."""
    return np.ascontiguousarray(crop_box(frame_bgr, box, margin)[:, :, ::-1])


class MaskDetector:
    """Face detector + mask classifier.

    Parameters
    ----------
    detector : str or detector object
        A name from :data:`kit.vision.faces.detectors.DETECTORS` (default ``centerface``).
    classifier : str or MaskClassifier
        ``default`` (the kit's three-class model), ``reference`` (the seeds' two-class
        model) or a folder exported by ``kit vision train``.
    threshold : float, optional
        Detector score threshold.
    min_face : float, optional
        Smallest face to find in pixels (detectors that scale the frame); see
        :mod:`kit.vision.faces.detectors`.
    margin : float, optional
        Crop margin; default: the one in the classifier's model card.
    """

    def __init__(self, detector=DEFAULT_DETECTOR, classifier="default", threshold: float | None = None,
                 min_face: float | None = None, margin: float | None = None):
        from ..masks.classifier import MaskClassifier

        self.detector = make_detector(detector, threshold, min_face) if isinstance(detector, str) else detector
        self.classifier = MaskClassifier(classifier) if isinstance(classifier, str) else classifier
        if margin is not None and not 0.0 <= float(margin) <= 1.0:
            raise ParameterError(f"margin must be a fraction of the box in 0..1, got {margin!r}")
        self.margin = self.classifier.margin if margin is None else float(margin)

    @property
    def classes(self) -> tuple:
        return self.classifier.classes

    def reset(self) -> None:
        """Forget anything carried between frames (a new stream starts)."""

    def classify(self, frame_bgr: np.ndarray, detections) -> tuple[list[Face], float, float]:
        """Faces for the given detections; returns ``(faces, crop_ms, classify_ms)``."""
        t0 = time.perf_counter()
        crops = [crop(frame_bgr, d.box, self.margin) for d in detections]
        t1 = time.perf_counter()
        probs = self.classifier.predict(crops)
        t2 = time.perf_counter()
        faces = []
        for det, p in zip(detections, probs):
            k = int(np.argmax(p))
            faces.append(Face(det.box, self.classes[k], float(p[k]), det.score))
        return faces, (t1 - t0) * 1000, (t2 - t1) * 1000

    def process(self, frame) -> FrameResult:
        """Detect and classify the faces of one frame (BGR, BGRA or grayscale uint8)."""
        t0 = time.perf_counter()
        frame = as_bgr(frame)
        detections = self.detector.detect(frame)
        t1 = time.perf_counter()
        faces, crop_ms, classify_ms = self.classify(frame, detections)
        return FrameResult(faces, {"detect_ms": (t1 - t0) * 1000, "crop_ms": crop_ms, "classify_ms": classify_ms,
                                   "total_ms": (time.perf_counter() - t0) * 1000}, True)


def annotate(frame_bgr: np.ndarray, result: FrameResult) -> np.ndarray:
    """A copy of the frame with coloured boxes and "Mask 98 %" labels (yellow "Incorrect")."""
    import cv2

    out = as_bgr(frame_bgr).copy()
    thickness = max(1, round(max(out.shape[:2]) / 400))
    for face in result.faces:
        x1, y1, x2, y2 = face.box
        colour = colour_bgr(face.label)
        cv2.rectangle(out, (x1, y1), (x2, y2), colour, thickness)
        text = f"{display_name(face.label)} {face.prob * 100:.0f}%"
        if face.track is not None:
            text = f"#{face.track} {text}"
        scale = 0.45 * thickness
        (width, _), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
        x = max(0, min(x1, out.shape[1] - width - 2))  # a label near the right edge stays readable
        cv2.putText(out, text, (x, max(12, y1 - 6)), cv2.FONT_HERSHEY_SIMPLEX, scale, colour, thickness)
    return out
