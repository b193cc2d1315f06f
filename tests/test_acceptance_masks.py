"""Acceptance on the real observations face-mask set in ../shared/data/masks (skipped when absent)."""
from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import require_models

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "masks" / "observations"
pytestmark = pytest.mark.skipif(not (SHARED / "with_mask").is_dir(), reason="../shared/data/masks is not here")


@pytest.fixture(scope="module")
def observations():
    from kit.vision.imagesets import open_image_set

    return open_image_set(SHARED, progress=False)


def test_observations_load_whole_and_a_random_split_would_leak(observations):
    from kit.vision.imagesets import split

    assert len(observations) == 1376 and observations.counts().to_dict() == {"with_mask": 690, "without_mask": 686}
    assert observations.skipped.empty
    groups = observations.frame["group"].to_numpy()
    train, _, test = split(observations, grouped=False)
    assert len(set(groups[train]) & set(groups[test])) > 50  # pasted-mask twins on both sides
    train, _, test = split(observations)
    assert not set(groups[train]) & set(groups[test])


def test_mobilenet_fast_path_on_real_faces(observations, monkeypatch):
    require_models()
    from kit.vision.masks.training import train

    monkeypatch.setenv("KIT_OFFLINE", "1")
    result = train(observations, "mobilenet_v2", epochs=10, progress=False)
    assert result.groups_shared == 0 and result.n_test > 150
    assert result.test.accuracy >= 0.97 and result.test.macro_f1 >= 0.97
    assert result.settings["extractor"] == "tflite"  # enough images to pay for the conversion


VOC = SHARED.parent / "voc"


@pytest.mark.skipif(not (VOC / "annotations").is_dir(), reason="../shared/data/masks/voc is not here")
def test_default_pipeline_meets_the_targets_on_held_out_real_scenes():
    """The issue's targets on the VOC scenes neither default model saw (their cards list them)."""
    from kit.vision.masks.classifier import MaskClassifier
    from kit.vision.faces.detectors import centerface_model
    from kit.vision.live.scenes import evaluate_scenes
    from kit.vision.splits import held_out_scenes

    classifier = MaskClassifier("default")
    held = held_out_scenes()
    _, card = centerface_model("default")
    assert set(held) == set(card["split"]["test"])
    ev = evaluate_scenes(VOC, classifier=classifier, only=held, progress=False)
    assert ev.images == 77 and ev.faces == 433
    assert ev.recall >= 0.90 and ev.false_positives_per_image <= 1.0
    assert ev.label_accuracy >= 0.93 and ev.end_to_end >= 0.85
    assert ev.per_class["mask_weared_incorrect"]["recall"] >= 0.5
