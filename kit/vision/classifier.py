"""Mask classifiers: the course's reference model and anything ``kit vision`` exports.

The reference model in the registry is a TF 2.2 HDF5 file that Keras 3 cannot
``load_model``. We rebuild the same architecture (MobileNetV2 base + AveragePooling
7x7, Dense 128 ReLU, Dropout 0.5, Dense 2 softmax) and set the weights layer by layer
from the file's ``model_weights`` group, then convert it once to TFLite (XNNPACK)
and cache the result beside the registry file. Labels: index 0 = with_mask,
1 = without_mask (the order the original was trained with).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

REFERENCE_CLASSES = ("with_mask", "without_mask")
REFERENCE_SIZE = 224


def _quiet_tensorflow():
    from kit.vision import import_tensorflow

    import_tensorflow()


def build_reference_keras(h5_path: str | Path):
    """The reference classifier as a Keras 3 model with the HDF5 file's weights."""
    _quiet_tensorflow()
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
            raise ValueError(f"{h5_path}: no model_weights group; not a Keras HDF5 model file")
        groups = fh["model_weights"]
        loaded = 0
        for layer in model.layers:
            if not layer.weights:
                continue
            if layer.name not in groups:
                raise ValueError(f"{h5_path}: no weights for layer {layer.name!r}")
            group = groups[layer.name]
            names = [n.decode() if isinstance(n, bytes) else n for n in group.attrs["weight_names"]]
            arrays = [np.asarray(group[n]) for n in names]
            expected = [tuple(w.shape) for w in layer.weights]
            if [a.shape for a in arrays] != expected:
                raise ValueError(f"{h5_path}: layer {layer.name!r} weights {[a.shape for a in arrays]} "
                                 f"do not fit {expected}")
            layer.set_weights(arrays)
            loaded += 1
    model.kit_loaded_layers = loaded
    return model


def preprocess_mobilenet(batch_rgb: np.ndarray) -> np.ndarray:
    """MobileNetV2's own preprocessing: RGB 0..255 → -1..1 (on a copy)."""
    from .backbones import preprocess

    return preprocess(batch_rgb, "mobilenet_v2")


def convert_to_tflite(model, path: Path, metadata: dict | None = None) -> Path:
    """Convert a Keras model to TFLite (float32), written atomically, with a JSON metadata
    file beside it when ``metadata`` is given."""
    import contextlib
    import io
    import uuid

    from kit.vision import import_tensorflow

    tf = import_tensorflow()
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    with contextlib.redirect_stdout(io.StringIO()):  # the converter prints every captured tensor
        data = converter.convert()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    if metadata is not None:
        path.with_suffix(".json").write_text(json.dumps(metadata, indent=1))
    return path


def reference_tflite(progress: bool = False) -> Path:
    """The reference classifier as TFLite, converted once and cached beside the registry file."""
    from kit.data import fetch

    h5 = fetch("mask_classifier_reference", progress=progress)
    target = h5.parent / "derived" / "reference_mask_classifier.tflite"
    if not target.exists() or not target.with_suffix(".json").exists():
        model = build_reference_keras(h5)
        convert_to_tflite(model, target, {"classes": list(REFERENCE_CLASSES), "input_size": REFERENCE_SIZE,
                                          "preprocess": "mobilenet_v2", "source": "mask_classifier_reference"})
    return target


class MaskClassifier:
    """Classify face crops in one call per frame.

    Parameters
    ----------
    path : "reference" or path
        ``reference`` (the registry's model, as TFLite), a ``.tflite`` / ``.keras`` file
        exported by ``kit vision train`` with its JSON metadata beside it, or the model
        folder itself (its TFLite file is used).
    threads : int
        Interpreter threads (TFLite).
    """

    def __init__(self, path: str | Path = "reference", threads: int | None = None):
        _quiet_tensorflow()
        path = reference_tflite() if str(path) == "reference" else Path(path)
        if path.is_dir():
            path = path / "model.tflite"
        if not path.exists():
            raise FileNotFoundError(f"classifier {path} does not exist")
        meta_path = path.with_suffix(".json")
        if not meta_path.exists():
            raise FileNotFoundError(f"{path.name}: missing its metadata file {meta_path.name} "
                                    f"(class names, input size, preprocess)")
        from .backbones import PREPROCESS

        try:
            meta = json.loads(meta_path.read_text())
            self.classes, self.size = tuple(meta["classes"]), int(meta["input_size"])
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{meta_path}: not a classifier metadata file (needs classes and input_size; "
                             f"{type(exc).__name__}: {exc})") from None
        self.preprocess = meta.get("preprocess")
        if self.preprocess not in PREPROCESS:
            raise ValueError(f"{meta_path.name}: preprocess {self.preprocess!r} is not one of "
                             f"{', '.join(PREPROCESS)}")
        self.path = path
        if path.suffix == ".tflite":
            from kit.vision import lite_interpreter

            self._interp = lite_interpreter(path, threads)
            self._input = self._interp.get_input_details()[0]["index"]
            self._output = self._interp.get_output_details()[0]["index"]
            self._batch = None
            self._keras = None
        else:
            import keras

            self._keras = keras.saving.load_model(path, safe_mode=True, compile=False)

    def _crops_to_batch(self, crops_rgb) -> np.ndarray:
        from kit.data.images import resize_square

        from .backbones import preprocess

        batch = np.empty((len(crops_rgb), self.size, self.size, 3), np.uint8)
        for i, crop in enumerate(crops_rgb):
            batch[i] = resize_square(crop, self.size)
        return preprocess(batch, self.preprocess)

    def predict(self, crops_rgb) -> np.ndarray:
        """Class probabilities, one row per crop (RGB uint8 arrays of any size)."""
        if len(crops_rgb) == 0:
            return np.zeros((0, len(self.classes)), np.float32)
        batch = self._crops_to_batch(crops_rgb)
        if self._keras is not None:
            return np.asarray(self._keras(batch, training=False))
        if self._batch != len(batch):
            self._interp.resize_tensor_input(self._input, batch.shape)
            self._interp.allocate_tensors()
            self._batch = len(batch)
        self._interp.set_tensor(self._input, batch)
        self._interp.invoke()
        return self._interp.get_tensor(self._output).copy()
