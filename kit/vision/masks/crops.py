"""Crops that match between training and serving.

At run time a classifier sees the face detector's boxes, enlarged by the model's crop
margin. Annotators draw boxes differently (on the course's VOC set the detector's box
starts about 16 % of a face higher and ends 10 % above the annotated chin), so a model
trained on annotated boxes meets other crops live. :func:`detector_crops` gives every
row of an image set the box the detector would produce:

* an annotated face (VOC) gets the detection it matches (Hungarian matching, IoU ≥ 0.3);
  a face the detector misses keeps its annotation, moved into the detector's framing by
  the median offset measured on the matched faces of the same set;
* a whole image (a folder set of portraits) gets its one detected face; with no face
  found the whole image is kept; with several faces, the largest one if it is at least
  twice the size of the next, otherwise the row is skipped (its label says nothing about
  which face it means) and counted.

Detections are cached per file and detector settings in ``KIT_CACHE/derived/detections``.
"""
from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from kit.data.images import read_bgr
from kit.errors import ImageReadError
from kit.files import write_json
from kit.progress import show_progress

from ..faces.boxes import match_boxes
from ..imagesets import ImageSet

DOMINANT = 2.0  # the largest face must be this many times the next one to speak for a whole image


def _detector_key(detector) -> str:
    settings = {k: v for k, v in vars(detector).items() if isinstance(v, (int, float, str))}
    text = json.dumps({"name": detector.name, **settings}, sort_keys=True)
    return f"{detector.name}-{hashlib.sha256(text.encode()).hexdigest()[:12]}"


class DetectionCache:
    """Detections of a detector per image file, kept on disk (keyed by path, size and mtime)."""

    def __init__(self, detector, folder: Path | None = None):
        from kit.data import cache_dir

        self.detector = detector
        self.path = (folder or cache_dir() / "derived" / "detections") / f"{_detector_key(detector)}.json"
        self._data = {}
        if self.path.is_file():
            try:
                self._data = json.loads(self.path.read_text())
            except (json.JSONDecodeError, UnicodeDecodeError):
                self._data = {}  # a damaged cache is only a cache
        self._dirty = False

    def __call__(self, path: str) -> list:
        stat = Path(path).stat()
        key = f"{Path(path).resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
        if key not in self._data:
            found = self.detector.detect(read_bgr(path))
            self._data[key] = [[*d.box, round(d.score, 4)] for d in found]
            self._dirty = True
        return self._data[key]

    def save(self) -> None:
        if self._dirty:
            write_json(self.path, self._data, indent=None)
            self._dirty = False


def annotation_to_detector_offsets(pairs) -> np.ndarray:
    """Median offsets (x1, y1, x2, y2, as fractions of the annotated width/height) that move an
    annotated box onto the detector's box, from ``(annotated, detected)`` pairs."""
    if not pairs:
        return np.zeros(4)
    truth = np.array([p[0] for p in pairs], float)
    found = np.array([p[1] for p in pairs], float)
    w = np.maximum(truth[:, 2] - truth[:, 0], 1.0)
    h = np.maximum(truth[:, 3] - truth[:, 1], 1.0)
    rel = (found - truth) / np.column_stack([w, h, w, h])
    return np.median(rel, axis=0)


def detector_crops(images: ImageSet, detector="default", progress: bool = True, cache: bool = True) -> ImageSet:
    """The image set with every box replaced by the box the face detector produces.

    Parameters
    ----------
    images : ImageSet
    detector : str or detector
        A name from :data:`kit.vision.faces.detectors.DETECTORS` (``default``: the kit's default,
        looking for photo-sized faces) or a detector object.

    Returns
    -------
    ImageSet
        A new set; its frame gains ``crop_from`` (``detector``, ``annotation`` or ``whole
        image``) and ``annotated_box``. Rows left out are added to ``skipped`` and the
        counts to ``notes``.
    """
    from tqdm.auto import tqdm

    from ..faces.detectors import DEFAULT_DETECTOR, make_detector

    if isinstance(detector, str):
        detector = make_detector(DEFAULT_DETECTOR if detector == "default" else detector)
    detections = DetectionCache(detector) if cache else (lambda p: [[*d.box, d.score] for d in
                                                                    detector.detect(read_bgr(p))])
    frame = images.frame
    boxes, origin, keep = list(frame["box"]), [""] * len(frame), np.ones(len(frame), bool)
    pairs, pending, skipped = [], [], []
    notes = Counter()
    try:
        for path, rows in tqdm(frame.groupby("path", sort=False).indices.items(), desc="finding faces",
                               unit="image", disable=not show_progress(progress) or len(frame) < 50, leave=False):
            try:
                found = np.asarray(detections(path), float).reshape(-1, 5)
            except ImageReadError as exc:
                keep[rows] = False
                skipped.append({"path": path, "reason": str(exc)})
                continue
            annotated = [i for i in rows if isinstance(frame["box"].iat[i], tuple)]
            for i in rows:
                if i not in annotated:
                    _whole_image_row(i, found, boxes, origin, keep, skipped, path, notes)
            truth = [frame["box"].iat[i] for i in annotated]
            matched = {t: f for t, f, _ in match_boxes(truth, found[:, :4])}
            for t, i in enumerate(annotated):
                if t in matched:
                    box = tuple(int(v) for v in found[matched[t], :4])
                    pairs.append((truth[t], box))
                    boxes[i], origin[i] = box, "detector"
                else:
                    pending.append(i)
    finally:
        if cache:
            detections.save()
    offsets = annotation_to_detector_offsets(pairs)
    for i in pending:
        x1, y1, x2, y2 = frame["box"].iat[i]
        w, h = x2 - x1, y2 - y1
        moved = np.array([x1 + offsets[0] * w, y1 + offsets[1] * h, x2 + offsets[2] * w, y2 + offsets[3] * h])
        boxes[i], origin[i] = tuple(int(round(v)) for v in np.maximum(moved, 0)), "annotation"
    notes.update({f"crops from the {k}": v for k, v in Counter(o for o, k in zip(origin, keep) if k).items()})
    new = frame.assign(annotated_box=frame["box"], box=boxes, crop_from=origin)[keep]
    extra = pd.DataFrame(skipped, columns=["path", "reason"])
    return images.with_frame(new, skipped=pd.concat([images.skipped, extra], ignore_index=True),
                             notes=images.notes + notes)


def _whole_image_row(i, found, boxes, origin, keep, skipped, path, notes) -> None:
    """A portrait's row: its one face, the dominant face, the whole image, or left out."""
    if len(found) == 0:
        boxes[i], origin[i] = None, "whole image"
        return
    areas = (found[:, 2] - found[:, 0]) * (found[:, 3] - found[:, 1])
    order = np.argsort(-areas)
    if len(found) == 1 or areas[order[0]] >= DOMINANT * areas[order[1]]:
        boxes[i], origin[i] = tuple(int(v) for v in found[order[0], :4]), "detector"
        return
    keep[i] = False
    notes["images left out: several faces of similar size"] += 1
    skipped.append({"path": path, "reason": f"{Path(path).name}: {len(found)} faces of similar size; the image's "
                                            f"label does not say which one it means"})
