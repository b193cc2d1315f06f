"""The mask detector in the visitor's page, kernel side: the classifier as ONNX, what the
page is given, the static export, and the kernel that only tracks (no TensorFlow, no ONNX
Runtime) and refuses forged detections before any work."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from .browser import REPO


def test_the_shipped_classifier_has_an_onnx_twin_recorded_in_its_card():
    from kit.files import sha256_of
    from kit.vision.cards import read_card
    from kit.vision.masks.classifier import DEFAULT_MODEL_DIR

    card = read_card(DEFAULT_MODEL_DIR)
    assert card.model_files["model.onnx"] == sha256_of(DEFAULT_MODEL_DIR / "model.onnx")


def test_onnx_export_bakes_the_preprocessing_in_and_matches_tflite(tmp_path):
    from kit.vision.cards import read_card
    from kit.vision.masks.classifier import DEFAULT_MODEL_DIR, MaskClassifier
    from kit.vision.masks.onnx_export import INPUT, OUTPUT, to_onnx
    from kit.vision.runtime import onnx_session

    folder = tmp_path / "model"
    shutil.copytree(DEFAULT_MODEL_DIR, folder)
    (folder / "model.onnx").unlink()
    path = to_onnx(folder)
    assert read_card(folder).model_files["model.onnx"]  # its hash recorded
    assert path.stat().st_size < 0.6 * (folder / "model.tflite").stat().st_size * 2  # float16 weights
    rng = np.random.default_rng(1)
    crops = rng.integers(0, 256, (5, 160, 160, 3), dtype=np.uint8)
    onnx_out = onnx_session(str(path)).run([OUTPUT], {INPUT: crops.astype(np.float32)})[0]  # raw 0..255 pixels in
    tflite_out = MaskClassifier(folder).predictor(crops)
    assert np.abs(onnx_out - tflite_out).max() < 1e-3


@pytest.mark.parametrize("name", ["mobilenet_v2", "vgg19", "densenet121", "rescale"])
def test_every_backbone_preprocessing_is_one_affine_map(name):
    from kit.vision.masks.onnx_export import preprocessing_affine
    from kit.vision.preprocessing import preprocess

    matrix, offset = preprocessing_affine(name)
    pixels = np.random.default_rng(0).uniform(0, 255, (2, 4, 4, 3)).astype(np.float32)
    assert np.allclose(pixels @ matrix + offset, preprocess(pixels, name), atol=1e-4)


def test_a_classifier_without_onnx_runs_on_the_server(tmp_path):
    from kit.errors import ModelError
    from kit.vision.masks.classifier import DEFAULT_MODEL_DIR
    from widgets.page_inference import classifier_onnx

    folder = tmp_path / "model"
    shutil.copytree(DEFAULT_MODEL_DIR, folder)
    (folder / "model.onnx").unlink()
    with pytest.raises(ModelError, match="no model.onnx for the page"):
        classifier_onnx(folder)
    with pytest.raises(ModelError, match="server only"):
        classifier_onnx("reference")
    shutil.copytree(DEFAULT_MODEL_DIR, tmp_path / "damaged")
    data = bytearray((tmp_path / "damaged" / "model.onnx").read_bytes())
    data[5000] ^= 0xFF
    (tmp_path / "damaged" / "model.onnx").write_bytes(bytes(data))
    with pytest.raises(ModelError, match="sha256"):
        classifier_onnx(tmp_path / "damaged")


def test_the_page_gets_the_kernels_settings_from_one_place():
    from kit.vision.faces.detectors import LIVE_MIN_FACE, CenterFaceDetector
    from kit.vision.masks.classifier import MaskClassifier
    from widgets.page_inference import page_assets

    assets, config = page_assets()
    assert set(assets) == {"module", "wasm", "detector", "classifier"}
    kernel = CenterFaceDetector(min_face=LIVE_MIN_FACE)
    d = config["detector"]
    assert (d["threshold"], d["nms_iou"], d["max_pixels"], d["min_face"]) == (
        kernel.threshold, kernel.nms_iou, kernel.max_pixels, LIVE_MIN_FACE)
    clf = MaskClassifier("default")
    c = config["classifier"]
    assert (c["classes"], c["input_size"], c["margin"]) == (list(clf.classes), clf.size, clf.margin)
    assert c["decision_bias"] == [clf.card.decision_bias[k] for k in clf.classes]
    assert assets["wasm"].data[:2] == b"\x1f\x8b"  # gzipped WebAssembly
    assert b"createPipeline" in assets["module"].data and b"import.meta" not in assets["module"].data


def test_static_export_is_whole_and_never_replaces_a_users_folder(tmp_path):
    from kit.errors import ParameterError
    from widgets.page_inference import export_static_app

    out = export_static_app(tmp_path / "site")
    config = json.loads((out / "config.json").read_text())
    for spec in config["files"].values():
        assert (out / spec["file"]).stat().st_size == spec["bytes"]
    assert {"index.html", "app.js", "LICENSES.md"} <= {p.name for p in out.iterdir()}
    export_static_app(out)  # its own export is replaced
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    with pytest.raises(ParameterError, match="not a static app the kit wrote"):
        export_static_app(mine)
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]
    proc = subprocess.run([sys.executable, "-m", "kit", "app", "export", "nonsense", str(tmp_path / "x")],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 2 and "has no static version" in proc.stderr and "Traceback" not in proc.stderr


KERNEL = """
import json, sys, resource
import numpy as np
from widgets.webcam_detector import WebcamDetector
w = WebcamDetector()
sent = []
w.send = lambda content, buffers=None: sent.append((content, [len(b) for b in buffers or []]))
rows = np.array([[100, 80, 220, 230, 0.9, 2, 0.97], [300, 90, 400, 210, 0.8, 1, 0.99]], "<f4")
frame = lambda i: {"id": i, "width": 640, "height": 480, "faces": 2}
for i in range(3):  # one frame, then two in one message, then one
    batch = [frame(10 * i), frame(10 * i + 1)] if i == 1 else [frame(10 * i)]
    w._on_message(w, {"type": "detections", "id": i + 1, "frames": batch}, [rows.tobytes() * len(batch)])
