"""Face detectors behind one contract: ``detect(frame_bgr) -> list[Detection]``.

* ``ssd``  — OpenCV's res10 300x300 SSD through ``cv2.dnn`` (the course's detector;
  weights from the registry).
* ``haar`` — OpenCV's frontal-face Haar cascade (ships with opencv-python 4.x).
* ``mtcnn`` — the ``mtcnn`` package (weights in its wheel).

Every detector accepts BGR, BGRA or grayscale frames of any size, clips boxes to the
frame and drops empty ones.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Detection:
    """A face: pixel box ``(x1, y1, x2, y2)`` (x2, y2 exclusive) and the detector's score."""

    box: tuple[int, int, int, int]
    score: float


class FrameError(ValueError):
    """A frame that is not an image (wrong type, shape or dtype)."""


def as_bgr(frame) -> np.ndarray:
    """A uint8 BGR image from BGR, BGRA or grayscale input; a clear error for anything else."""
    import cv2

    if not isinstance(frame, np.ndarray) or frame.size == 0:
        raise FrameError(f"a frame must be a non-empty numpy array, got {type(frame).__name__}")
    if frame.dtype != np.uint8:
        raise FrameError(f"a frame must be uint8, got {frame.dtype}")
    if frame.ndim == 2:
        return cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    if frame.ndim == 3 and frame.shape[2] == 1:
        return cv2.cvtColor(frame[:, :, 0], cv2.COLOR_GRAY2BGR)
    if frame.ndim == 3 and frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR)
    if frame.ndim == 3 and frame.shape[2] == 3:
        return frame
    raise FrameError(f"a frame must be HxW, HxWx1, HxWx3 or HxWx4, got shape {frame.shape}")


def clip_boxes(boxes, width: int, height: int, scores=None) -> list[Detection]:
    """Clip ``(x1, y1, x2, y2)`` boxes to the frame and drop the ones left empty."""
    out = []
    scores = [1.0] * len(boxes) if scores is None else scores
    for (x1, y1, x2, y2), score in zip(boxes, scores):
        if not np.all(np.isfinite([x1, y1, x2, y2])):
            continue
        x1, x2 = sorted((int(round(x1)), int(round(x2))))
        y1, y2 = sorted((int(round(y1)), int(round(y2))))
        x1, y1 = max(0, x1), max(0, y1)
        x2, y2 = min(width, x2), min(height, y2)
        if x2 - x1 >= 2 and y2 - y1 >= 2:
            out.append(Detection((x1, y1, x2, y2), float(score)))
    return out


class SSDDetector:
    """res10 SSD via OpenCV DNN: 300x300 blob, mean (104, 177, 123), confidence threshold.

    ``blob_width`` other than 300 feeds a blob of that width with the frame's own aspect
    ratio instead (the network is fully convolutional): 240 px wide takes half the time
    of 300x300 on a 640x480 frame and still finds faces of 50 px and more.
    """

    name = "ssd"

    def __init__(self, threshold: float = 0.5, prototxt=None, weights=None, blob_width: int = 300):
        import cv2

        from kit.data import fetch

        self.threshold = threshold
        self.blob_width = blob_width
        prototxt = prototxt or fetch("res10_ssd_deploy_prototxt", progress=False)
        weights = weights or fetch("res10_ssd_face_detector", progress=False)
        self.net = cv2.dnn.readNetFromCaffe(str(prototxt), str(weights))

    def detect(self, frame_bgr) -> list[Detection]:
        import cv2

        frame = as_bgr(frame_bgr)
        h, w = frame.shape[:2]
        size = (300, 300) if self.blob_width == 300 else (self.blob_width, max(32, round(self.blob_width * h / w)))
        blob = cv2.dnn.blobFromImage(cv2.resize(frame, size), 1.0, size, (104.0, 177.0, 123.0))
        self.net.setInput(blob)
        out = self.net.forward()[0, 0]
        keep = out[:, 2] >= self.threshold
        boxes = out[keep, 3:7] * np.array([w, h, w, h])
        return clip_boxes(boxes, w, h, out[keep, 2])


class HaarDetector:
    """OpenCV's Haar cascade; large frames are searched at most 640 px wide."""

    name = "haar"

    def __init__(self, threshold: float = 0.0, min_size: int = 30, max_width: int = 640):
        import cv2

        path = cv2.data.haarcascades + "haarcascade_frontalface_default.xml"
        self.cascade = cv2.CascadeClassifier(path)
        if self.cascade.empty():
            raise RuntimeError(f"cannot load the Haar cascade {path}: is opencv-python(-headless) 4.x installed? "
                               f"(OpenCV 5 no longer ships the cascades)")
        self.threshold, self.min_size, self.max_width = threshold, min_size, max_width

    def detect(self, frame_bgr) -> list[Detection]:
        import cv2

        frame = as_bgr(frame_bgr)
        h, w = frame.shape[:2]
        scale = min(1.0, self.max_width / w)
        gray = cv2.cvtColor(frame if scale == 1.0 else cv2.resize(frame, None, fx=scale, fy=scale), cv2.COLOR_BGR2GRAY)
        rects, _, weights = self.cascade.detectMultiScale3(
            gray, scaleFactor=1.1, minNeighbors=5, minSize=(self.min_size, self.min_size), outputRejectLevels=True)
        if len(rects) == 0:
            return []
        boxes = [((x / scale), (y / scale), (x + bw) / scale, (y + bh) / scale) for x, y, bw, bh in rects]
        # levelWeights are unbounded margins; squash them to (0, 1) so thresholds mean the same everywhere.
        scores = 1.0 / (1.0 + np.exp(-np.asarray(weights, float).ravel()))
        dets = clip_boxes(boxes, w, h, scores)
        return [d for d in dets if d.score >= self.threshold]


class MTCNNDetector:
    """The ``mtcnn`` package (TensorFlow; weights ship in its wheel)."""

    name = "mtcnn"

    def __init__(self, threshold: float = 0.9):
        from kit.vision import import_tensorflow

        import_tensorflow()
        from mtcnn import MTCNN

        self.model = MTCNN()
        self.threshold = threshold

    def detect(self, frame_bgr) -> list[Detection]:
        import cv2

        frame = as_bgr(frame_bgr)
        h, w = frame.shape[:2]
        faces = self.model.detect_faces(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
        boxes = [(f["box"][0], f["box"][1], f["box"][0] + f["box"][2], f["box"][1] + f["box"][3]) for f in faces]
        scores = [f["confidence"] for f in faces]
        return [d for d in clip_boxes(boxes, w, h, scores) if d.score >= self.threshold]


DETECTORS = {"ssd": SSDDetector, "haar": HaarDetector, "mtcnn": MTCNNDetector}


def make_detector(name: str = "ssd", threshold: float | None = None):
    """A detector by name (``ssd``, ``haar``, ``mtcnn``) with an optional score threshold."""
    if name not in DETECTORS:
        raise ValueError(f"unknown detector {name!r}; choose from {', '.join(DETECTORS)}")
    return DETECTORS[name]() if threshold is None else DETECTORS[name](threshold=threshold)
