"""Saving a trained mask classifier and using it again.

A model folder holds ``model.keras`` (the whole network), ``model.tflite`` (for the
real-time detector), ``model.json`` (class names, input size, which preprocessing the
network expects), ``result.json`` and ``history.csv``. It is written to a temporary
folder beside the target and moved into place at the end, so an interrupted export
never leaves a half-written model behind. Models are loaded in Keras safe mode.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from kit.data.images import ImageSet

from .evaluation import Evaluation, evaluate_predictions

METADATA_FORMAT = "kit-mask-classifier/1"


def metadata_of(result) -> dict:
    """The metadata a consumer needs to feed the model: classes, input size, preprocess."""
    from kit import __version__

    return {"format": METADATA_FORMAT, "classes": list(result.classes), "input_size": result.settings["img_size"],
            "preprocess": result.settings["preprocess"], "backbone": result.backbone, "weights": result.weights,
            "trained_on": result.dataset, "kit_version": __version__,
            "input": "RGB pixels resized to input_size x input_size, then the named preprocess"}


def export(result, out: str | Path, tflite: bool = True) -> Path:
    """Write a :class:`~kit.vision.transfer.TrainingResult`'s model folder (atomically).

    Returns
    -------
    Path
        The folder.
    """
    from .classifier import convert_to_tflite

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        meta = metadata_of(result)
        result.model.save(tmp / "model.keras")
        if tflite:
            convert_to_tflite(result.model, tmp / "model.tflite", meta)
        (tmp / "model.json").write_text(json.dumps(meta, indent=1))
        payload = result.to_json()
        payload["model_dir"] = str(out)
        (tmp / "result.json").write_text(json.dumps(payload, indent=1))
        result.history.to_csv(tmp / "history.csv", index=False)
        if out.exists():
            old = out.with_name(f".{out.name}-replaced")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(out, old)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out


def read_metadata(model_dir: str | Path) -> dict:
    """``model.json`` of a model folder, checked."""
    model_dir = Path(model_dir)
    meta_path = model_dir / "model.json"
    if not meta_path.is_file():
        raise FileNotFoundError(f"{model_dir}: no model.json; not a folder written by `kit vision train`")
    try:
        meta = json.loads(meta_path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{meta_path}: not valid JSON ({exc})") from None
    missing = [k for k in ("classes", "input_size", "preprocess") if k not in meta]
    if missing:
        raise ValueError(f"{meta_path}: missing {', '.join(missing)}")
    return meta


def load_model(model_dir: str | Path):
    """The Keras model of a model folder (safe mode) and its metadata."""
    from kit.vision import import_tensorflow

    import_tensorflow()
    import keras

    meta = read_metadata(model_dir)
    path = Path(model_dir) / "model.keras"
    if not path.is_file():
        raise FileNotFoundError(f"{model_dir}: no model.keras")
    try:
        model = keras.saving.load_model(path, safe_mode=True, compile=False)
    except Exception as exc:  # Keras raises many types for a damaged or foreign archive
        raise ValueError(f"{path}: cannot be loaded as a Keras model ({type(exc).__name__}: {exc})") from None
    return model, meta


def evaluate(model, images: ImageSet, progress: bool = True) -> Evaluation:
    """Evaluate a trained model on a whole image set (e.g. another data set: cross-dataset).

    Parameters
    ----------
    model : path or TrainingResult
        A model folder written by ``kit vision train``, or a result of
        :func:`kit.vision.transfer.train` still in memory.
    images : ImageSet
        Its class names must be among the model's; labels are mapped by name.
    """
    from .transfer import _predict

    if hasattr(model, "settings") and hasattr(model, "model"):
        model_dir, meta, model = model.backbone, metadata_of(model), model.model
    else:
        model_dir = model
        model, meta = load_model(model_dir)
    classes = tuple(meta["classes"])
    unknown = [c for c in images.classes if c not in classes]
    if unknown:
        raise ValueError(f"{images.name or 'image set'} has class(es) {', '.join(unknown)} that the model in "
                         f"{model_dir} does not know (it knows {', '.join(classes)})")
    y = images.frame["label"].map({c: i for i, c in enumerate(classes)}).to_numpy()
    pixels = images.pixels(int(meta["input_size"]), progress=progress)
    proba = _predict(model, pixels, meta["preprocess"], desc=f"evaluating on {images.name}", progress=progress)
    boxes = images.frame["box"].tolist() if "box" in images.frame else None
    return evaluate_predictions(y, proba, classes, images.frame["path"].tolist(), boxes)

