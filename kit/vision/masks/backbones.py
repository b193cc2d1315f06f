"""Backbones for transfer learning: each one a spec pairing a network with its own
input size, its own ``preprocess_input`` and its weight source (as Keras applications do).

Preprocessing is data, not convention: :func:`preprocess` looks the function up by the
name stored in the spec (and in an exported model's metadata), and always works on a
float copy. Keras' own ``preprocess_input`` divides a float array *in place*, which is
how a course notebook ends up preprocessing the same pixels twice.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kit.errors import MissingInputError, ModelError, ParameterError, WeightsUnavailable  # noqa: F401 (re-exported)

from ..preprocessing import PREPROCESS, preprocess  # noqa: F401 (each backbone names its own)


@dataclass(frozen=True)
class Backbone:
    """One backbone.

    Attributes
    ----------
    name : str
        Key used by ``--backbone`` (``mobilenet_v2``).
    title : str
        Display name (``MobileNetV2``).
    input_size : int
        Default square input side in pixels.
    min_size : int
        Smallest input the architecture accepts.
    preprocess : str
        Key into :data:`PREPROCESS`; what the network expects its pixels to look like.
    application : str or None
        Class in ``keras.applications``; None for the course's from-scratch networks.
    weights_entry : str or None
        Registry entry with the ImageNet weights (no top); None: trained from scratch.
    """

    name: str
    title: str
    input_size: int
    min_size: int
    preprocess: str
    application: str | None = None
    weights_entry: str | None = None

    @property
    def pretrained(self) -> bool:
        return self.weights_entry is not None


BACKBONES = {b.name: b for b in (
    Backbone("mobilenet_v2", "MobileNetV2", 224, 32, "mobilenet_v2", "MobileNetV2", "imagenet_mobilenet_v2"),
    Backbone("resnet50_v2", "ResNet50V2", 224, 32, "resnet50_v2", "ResNet50V2", "imagenet_resnet50_v2"),
    Backbone("vgg19", "VGG19", 224, 32, "vgg19", "VGG19", "imagenet_vgg19"),
    Backbone("inception_v3", "InceptionV3", 299, 75, "inception_v3", "InceptionV3", "imagenet_inception_v3"),
    Backbone("densenet121", "DenseNet121", 224, 32, "densenet121", "DenseNet121", "imagenet_densenet121"),
    Backbone("xception", "Xception", 299, 71, "xception", "Xception", "imagenet_xception"),
    Backbone("alexnet", "AlexNet-style (from scratch)", 227, 67, "rescale"),
    Backbone("small_cnn", "Small CNN (from scratch)", 128, 32, "rescale"),
)}
PRETRAINED = tuple(name for name, b in BACKBONES.items() if b.pretrained)


def get_backbone(name: str | Backbone) -> Backbone:
    """The spec of a backbone by name (``mobilenet_v2``, ``MobileNetV2`` and ``mobilenetv2`` all work)."""
    if isinstance(name, Backbone):
        return name
    key = str(name).strip().lower().replace("-", "_")
    for spec in BACKBONES.values():
        if key in (spec.name, spec.name.replace("_", ""), spec.title.lower()):
            return spec
    raise ParameterError(f"unknown backbone {name!r}; choose from {', '.join(BACKBONES)}")


def backbone_table():
    """The backbones as a table: input size, preprocessing, weights and whether they are cached."""
    import pandas as pd

    from kit.data import cached_path

    rows = []
    for spec in BACKBONES.values():
        rows.append({"backbone": spec.name, "title": spec.title, "input_size": spec.input_size,
                     "preprocess": spec.preprocess, "weights": spec.weights_entry or "from scratch",
                     "weights_cached": bool(spec.weights_entry and cached_path(spec.weights_entry))})
    return pd.DataFrame(rows)


def _scratch_network(spec: Backbone, size: int):
    import keras
    from keras import layers

    inputs = keras.Input((size, size, 3))
    if spec.name == "small_cnn":  # the course's few-layer CNN
        x = inputs
        for filters in (32, 64, 128):
            x = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
            x = layers.MaxPooling2D(2)(x)
    else:  # AlexNet-style, with batch normalisation for the small data sets of the course
        x = layers.Conv2D(96, 11, strides=4, activation="relu")(inputs)
        x = layers.MaxPooling2D(3, strides=2)(x)
        x = layers.BatchNormalization()(x)
        x = layers.Conv2D(256, 5, padding="same", activation="relu")(x)
        x = layers.MaxPooling2D(3, strides=2, padding="same")(x)
        x = layers.BatchNormalization()(x)
        for filters in (384, 384, 256):
            x = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        x = layers.MaxPooling2D(3, strides=2, padding="same")(x)
    return keras.Model(inputs, x, name=spec.name)


def resolve_weights(spec: Backbone, weights: str | Path | None = "default", progress: bool = True):
    """Where a backbone's starting weights come from: a local file path or None (random).

    Parameters
    ----------
    weights : "default", "imagenet", "none", None or path
        ``default``: ImageNet for pretrained backbones, random for from-scratch ones.
        ``imagenet``: the registry entry (canonical Keras file online; offline a mirror,
        the cache or, for MobileNetV2, the derived copy). ``none``: random initialisation,
        only when asked for. A path: a Keras ``.h5`` / ``.weights.h5`` file.

    Raises
    ------
    WeightsUnavailable
        When ImageNet weights are asked for (or are the default) and cannot be had.
    """
    if weights is None or str(weights).lower() == "none":
        return None
    if str(weights).lower() in ("default", "imagenet"):
        if not spec.pretrained:
            if str(weights).lower() == "imagenet":
                raise WeightsUnavailable(f"{spec.title} is trained from scratch; it has no ImageNet weights "
                                         f"(leave --weights out, or pass --weights none)")
            return None
        from kit.data import fetch
        from kit.errors import FetchError

        try:
            return fetch(spec.weights_entry, progress=progress)
        except FetchError as exc:
            raise WeightsUnavailable(
                f"ImageNet weights for {spec.title} are not available.\n{exc}\n"
                f"Or train from random initialisation on purpose with --weights none "
                f"(weights='none'); expect a much weaker model.") from None
    path = Path(weights).expanduser()
    if not path.is_file():
        raise MissingInputError(f"weights file {path} does not exist")
    return path


def build_backbone(spec: str | Backbone, size: int | None = None, weights="default", progress: bool = True):
    """The network without its top, with its starting weights.

    Returns
    -------
    keras.Model
        Input ``(size, size, 3)`` of *preprocessed* pixels (see :func:`preprocess`),
        output a feature map.
    """
    from ..runtime import import_tensorflow

    import_tensorflow()
    import keras

    spec = get_backbone(spec)
    size = int(size or spec.input_size)
    if size < spec.min_size:
        raise ParameterError(f"{spec.title} needs images of at least {spec.min_size} px, got {size}")
    path = resolve_weights(spec, weights, progress)
    if spec.application is None:
        model = _scratch_network(spec, size)
    else:
        model = getattr(keras.applications, spec.application)(include_top=False, weights=None,
                                                               input_shape=(size, size, 3))
    if path is not None:
        try:
            model.load_weights(str(path))
        except (ValueError, OSError, KeyError) as exc:
            raise ModelError(f"{Path(path).name}: these are not {spec.title} weights ({exc})") from None
    return model
