"""Scene-level evaluation on scenes whose answers are known exactly: a stub detector finds
chosen faces (and one face nobody annotated), a stub classifier labels them, and every
figure of the JSON contract is checked by hand. Then the real CLI on a generated scene."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from kit.vision.faces.detectors import Detection

VOC = """<annotation><filename>{name}</filename><size><width>200</width><height>100</height></size>
{objects}</annotation>"""
OBJ = "<object><name>{label}</name><bndbox><xmin>{x1}</xmin><ymin>{y1}</ymin><xmax>{x2}</xmax><ymax>{y2}</ymax></bndbox></object>"

# scene a: three annotated faces; scene b: one annotated face
TRUTH = {
    "a": [("with_mask", (10, 10, 40, 40)), ("without_mask", (60, 10, 90, 40)), ("mask_weared_incorrect", (110, 10, 140, 40))],
    "b": [("with_mask", (20, 20, 60, 60))],
}
# what the stub detector finds (box, score) and what the stub classifier says per box
FOUND = {
    "a": [((11, 11, 41, 41), 0.9, "with_mask"),            # right
          ((61, 9, 91, 39), 0.8, "with_mask"),              # found, wrong label
          ((150, 50, 180, 80), 0.7, "without_mask")],       # nobody annotated this face: false positive
    "b": [((21, 19, 61, 59), 0.95, "with_mask")],           # right; scene a's incorrect face is missed
}
CLASSES = ("mask_weared_incorrect", "with_mask", "without_mask")


@pytest.fixture
def voc(tmp_path):
    root = tmp_path / "voc"
    (root / "images").mkdir(parents=True)
    (root / "annotations").mkdir()
    for stem, faces in TRUTH.items():
        Image.new("RGB", (200, 100), (90, 90, 90)).save(root / "images" / f"{stem}.jpg")
        objects = "".join(OBJ.format(label=lab, x1=b[0], y1=b[1], x2=b[2], y2=b[3]) for lab, b in faces)
        (root / "annotations" / f"{stem}.xml").write_text(VOC.format(name=f"{stem}.png", objects=objects))
    return root


class StubDetector:
    name = "stub"

    def __init__(self):
        self.scene = None

    def detect(self, frame):
        return [Detection(box, score) for box, score, _ in FOUND[self.scene]]


class StubClassifier:
    name = "stub"
    classes = CLASSES
    margin = 0.0

    def __init__(self, detector):
        self.detector = detector

    def predict(self, crops):
        labels = [label for _, _, label in FOUND[self.detector.scene]]
        out = np.full((len(crops), 3), 0.05)
        for i, label in enumerate(labels):
            out[i, CLASSES.index(label)] = 0.9
        return out


def test_scene_figures_match_a_hand_count(voc, monkeypatch):
    from kit.vision.live import scenes as scenes_module
    from kit.vision.live.scenes import evaluate_scenes

    detector = StubDetector()
    real_read = scenes_module.read_bgr

    def read(path):  # tell the stubs which scene is being looked at
        detector.scene = path.rsplit("/", 1)[-1].split(".")[0]
        return real_read(path)

    monkeypatch.setattr(scenes_module, "read_bgr", read)
    ev = evaluate_scenes(voc, detector=detector, classifier=StubClassifier(detector), progress=False)
    out = ev.to_json()
    assert {"images", "faces", "recall", "label_accuracy", "end_to_end", "false_positives_per_image",
            "per_class", "confusion", "fps"} <= set(out)
    assert out["images"] == 2 and out["faces"] == 4
    assert out["recall"] == 0.75                    # 3 of 4 annotated faces found
    assert out["label_accuracy"] == round(2 / 3, 4)  # 2 of the 3 found faces labelled right
    assert out["end_to_end"] == 0.5                 # 2 of 4 annotated faces found and right
    assert out["false_positives_per_image"] == 0.5  # one unmatched detection over two scenes
    per = out["per_class"]
    assert per["with_mask"] == {"n": 2, "found": 2, "label_accuracy": 1.0, "recall": 1.0,
                                "precision": round(2 / 3, 4), "ap50": 1.0}
    assert per["without_mask"]["n"] == 1 and per["without_mask"]["recall"] == 0.0
    assert per["without_mask"]["precision"] == 0.0  # its one "without_mask" box is the unannotated face
    assert per["without_mask"]["found"] == 1 and per["without_mask"]["label_accuracy"] == 0.0  # called with_mask
    assert per["mask_weared_incorrect"] == {"n": 1, "found": 0, "label_accuracy": None, "recall": 0.0,
                                            "precision": None, "ap50": 0.0}
    confusion = dict(zip(out["confusion"]["rows"], out["confusion"]["counts"]))
    assert out["confusion"]["columns"] == list(CLASSES)
    assert confusion["with_mask"] == [0, 2, 0] and confusion["without_mask"] == [0, 1, 0]
    assert confusion["mask_weared_incorrect"] == [0, 0, 0]  # missed, so not in the confusion of found faces
    worst = ev.scenes[0] if ev.scenes[0]["path"].endswith("a.jpg") else ev.scenes[1]
    assert (worst["missed"], worst["wrong"], worst["false_positives"]) == (1, 1, 1)
    only_b = evaluate_scenes(voc, detector=detector, classifier=StubClassifier(detector), only=["voc:b"],
                             progress=False)
    assert only_b.images == 1 and only_b.recall == 1.0
    # one source against another, and the faces that got a wrong label
    from kit.vision.live.scenes import source_table

    table = source_table({"all": ev, "b only": only_b})
    assert list(table.index) == ["all", "b only"] and table.loc["all", "labels right: without_mask"] == 0.0
    assert table.loc["b only", "end to end"] == 1.0
    fig = ev.mistakes(n=3)
    assert fig.axes[0].get_title() == "No Mask → Mask (0.90)"  # annotated → said (probability)
    fig = ev.unmatched(n=5, columns=2)        # the one false positive, with its score and height
    titled = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titled == ["0.70, 30 px"] and "1 of 1" in fig._suptitle.get_text()
    assert only_b.unmatched().axes[0].texts[0].get_text() == "no unmatched detections"


def test_average_precision_follows_pascal_voc():
    from kit.vision.live.scenes import average_precision

    assert average_precision([0.9, 0.8, 0.7], [True, False, True], 2) == pytest.approx(0.5 + 0.5 * 2 / 3)
    assert average_precision([], [], 3) == 0.0 and average_precision([0.5], [True], 0) is None


def test_cli_detect_evaluate_contract(voc, tmp_path):
    from .conftest import require_models

    require_models()
    out = tmp_path / "scenes.json"
    proc = subprocess.run([sys.executable, "-m", "kit", "detect", "evaluate", "--input", str(voc), "--json", str(out),
                           "--iou", "0.3"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    payload = json.loads(out.read_text())
    assert {"images", "faces", "recall", "label_accuracy", "end_to_end", "false_positives_per_image",
            "per_class", "confusion", "fps"} <= set(payload)
    assert payload["images"] == 2 and payload["faces"] == 4 and payload["detector"] == "centerface"
    assert set(payload["per_class"]) == set(CLASSES)
    assert all(set(v) == {"n", "found", "label_accuracy", "recall", "precision", "ap50"}
               for v in payload["per_class"].values())
    # several sources: each reported, then one table across them
    other = tmp_path / "other_source"
    shutil.copytree(voc, other)
    both = subprocess.run([sys.executable, "-m", "kit", "detect", "evaluate", "--input", str(voc), "--input",
                           str(other), "--json", str(out)], capture_output=True, text=True)
    assert both.returncode == 0, both.stderr
    assert "== every source ==" in both.stdout and "labels right: with_mask" in both.stdout
    assert set(json.loads(out.read_text())["sources"]) == {"voc", "other_source"}
    held = subprocess.run([sys.executable, "-m", "kit", "detect", "evaluate", "--input", str(other), "--scenes",
                           "held-out"], capture_output=True, text=True)
    assert held.returncode == 0 and "no recorded held-out scenes" in held.stderr
    once = subprocess.run([sys.executable, "-m", "kit", "detect", "--input", str(voc), "--input", str(voc)],
                          capture_output=True, text=True)
    assert once.returncode == 2 and "only evaluate takes several" in once.stderr
    bad = subprocess.run([sys.executable, "-m", "kit", "detect", "evaluate", "--input", str(tmp_path / "nope")],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "images/ and annotations/" in bad.stderr and "Traceback" not in bad.stderr
