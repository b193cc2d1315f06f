"""Box geometry shared by detectors, training crops and evaluation: overlap, matching, NMS.

Boxes are ``(x1, y1, x2, y2)`` in pixels (or any one unit), x2 and y2 exclusive.
"""
from __future__ import annotations

import numpy as np

MATCH_IOU = 0.3


def iou_matrix(a, b) -> np.ndarray:
    """Intersection over union of every box in ``a`` with every box in ``b`` (x1, y1, x2, y2)."""
    a = np.asarray(a, float).reshape(-1, 4)
    b = np.asarray(b, float).reshape(-1, 4)
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def match_boxes(truth, found, min_iou: float = MATCH_IOU) -> list[tuple[int, int, float]]:
    """One-to-one matches ``(truth index, found index, iou)`` maximising the total IoU."""
    from scipy.optimize import linear_sum_assignment

    if len(truth) == 0 or len(found) == 0:
        return []
    ious = iou_matrix(truth, found)
    rows, cols = linear_sum_assignment(-ious)
    return [(int(r), int(c), float(ious[r, c])) for r, c in zip(rows, cols) if ious[r, c] >= min_iou]


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> np.ndarray:
    """Indices of the boxes kept by greedy non-maximum suppression (best score first)."""
    import cv2

    if len(boxes) == 0:
        return np.zeros(0, int)
    rects = [[float(x1), float(y1), float(x2 - x1), float(y2 - y1)] for x1, y1, x2, y2 in boxes]
    return np.asarray(cv2.dnn.NMSBoxes(rects, [float(s) for s in scores], 0.0, iou), int).ravel()
