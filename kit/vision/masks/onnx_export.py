"""The mask classifier as ONNX, for ONNX Runtime Web (the live detector in the visitor's page).

:func:`to_onnx` converts a model folder's ``model.tflite`` with ``tf2onnx`` and changes
three things, so that the page cannot apply the model differently from the kernel:

* the backbone's own preprocessing (the card's ``preprocess``) is the graph's first step,
  a 3 x 3 matrix and an offset on the RGB channels: the page feeds squashed 0..255 crops,
  and nothing can preprocess them twice or forget to. Every preprocessing of
  :data:`kit.vision.preprocessing.PREPROCESS` is affine per pixel; one that is not is refused;
* weights that are float16 values (a TFLite file written with ``--quantize float16``) are
  stored as float16 and cast to float32 as the graph starts: nothing is lost and the file is
  half the size; other weights stay float32;
* the input is named ``pixels`` and the output ``probabilities`` (before the card's
  decision bias, which the page applies as the kernel does).

The result is checked against the TFLite interpreter on generated crops before it is
written (atomically, with its sha256 in the card).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from kit.errors import MissingDependency, ModelError

ONNX_FILE = "model.onnx"
INPUT, OUTPUT = "pixels", "probabilities"
OPSET = 17
TOLERANCE = 1e-3  # largest difference in a probability between the ONNX and TFLite files


def preprocessing_affine(name: str) -> tuple[np.ndarray, np.ndarray]:
    """``(matrix, offset)`` with ``preprocess(x, name) == x @ matrix + offset`` for RGB pixels
    ``x`` (N, H, W, 3); :class:`ModelError` when the preprocessing is not of that form."""
    from ..preprocessing import preprocess

    probes = np.zeros((4, 1, 1, 3), np.float32)
    for c in range(3):
        probes[c + 1, 0, 0, c] = 255.0
    out = preprocess(probes, name).reshape(4, 3).astype(np.float64)
    offset = out[0]
    matrix = (out[1:] - offset) / 255.0  # row c: what input channel c adds to each output channel
    check = np.random.default_rng(0).uniform(0, 255, (2, 5, 5, 3)).astype(np.float32)
    if not np.allclose(preprocess(check, name), check @ matrix + offset, atol=1e-4):
        raise ModelError(f"preprocessing {name!r} is not an affine map of the pixels; the page cannot run it")
    return matrix.astype(np.float32), offset.astype(np.float32)


def to_onnx(folder: str | Path) -> Path:
    """Write ``model.onnx`` beside a model folder's ``model.tflite`` and record its sha256
    in the card; returns the file. Needs ``tf2onnx`` (a kit dependency)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from kit.files import atomic_write, sha256_of

    from ..cards import read_card, write_card

    folder = Path(folder)
    card = read_card(folder)
    tflite = folder / "model.tflite"
    if not tflite.is_file():
        raise ModelError(f"{folder}: no model.tflite to convert (write the folder with kit vision train)")
    card.verify_file(tflite)
    from ..runtime import import_tensorflow

    import_tensorflow()  # quietly, before tf2onnx imports it
    try:
        import tf2onnx.convert
    except ImportError:
        raise MissingDependency("exporting a classifier to ONNX needs tf2onnx: pip install tf2onnx==1.17.0 "
                                "(a dependency of the kit; reinstall with pip install -e .)") from None
    from tf2onnx import logging as tf2onnx_logging

    tf2onnx_logging.set_level(tf2onnx_logging.ERROR)
    try:
        model, _ = tf2onnx.convert.from_tflite(str(tflite), opset=OPSET)
    except Exception as exc:  # tf2onnx raises many types for an operation it cannot convert
        raise ModelError(f"{tflite}: tf2onnx cannot convert it to ONNX ({type(exc).__name__}: "
                         f"{str(exc)[:200]}); this classifier runs on the server only") from None
    graph = model.graph
    if len(graph.input) != 1 or len(graph.output) != 1:
        raise ModelError(f"{tflite}: expected one input and one output, found {len(graph.input)} and "
                         f"{len(graph.output)}")
    size = card.input_size
    matrix, offset = preprocessing_affine(card.preprocess)
    old_in, old_out = graph.input[0].name, graph.output[0].name

    # float16 storage for the weights, cast back as the graph starts
    casts = []
    for init in list(graph.initializer):
        if init.data_type == TensorProto.FLOAT and np.prod(init.dims) >= 256:
            value = numpy_helper.to_array(init)
            if not np.array_equal(value.astype(np.float16).astype(np.float32), value):
                continue  # float32 weights (a model trained without --quantize float16) stay float32
            half = numpy_helper.from_array(value.astype(np.float16), init.name + "_f16")
            graph.initializer.remove(init)
            graph.initializer.append(half)
            casts.append(helper.make_node("Cast", [half.name], [init.name], to=TensorProto.FLOAT))
    graph.initializer.extend([numpy_helper.from_array(matrix, "kit_pre_matrix"),
                              numpy_helper.from_array(offset, "kit_pre_offset")])
    pre = [helper.make_node("MatMul", [INPUT, "kit_pre_matrix"], ["kit_pre_scaled"]),
           helper.make_node("Add", ["kit_pre_scaled", "kit_pre_offset"], [old_in])]
    post = [helper.make_node("Identity", [old_out], [OUTPUT])]
    nodes = casts + pre + list(graph.node) + post
    del graph.node[:]
    graph.node.extend(nodes)
    del graph.input[:]
    graph.input.append(helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, ["batch", size, size, 3]))
    del graph.output[:]
    graph.output.append(helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, ["batch", len(card.classes)]))
    del model.metadata_props[:]
    for key, value in {"classes": ",".join(card.classes), "input": "RGB 0..255, squashed to the input size",
                       "preprocess": f"{card.preprocess} (inside the graph)"}.items():
        model.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(model)
    data = model.SerializeToString()
    _check_against_tflite(data, folder, card)
    path = atomic_write(folder / ONNX_FILE, data)
    write_card(card.replace(model_files={**card.model_files, ONNX_FILE: sha256_of(path)}), folder)
    return path


def _check_against_tflite(data: bytes, folder: Path, card) -> None:
    from ..runtime import onnx_session
    from .predictor import Predictor

    rng = np.random.default_rng(0)
    size = card.input_size
    crops = rng.integers(0, 256, (6, size, size, 3), dtype=np.uint8)
    crops[:3] = np.clip(crops[:3].astype(int) // 3 + rng.integers(0, 170, (3, 1, 1, 3)), 0, 255)  # plainer ones
    reference = Predictor.from_tflite(folder / "model.tflite", card.input_size, card.preprocess)(crops)
    session = onnx_session(data)
    got = session.run([OUTPUT], {INPUT: crops.astype(np.float32)})[0]
    worst = float(np.abs(got - reference).max())
    if worst > TOLERANCE:
        raise ModelError(f"{folder}: the ONNX conversion differs from model.tflite by {worst:.4f} in a probability "
                         f"(more than {TOLERANCE}); not written")
