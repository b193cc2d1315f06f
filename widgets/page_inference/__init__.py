"""The mask detector in the visitor's page: what the page needs, from one place.

The page runs ``mask_pipeline.mjs`` (``src/mask_pipeline.js`` with ONNX Runtime Web,
bundled by ``build.sh`` with pinned versions and committed, so users never need node) on
four assets:

=============  ==============================================================  ===========
name           what                                                            where from
=============  ==============================================================  ===========
``module``     the bundled pipeline (ES module)                                this folder
``wasm``       ONNX Runtime's WebAssembly (SIMD, one thread), gzipped           this folder
``detector``   CenterFace with its input made any size                         the detector's folder
``classifier`` the classifier as ONNX, preprocessing inside the graph          the model folder
=============  ==============================================================  ===========

and :func:`page_config`: every setting of the kernel's pipeline the page must copy
(detector threshold, working scale, NMS, crop margin, input size, classes, decision
bias, how labels are shown). :func:`export_static_app` writes all of it as a folder any
static web server can serve (``kit app export mask_detector OUT``).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from kit.errors import ModelError

HERE = Path(__file__).parent
MODULE_FILE = HERE / "mask_pipeline.mjs"
WASM_FILE = HERE / "ort-wasm-simd-threaded.wasm.gz"
STATIC_FILES = ("index.html", "app.js")  # the static page around the pipeline (in this folder)
EXPORT_MARKER = "kit-static-app.json"  # names a folder the kit exported (it may be replaced)


@dataclass(frozen=True)
class Asset:
    """One file the page needs: its bytes and their sha256 (the page's cache key)."""

    name: str
    data: bytes

    @cached_property  # once per file: the kernel names it with every chunk it sends
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def describe(self) -> dict:
        return {"name": self.name, "sha256": self.sha256, "bytes": len(self.data)}


def classifier_onnx(classifier="default"):
    """``(ONNX file, card)`` of a classifier for the page, the file's sha256 checked against
    the card, without loading a network; :class:`ModelError` when there is none."""
    from kit.vision.cards import read_card
    from kit.vision.masks.classifier import resolve_model
    from kit.vision.masks.onnx_export import ONNX_FILE

    if str(classifier) == "reference":
        raise ModelError("the reference classifier runs on the server only (it has no ONNX file for the page)")
    folder = resolve_model(classifier)
    folder = folder if folder.is_dir() else folder.parent
    path = folder / ONNX_FILE
    if not path.is_file():
        raise ModelError(f"{folder}: no {ONNX_FILE} for the page (kit vision export-onnx {folder} writes it); "
                         f"this classifier runs on the server")
    card = read_card(folder)
    card.verify_file(path)
    return path, card


def page_config(card, detector_settings: dict) -> dict:
    """The settings the page's pipeline copies from the kernel's (JSON)."""
    from kit.vision.masks.labels import COLOURS_HEX, display_name
    from kit.vision.masks.onnx_export import INPUT, OUTPUT

    classes = list(card.classes)
    return {
        "detector": detector_settings,
        "classifier": {"input": INPUT, "output": OUTPUT, "input_size": int(card.input_size),
                       "margin": float(card.crop_margin), "classes": classes,
                       "decision_bias": [float(card.decision_bias.get(c, 0.0)) for c in classes]
                       if card.decision_bias else None},
        "labels": {c: {"name": display_name(c), "colour": COLOURS_HEX.get(c, "#c8c8c8")} for c in classes},
    }


def page_assets(classifier="default", detector_model="default", threshold: float | None = None,
                min_face: float | None = None) -> tuple[dict, dict]:
    """``({name: Asset}, config)`` for the page; reads files only (no TensorFlow, no ONNX Runtime)."""
    from kit.vision.faces.detectors import LIVE_MIN_FACE, centerface_for_page

    onnx_file, card = classifier_onnx(classifier)
    detector, settings = centerface_for_page(detector_model, threshold,
                                             LIVE_MIN_FACE if min_face is None else min_face)
    assets = {"module": Asset("module", MODULE_FILE.read_bytes()), "wasm": Asset("wasm", WASM_FILE.read_bytes()),
              "detector": Asset("detector", detector), "classifier": Asset("classifier", onnx_file.read_bytes())}
    return assets, page_config(card, settings)


ASSET_FILES = {"module": "mask_pipeline.mjs", "wasm": "ort-wasm-simd-threaded.wasm.gz",
               "detector": "detector.onnx", "classifier": "classifier.onnx"}


def _is_export(folder: Path) -> bool:
    return (folder / EXPORT_MARKER).is_file()


def export_static_app(out: str | Path, classifier="default", detector_model="default",
                      threshold: float | None = None, min_face: float | None = None) -> Path:
    """Write the live mask detector as a static folder: ``index.html``, ``app.js``, the
    bundled pipeline, the WebAssembly, both networks and ``config.json``. Written whole
    or not at all; an existing folder is replaced only if the kit exported it."""
    from kit.files import atomic_folder, write_json

    assets, config = page_assets(classifier, detector_model, threshold, min_face)
    out = Path(out)
    with atomic_folder(out, owned=_is_export, option="OUT", kind="static app") as tmp:
        for name in STATIC_FILES:
            (tmp / name).write_bytes((HERE / name).read_bytes())
        for name, asset in assets.items():
            (tmp / ASSET_FILES[name]).write_bytes(asset.data)
        config["files"] = {name: {"file": ASSET_FILES[name], "sha256": a.sha256, "bytes": len(a.data)}
                           for name, a in assets.items()}
        write_json(tmp / "config.json", config)
        (tmp / "LICENSES.md").write_text((HERE / "LICENSES.md").read_text())
        write_json(tmp / EXPORT_MARKER, {"app": "mask_detector", "written_by": "kit app export"})
    return out
