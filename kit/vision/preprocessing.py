"""Each backbone's own preprocessing, by name (as Keras applications pair them).

Preprocessing is data, not convention: :func:`preprocess` looks the function up by the name
a backbone spec (and a model card) stores, and always works on a float copy. Keras' own
``preprocess_input`` divides a float array *in place*, which is how a course notebook ends up
preprocessing the same pixels twice. In the vision core because a model card names one and
every room reads cards.
"""
from __future__ import annotations

import numpy as np

from kit.errors import ParameterError


def _keras_preprocess(module: str):
    def apply(batch: np.ndarray) -> np.ndarray:
        import importlib

        fn = importlib.import_module(f"keras.applications.{module}").preprocess_input
        return np.asarray(fn(batch))

    apply.__name__ = f"{module}_preprocess_input"
    return apply


def _rescale(batch: np.ndarray) -> np.ndarray:
    return batch / np.float32(255.0)


# Name -> function of a float32 copy (N, H, W, 3) of RGB 0..255 pixels.
PREPROCESS = {
    "mobilenet_v2": _keras_preprocess("mobilenet_v2"),   # -1..1
    "resnet50_v2": _keras_preprocess("resnet_v2"),       # -1..1
    "vgg19": _keras_preprocess("vgg19"),                 # BGR, ImageNet means subtracted
    "inception_v3": _keras_preprocess("inception_v3"),   # -1..1
    "densenet121": _keras_preprocess("densenet"),        # 0..1, ImageNet mean/std
    "xception": _keras_preprocess("xception"),           # -1..1
    "rescale": _rescale,                                 # 0..1 (from-scratch networks)
}

def preprocess(batch, name: str) -> np.ndarray:
    """Apply the named preprocessing to RGB 0..255 pixels, on a float32 copy.

    Parameters
    ----------
    batch : array (N, H, W, 3) or (H, W, 3)
        RGB pixels 0..255 (uint8 or float); never modified.
    name : str
        A key of :data:`PREPROCESS` (a backbone's ``preprocess``).
    """
    if name not in PREPROCESS:
        raise ParameterError(f"unknown preprocessing {name!r}; known: {', '.join(PREPROCESS)}")
    return PREPROCESS[name](np.array(batch, dtype=np.float32, copy=True))
