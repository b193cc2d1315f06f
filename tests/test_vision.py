"""kit.vision: boxes, frames of every shape, malformed input, the pipeline with the real
detectors and the reference classifier, TFLite against Keras, streams and the CLI contract."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from kit.vision.faces.detectors import FrameError, as_bgr, clip_boxes

from .conftest import require_models

REPO = Path(__file__).resolve().parents[1]


def test_boxes_are_clipped_and_empty_inverted_or_mostly_outside_ones_dropped():
    dets = clip_boxes([(-10, -5, 50, 40), (600, 400, 660, 490), (600, 400, 700, 520), (10, 10, 10, 30),
                       (30, 30, 31, 31), (5, 5, float("nan"), 20), (50, 40, 20, 10)], 640, 480,
                      [0.9, 0.85, 0.8, 0.7, 0.6, 0.5, 0.4])
    # a face cut by the border stays; a box with less than 40 % of itself inside, an inverted one, a NaN go
    assert [d.box for d in dets] == [(0, 0, 50, 40), (600, 400, 640, 480)]
    assert [d.score for d in dets] == [0.9, 0.85]


@pytest.mark.parametrize("frame,shape", [
    (np.zeros((48, 64), np.uint8), (48, 64, 3)),
    (np.zeros((48, 64, 1), np.uint8), (48, 64, 3)),
    (np.zeros((48, 64, 4), np.uint8), (48, 64, 3)),
    (np.zeros((48, 64, 3), np.uint8), (48, 64, 3)),
])
def test_frames_of_any_layout_become_bgr(frame, shape):
    assert as_bgr(frame).shape == shape


@pytest.mark.parametrize("bad,message", [
    (None, "numpy array"), (np.zeros((0, 0, 3), np.uint8), "non-empty"),
    (np.zeros((4, 4, 3), np.float32), "uint8"), (np.zeros((4, 4, 2), np.uint8), "shape"),
])
def test_bad_frames_are_named(bad, message):
    with pytest.raises(FrameError, match=message):
        as_bgr(bad)


def test_haar_on_grayscale_and_huge_frames_without_models():
    from kit.vision.faces.detectors import HaarDetector

    haar = HaarDetector()
    assert haar.detect(np.full((2160, 3840), 128, np.uint8)) == []  # 4K gray, nothing there, no crash


@pytest.fixture(scope="module")
def pipeline():
    """The seeds' detector and classifier, for the mechanics of the pipeline."""
    require_models()
    from kit.vision.live.pipeline import MaskDetector

    return MaskDetector("ssd", "reference")


def test_pipeline_labels_the_demo_faces(pipeline):
    from kit.vision.live.demo import demo_frames

    frame = demo_frames(1)[0]
    result = pipeline.process(frame)
    faces = sorted(result.faces, key=lambda f: f.box[0])
    assert [f.label for f in faces] == ["with_mask", "without_mask", "with_mask"]
    assert all(f.prob > 0.6 and f.score > 0.5 for f in faces)
    assert set(result.timings) == {"detect_ms", "crop_ms", "classify_ms", "total_ms"}
    gray = pipeline.process(frame[:, :, 1])  # grayscale frames work too
    assert len(gray.faces) >= 1  # the drawn masks lose their colour, the bare face stays


def test_default_pipeline_finds_the_demo_faces_at_both_scales():
    require_models()
    from kit.vision.faces.detectors import LIVE_MIN_FACE, make_detector
    from kit.vision.live.demo import demo_frames

    frame = demo_frames(1)[0]
    for min_face in (None, LIVE_MIN_FACE):
        found = sorted(make_detector("centerface", min_face=min_face).detect(frame), key=lambda d: d.box[0])
        assert len(found) == 3 and all(d.score > 0.5 for d in found)
        assert all(60 < d.box[2] - d.box[0] < 120 for d in found)  # the faces (half of each 150 px paste)
    live = make_detector("centerface", min_face=LIVE_MIN_FACE)
    assert live.scale_for(frame.shape) == 0.5 and make_detector("centerface").scale_for(frame.shape) == 2.0
    with pytest.raises(ValueError, match="min_face must be a size in pixels"):
        make_detector("centerface", min_face=0)
    with pytest.raises(ValueError, match="unknown detector 'retina'"):
        make_detector("retina")


def test_enlarged_frames_keep_their_edges_and_brightness():
    """CenterFace sees small faces enlarged: Lanczos + unsharp mask keeps an edge steeper than
    bilinear enlarging would, without shifting the image's brightness or overflowing uint8."""
    import cv2

    from kit.vision.faces.detectors import enlarge_sharp

    frame = np.zeros((20, 30, 3), np.uint8)
    frame[:, 15:] = 200
    big = enlarge_sharp(frame, (90, 60))
    plain = cv2.resize(frame, (90, 60), interpolation=cv2.INTER_LINEAR)
    assert big.shape == (60, 90, 3) and big.dtype == np.uint8
    assert abs(float(big.mean()) - float(plain.mean())) < 3
    assert np.abs(np.diff(big[30, :, 0].astype(int))).max() > np.abs(np.diff(plain[30, :, 0].astype(int))).max()