w._on_message(w, {"type": "asset", "name": "classifier"}, [])
heavy = sorted({m.split(".")[0] for m in sys.modules} & {"tensorflow", "onnxruntime", "keras", "tf2onnx"})
print(json.dumps({"run_on": w.run_on, "sent": sent, "heavy": heavy, "people": w.people,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def test_a_device_mode_kernel_tracks_without_tensorflow_or_onnx_runtime():
    proc = subprocess.run([sys.executable, "-c", KERNEL], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    assert seen["run_on"] == "device" and seen["heavy"] == []
    replies = [m for m, _ in seen["sent"]]
    assert [m["type"] for m in replies] == ["tracked", "tracked", "tracked", "asset"]
    assert [m["frames"] for m in replies[:3]] == [[0], [10, 11], [20]]
    assert replies[-2]["people"] == 2 and replies[-2]["counts"] == {
        "mask_weared_incorrect": 0, "with_mask": 1, "without_mask": 1}
    assert seen["sent"][-1][1] == [2**20]  # the first chunk
    assert replies[-1]["total"] == (REPO / "kit/vision/models/mask_default/model.onnx").stat().st_size
    print(f"device-mode kernel: peak RSS {seen['rss_mb']:.0f} MB (no TensorFlow, no ONNX Runtime)")


@pytest.fixture(scope="module")
def device_widget():
    from widgets.webcam_detector import WebcamDetector

    w = WebcamDetector()
    assert w.run_on == "device"
    return w


def _rows(*faces):
    return np.array(faces, "<f4").tobytes()


def _frames(*faces, width=640, height=480):
    return [{"id": 1, "width": width, "height": height, "faces": faces[0] if faces else 1}]


ONE = _rows([1, 1, 20, 20, 0.9, 1, 0.9])


@pytest.mark.parametrize("frames, buffer, why", [
    (_frames(5000), _rows(*[[1, 1, 20, 20, 0.9, 1, 0.9]] * 5000), "faces must be a whole number in 0..256"),
    ([_frames()[0]] * 65, ONE * 65, "a list of 1..64 frames"),
    ([], b"", "a list of 1..64 frames"),
    ("frames", b"", "a list of 1..64 frames"),
    (_frames(), _rows([np.nan, 1, 20, 20, 0.9, 1, 0.9]), "not a finite number"),
    (_frames(), _rows([50, 50, 20, 20, 0.9, 1, 0.9]), "outside its frame or is empty"),
    (_frames(), _rows([-5, 1, 20, 20, 0.9, 1, 0.9]), "outside"),
    (_frames(), _rows([1, 1, 20, 900, 0.9, 1, 0.9]), "outside"),
    (_frames(), _rows([1, 1, 20, 20, 0.9, 7, 0.9]), "label index"),
    (_frames(), _rows([1, 1, 20, 20, 0.9, 1.5, 0.9]), "label index"),
    (_frames(), _rows([1, 1, 20, 20, 3.0, 1, 0.9]), "0..1"),
    (_frames(), b"\x00" * 27, "27 bytes where the frames' faces need 28"),
    (_frames(2), ONE, "bytes where the frames' faces need 56"),
    (_frames(width=10**6), ONE, "whole numbers in 1..4096"),
    ([{"id": "1; rm", "width": 640, "height": 480, "faces": 1}], ONE, "whole-number id"),
    ([{"id": 1, "width": 640.5, "height": 480, "faces": 1}], ONE, "whole numbers"),
    ([{"id": 1, "width": True, "height": 480, "faces": 1}], ONE, "whole numbers"),
])
def test_forged_detections_are_refused_before_any_tracking(device_widget, frames, buffer, why):
    w = device_widget
    before = (w.tracker().frame_index, len(w.history))
    reply = w.handle_detections({"id": 9, "frames": frames}, buffer)
    assert reply["type"] == "error" and why in reply["message"], reply
    assert (w.tracker().frame_index, len(w.history)) == before  # refused before any tracking


def test_a_flood_of_messages_is_refused_and_counted_and_the_kernel_stays_responsive(device_widget, monkeypatch):
    w = device_widget
    sent = []
    monkeypatch.setattr(w, "send", lambda content, buffers=None: sent.append(content))
    w._message_times.clear()
    refused = w.refused_messages
    rows = _rows([100, 80, 220, 230, 0.9, 2, 0.97])
    frames = [{"id": 1, "width": 640, "height": 480, "faces": 1}]
    for i in range(2000):
        w._on_message(w, {"type": "detections", "id": i, "frames": frames}, [rows])
    assert w.refused_messages - refused >= 2000 - 121
    assert sum(m["type"] == "tracked" for m in sent) <= 121
    w._message_times.clear()  # a second later the page is answered again
    w._on_message(w, {"type": "detections", "id": 5000, "frames": frames}, [rows])
    assert sent[-1]["type"] == "tracked" and sent[-1]["id"] == 5000


def test_pages_cannot_make_a_device_mode_kernel_load_networks_or_resend_files(device_widget, monkeypatch):
    w = device_widget
    sent = []
    monkeypatch.setattr(w, "send", lambda content, buffers=None: sent.append(content))
    w._message_times.clear()
    w._on_message(w, {"type": "frame", "id": 1}, [b"\xff\xd8\xff"])
    assert sent[-1]["type"] == "error" and "detects in the page" in sent[-1]["message"]
    assert w._pipelines == {} and w._classifier is None
    w._on_message(w, {"type": "asset", "name": "../../etc/passwd"}, [])
    assert "no page file named" in sent[-1]["message"]
    w._on_message(w, {"type": "asset", "name": "wasm", "offset": 2**20}, [])  # a later chunk
    assert sent[-1]["type"] == "asset" and sent[-1]["offset"] == 2**20
    for bad in (-1, 5, 10**9, "0", True):
        w._on_message(w, {"type": "asset", "name": "wasm", "offset": bad}, [])
        assert "no chunk starts at" in sent[-1]["message"]
    for _ in range(4):
        w._on_message(w, {"type": "asset", "name": "wasm"}, [])
    assert [m["type"] for m in sent[-4:]] == ["asset"] * 3 + ["error"] and "already sent" in sent[-1]["message"]


def test_preheated_kernels_waiting_in_voilas_pool_are_not_culled():
    import asyncio

    from kit.course.offline import voila_command
    from kit.course.voila_app import PoolAwareKernelManager

    cmd, _ = voila_command(REPO / "lessons" / "apps" / "mask_detector.ipynb", 8866, preheat=3)
    assert "--VoilaConfiguration.default_pool_size=3" in cmd
    assert "--VoilaConfiguration.multi_kernel_manager_class=kit.course.voila_app.PoolAwareKernelManager" in cmd
    assert not any("preheat" in c for c in voila_command(REPO, 8866)[0])  # off unless asked

    async def check():
        manager = PoolAwareKernelManager()
        waiting = asyncio.get_running_loop().create_future()
        waiting.set_result({"kernel_id": "pooled"})
        starting = asyncio.get_running_loop().create_future()  # still running the app: not idle anyway
        manager._pools = {"mask_detector.ipynb": [waiting, starting]}
        culled = []

        async def cull(self, kernel_id):
            culled.append(kernel_id)

        import jupyter_server.services.kernels.kernelmanager as km

        original = km.AsyncMappingKernelManager.cull_kernel_if_idle
        km.AsyncMappingKernelManager.cull_kernel_if_idle = cull
        try:
            await manager.cull_kernel_if_idle("pooled")
            await manager.cull_kernel_if_idle("a visitor who left")
        finally:
            km.AsyncMappingKernelManager.cull_kernel_if_idle = original
        starting.cancel()
        return culled

    assert asyncio.run(check()) == ["a visitor who left"]
