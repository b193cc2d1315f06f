"""kit.vision: boxes, frames of every shape, malformed input, the pipeline with the real
detectors and the reference classifier, TFLite against Keras, streams and the CLI contract."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from kit.vision.detectors import FrameError, as_bgr, clip_boxes

from .conftest import require_models


def test_boxes_are_clipped_and_empty_ones_dropped():
    dets = clip_boxes([(-10, -5, 50, 40), (600, 400, 700, 520), (10, 10, 10, 30), (30, 30, 31, 31),
                       (5, 5, float("nan"), 20), (50, 40, 20, 10)], 640, 480, [0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    assert [d.box for d in dets] == [(0, 0, 50, 40), (600, 400, 640, 480), (20, 10, 50, 40)]
    assert [d.score for d in dets] == [0.9, 0.8, 0.4]


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
    from kit.vision.detectors import HaarDetector

    haar = HaarDetector()
    assert haar.detect(np.full((2160, 3840), 128, np.uint8)) == []  # 4K gray, nothing there, no crash


@pytest.fixture(scope="module")
def pipeline():
    require_models()
    from kit.vision.pipeline import MaskDetector

    return MaskDetector("ssd")


def test_pipeline_labels_the_demo_faces(pipeline):
    from kit.vision.media import demo_frames

    frame = demo_frames(1)[0]
    result = pipeline.process(frame)
    faces = sorted(result.faces, key=lambda f: f.box[0])
    assert [f.label for f in faces] == ["with_mask", "without_mask", "with_mask"]
    assert all(f.prob > 0.6 and f.score > 0.5 for f in faces)
    assert set(result.timings) == {"detect_ms", "classify_ms", "total_ms"}
    gray = pipeline.process(frame[:, :, 1])  # grayscale frames work too
    assert len(gray.faces) >= 1  # the drawn masks lose their colour, the bare face stays


def test_twenty_faces_in_one_frame_go_through_one_classifier_call(pipeline):
    from kit.vision.media import sample_face

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
    from kit.vision.media import demo_frames

    import cv2

    big = cv2.resize(demo_frames(1)[0], (3840, 2880))
    assert len(pipeline.process(big).faces) == 3


def test_tflite_matches_keras_to_1e4():
    require_models()
    from kit.data import fetch
    from kit.vision.classifier import MaskClassifier, build_reference_keras, preprocess_mobilenet
    from kit.vision.media import sample_face

    import cv2

    crops = [cv2.cvtColor(sample_face(m, 180), cv2.COLOR_BGR2RGB) for m in (True, False)]
    lite = MaskClassifier("reference").predict(crops)
    keras_model = build_reference_keras(fetch("mask_classifier_reference"))
    batch = preprocess_mobilenet(np.stack([cv2.resize(c, (224, 224), interpolation=cv2.INTER_AREA) for c in crops]))
    np.testing.assert_allclose(lite, np.asarray(keras_model(batch)), atol=1e-4)


def test_reusing_faces_between_detections(pipeline):
    from kit.vision.media import demo_frames
    from kit.vision.pipeline import MaskDetector

    fast = MaskDetector(pipeline.detector, pipeline.classifier, detect_every=3)
    results = [fast.process(f, stream=True) for f in demo_frames(7)]
    assert [r.detected for r in results] == [True, False, False, True, False, False, True]
    assert results[1].faces == results[0].faces and results[1].timings["detect_ms"] == 0.0
    assert fast.process(demo_frames(1)[0]).detected  # a single image is always processed


def test_streams_statistics_and_cli_contract(tmp_path):
    require_models()
    from kit.vision.media import demo_frames, write_frames

    folder = write_frames(demo_frames(12), tmp_path / "frames")
    (folder / "frame_0005.jpg").write_bytes(b"not a jpeg")  # one broken frame in the folder
    out, video = tmp_path / "det.json", tmp_path / "annotated.mp4"
    proc = subprocess.run([sys.executable, "-m", "kit", "detect", "--input", str(folder), "--out", str(video),
                           "--json", str(out)], capture_output=True, text=True)
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


def test_bench_json_contract(tmp_path):
    require_models()
    from kit.vision.media import demo_frames, write_frames

    folder = write_frames(demo_frames(8), tmp_path / "frames")
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, "-m", "kit", "detect", "bench", "--input", str(folder), "--json", str(out)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    payload = json.loads(out.read_text())
    assert {"fps", "ratio", "kit", "seed", "frames", "faces"} <= set(payload)
    for side in ("kit", "seed"):
        assert set(payload[side]) == {"fps", "ms_per_frame"} and set(payload[side]["ms_per_frame"]) == {"p50", "p95"}
    assert payload["frames"] == 8 and payload["fps"] == payload["kit"]["fps"]
    assert payload["ratio"] == pytest.approx(payload["kit"]["fps"] / payload["seed"]["fps"], rel=0.01)
    assert payload["agreement"]["label_agreement"] >= 0.9 and payload["agreement"]["recall_vs_seed"] >= 0.9


def test_webcam_widget_answers_frames_and_survives_bad_ones():
    require_models()
    import cv2

    from kit.vision.media import demo_frames
    from widgets.webcam_detector import WebcamDetector

    w = WebcamDetector()
    sent = []
    w.send = lambda content, buffers=None: sent.append(content)
    ok, jpeg = cv2.imencode(".jpg", demo_frames(1)[0])
    w._on_frame(w, {"type": "frame", "id": 1}, [memoryview(jpeg.tobytes())])
    w._on_frame(w, {"type": "frame", "id": 2}, [b"\xff\xd8\xff\xe0broken"])
    w._on_frame(w, {"type": "frame", "id": 3}, [])
    w._on_frame(w, {"type": "frame", "id": 4}, [memoryview(jpeg.tobytes())])
    assert [m["type"] for m in sent] == ["result", "error", "error", "result"]
    assert "frame 2" in sent[1]["message"] and "malformed JPEG" in sent[1]["message"]
    assert len(sent[0]["faces"]) == 3 and sent[0]["counts"] == {"with_mask": 2, "without_mask": 1}
    assert w.frames_processed == 2 and w.last_error == ""