def test_ssd_close_ups_get_no_boxes_hanging_off_the_corner():
    """res10's padded last feature maps fire as shifted copies of a large face; clipped to the
    frame those copies used to end exactly at the bottom-right corner."""
    require_models()
    import cv2

    from kit.vision.faces.detectors import SSDDetector
    from kit.vision.live.demo import sample_face

    ssd = SSDDetector()
    ghosts = corner = 0
    closeups = [sample_face(True, 200), sample_face(True, 400), cv2.resize(sample_face(True, 200), (150, 200)),
                cv2.resize(sample_face(True, 400), (300, 400))]  # masked faces filling the frame
    for frame in closeups:
        h, w = frame.shape[:2]
        ssd.net.setInput(cv2.dnn.blobFromImage(cv2.resize(frame, (300, 300)), 1.0, (300, 300), (104.0, 177.0, 123.0)))
        raw = ssd.net.forward()[0, 0]
        raw = raw[raw[:, 2] >= 0.5]
        ghosts += int(((raw[:, 5] > 1.05) | (raw[:, 6] > 1.05)).sum())
        found = ssd.detect(frame)
        assert len(found) >= 1
        corner += sum(d.box[2] == w and d.box[3] == h for d in found)
    assert ghosts > 0  # the network really produces them on these frames
    assert corner == 0


def test_yunet_without_its_package_says_how_to_install(monkeypatch):
    from kit.errors import MissingDependency
    from kit.vision.faces.detectors import make_detector

    monkeypatch.setitem(sys.modules, "yuface", None)
    with pytest.raises(MissingDependency, match="pip install"):
        make_detector("yunet")


