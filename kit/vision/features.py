"""Pixels to network inputs, and network inputs to cached features.

:func:`network_inputs` is the only place where the training code turns pixels into
what a backbone eats: optional augmentation on the raw 0..255 pixels, then the
backbone's own preprocessing, once. The frozen-base fast path runs the backbone (and
the head's parameter-free pooling) once per image and per augmented copy and keeps
the result; the head then trains on those features in seconds.
"""
from __future__ import annotations

import numpy as np

from .backbones import preprocess

# The course's augmentation (ImageDataGenerator settings of the seed notebooks).
AUGMENTATION = {"rotation_deg": 20.0, "zoom": 0.15, "shift": 0.2, "horizontal_flip": True}


def augmenter(seed: int = 0):
    """Keras preprocessing layers with the course's settings: rotation 20°, zoom 0.15,
    shifts 0.2, horizontal flip; ``fill_mode="nearest"`` as in the seed notebooks."""
    import keras
    from keras import layers

    a = AUGMENTATION
    return keras.Sequential([
        layers.RandomRotation(a["rotation_deg"] / 360.0, fill_mode="nearest", seed=seed),
        layers.RandomZoom(a["zoom"], fill_mode="nearest", seed=seed + 1),
        layers.RandomTranslation(a["shift"], a["shift"], fill_mode="nearest", seed=seed + 2),
        layers.RandomFlip("horizontal", seed=seed + 3),
    ], name="augmentation")


def compiled_augmenter(seed: int = 0):
    """:func:`augmenter` as one compiled call (a quarter faster than layer by layer)."""
    from kit.vision import import_tensorflow

    tf = import_tensorflow()
    layers = augmenter(seed)
    return tf.function(lambda batch: layers(batch, training=True), reduce_retracing=True)


def network_inputs(pixels: np.ndarray, preprocess_name: str, augment=None) -> np.ndarray:
    """Raw RGB uint8 pixels → (augmented by ``augment(batch)``) → the backbone's
    preprocessing, applied once."""
    batch = pixels.astype(np.float32)
    if augment is not None:
        batch = np.asarray(augment(batch))
    return preprocess(batch, preprocess_name)


class FeatureExtractor:
    """A frozen backbone followed by the head's pooling, compiled once.

    Parameters
    ----------
    base : keras.Model
        The frozen backbone.
    pooling : keras.layers.Layer or None
        The head's parameter-free pooling; running it here makes the cache small
        (1,280 numbers per image for MobileNetV2 instead of 7 x 7 x 1,280).
    preprocess_name : str
    batch_size : int
    lite_key : str, optional
        Run the extractor as TFLite (XNNPACK; twice TensorFlow's speed on CPU here),
        converted once and kept in the cache under this key. None: TensorFlow.
    """

    def __init__(self, base, pooling, preprocess_name: str, batch_size: int = 32, lite_key: str | None = None,
                 progress: bool = True):
        import keras

        from kit.vision import import_tensorflow

        tf = import_tensorflow()
        inputs = keras.Input(base.input_shape[1:])
        x = base(inputs, training=False)
        if pooling is not None:
            x = pooling(x)
        self.model = keras.Model(inputs, x)
        self._call = tf.function(lambda t: self.model(t, training=False), reduce_retracing=True)
        self.preprocess_name = preprocess_name
        self.batch_size = batch_size
        self.images_seen = 0
        self.seconds = 0.0
        self.engine = "tensorflow"
        self._lite = _lite_runner(self.model, lite_key, progress) if lite_key else None
        if self._lite is not None:
            self.engine = "tflite"
            self._call = self._lite

    def __call__(self, pixels: np.ndarray, augment=None, desc: str = "features", progress: bool = True):
        """Features of every image, in batches, with a progress bar."""
        import time

        from tqdm.auto import tqdm

        out = None
        start = time.perf_counter()
        for lo in tqdm(range(0, len(pixels), self.batch_size), desc=desc, unit="batch", disable=not progress,
                       leave=False):
            batch = network_inputs(pixels[lo:lo + self.batch_size], self.preprocess_name, augment)
            feats = np.asarray(self._call(batch))
            if out is None:
                out = np.empty((len(pixels),) + feats.shape[1:], np.float32)
            out[lo:lo + len(feats)] = feats
        self.seconds += time.perf_counter() - start
        self.images_seen += len(pixels)
        return out

    @property
    def images_per_second(self) -> float:
        return self.images_seen / self.seconds if self.seconds else float("nan")


# Converting a backbone to TFLite takes ~8 s here, about what TensorFlow needs for 800
# images; below this many images a first run is faster without it.
LITE_MIN_IMAGES = 1000


def lite_path(key: str):
    """Where the converted extractor named ``key`` is kept in the cache."""
    from kit.data.fetch import cache_dir
    from kit.vision import import_tensorflow

    return cache_dir() / "derived" / "extractors" / f"{key}-tf{import_tensorflow().__version__}.tflite"


def lite_worthwhile(key: str, n_images: int) -> bool:
    """Use TFLite when the extractor is already converted or there are enough images to pay for it."""
    return n_images >= LITE_MIN_IMAGES or lite_path(key).is_file()


def _lite_runner(model, key: str, progress: bool):
    """A callable running ``model`` as TFLite, converted once per key into the cache; None
    (with a warning) where conversion fails, so extraction falls back to TensorFlow."""
    import warnings

    from tqdm.auto import tqdm

    from kit.vision import lite_interpreter

    from .classifier import convert_to_tflite

    path = lite_path(key)
    if not path.is_file():
        with tqdm(total=1, desc="compiling the backbone for fast extraction (once)", disable=not progress,
                  leave=False) as bar:
            try:
                convert_to_tflite(model, path)
            except Exception as exc:  # the converter raises many types; TensorFlow still works
                warnings.warn(f"TFLite conversion of {model.name} failed ({type(exc).__name__}: {exc}); "
                              f"extracting features with TensorFlow instead", RuntimeWarning, stacklevel=3)
                return None
            bar.update(1)
    interp = lite_interpreter(path)
    inp = interp.get_input_details()[0]["index"]
    out = interp.get_output_details()[0]["index"]
    shape = [None]

    def run(batch: np.ndarray) -> np.ndarray:
        if shape[0] != batch.shape:
            interp.resize_tensor_input(inp, batch.shape)
            interp.allocate_tensors()
            shape[0] = batch.shape
        interp.set_tensor(inp, np.ascontiguousarray(batch, dtype=np.float32))
        interp.invoke()
        return interp.get_tensor(out).copy()

    return run
