"""Fine-tuning CenterFace: the ONNX <-> Keras round trip, the training targets, the crops,
the scene split and a short run of the trainer on generated scenes."""
from __future__ import annotations

import numpy as np
import pytest

from kit.errors import DataError, ModelError, ParameterError


def small_onnx(op_extra: str | None = None) -> bytes:
    """A tiny network with every operator CenterFace uses, the same padding and strides:
    stride-2 conv (padded both sides), depthwise conv, batch norm, ReLU, residual add,
    transposed conv, sigmoid head; two outputs."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)

    def init(name, *shape, positive=False):
        value = rng.normal(0, 0.3, shape).astype(np.float32)
        return numpy_helper.from_array(np.abs(value) + 0.5 if positive else value, name)

    inits = [init("w1", 4, 3, 3, 3), init("b1", 4), init("dw", 4, 1, 3, 3), init("db", 4),
             init("g", 4, positive=True), init("be", 4), init("m", 4), init("v", 4, positive=True),
             init("up", 4, 2, 2, 2), init("hw", 1, 2, 1, 1), init("hb", 1)]
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[2, 2]),
             helper.make_node("Relu", ["c1"], ["r1"]),
             helper.make_node("Conv", ["r1", "dw", "db"], ["c2"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], group=4),
             helper.make_node("BatchNormalization", ["c2", "g", "be", "m", "v"], ["n2"], epsilon=1e-5),
             helper.make_node("Add", ["n2", "r1"], ["a2"]),
             helper.make_node("ConvTranspose", ["a2", "up"], ["u3"], kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("Conv", ["u3", "hw", "hb"], ["h4"], kernel_shape=[1, 1]),
             helper.make_node("Sigmoid", ["h4"], ["heat"])]
    if op_extra:
        nodes.append(helper.make_node(op_extra, ["heat"], ["extra"]))
    outputs = [helper.make_tensor_value_info("heat", TensorProto.FLOAT, ["B", 1, "H", "W"]),
               helper.make_tensor_value_info("u3", TensorProto.FLOAT, ["B", 2, "H", "W"])]
    graph = helper.make_graph(nodes, "small", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["B", 3, "H", "W"])],
                              outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def test_keras_rebuild_computes_what_onnx_runtime_computes_and_writes_back():
    import onnxruntime as ort

    from kit.vision.faces.onnx_keras import keras_from_onnx, onnx_with_weights

    model_bytes = small_onnx()
    net, owners = keras_from_onnx(model_bytes)
    x = np.random.default_rng(1).uniform(0, 255, (2, 3, 20, 28)).astype(np.float32)
    ref = ort.InferenceSession(model_bytes).run(None, {"x": x})
    got = net.predict(x.transpose(0, 2, 3, 1), verbose=0)
    for r, g in zip(ref, got):
        assert g.transpose(0, 3, 1, 2).shape == r.shape
        np.testing.assert_allclose(g.transpose(0, 3, 1, 2), r, rtol=1e-4, atol=1e-4)
    # Change every weight in Keras; the written ONNX file must compute the changed network.
    for layer in net.layers:
        if layer.name in owners:
            layer.set_weights([w * 0.9 + 0.01 for w in layer.get_weights()])
    changed = onnx_with_weights(model_bytes, net, owners)
    ref2 = ort.InferenceSession(changed).run(None, {"x": x})
    got2 = net.predict(x.transpose(0, 2, 3, 1), verbose=0)
    assert not np.allclose(ref2[0], ref[0])
    for r, g in zip(ref2, got2):
        np.testing.assert_allclose(g.transpose(0, 3, 1, 2), r, rtol=1e-4, atol=1e-4)


def test_an_operator_keras_cannot_rebuild_is_named():
    from kit.vision.faces.onnx_keras import keras_from_onnx

    with pytest.raises(ModelError, match="operator Softmax .*supported"):
        keras_from_onnx(small_onnx("Softmax"), where="odd.onnx")


def test_targets_decode_back_to_the_boxes():
    from kit.vision.live.detector_training import STRIDE, centerface_targets

    boxes = np.array([[10.0, 20.0, 50.0, 70.0], [100.3, 30.7, 111.9, 45.2], [200, 200, 300, 300]])
    t = centerface_targets(boxes, 128)  # the third face's centre lies outside the crop
    ys, xs = np.nonzero(t["centre"])
    assert len(ys) == 2 and t["heat"].max() == pytest.approx(1.0)
    assert np.all(t["heat"][ys, xs] == 1.0)
    decoded = []
    for y, x in zip(ys, xs):
        h, w = np.exp(t["box"][y, x]) * STRIDE
        cy, cx = (np.array([y, x]) + t["offset"][y, x] + 0.5) * STRIDE  # CenterFace's decoding
        decoded.append([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])
    decoded = sorted(decoded)
    np.testing.assert_allclose(decoded, boxes[:2], atol=1e-3)
    assert np.all(np.abs(t["offset"][ys, xs]) <= 0.5)


def test_random_crops_keep_boxes_on_their_faces():
    from kit.vision.live.detector_training import random_crop

    rng = np.random.default_rng(0)
    scene = np.zeros((300, 400, 3), np.uint8)
    boxes = np.array([[50, 60, 80, 100], [300, 200, 330, 236]], float)
    for x1, y1, x2, y2 in boxes.astype(int):
        scene[y1:y2, x1:x2] = 255
    seen = 0
    for _ in range(30):
        crop, shifted = random_crop(scene, boxes, rng, 128)
        assert crop.shape == (128, 128, 3) and crop.dtype == np.float32
        for x1, y1, x2, y2 in shifted:
            cx, cy = int((x1 + x2) / 2), int((y1 + y2) / 2)
            if 0 <= cx < 128 and 0 <= cy < 128:
                # the face stays brighter than the dark scene around it, whatever the lighting jitter
                assert crop[cy, cx].mean() > crop.mean() + 40
                seen += 1
    assert seen > 10


def test_scene_split_keeps_held_out_scenes_out_and_is_seeded():
    from kit.vision.live.detector_training import split_scenes

    stems = [f"s{i}" for i in range(40)]
    train, val, test = split_scenes(stems, ["voc:s1", "s2", "elsewhere", "rwmfd:s3"], 0.25, seed=3)
    assert test == ["s1", "s2"]
    assert not set(train) & set(val) and not (set(train) | set(val)) & set(test)
    assert len(val) == round(0.25 * 38) and len(train) + len(val) == 38
    assert split_scenes(stems, ["s1", "s2"], 0.25, seed=3) == (train, val, test)
    assert split_scenes(stems, ["s1", "s2"], 0.25, seed=4)[1] != val
    with pytest.raises(DataError, match="too few scenes"):
        split_scenes(["a", "b"], ["a"], 0.15)


def test_choose_threshold_respects_the_false_positive_budget():
    from kit.vision.live.detector_training import choose_threshold

    class Fixed:  # a detector whose output depends on the threshold only
        def __init__(self, t):
            self.t = t

        def detect(self, frame):
            from kit.vision.faces.detectors import Detection

            real = [Detection((10, 10, 30, 30), 0.9)] + ([Detection((50, 50, 70, 70), 0.4)] if self.t < 0.45 else [])
            junk = [Detection((100 + 5 * k, 0, 104 + 5 * k, 4), 0.3) for k in range(3 if self.t < 0.35 else 0)]
            return real + junk

    scenes = [(np.zeros((120, 200, 3), np.uint8), np.array([[10, 10, 30, 30], [50, 50, 70, 70]], float))]
    chosen = choose_threshold(Fixed, scenes, thresholds=(0.3, 0.4, 0.5), max_fp=1.0)
    assert chosen["threshold"] == 0.4 and chosen["recall"] == 1.0
    assert chosen["table"]["0.3"]["false_positives_per_image"] == 3.0
    assert chosen["table"]["0.5"]["recall"] == 0.5


@pytest.mark.parametrize("option, value", [("steps", 0), ("crop", 100), ("batch_size", 2.5), ("learning_rate", 2.0)])
def test_trainer_refuses_bad_settings_before_reading_anything(tmp_path, option, value):
    from kit.vision.live.detector_training import train_centerface

    with pytest.raises(ParameterError, match=option):
        train_centerface(tmp_path / "nowhere", tmp_path / "out", **{option: value})
    assert not (tmp_path / "out").exists()


def test_the_shipped_detector_matches_its_card_and_sets_its_threshold():
    import hashlib

    from kit.vision.faces.detectors import CENTERFACE_DEFAULT, CenterFaceDetector, centerface_model

    source, card = centerface_model("default")
    assert hashlib.sha256(source.read_bytes()).hexdigest() == card["sha256"]
    assert (CENTERFACE_DEFAULT / "README.md").is_file() and card["command"].startswith("kit detect train")
    # the held-out scenes of the default classifier were neither trained on nor used for choosing
    from kit.vision.masks.classifier import MaskClassifier
    from kit.vision.splits import held_out_scenes

    held = set(held_out_scenes())
    assert held and held == set(card["split"]["test"])
    assert not held & (set(card["split"]["train"]) | set(card["split"]["val"]))
    assert card["validation"]["false_positives_per_image"] <= card["settings"]["max_false_positives_per_image"]
    assert CenterFaceDetector().threshold == card["threshold"]
    assert CenterFaceDetector(threshold=0.6).threshold == 0.6


def test_a_folder_that_is_not_a_detector_is_named(tmp_path):
    from kit.vision.faces.detectors import make_detector

    with pytest.raises(ParameterError, match="unknown detector .*kit detect train"):
        make_detector(str(tmp_path))
    (tmp_path / "centerface.onnx").write_bytes(b"not onnx")
    with pytest.raises(ModelError, match="model.json"):
        make_detector(str(tmp_path))
    (tmp_path / "model.json").write_text('{"threshold": 7}')
    with pytest.raises(ModelError, match="threshold 7.0 is not a score"):
        make_detector(str(tmp_path))


def test_cli_fine_tunes_on_generated_crowds_and_the_result_is_a_detector(tmp_path):
    """A few steps only: the point is the whole path (split, crops, training, choosing a
    checkpoint and threshold, writing ONNX and card) and that the written folder detects."""
    import json
    import subprocess
    import sys

    from PIL import Image

    from kit.vision.faces.detectors import make_detector
    from kit.vision.live.demo import crowd_scene

    from .conftest import require_models

    require_models()
    root = tmp_path / "voc"
    (root / "images").mkdir(parents=True)
    (root / "annotations").mkdir()
    for seed in range(8):
        frame, truth = crowd_scene(n=6, width=320, height=240, sizes=(24, 60), seed=seed)
        Image.fromarray(frame[:, :, ::-1]).save(root / "images" / f"crowd{seed}.jpg")
        objects = "".join(f"<object><name>{label}</name><bndbox><xmin>{b[0]}</xmin><ymin>{b[1]}</ymin>"
                          f"<xmax>{b[2]}</xmax><ymax>{b[3]}</ymax></bndbox></object>" for b, label in truth)
        (root / "annotations" / f"crowd{seed}.xml").write_text(
            f"<annotation><filename>crowd{seed}.png</filename><size><width>320</width><height>240</height></size>"
            f"{objects}</annotation>")
    out = tmp_path / "detector"
    proc = subprocess.run([sys.executable, "-m", "kit", "detect", "train", "--input", str(root), "--out", str(out),
                           "--held-out", "recorded", "--steps", "3", "--quiet", "--json", str(tmp_path / "card.json")],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "validation scenes" in proc.stdout and "Traceback" not in proc.stderr
    card = json.loads((out / "model.json").read_text())
    assert card == json.loads((tmp_path / "card.json").read_text())
    assert card["command"].startswith("kit detect train --input") and card["split"]["test"] == []
    assert len(card["split"]["val"]) == 1 and len(card["split"]["train"]) == 7
    assert 0 < card["threshold"] < 1 and card["validation"]["step"] in (0, 3)
    frame, truth = crowd_scene(n=6, width=320, height=240, sizes=(24, 60), seed=99)
    found = make_detector(str(out)).detect(frame)
    assert len(found) >= 3  # three steps cannot undo what CenterFace knows
