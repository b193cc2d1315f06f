"""Recipes that make a registry file from another registry file (``derived`` sources).

A derived source names its parent entry and one recipe from :data:`RECIPES`; the
registry can only pick a recipe, never supply code. The result is hashed like any
other download (the source carries its own ``sha256``), so a recipe must write the
same bytes every time.
"""
from __future__ import annotations

import json
from pathlib import Path


class DerivationFailed(Exception):
    """The parent file is not what the recipe needs; ``str(exc)`` says why."""


def keras_base_weights(parent: Path, output_file: Path, options: dict) -> None:
    """The frozen base of a Keras HDF5 model as a Keras weights file.

    Keeps every layer of the parent's ``model_weights`` except ``drop_layers`` (the
    head) and writes them in the layout ``keras.Model.load_weights`` reads for ``.h5``
    files, which is also the layout of the canonical Keras applications files. Every
    kept layer must be marked ``trainable: false`` in the parent's model config: only
    a base that was never trained further still holds the weights it started from.
    """
    import h5py
    import numpy as np

    drop = set(options.get("drop_layers") or [])
    try:
        with h5py.File(parent, "r") as fin:
            if "model_config" not in fin.attrs or "model_weights" not in fin:
                raise DerivationFailed(f"{parent.name} is not a Keras HDF5 model (no model_config/model_weights)")
            config = json.loads(fin.attrs["model_config"])
            layers = config["config"]["layers"]
            kept = [layer for layer in layers if layer["name"] not in drop]
            missing = sorted(drop - {layer["name"] for layer in layers})
            if missing:
                raise DerivationFailed(f"{parent.name} has no layer(s) {', '.join(missing)} to drop")
            trained = [layer["name"] for layer in kept if layer["config"].get("trainable") is True]
            if trained:
                raise DerivationFailed(f"{parent.name}: layer(s) {', '.join(trained[:5])} were trainable, "
                                       f"so their weights are not the original pretrained ones")
            weights = fin["model_weights"]
            names = [layer["name"] for layer in kept if layer["name"] in weights]
            with h5py.File(output_file, "w") as fout:
                fout.attrs["layer_names"] = np.array([n.encode() for n in names])
                fout.attrs["backend"] = np.bytes_(fin.attrs.get("backend", "tensorflow"))
                fout.attrs["keras_version"] = np.bytes_(fin.attrs.get("keras_version", ""))
                for name in names:
                    fin.copy(weights[name], fout, name=name)
    except OSError as exc:
        raise DerivationFailed(f"{parent.name}: cannot be read as HDF5 ({exc})") from None


RECIPES = {"keras_base_weights": keras_base_weights}
