"""Model cards: the one reader and writer of ``model.json`` for every model the kit uses.

A model folder carries its card: what the network expects (classes, input size, its own
preprocessing, crop margin), where it came from (data, command, licenses), what it scored,
and the sha256 of its files, checked before a file reaches an interpreter. Two kinds share
the reader, the size and depth caps and the checks: :class:`ModelCard` (a mask classifier,
``kit vision train``) and the face detector's card (``kit detect train``,
:func:`read_detector_card`). In the vision core because every room reads cards.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np

from kit.errors import ModelError
from kit.files import write_json

from .preprocessing import PREPROCESS

CARD_FORMAT = "kit-mask-classifier/2"
READABLE_FORMATS = ("kit-mask-classifier/1", CARD_FORMAT)
CARD_FILE = "model.json"
INPUT_SIZE_RANGE = (16, 1024)  # pixels; outside this a card is damaged or hostile
MAX_CLASSES = 64
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_CLASS_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_ .-]{0,63}$")


@dataclass(frozen=True)
class ModelCard:
    """Everything needed to use a mask classifier correctly, and where it came from.

    Attributes
    ----------
    classes : tuple of str
        Output ``i`` of the network is the probability of ``classes[i]``.
    input_size : int
        The network eats ``input_size`` x ``input_size`` RGB images.
    preprocess : str
        A key of :data:`kit.vision.preprocessing.PREPROCESS`, applied once to 0..255 pixels.
    crop_margin : float
        Fraction of a face box's width and height added on each side before cropping:
        the model was trained on crops made that way and should be served the same.
    crops : str
        What the model was trained on: ``"detector boxes"`` (face-detector boxes, as at
        run time) or ``"annotated boxes"`` or ``"whole images"``.
    decision_bias : dict
        Per class, a number added to the log-probability before the most likely class is
        chosen (empty: none). Trained with balanced class weights, a model over-predicts
        rare classes; the trainer picks this on the validation set to correct for the
        real class frequencies (see :func:`kit.vision.masks.training.calibrate_decision`).
    source : str
        Where it came from (``trained with kit``, a registry entry, ...).
    backbone, weights : str
    trained_on : list of dict
        The data sources (name, path or entry, files, sha256 of the file list).
    metrics : dict
        Held-out figures (test split), per class.
    command : str
        The command that reproduces the model.
    licenses : dict
    model_files : dict
        ``{file name: sha256}`` of the network files beside the card (``model.tflite``,
        ``model.keras``), checked before a file reaches an interpreter: a damaged TFLite
        file can crash the process inside the runtime.
    extra : dict
        Anything else in the file, kept as it was.
    """

    classes: tuple
    input_size: int
    preprocess: str
    crop_margin: float = 0.0
    crops: str = "annotated boxes"
    decision_bias: dict = field(default_factory=dict)
    source: str = ""
    backbone: str = ""
    weights: str = ""
    trained_on: list = field(default_factory=list)
    metrics: dict = field(default_factory=dict)
    command: str = ""
    licenses: dict = field(default_factory=dict)
    kit_version: str = ""
    model_files: dict = field(default_factory=dict)
    format: str = CARD_FORMAT
    extra: dict = field(default_factory=dict)

    def check(self, where: str = "model card") -> "ModelCard":
        """Validate every field; raises :class:`~kit.errors.ModelError` naming the field."""
        if self.format not in READABLE_FORMATS:
            raise ModelError(f"{where}: format {self.format!r} is not one this kit reads "
                             f"({', '.join(READABLE_FORMATS)})")
        classes = self.classes
        if not isinstance(classes, (list, tuple)) or not 2 <= len(classes) <= MAX_CLASSES:
            raise ModelError(f"{where}: classes must be a list of 2 to {MAX_CLASSES} names, got {classes!r:.120}")
        bad = [c for c in classes if not isinstance(c, str) or not _CLASS_NAME.match(c)]
        if bad:
            raise ModelError(f"{where}: class name(s) {bad[:3]!r} are not plain names (letters, digits, _ . -)")
        if len(set(classes)) != len(classes):
            raise ModelError(f"{where}: class names repeat: {list(classes)}")
        lo, hi = INPUT_SIZE_RANGE
        if isinstance(self.input_size, bool) or not isinstance(self.input_size, int) \
                or not lo <= self.input_size <= hi:
            raise ModelError(f"{where}: input_size must be a whole number of pixels in {lo}..{hi}, "
                             f"got {self.input_size!r}")
        if self.preprocess not in PREPROCESS:
            raise ModelError(f"{where}: preprocess {self.preprocess!r} is not one of {', '.join(PREPROCESS)}")
        if not isinstance(self.crop_margin, (int, float)) or isinstance(self.crop_margin, bool) \
                or not 0.0 <= float(self.crop_margin) <= 1.0:
            raise ModelError(f"{where}: crop_margin must be a number in 0..1, got {self.crop_margin!r}")
        bias = self.decision_bias
        if not isinstance(bias, dict) or set(bias) - set(classes) or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v) and abs(v) <= 20
                for v in bias.values()):
            raise ModelError(f"{where}: decision_bias must map class names to numbers in -20..20, got {bias!r:.120}")
        files = self.model_files
        if not isinstance(files, dict) or not all(
                isinstance(k, str) and "/" not in k and "\\" not in k and isinstance(v, str) and _SHA256.match(v)
                for k, v in files.items()):
            raise ModelError(f"{where}: model_files must map file names to sha256 hex digests, got {files!r:.120}")
        split = self.extra.get("split")
        if split is not None and not (isinstance(split, dict) and all(
                isinstance(v, list) and all(isinstance(x, str) for x in v) for v in split.values())):
            raise ModelError(f"{where}: split must map train/val/test to lists of names, got {split!r:.120}")
        return self

    def verify_file(self, path: str | Path) -> None:
        """Refuse a network file whose sha256 differs from the card's, before it is loaded;
        a card that records no hash for it warns (an older card: the file cannot be checked)."""
        import warnings

        from kit.files import sha256_of

        path = Path(path)
        expected = self.model_files.get(path.name)
        if expected is None:
            warnings.warn(f"{path.parent / CARD_FILE}: records no sha256 of {path.name}, so a damaged file cannot "
                          f"be caught before it is loaded; re-export the model with this kit", UserWarning,
                          stacklevel=3)
            return
        if sha256_of(path) != expected:
            raise ModelError(f"{path}: the file does not match the sha256 in its model card (damaged, truncated or "
                             f"replaced); it was not loaded. Restore the model folder or train it again")

    def decide(self, proba: np.ndarray) -> np.ndarray:
        """Probabilities with the card's decision bias applied (renormalised); unchanged without one."""
        proba = np.asarray(proba, dtype=np.float64)
        if not self.decision_bias or proba.size == 0:
            return proba
        bias = np.array([self.decision_bias.get(c, 0.0) for c in self.classes])
        logits = np.log(np.clip(proba, 1e-12, None)) + bias
        logits -= logits.max(axis=1, keepdims=True)
        out = np.exp(logits)
        return out / out.sum(axis=1, keepdims=True)

    def check_outputs(self, n_outputs: int, where: str = "model") -> None:
        """The network's output width must equal the number of class names."""
        if n_outputs != len(self.classes):
            raise ModelError(f"{where}: the network has {n_outputs} outputs but the model card names "
                             f"{len(self.classes)} classes ({', '.join(self.classes)}); the card does not "
                             f"belong to this network")

    def to_json(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        out["classes"] = list(self.classes)
        out["crop_margin"] = float(self.crop_margin)
        return {**self.extra, **out}

    @classmethod
    def from_json(cls, raw: dict, where: str = "model card") -> "ModelCard":
        if not isinstance(raw, dict):
            raise ModelError(f"{where}: expected a JSON object, got {type(raw).__name__}")
        known = {f.name for f in fields(cls)} - {"extra"}
        missing = [k for k in ("classes", "input_size", "preprocess") if k not in raw]
        if missing:
            raise ModelError(f"{where}: missing {', '.join(missing)}")
        values = {k: raw[k] for k in known if k in raw}
        values["classes"] = tuple(values["classes"]) if isinstance(values["classes"], list) else values["classes"]
        values.setdefault("format", READABLE_FORMATS[0])
        card = cls(**values, extra={k: v for k, v in raw.items() if k not in known})
        return card.check(where)

    def replace(self, **changes) -> "ModelCard":
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(changes)
        return ModelCard(**values).check()


def card_markdown(card: ModelCard, title: str = "Mask classifier") -> str:
    """The model card as a page people read (the ``README.md`` of a model folder)."""
    lines = [f"# {title}", "", "*Written from `model.json` by `kit vision train`; the JSON file is the card the "
             "kit reads.*", "", "| | |", "|---|---|",
             f"| classes | {', '.join(f'`{c}`' for c in card.classes)} |",
             f"| input | RGB {card.input_size} x {card.input_size}, preprocessing `{card.preprocess}` |",
             f"| crops | {card.crops}, enlarged by {card.crop_margin:g} of the box on each side |",
             f"| backbone | {card.backbone} ({card.weights}) |"]
    if card.decision_bias:
        lines.append("| decision bias | " + ", ".join(f"{c} {v:+.3f}" for c, v in card.decision_bias.items())
                     + " (added to log-probabilities; chosen on the validation set) |")
    lines += [f"| source | {card.source} |", f"| kit version | {card.kit_version} |", ""]
    if card.command:
        lines += ["## Reproduce", "", "```bash", card.command, "```", ""]
    if card.trained_on:
        lines += ["## Data", "", "| source | faces or images per class | groups | files | sha256 of the file list | "
                  "crops |", "|---|---|---|---|---|---|"]
        for s in card.trained_on:
            rows = ", ".join(f"{k} {v}" for k, v in sorted(s.get("rows", {}).items()))
            crops = ", ".join(f"{k} {v}" for k, v in sorted(s.get("crops", {}).items()))
            lines.append(f"| {s.get('source')} | {rows} | {s.get('groups')} | {s.get('files')} | "
                         f"`{str(s.get('files_sha256', ''))[:16]}…` | {crops} |")
        lines.append("")
    metrics = card.metrics
    if metrics.get("per_class"):
        lines += [f"## Held-out figures ({metrics.get('split', 'test')} split, {metrics.get('n', '?')} faces, "
                  f"grouped by scene and subject)", "",
                  f"accuracy {metrics.get('accuracy', float('nan')):.4f}, macro F1 {metrics.get('macro_f1', float('nan')):.4f}",
                  "", "| class | precision | recall | F1 | support |", "|---|---|---|---|---|"]
        for c, m in metrics["per_class"].items():
            lines.append(f"| {c} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | {m['support']} |")
        for extra in ("per_source", "scenes", "closeups"):
            if metrics.get(extra):
                lines += ["", f"{extra.replace('_', ' ')}: `{json.dumps(metrics[extra])}`"]
        lines.append("")
    if card.licenses:
        lines += ["## Licenses", ""] + [f"- {k}: {v}" for k, v in card.licenses.items()] + [""]
    return "\n".join(lines)


def card_path(model: str | Path) -> Path:
    """The card of a model folder, ``.tflite`` or ``.keras`` file (``model.json`` beside it)."""
    model = Path(model)
    if model.is_dir():
        return model / CARD_FILE
    if model.suffix == ".json":
        return model
    return model.with_suffix(".json") if model.with_suffix(".json").is_file() else model.parent / CARD_FILE


DETECTOR_FORMAT = "kit-face-detector/1"


def is_kit_model_folder(folder: str | Path) -> bool:
    """Whether ``folder`` is a model folder the kit wrote (its ``model.json`` names one of the
    kit's card formats, or is an earlier detector card): the only kind of folder a new model
    may replace."""
    path = Path(folder) / CARD_FILE
    try:
        if not path.is_file() or path.is_symlink() or path.stat().st_size > 1_000_000:
            return False
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return False
    if not isinstance(raw, dict):
        return False
    return raw.get("format") in (*READABLE_FORMATS, DETECTOR_FORMAT) or (
        raw.get("detector") == "centerface" and isinstance(raw.get("sha256"), str))


def read_card(model: str | Path) -> ModelCard:
    """Read and validate the model card of a model folder or file.

    Raises
    ------
    ModelError
        Naming the file and the field that is missing or wrong.
    """
    path = card_path(model)
    if not path.is_file():
        raise ModelError(f"{model}: no model card ({path.name}); not a model written by `kit vision train`")
    raw = read_card_json(path)
    try:
        return ModelCard.from_json(raw, str(path))
    except TypeError as exc:
        raise ModelError(f"{path}: {exc}") from None


MAX_CARD_BYTES = 1_000_000


def read_card_json(path: str | Path) -> dict:
    """The JSON object of a model card file (a classifier's or a detector's): size-capped,
    strict, and refused with one line naming the file when it is not a JSON object or is
    nested deeper than any card (a few levels) could be."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ModelError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if size > MAX_CARD_BYTES:
        raise ModelError(f"{path}: {size:,} bytes is too large for a model card (at most {MAX_CARD_BYTES:,})")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path}: not valid JSON ({exc})") from None
    except RecursionError:
        raise ModelError(f"{path}: nested too deeply to be a model card") from None
    if not isinstance(raw, dict):
        raise ModelError(f"{path}: a model card is a JSON object, got {type(raw).__name__}")
    if _depth(raw) > 12:
        raise ModelError(f"{path}: nested too deeply to be a model card")
    return raw


def _depth(value, level: int = 0) -> int:
    if level > 12:
        return level
    if isinstance(value, dict):
        return max((_depth(v, level + 1) for v in value.values()), default=level + 1)
    if isinstance(value, list):
        return max((_depth(v, level + 1) for v in value), default=level + 1)
    return level


def read_detector_card(folder: str | Path) -> dict:
    """A fine-tuned detector's card (``model.json`` beside ``centerface.onnx``), checked:
    its score threshold, its split (lists of scene names) and the sha256 of the ONNX file,
    which must match the file before it is loaded."""
    from kit.files import sha256_of

    folder = Path(folder)
    path = folder / CARD_FILE
    card = read_card_json(path)
    try:
        threshold = float(card["threshold"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"{path}: not a detector card with a score threshold ({exc})") from None
    if not 0.0 < threshold < 1.0:
        raise ModelError(f"{path}: threshold {threshold!r} is not a score in (0, 1)")
    split = card.get("split", {})
    if not isinstance(split, dict) or not all(
            isinstance(v, list) and all(isinstance(x, str) for x in v) for v in split.values()):
        raise ModelError(f"{path}: split must map train/val/test to lists of scene names")
    expected = card.get("sha256")
    onnx_file = folder / "centerface.onnx"
    if expected is not None:
        if not isinstance(expected, str) or not _SHA256.match(expected):
            raise ModelError(f"{path}: sha256 must be a hex digest, got {expected!r:.80}")
        if onnx_file.is_file() and sha256_of(onnx_file) != expected:
            raise ModelError(f"{onnx_file}: the file does not match the sha256 in its card (damaged or replaced); "
                             f"it was not loaded")
    return card


def write_card(card: ModelCard, target: str | Path) -> Path:
    """Write a validated card, atomically: to ``target`` if it ends in ``.json``, else to
    ``model.json`` in the folder ``target``."""
    target = Path(target)
    path = target if target.suffix == ".json" else target / CARD_FILE
    card.check(str(path))
    return write_json(path, card.to_json())
