"""Augmentation, and the frozen backbone as a cached feature extractor.

The frozen-base fast path runs the backbone (and the head's parameter-free pooling)
once per image and per augmented copy through a :class:`~kit.vision.masks.predictor.Predictor`
and keeps the result; the head then trains on those features in seconds. Augmentation
works on raw 0..255 pixels, before the backbone's preprocessing (applied once, by the
predictor).
"""
from __future__ import annotations

import warnings

from kit.progress import show_progress

from ..runtime import import_tensorflow
from .predictor import Predictor, to_tflite

# The course's augmentation (ImageDataGenerator settings of the seed notebooks).
AUGMENTATION = {"rotation_deg": 20.0, "zoom": 0.15, "shift": 0.2, "horizontal_flip": True}


def augmenter(seed: int = 0, settings: dict | None = None):
    """Keras preprocessing layers: rotation, zoom, shifts, horizontal flip, brightness and
    contrast jitter (``settings`` overrides :data:`AUGMENTATION`); ``fill_mode="nearest"``
    as in the seed notebooks."""
    import keras
    from keras import layers

    a = {**AUGMENTATION, **(settings or {})}
    steps = [
        layers.RandomRotation(a["rotation_deg"] / 360.0, fill_mode="nearest", seed=seed),
        layers.RandomZoom(a["zoom"], fill_mode="nearest", seed=seed + 1),
        layers.RandomTranslation(a["shift"], a["shift"], fill_mode="nearest", seed=seed + 2),
    ]
    if a.get("horizontal_flip", True):
        steps.append(layers.RandomFlip("horizontal", seed=seed + 3))
    if a.get("brightness"):
        steps.append(layers.RandomBrightness(a["brightness"], value_range=(0, 255), seed=seed + 4))
    if a.get("contrast"):
        steps.append(layers.RandomContrast(a["contrast"], seed=seed + 5))
    return keras.Sequential(steps, name="augmentation")


def compiled_augmenter(seed: int = 0, settings: dict | None = None):
    """:func:`augmenter` as one compiled call (a quarter faster than layer by layer)."""
    tf = import_tensorflow()
    layers = augmenter(seed, settings)
    return tf.function(lambda batch: layers(batch, training=True), reduce_retracing=True)


def feature_model(base, pooling):
    """The frozen backbone followed by the head's pooling, as one Keras model.

    Running the pooling here keeps the cache small (1,280 numbers per image for
    MobileNetV2 instead of 7 x 7 x 1,280).
    """
    import keras

    inputs = keras.Input(base.input_shape[1:])
    x = base(inputs, training=False)
    if pooling is not None:
        x = pooling(x)
    return keras.Model(inputs, x, name=f"{base.name}_features")


# Converting a backbone to TFLite takes ~8 s here, about what TensorFlow needs for 800
# images; below this many images a first run is faster without it.
LITE_MIN_IMAGES = 1000


def lite_path(key: str):
    """Where the converted extractor named ``key`` is kept in the cache."""
    from kit.data import cache_dir

    return cache_dir() / "derived" / "extractors" / f"{key}-tf{import_tensorflow().__version__}.tflite"


def lite_worthwhile(key: str, n_images: int) -> bool:
    """Use TFLite when the extractor is already converted or there are enough images to pay for it."""
    return n_images >= LITE_MIN_IMAGES or lite_path(key).is_file()


def feature_extractor(base, pooling, input_size: int, preprocess_name: str, batch_size: int = 32,
                      lite_key: str | None = None, progress: bool = True) -> Predictor:
    """A :class:`Predictor` computing pooled backbone features.

    With ``lite_key`` the extractor runs as TFLite (XNNPACK; twice TensorFlow's speed on
    CPU here), converted once and kept in the cache under that key; if conversion fails
    it falls back to TensorFlow with a warning.
    """
    from tqdm.auto import tqdm

    model = feature_model(base, pooling)
    if lite_key:
        path = lite_path(lite_key)
        try:
            if not path.is_file():
                with tqdm(total=1, desc="compiling the backbone for fast extraction (once)", leave=False,
                          disable=not show_progress(progress)) as bar:
                    to_tflite(model, path)
                    bar.update(1)
            return Predictor.from_tflite(path, input_size, preprocess_name, batch_size=batch_size)
        except Exception as exc:  # the converter raises many types; TensorFlow still works
            warnings.warn(f"TFLite conversion of {model.name} failed ({type(exc).__name__}: {exc}); "
                          f"extracting features with TensorFlow instead", RuntimeWarning, stacklevel=2)
    return Predictor.from_keras(model, input_size, preprocess_name, batch_size=batch_size, compiled=True)
