"""Crops that match between training and serving: annotated faces get the detector's box,
missed ones are moved into the detector's framing, portraits get their one face, and an
image with several faces of similar size is left out and counted."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from kit.vision.imagesets import ImageSet
from kit.vision.faces.detectors import Detection


class ScriptedDetector:
    """Returns, per image (by its pixel value), the boxes it was told to."""

    name = "scripted"

    def __init__(self, answers):
        self.answers = answers

    def detect(self, frame):
        return [Detection(box, 0.9) for box in self.answers[int(frame[0, 0, 0])]]


def _image(tmp_path, name, value):
    path = tmp_path / f"{name}.png"
    Image.new("RGB", (200, 160), (value, value, value)).save(path)
    return str(path)


def test_boxes_become_the_detectors_and_misses_move_into_its_framing(tmp_path):
    from kit.vision.masks.crops import detector_crops

    scene = _image(tmp_path, "scene", 10)
    portrait, crowd, empty = _image(tmp_path, "portrait", 20), _image(tmp_path, "crowd", 30), _image(tmp_path, "e", 40)
    detector = ScriptedDetector({
        10: [(12, 4, 52, 44), (100, 0, 140, 40)],    # the detector frames faces 8 px higher than annotators
        20: [(50, 40, 150, 140), (0, 0, 20, 20)],     # a portrait: one big face, a small one in the back
        30: [(10, 10, 60, 60), (100, 10, 148, 58)],   # two faces of similar size
        40: [],                                      # no face found
    })
    frame = pd.DataFrame([
        {"path": scene, "label": "with_mask", "group": "s", "box": (10, 12, 50, 52)},
        {"path": scene, "label": "without_mask", "group": "s", "box": (100, 8, 140, 48)},
        {"path": scene, "label": "with_mask", "group": "s", "box": (160, 108, 200, 148)},  # missed by the detector
        {"path": portrait, "label": "without_mask", "group": "p", "box": None},
        {"path": crowd, "label": "with_mask", "group": "c", "box": None},
        {"path": empty, "label": "with_mask", "group": "e", "box": None},
    ])
    images = ImageSet(frame, ("with_mask", "without_mask"), name="t")
    out = detector_crops(images, detector, progress=False, cache=False)
    boxes = dict(zip(zip(out.frame["path"], out.frame["label"], [str(b) for b in out.frame["annotated_box"]]),
                     out.frame["box"]))
    assert boxes[(scene, "with_mask", "(10, 12, 50, 52)")] == (12, 4, 52, 44)
    assert boxes[(scene, "without_mask", "(100, 8, 140, 48)")] == (100, 0, 140, 40)
    moved = boxes[(scene, "with_mask", "(160, 108, 200, 148)")]
    assert moved[1] < 108 and moved[3] < 148  # moved up like the matched ones (median offset)
    assert boxes[(portrait, "without_mask", "None")] == (50, 40, 150, 140)  # the dominant face
    assert boxes[(empty, "with_mask", "None")] is None  # no face: the whole image
    assert crowd not in set(out.frame["path"])
    assert out.notes["images left out: several faces of similar size"] == 1
    assert "2 faces of similar size" in out.skipped["reason"].iloc[-1]
    assert list(out.frame["crop_from"].value_counts().sort_index().items()) == [
        ("annotation", 1), ("detector", 3), ("whole image", 1)]


def test_detections_are_cached_per_file_and_detector(tmp_path, monkeypatch):
    from kit.vision.masks.crops import DetectionCache

    monkeypatch.setenv("KIT_CACHE", str(tmp_path / "cache"))
    path = _image(tmp_path, "x", 10)
    detector = ScriptedDetector({10: [(1, 2, 30, 40)]})
    calls = []
    real = detector.detect
    detector.detect = lambda frame: calls.append(1) or real(frame)
    cache = DetectionCache(detector)
    assert cache(path) == [[1, 2, 30, 40, 0.9]] and cache(path) == [[1, 2, 30, 40, 0.9]] and len(calls) == 1
    cache.save()
    assert DetectionCache(detector)(path) == [[1, 2, 30, 40, 0.9]] and len(calls) == 1  # read back from disk


def test_match_boxes_is_one_to_one():
    from kit.vision.faces.boxes import match_boxes

    truth = [(0, 0, 10, 10), (8, 0, 18, 10)]
    found = [(1, 0, 11, 10)]
    assert [(t, f) for t, f, _ in match_boxes(truth, found)] == [(0, 0)]
    assert match_boxes(truth, []) == [] and match_boxes([], found) == []
    assert match_boxes([(0, 0, 10, 10)], [(20, 20, 30, 30)]) == []
    np.testing.assert_allclose(match_boxes(truth[:1], found)[0][2], 90 / 110)


@pytest.mark.parametrize("margin,expected", [(0.0, (10, 20, 30, 60)), (0.5, (0, 0, 40, 80))])
def test_one_crop_function_for_training_and_serving(margin, expected):
    from kit.vision.imagesets import crop_box, expand_box

    image = np.zeros((70, 100, 3), np.uint8)
    assert expand_box((10, 20, 30, 60), margin, 100, 70) == (expected[0], expected[1], expected[2], min(expected[3], 70))
    assert crop_box(image, (10, 20, 30, 60), margin).shape[:2] == (min(expected[3], 70) - expected[1],
                                                                    expected[2] - expected[0])
    assert crop_box(image, None, margin).shape == image.shape
