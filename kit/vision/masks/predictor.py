"""Running a mask classifier: the predictor of a model folder, its TFLite conversion.

One :class:`Predictor` resizes, preprocesses once and batches, for Keras and TFLite alike;
``train``, ``evaluate``, the classifier and the feature extractor all use it. The model
card it is built from lives in :mod:`kit.vision.cards`.
"""
from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np

from kit.errors import ModelError
from kit.files import atomic_write
from kit.progress import show_progress

from ..preprocessing import PREPROCESS, preprocess


def to_tflite(model, path: str | Path, quantize: str | None = None) -> Path:
    """Convert a Keras model to a TFLite file, written atomically.

    Parameters
    ----------
    quantize : None or "float16"
        float16 halves the file; XNNPACK computes in float32 either way.
    """
    from ..runtime import import_tensorflow

    tf = import_tensorflow()
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if quantize == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif quantize is not None:
        raise ModelError(f"quantize must be None or 'float16', got {quantize!r}")
    with contextlib.redirect_stdout(io.StringIO()):  # the converter prints every captured tensor
        data = converter.convert()
    return atomic_write(path, data)


def network_inputs(pixels: np.ndarray, preprocess_name: str, augment=None) -> np.ndarray:
    """Raw RGB 0..255 pixels → (augmented by ``augment(batch)``) → the backbone's
    preprocessing, applied once. The only place pixels become network inputs."""
    batch = np.asarray(pixels, dtype=np.float32)
    if augment is not None:
        batch = np.asarray(augment(batch))
    return preprocess(batch, preprocess_name)


class Predictor:
    """Run a network on RGB pixels: resize, preprocess once, batch.

    Build one with :meth:`from_keras` or :meth:`from_tflite`; call it on a batch of
    uint8 pixels already at ``input_size`` (``predictor(pixels)``) or on crops of any
    size (:meth:`predict_crops`).

    Parameters
    ----------
    run : callable
        ``run(float32 batch) -> ndarray``: the network on preprocessed inputs.
    input_size : int
    preprocess : str
        A key of :data:`kit.vision.preprocessing.PREPROCESS`.
    engine : str
        ``"keras"``, ``"tensorflow"`` (a compiled Keras call) or ``"tflite"``.
    batch_size : int
    """

    def __init__(self, run, input_size: int, preprocess: str, engine: str, batch_size: int = 32,
                 source: str = "model"):
        if preprocess not in PREPROCESS:
            raise ModelError(f"unknown preprocessing {preprocess!r}; known: {', '.join(PREPROCESS)}")
        self._run = run
        self.input_size = int(input_size)
        self.preprocess = preprocess
        self.engine = engine
        self.batch_size = batch_size
        self.source = source
        self.images_seen = 0
        self.seconds = 0.0

    @classmethod
    def from_keras(cls, model, input_size: int, preprocess: str, batch_size: int = 32, compiled: bool = False):
        """A Keras model; ``compiled`` wraps it in one ``tf.function`` (faster for many batches)."""
        if compiled:
            from ..runtime import import_tensorflow

            tf = import_tensorflow()
            call = tf.function(lambda t: model(t, training=False), reduce_retracing=True)
            return cls(lambda batch: np.asarray(call(batch)), input_size, preprocess, "tensorflow", batch_size)
        return cls(lambda batch: np.asarray(model(batch, training=False)), input_size, preprocess, "keras",
                   batch_size)

    @classmethod
    def from_tflite(cls, path: str | Path, input_size: int, preprocess: str, threads: int | None = None,
                    batch_size: int = 32):
        """A TFLite file run by the XNNPACK interpreter (resized to each batch's shape)."""
        from ..runtime import lite_interpreter

        try:
            interpreter = lite_interpreter(path, threads)
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"{path}: not a TFLite model this runtime can load ({exc})") from None
        inp = interpreter.get_input_details()[0]
        out = interpreter.get_output_details()[0]["index"]
        shape = [tuple(inp["shape"])]

        def run(batch: np.ndarray) -> np.ndarray:
            if shape[0] != batch.shape:
                interpreter.resize_tensor_input(inp["index"], batch.shape)
                interpreter.allocate_tensors()
                shape[0] = batch.shape
            interpreter.set_tensor(inp["index"], np.ascontiguousarray(batch, dtype=np.float32))
            interpreter.invoke()
            return interpreter.get_tensor(out).copy()

        return cls(run, input_size, preprocess, "tflite", batch_size, source=str(path))

    def inputs(self, pixels: np.ndarray, augment=None) -> np.ndarray:
        """What the network eats for these pixels (see :func:`network_inputs`)."""
        return network_inputs(pixels, self.preprocess, augment)

    def __call__(self, pixels: np.ndarray, augment=None, desc: str = "predicting", progress: bool = False):
        """Outputs for every image of ``pixels`` (N x S x S x 3 uint8 at ``input_size``), in batches."""
        import time

        from tqdm.auto import tqdm

        pixels = np.asarray(pixels)
        if pixels.ndim != 4 or pixels.shape[1:] != (self.input_size, self.input_size, 3):
            raise ModelError(f"expected pixels of shape (N, {self.input_size}, {self.input_size}, 3), "
                             f"got {pixels.shape}")
        out = None
        start = time.perf_counter()
        for lo in tqdm(range(0, len(pixels), self.batch_size), desc=desc, unit="batch", leave=False,
                       disable=not show_progress(progress) or len(pixels) <= self.batch_size):
            result = self._run(self.inputs(pixels[lo:lo + self.batch_size], augment))
            if not np.isfinite(result).all():
                raise ModelError(f"{self.source}: the network gave non-finite outputs (NaN or infinity); the model "
                                 f"file is damaged or was trained badly. Restore it or train it again")
            if out is None:
                out = np.empty((len(pixels),) + result.shape[1:], np.float32)
            out[lo:lo + len(result)] = result
        self.seconds += time.perf_counter() - start
        self.images_seen += len(pixels)
        if out is None:  # no images: ask the network for its output width once
            probe = self._run(self.inputs(np.zeros((1, self.input_size, self.input_size, 3), np.uint8)))
            out = np.zeros((0,) + probe.shape[1:], np.float32)
        return out

    def predict_crops(self, crops_rgb) -> np.ndarray:
        """Outputs for RGB crops of any size (each squashed to ``input_size``)."""
        from ..imagesets import resize_square

        batch = np.empty((len(crops_rgb), self.input_size, self.input_size, 3), np.uint8)
        for i, crop in enumerate(crops_rgb):
            batch[i] = resize_square(crop, self.input_size)
        return self(batch)

    @property
    def n_outputs(self) -> int:
        """The width of the network's output (classes, or features)."""
        probe = self._run(self.inputs(np.zeros((1, self.input_size, self.input_size, 3), np.uint8)))
        return int(np.prod(probe.shape[1:]))

    @property
    def images_per_second(self) -> float:
        return self.images_seen / self.seconds if self.seconds else float("nan")


def load_keras(path: str | Path):
    """A ``.keras`` file in Keras safe mode (no code from the file runs); clear errors naming it."""
    from ..runtime import import_tensorflow

    import_tensorflow()
    import keras

    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: no such model file")
    try:
        return keras.saving.load_model(path, safe_mode=True, compile=False)
    except Exception as exc:  # Keras raises many types for a damaged or foreign archive
        raise ModelError(f"{path}: cannot be loaded as a Keras model in safe mode "
                         f"({type(exc).__name__}: {str(exc)[:200]})") from None
