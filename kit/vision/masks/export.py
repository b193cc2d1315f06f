"""Writing a trained mask classifier as a model folder.

A model folder holds ``model.keras`` (the whole network, loaded in Keras safe mode),
``model.tflite`` (the real-time engine), ``model.onnx`` (the same network for ONNX Runtime
Web in the visitor's page: :mod:`kit.vision.masks.onnx_export`), ``model.json`` (the model card: classes,
input size, preprocessing, crop margin, data, metrics, the command that made it),
``README.md`` (the same card for people), ``result.json`` and ``history.csv``. It is built in a temporary folder beside the
target and moved into place at the end, so an interrupted export never leaves a
half-written model behind.
"""
from __future__ import annotations

from pathlib import Path

from kit.files import atomic_folder, sha256_of, write_json

from ..cards import card_markdown, is_kit_model_folder, read_card, write_card
from .onnx_export import to_onnx
from .predictor import to_tflite


def export(result, out: str | Path, tflite: bool = True, quantize: str | None = None) -> Path:
    """Write a :class:`~kit.vision.masks.training.TrainingResult`'s model folder (atomically).

    Parameters
    ----------
    quantize : None or "float16"
        Weights of the TFLite file (the Keras file keeps float32).

    Returns
    -------
    Path
        The folder.

    Raises
    ------
    ParameterError
        When ``out`` is a non-empty folder that is not a model folder the kit wrote
        (nothing of the user's is ever replaced).
    """
    out = Path(out)
    with atomic_folder(out, owned=is_kit_model_folder) as tmp:
        result.model.save(tmp / "model.keras")
        if tflite:
            to_tflite(result.model, tmp / "model.tflite", quantize=quantize)
        files = {name: sha256_of(tmp / name) for name in ("model.keras", "model.tflite") if (tmp / name).is_file()}
        result.card = result.card.replace(model_files=files)
        write_card(result.card, tmp)
        if tflite:  # the page's copy for ONNX Runtime Web (checked against the TFLite file)
            to_onnx(tmp)
            result.card = read_card(tmp)
        (tmp / "README.md").write_text(card_markdown(result.card, f"Mask classifier: {result.backbone} on "
                                                                  f"{result.dataset}") + "\n")
        payload = result.to_json()
        payload["model_dir"] = str(out)
        write_json(tmp / "result.json", payload)
        result.history.to_csv(tmp / "history.csv", index=False)
    return out
