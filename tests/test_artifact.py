"""The model card (one reader, one writer, both validating) and the predictor (Keras and
TFLite alike: resize, preprocess once, batch); hostile or broken cards are refused at
load time with the file and the field named."""
from __future__ import annotations

import json

import numpy as np
import pytest

from kit.errors import ModelError
from kit.vision.cards import CARD_FORMAT, ModelCard, read_card, write_card
from kit.vision.masks.predictor import Predictor


def _card(**changes):
    values = dict(classes=("with_mask", "without_mask"), input_size=16, preprocess="mobilenet_v2")
    values.update(changes)
    return ModelCard(**values)


@pytest.mark.parametrize("changes,message", [
    ({"input_size": 0}, "input_size must be a whole number of pixels in 16..1024, got 0"),
    ({"input_size": 100000}, "in 16..1024, got 100000"),
    ({"input_size": 16.5}, "input_size"),
    ({"preprocess": "eval"}, "preprocess 'eval' is not one of"),
    ({"classes": ("with_mask",)}, "classes must be a list of 2 to"),
    ({"classes": ("a", "a")}, "class names repeat"),
    ({"classes": ("../../etc", "b")}, "not plain names"),
    ({"crop_margin": 3}, "crop_margin must be a number in 0..1"),
    ({"format": "someone-else/9"}, "format 'someone-else/9' is not one this kit reads"),
])
def test_cards_outside_their_ranges_are_refused_naming_the_field(changes, message):
    with pytest.raises(ModelError, match=message):
        _card(**changes).check("model.json")


def test_card_round_trip_keeps_unknown_fields_and_reads_version_one(tmp_path):
    card = _card(crop_margin=0.2, crops="detector boxes", metrics={"accuracy": 0.9}, extra={"notes": "kept"})
    path = write_card(card, tmp_path)
    assert path.name == "model.json" and json.loads(path.read_text())["format"] == CARD_FORMAT
    again = read_card(tmp_path)
    assert again == card and again.extra == {"notes": "kept"}
    (tmp_path / "model.json").write_text(json.dumps({"classes": ["a", "b"], "input_size": 32, "preprocess": "rescale"}))
    old = read_card(tmp_path)  # format 1 files (no format field) still read
    assert old.format == "kit-mask-classifier/1" and old.crop_margin == 0.0
    (tmp_path / "model.json").write_text('{"classes": ["a", "b"], "input_size": 32}')
    with pytest.raises(ModelError, match="model.json: missing preprocess"):
        read_card(tmp_path)
    (tmp_path / "model.json").write_bytes(b"\xff\xfe{")
    with pytest.raises(ModelError, match="model.json: not valid JSON"):
        read_card(tmp_path)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """A two-output network on 16x16 inputs, exported as a model folder."""
    from kit.vision.masks.predictor import to_tflite
    from kit.vision.runtime import import_tensorflow

    import_tensorflow()
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(4, 3, activation="relu")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(x))
    folder = tmp_path_factory.mktemp("tiny")
    model.save(folder / "model.keras")
    to_tflite(model, folder / "model.tflite")
    write_card(_card(model_files=_hashes(folder)), folder)
    return folder, model


def _hashes(folder):
    from kit.files import sha256_of

    return {name: sha256_of(folder / name) for name in ("model.keras", "model.tflite")}


def test_keras_and_tflite_predictors_agree_and_batch_like_single_images(tiny_model):
    folder, model = tiny_model
    pixels = np.random.default_rng(1).integers(0, 256, (37, 16, 16, 3)).astype(np.uint8)
    keras_p = Predictor.from_keras(model, 16, "mobilenet_v2", batch_size=8)
    lite_p = Predictor.from_tflite(folder / "model.tflite", 16, "mobilenet_v2", batch_size=8)
    a, b = keras_p(pixels), lite_p(pixels)
    np.testing.assert_allclose(a, b, atol=1e-5)
    one_by_one = np.concatenate([lite_p(pixels[i:i + 1]) for i in range(5)])
    np.testing.assert_allclose(one_by_one, b[:5], atol=1e-6)
    crops = [np.full((h, w, 3), 100, np.uint8) for h, w in ((5, 7), (40, 30), (16, 16))]
    assert lite_p.predict_crops(crops).shape == (3, 2) and lite_p.n_outputs == 2
    assert keras_p(pixels[:0]).shape == (0, 2)
    with pytest.raises(ModelError, match="expected pixels of shape"):
        keras_p(pixels[:, :8])


def test_a_card_that_does_not_fit_its_network_is_refused_at_load(tiny_model, tmp_path):
    import shutil

    from kit.vision.masks.classifier import MaskClassifier

    folder, _ = tiny_model
    bad = tmp_path / "bad"
    shutil.copytree(folder, bad)
    write_card(_card(classes=("with_mask", "without_mask", "mask_weared_incorrect"), model_files=_hashes(bad)), bad)
    with pytest.raises(ModelError, match="2 outputs but the model card names 3 classes"):
        MaskClassifier(bad)
    assert MaskClassifier(folder).predict([np.zeros((20, 20, 3), np.uint8)]).shape == (1, 2)
    (bad / "model.tflite").write_bytes(b"TFL3 forged")
    write_card(_card(model_files=_hashes(bad)), bad)  # a forged file the card vouches for: the runtime refuses it
    with pytest.raises(ModelError, match="model.tflite: not a TFLite model"):
        MaskClassifier(bad)
    write_card(_card(), bad)  # an older card, with no hash: a warning says the file cannot be checked
    with pytest.warns(UserWarning, match="records no sha256 of model.tflite"), \
            pytest.raises(ModelError, match="not a TFLite model"):
        MaskClassifier(bad)


def test_a_forged_keras_file_names_the_file(tmp_path):
    from kit.vision.masks.predictor import load_keras

    forged = tmp_path / "model.keras"
    forged.write_bytes(b"PK\x03\x04 not a zip at all")
    with pytest.raises(ModelError, match="model.keras: cannot be loaded as a Keras model in safe mode"):
        load_keras(forged)