def test_twenty_faces_in_one_frame_go_through_one_classifier_call(pipeline):
    from kit.vision.live.demo import sample_face

    face = sample_face(size=110)
    frame = np.full((480, 640, 3), 80, np.uint8)
    for i in range(20):
        x, y = (i % 5) * 128 + 9, (i // 5) * 120 + 5
        frame[y:y + 110, x:x + 110] = face
    calls = []
    original = pipeline.classifier.predict
    pipeline.classifier.predict = lambda crops: calls.append(len(crops)) or original(crops)
    try:
        result = pipeline.process(frame)
    finally:
        pipeline.classifier.predict = original
    assert len(result.faces) == 20 and calls == [20]
    assert {f.label for f in result.faces} == {"without_mask"}


def test_huge_frame_with_the_ssd(pipeline):
    from kit.vision.live.demo import demo_frames

    import cv2

    big = cv2.resize(demo_frames(1)[0], (3840, 2880))
    assert len(pipeline.process(big).faces) == 3


def test_tflite_matches_keras_to_1e4():
    require_models()
    from kit.data import fetch
    from kit.vision.imagesets import resize_square
    from kit.vision.preprocessing import preprocess
    from kit.vision.masks.classifier import MaskClassifier, build_reference_keras
    from kit.vision.live.demo import sample_face

    import cv2

    crops = [cv2.cvtColor(sample_face(m, size), cv2.COLOR_BGR2RGB) for m, size in ((True, 180), (False, 260))]
    lite = MaskClassifier("reference").predict(crops)
    keras_model = build_reference_keras(fetch("mask_classifier_reference"))
    batch = preprocess(np.stack([resize_square(c, 224) for c in crops]), "mobilenet_v2")
    np.testing.assert_allclose(lite, np.asarray(keras_model(batch)), atol=1e-4)


def test_the_default_classifier_ships_with_its_model_card():
    from kit.vision.masks.classifier import DEFAULT_MODEL_DIR, MaskClassifier

    require_models()
    classifier = MaskClassifier("default")
    card = classifier.card
    assert classifier.classes == ("mask_weared_incorrect", "with_mask", "without_mask")
    assert (DEFAULT_MODEL_DIR / "model.tflite").is_file() and (DEFAULT_MODEL_DIR / "README.md").is_file()
    assert card.crops == "detector boxes" and 0 < card.crop_margin < 0.5
    assert card.command.startswith("kit vision train") and card.trained_on and card.licenses
    assert {"accuracy", "per_class"} <= set(card.metrics)
    assert classifier.predict([np.zeros((30, 30, 3), np.uint8)]).shape == (1, 3)


def test_streams_statistics_and_cli_contract(tmp_path):
    require_models()
    from kit.vision.live.demo import demo_frames, write_frames

    folder = write_frames(demo_frames(12), tmp_path / "frames")
    (folder / "frame_0005.jpg").write_bytes(b"not a jpeg")  # one broken frame in the folder
    out, video = tmp_path / "det.json", tmp_path / "annotated.mp4"
    proc = subprocess.run([sys.executable, "-m", "kit", "detect", "--input", str(folder), "--out", str(video),
                           "--json", str(out), "--classifier", "reference"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "frame_0005.jpg: not a readable image, skipped" in proc.stderr
    payload = json.loads(out.read_text())
    assert {"frames", "faces", "by_label", "compliance", "fps", "ms_per_frame", "per_frame"} <= set(payload)
    assert payload["frames"] == 11 and 30 <= payload["faces"] <= 33  # 3 faces a frame, rarely one missed
    assert sum(payload["by_label"].values()) == payload["faces"]
    assert payload["compliance"] == pytest.approx(payload["by_label"]["with_mask"] / payload["faces"], abs=1e-3)
    assert 0.55 < payload["compliance"] < 0.75  # two of the three demo faces wear a mask
    first = payload["per_frame"][0]
    assert first["source"] == "frame_0000.jpg"
    assert set(first["detections"][0]) == {"box", "label", "prob", "score"}
    assert set(payload["ms_per_frame"]) == {"p50", "p95"} and video.stat().st_size > 10_000
    missing = subprocess.run([sys.executable, "-m", "kit", "detect", "--input", str(tmp_path / "nope.mp4")],
                             capture_output=True, text=True)
    assert missing.returncode == 2 and "no such file" in missing.stderr and "Traceback" not in missing.stderr
    for bad_out, message in ((tmp_path / "out.xyz", "cannot write '.xyz' files"),
                             (tmp_path / "out.mp4", "the input is one image")):
        source = folder if bad_out.suffix == ".xyz" else folder / "frame_0000.jpg"
        proc = subprocess.run([sys.executable, "-m", "kit", "detect", "--input", str(source), "--out", str(bad_out)],
                              capture_output=True, text=True)
        assert proc.returncode == 2 and message in proc.stderr and not bad_out.exists()


def test_bench_json_contract(tmp_path):
    require_models()
    from kit.vision.live.demo import demo_frames, write_frames

    folder = write_frames(demo_frames(8), tmp_path / "frames")
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, "-m", "kit", "detect", "bench", "--input", str(folder), "--json", str(out)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    payload = json.loads(out.read_text())
    assert {"mode", "fps", "ratio", "kit", "seed", "frames", "faces", "agreement"} <= set(payload)
    assert payload["mode"] == "every_frame" and "stream" not in payload
    for side in ("kit", "seed"):
        assert set(payload[side]) == {"fps", "ms_per_frame", "stages_ms"}
        assert set(payload[side]["ms_per_frame"]) == {"p50", "p95"}
        assert set(payload[side]["stages_ms"]) == {"decode_ms", "detect_ms", "crop_ms", "classify_ms"}
    assert payload["frames"] == 8 and payload["fps"] == payload["kit"]["fps"]
    assert payload["ratio"] == pytest.approx(payload["kit"]["fps"] / payload["seed"]["fps"], rel=0.01)
    assert payload["agreement"]["recall_vs_seed"] >= 0.9  # every frame: the faces the seed finds, we find
    assert "decode" in proc.stdout and "classify" in proc.stdout  # where the time goes, printed
    refused = subprocess.run([sys.executable, "-m", "kit", "detect", "bench", "--input", str(folder), "--stream"],
                             capture_output=True, text=True)
    assert refused.returncode == 2 and "needs a video or a camera" in refused.stderr


def test_bench_stream_mode_is_its_own_block(tmp_path):
    require_models()
    from kit.vision.live.demo import demo_frames, write_video

    video = write_video(demo_frames(12), tmp_path / "demo.avi")
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, "-m", "kit", "detect", "bench", "--input", str(video), "--stream",
                           "--json", str(out)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    payload = json.loads(out.read_text())
    assert payload["mode"] == "every_frame" and payload["frames"] == 12
    stream = payload["stream"]
    assert {"fps", "ms_per_frame", "stages_ms", "ratio", "faces", "settings"} <= set(stream)
    assert stream["agreement_with_every_frame"]["recall_vs_seed"] >= 0.9


def test_webcam_widget_answers_frames_and_survives_bad_ones(monkeypatch):
    require_models()
    import cv2

    import kit.vision.runtime
    from kit.vision.live.demo import demo_frames
    from widgets.webcam_detector import WebcamDetector

    yielded = []  # not this test process: the kernel serving frames lowers its own priority
    monkeypatch.setattr(kit.vision.runtime, "yield_cpu_to_starting_sessions", lambda: yielded.append(1))
    w = WebcamDetector(classifier="reference")
    from kit.vision.faces.detectors import CenterFaceDetector

    # the slider starts at the detector's own threshold (its card's), and the detector uses the slider's
    assert w.threshold == CenterFaceDetector().threshold == w.pipeline().detector.threshold
    sent = []
    w.send = lambda content, buffers=None: sent.append(content)
    ok, jpeg = cv2.imencode(".jpg", demo_frames(1)[0])
    w._on_message(w, {"type": "frame", "id": 1}, [memoryview(jpeg.tobytes())])
    w._on_message(w, {"type": "frame", "id": 2}, [b"\xff\xd8\xff\xe0broken"])
    w._on_message(w, {"type": "frame", "id": 3}, [])
    w._on_message(w, {"type": "frame", "id": 4}, [memoryview(jpeg.tobytes())])
    w._on_message(w, {"type": "frame", "id": "5; rm -rf"}, [memoryview(jpeg.tobytes())])
    assert [m["type"] for m in sent] == ["result", "error", "error", "result", "error"]
    assert sent[1]["message"].startswith("frame 2: cannot be decoded")
    assert "whole-number id" in sent[4]["message"]
    assert len(sent[0]["faces"]) == 3 and sent[0]["counts"] == {"with_mask": 2, "without_mask": 1}
    assert sent[3]["people"] == 3 and all("track" in f for f in sent[3]["faces"])  # the same three people
    assert w.frames_processed == 2
    assert yielded == [1]  # once, at the first frame


def test_a_streaming_kernel_lowers_the_priority_of_all_its_threads():
    if not hasattr(os, "setpriority") or not os.path.isdir("/proc/self/task"):
        pytest.skip("thread priorities are read from /proc (Linux)")
    if os.getpriority(os.PRIO_PROCESS, 0) >= 18:
        pytest.skip("the tests already run at the lowest priority")
    code = """
import json, os, threading
from kit.vision.runtime import yield_cpu_to_starting_sessions
target = os.getpriority(os.PRIO_PROCESS, 0) + 2
writable = False
try:  # some containers mount /proc so that the group cannot be changed: then only threads count
    current = open('/proc/self/autogroup').read().split('nice')[-1].strip()
    open('/proc/self/autogroup', 'w').write(current); writable = True
except OSError:
    pass
go = threading.Event()
worker = threading.Thread(target=go.wait); worker.start()   # a worker pool that exists already
lowered = yield_cpu_to_starting_sessions(target)
later = threading.Thread(target=go.wait); later.start()     # one started afterwards
nice = [os.getpriority(os.PRIO_PROCESS, int(t)) for t in os.listdir('/proc/self/task')]
group = open('/proc/self/autogroup').read() if os.path.isfile('/proc/self/autogroup') else None
again = yield_cpu_to_starting_sessions(target)
go.set(); worker.join(); later.join()
print(json.dumps({"target": target, "lowered": lowered, "nice": nice, "group": group, "writable": writable,
                  "again": again}))
"""
    # a session of its own, as Jupyter starts a kernel: the scheduling group lowered is the child's
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=REPO,
                         env={**os.environ, "PYTHONPATH": str(REPO)}, start_new_session=True)
    assert out.returncode == 0, out.stderr[-2000:]
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["lowered"] is True and seen["again"] is False  # lowered once, never raised back
    assert set(seen["nice"]) == {seen["target"]} and len(seen["nice"]) >= 3  # every thread, one started later too
    if seen["group"] is not None and seen["writable"]:  # autogroup: the group's own nice value is what counts
        assert int(seen["group"].split()[-1]) >= seen["target"]


def test_webcam_widget_refuses_hostile_frames_and_settings_before_any_work(monkeypatch):
    require_models()
    import io

    import traitlets
    from PIL import Image

    from widgets.webcam_detector import WebcamDetector

    w = WebcamDetector(classifier="reference")
    sent = []
    w.send = lambda content, buffers=None: sent.append(content)
    work = []
    monkeypatch.setattr(w, "pipeline", lambda: work.append(1))
    bomb = io.BytesIO()
    Image.new("L", (6000, 6000)).save(bomb, "PNG")  # 36 MP in a few KB
    w._on_message(w, {"type": "frame", "id": 1}, [memoryview(bomb.getvalue())])
    w._on_message(w, {"type": "frame", "id": 2}, [b"\xff" * 9_000_000])
    assert not work and [m["type"] for m in sent] == ["error", "error"]
    assert "KIT_MAX_FRAME_PIXELS" in sent[0]["message"] and "KIT_MAX_FRAME_BYTES" in sent[1]["message"]
    for name, value in (("threshold", 7.0), ("threshold", float("nan")), ("min_face", 0.0), ("max_width", 10**6),
                        ("detector", "../../evil"), ("detectors", ["ssd", "rm"])):
        with pytest.raises(traitlets.TraitError):
            setattr(w, name, value)
