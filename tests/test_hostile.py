"""Hostile and broken input: every hole found when the kit was attacked stays closed.

Bombs are built here, small and bounded (never committed); network faults come from the
loopback server; nothing leaves the machine."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import warnings
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from kit.data import fetch, load_registry
from kit.errors import FetchError, RegistryError, UnverifiedFileWarning

from .conftest import require_models

REPO = Path(__file__).resolve().parents[1]


def _kit(*args, env=None, **kw):
    return subprocess.run([sys.executable, "-m", "kit", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, **kw)


# 1. registry names that would escape the cache -------------------------------------------------

@pytest.mark.parametrize("field,value", [("name", "../../victim"), ("name", "/etc/passwd"), ("name", ".hidden"),
                                         ("filename", "../x.csv"), ("filename", "a/b.csv"), ("filename", "..")])
def test_registry_names_cannot_leave_the_cache(write_registry, field, value):
    entry = {"name": "ok", "kind": "sample", "sha256": None, "filename": "ok.csv", "sources": [{"url": "https://e/x"}]}
    entry[field] = value
    with pytest.raises(RegistryError, match=f"{field}.*{re.escape(repr(value))}"):
        load_registry(write_registry([entry]))


def test_a_cache_path_outside_the_cache_is_refused_even_without_the_registry(cache):
    from kit.data.fetch import cache_state
    from kit.data.registry import Entry, Source

    forged = Entry("../outside", "sample", "", "", "", "x.csv", None, None, (Source("url", "https://e/x"),))
    with pytest.raises(FetchError, match="would leave the cache folder"):
        cache_state(forged)


# 2. a file the user placed is never deleted ------------------------------------------------------

def test_a_manually_placed_file_is_used_not_deleted(cache, write_registry):
    registry = load_registry(write_registry([{"name": "kaggle", "kind": "images", "sha256": None, "filename": "k.csv",
                                              "sources": [{"manual": "download it from Kaggle"}]}]))
    placed = cache / "kaggle" / "k.csv"
    placed.parent.mkdir(parents=True)
    placed.write_bytes(b"the user's own download")
    with pytest.warns(UnverifiedFileWarning, match="placed in the cache"):
        assert fetch("kaggle", registry=registry, progress=False) == placed
    assert placed.read_bytes() == b"the user's own download"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # recorded now: the next run trusts it without a warning
        assert fetch("kaggle", registry=registry, progress=False).read_bytes() == b"the user's own download"


# 3. image bombs ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def bomb(tmp_path_factory):
    """A 30000 x 30000 PNG of a few hundred kilobytes: 900 million pixels."""
    path = tmp_path_factory.mktemp("bomb") / "bomb.png"
    Image.new("1", (30000, 30000)).save(path, optimize=True)
    assert path.stat().st_size < 2_000_000
    return path


def test_kit_detect_refuses_an_image_bomb_before_decoding(bomb):
    start = time.perf_counter()
    proc = _kit("detect", "--input", str(bomb), "--classifier", "reference")
    assert proc.returncode == 2, proc.stderr
    assert "bomb.png" in proc.stderr and "KIT_MAX_PIXELS" in proc.stderr and "Traceback" not in proc.stderr
    assert time.perf_counter() - start < 60  # refused from the header, not after a 6 GB decode


def test_an_image_bomb_in_a_training_folder_is_skipped_and_named(bomb, tmp_path):
    import shutil

    from kit.data import synthetic
    from kit.vision.imagesets import load_image_folder

    folder = synthetic.face_images(tmp_path / "faces", n_subjects=4, size=40, seed=0)
    shutil.copy(bomb, folder / "with_mask" / "bomb.png")
    with pytest.warns(UserWarning, match="skipped 1 unreadable file"):
        images = load_image_folder(folder)
    assert len(images) == 8 and "bomb.png: 30000x30000" in images.skipped["reason"].iloc[0]


# 5. slow and lying servers ---------------------------------------------------------------------------

def test_a_server_dripping_bytes_is_cut_off_by_the_overall_deadline(cache, server, write_registry, monkeypatch):
    server.routes["/drip.csv"] = (200, b"x" * 400, "drip")  # 80 s at a byte per 0.2 s
    registry = load_registry(write_registry([{"name": "d", "kind": "sample", "sha256": None,
                                              "sources": [{"url": f"{server.url}/drip.csv"}]}]))
    monkeypatch.setenv("KIT_DEADLINE", "1.5")
    start = time.perf_counter()
    with pytest.raises(FetchError, match=r"still sending after 1.5 s \(KIT_DEADLINE\)"):
        fetch("d", registry=registry, progress=False)
    assert time.perf_counter() - start < 10
    assert not any(p.is_file() and not p.name.startswith(".lock") for p in (cache / "d").iterdir())


def test_a_body_larger_than_the_registry_says_is_refused(cache, server, write_registry):
    server.routes["/huge.bin"] = (200, b"y" * 1000, "huge")
    registry = load_registry(write_registry([{"name": "h", "kind": "sample", "sha256": None, "size_bytes": 1000,
                                              "sources": [{"url": f"{server.url}/huge.bin"}]}]))
    with pytest.raises(FetchError, match="announces 5,000,000,000 bytes; the registry says the file has 1,000"):
        fetch("h", registry=registry, progress=False)


@pytest.mark.parametrize("value", ["0", "-1", "abc", "nan"])
def test_bad_timeout_settings_are_named(cache, server, write_registry, monkeypatch, value):
    server.routes["/x.csv"] = (200, b"x", None)
    registry = load_registry(write_registry([{"name": "x", "kind": "sample", "sha256": None,
                                              "sources": [{"url": f"{server.url}/x.csv"}]}]))
    monkeypatch.setenv("KIT_TIMEOUT", value)
    with pytest.raises(ValueError, match=f"KIT_TIMEOUT='{value}' must be a positive number"):
        fetch("x", registry=registry, progress=False)


# 6. a YAML alias bomb --------------------------------------------------------------------------------

def test_yaml_aliases_are_refused_in_a_registry(tmp_path):
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i, name in enumerate("bcdefghi"):
        prev = "abcdefghi"[i]
        lines.append(f"{name}: &{name} [{', '.join(['*' + prev] * 9)}]")
    lines.append("entries: []")
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines))
    assert path.stat().st_size < 2000
    start = time.perf_counter()
    with pytest.raises(RegistryError, match="anchors|aliases"):
        load_registry(path)
    assert time.perf_counter() - start < 5
    big = tmp_path / "big.yaml"
    big.write_text("entries: []\n" + "# padding\n" * 200_000)
    with pytest.raises(RegistryError, match="KIT_MAX_REGISTRY_BYTES"):
        load_registry(big)


# 7. a zip bomb ----------------------------------------------------------------------------------------

def test_a_zip_bomb_is_refused_and_nothing_is_unpacked(cache, tmp_path, write_registry, monkeypatch):
    archive = tmp_path / "mirror" / "bomb.zip"
    archive.parent.mkdir()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("data/zeros.bin", b"\0" * 30_000_000)  # 30 MB from about 30 KB
    monkeypatch.setenv("KIT_MIRROR", str(archive.parent))
    registry = load_registry(write_registry([{"name": "z", "kind": "images", "sha256": None, "filename": "bomb.zip",
                                              "unpack": "zip", "sources": [{"manual": "m"}]}]))
    with pytest.warns(UnverifiedFileWarning), pytest.raises(FetchError, match="times its size .limit 200"):
        fetch("z", registry=registry, progress=False)
    assert not (cache / "z" / "bomb").exists() and (cache / "z" / "bomb.zip.refused").is_file()
    generous = load_registry(write_registry([{"name": "z", "kind": "images", "sha256": None, "filename": "bomb.zip",
                                              "unpack": "zip", "max_compression": 5000, "sources": [{"manual": "m"}]}]))
    with pytest.warns(UnverifiedFileWarning):
        assert (fetch("z", registry=generous, progress=False) / "data" / "zeros.bin").stat().st_size == 30_000_000


# 11. numerical blow-up is an error, never NaN in JSON ---------------------------------------------------

def test_a_simulation_that_blows_up_fails_and_writes_nothing(tmp_path):
    out = tmp_path / "o.json"
    proc = _kit("epi", "simulate", "-p", "r0_start=1e9", "--json", str(out))
    assert proc.returncode == 2 and "blew up" in proc.stderr and "Traceback" not in proc.stderr
    assert not out.exists()


def test_json_is_always_strict():
    from kit.files import write_json

    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = write_json(Path(tmp) / "x.json", {"a": float("nan"), "b": [float("inf"), 1.0]})
        text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text and json.loads(text) == {"a": None, "b": [None, 1.0]}


# 12. Ctrl-C during a course run --------------------------------------------------------------------------

@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_course_run_leaves_an_honest_summary(tmp_path, stop):
    lessons = tmp_path / "lessons"
    lessons.mkdir()
    (lessons / "profiles.yaml").write_text("profiles:\n  quick:\n    description: t\n    lessons: {}\n")
    import nbformat

    for name, code in (("01_fast", "x = 1"), ("02_slow", "import time\ntime.sleep(120)"), ("03_never", "y = 2")):
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_markdown_cell(f"# {name}"), nbformat.v4.new_code_cell(code)]
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, lessons / f"{name}.ipynb")
    out = tmp_path / "build"
    out.mkdir()
    (out / "summary.json").write_text('[{"lesson": "stale", "status": "ok"}]')  # from an earlier run
    proc = subprocess.Popen([sys.executable, "-m", "kit", "course", "run", "--lessons-dir", str(lessons),
                             "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline:
        summary = json.loads((out / "summary.json").read_text())
        if any(r["lesson"] == "01_fast" and r["status"] == "ok" for r in summary):
            break
        time.sleep(0.5)
    time.sleep(3)  # inside the slow lesson
    proc.send_signal(stop)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and "kit: interrupted" in stderr
    summary = {r["lesson"]: r["status"] for r in json.loads((out / "summary.json").read_text())}
    assert summary == {"01_fast": "ok", "02_slow": "interrupted", "03_never": "interrupted"}


# poor messages that mattered ---------------------------------------------------------------------------

def test_kit_serve_on_a_public_address_warns_without_a_token(monkeypatch, capsys):
    from kit import cli

    from kit.course import serve

    calls = []
    monkeypatch.setattr(serve, "run_voila", lambda cmd, env: calls.append((cmd, env)) or 0)
    assert cli.main(["serve", "mask_detector.ipynb", "--ip", "0.0.0.0", "--apps", str(REPO / "lessons" / "apps")]) == 0
    assert "anyone who can reach this machine" in capsys.readouterr().err
    assert cli.main(["serve", "mask_detector.ipynb", "--ip", "0.0.0.0", "--token", "s3cret",
                     "--apps", str(REPO / "lessons" / "apps")]) == 0
    cmd, env = calls[-1]
    assert "--ServerApp.token=s3cret" in cmd
    # served with the offline template, found through JUPYTER_PATH: no CDN request from the pages
    assert "--template=offline" in cmd and "jupyter_data" in env["JUPYTER_PATH"]


def test_a_read_only_out_folder_is_refused_before_any_lesson_runs(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root can write anywhere")
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    proc = _kit("course", "run", "--out", str(ro / "build"))
    assert proc.returncode == 2 and "cannot write there" in proc.stderr


def test_file_sources_keep_a_private_files_permissions(cache, tmp_path, write_registry):
    private = tmp_path / "secret.csv"
    private.write_bytes(b"a,b\n1,2\n")
    private.chmod(0o600)
    registry = load_registry(write_registry([{"name": "p", "kind": "sample", "sha256": None,
                                              "sources": [{"url": f"file://{private}"}]}]))
    with pytest.warns(UnverifiedFileWarning):
        path = fetch("p", registry=registry, progress=False)
    assert (path.stat().st_mode & 0o777) == 0o600


@pytest.mark.parametrize("kwargs,message", [
    ({"horizon": 0}, "horizon must be a whole number of at least 1, got 0"),
    ({"horizon": -3}, "horizon must be a whole number of at least 1, got -3"),
    ({"horizon": 7, "folds": -1}, "folds must be a whole number of at least 0, got -1"),
    ({"horizon": 59}, "leaves 1 day"),
    ({"holdout": 0.1, "horizon": 7}, "not both"),
])
def test_forecast_settings_out_of_range_are_named(kwargs, message):
    import numpy as np
    import pandas as pd

    from kit.errors import ParameterError
    from kit.forecast import compare

    y = pd.Series(np.arange(60.0), index=pd.date_range("2020-03-01", periods=60))
    with pytest.raises(ParameterError, match=re.escape(message)):
        compare(y, ["holt"], progress=False, **kwargs)


def test_horizon_alone_tests_the_last_days():
    import numpy as np
    import pandas as pd

    from kit.forecast import compare

    y = pd.Series(np.arange(60.0), index=pd.date_range("2020-03-01", periods=60))
    result = compare(y, ["holt"], horizon=5, progress=False)
    assert all(len(f) == 5 for runs in result.forecasts.values() for f in runs)


@pytest.mark.parametrize("values,message", [([5.0], "1 point"), ([], "empty"), ([1.0, float("inf"), 3.0], "infinite")])
def test_series_too_short_or_broken_are_named_not_index_errors(values, message):
    import pandas as pd

    from kit.errors import KitError
    from kit.forecast import compare

    y = pd.Series(values, index=pd.date_range("2020-03-01", periods=len(values)), dtype=float)
    with pytest.raises(KitError, match=message):
        compare(y, ["holt"], progress=False)


def test_the_eda_names_close_regions_for_an_unknown_one():
    from kit.data import load_timeseries
    from kit.errors import DataError
    from kit import eda

    frame = load_timeseries("synthetic")
    for call in (eda.national, eda.top_provinces, eda.cluster):
        with pytest.raises(DataError, match="Did you mean 'Synthland'"):
            call(frame, "Synthlnd")


def test_kit_detect_names_a_truncated_jpeg(tmp_path):
    import cv2
    import numpy as np

    ok, data = cv2.imencode(".jpg", np.full((120, 160, 3), 128, np.uint8))
    path = tmp_path / "half.jpg"
    path.write_bytes(data.tobytes()[: len(data) // 2])
    proc = _kit("detect", "--input", str(path), "--classifier", "reference")
    assert proc.returncode == 2 and "half.jpg" in proc.stderr and "Traceback" not in proc.stderr


def test_video_frames_over_the_pixel_limit_are_refused_naming_the_video(tmp_path, monkeypatch):
    import cv2
    import numpy as np

    from kit.errors import InputError
    from kit.vision.live.streams import iter_frames

    path = tmp_path / "wide.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 5, (320, 240))
    for _ in range(3):
        writer.write(np.zeros((240, 320, 3), np.uint8))
    writer.release()
    monkeypatch.setenv("KIT_MAX_PIXELS", str(320 * 240 - 1))
    with pytest.raises(InputError, match=r"wide.avi.*320x240.*KIT_MAX_PIXELS"):
        list(iter_frames(path))


def test_the_readme_shows_every_limit_with_its_default():
    from kit.limits import DEFAULTS

    readme = (REPO / "README.md").read_text()
    for name, default in DEFAULTS.items():
        assert f"| `{name}` | {default:,} |" in readme, name


# ====================================================================================================
# Third round: nothing of the user's is lost, nothing from a visitor runs
# ====================================================================================================

def _user_folder(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "README.md").write_text("my notes")
    (path / "history.csv").write_text("my data")
    return path


# D1. a model is never written over a folder the kit did not write ------------------------------------

def test_writing_a_model_never_removes_a_users_folder(tmp_path):
    from kit.errors import ParameterError
    from kit.files import atomic_folder
    from kit.vision.cards import is_kit_model_folder

    mine = _user_folder(tmp_path / "mine")
    with pytest.raises(ParameterError, match="not a model folder the kit wrote"):
        with atomic_folder(mine, owned=is_kit_model_folder) as tmp:
            (tmp / "model.json").write_text("{}")
    assert (mine / "README.md").read_text() == "my notes" and (mine / "history.csv").read_text() == "my data"
    # a folder the kit wrote (its card says so) is replaced whole
    kit_folder = tmp_path / "model"
    kit_folder.mkdir()
    (kit_folder / "model.json").write_text(json.dumps({"format": "kit-mask-classifier/2"}))
    with atomic_folder(kit_folder, owned=is_kit_model_folder) as tmp:
        (tmp / "model.json").write_text(json.dumps({"format": "kit-mask-classifier/2", "new": True}))
    assert json.loads((kit_folder / "model.json").read_text())["new"] is True


@pytest.mark.parametrize("command", [["vision", "train", "--data", "synthetic", "--epochs", "1"],
                                     ["detect", "train", "--input", "SCENES", "--steps", "1"]])
def test_model_commands_refuse_a_users_folder_before_any_work(tmp_path, command):
    mine = _user_folder(tmp_path / "mine")
    command = [str(tmp_path) if c == "SCENES" else c for c in command]
    started = time.perf_counter()
    proc = _kit(*command, "--out", str(mine))
    assert proc.returncode == 2, proc.stderr
    assert "not a model folder the kit wrote" in proc.stderr and "Traceback" not in proc.stderr
    assert time.perf_counter() - started < 60  # refused before images are read or a network built
    assert sorted(p.name for p in mine.iterdir()) == ["README.md", "history.csv"]
    assert (mine / "README.md").read_text() == "my notes"


# D2. an output that is an input is refused before any work ---------------------------------------------

def test_kit_detect_never_writes_over_its_input(tmp_path):
    import cv2
    import numpy as np

    video = tmp_path / "v.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for i in range(10):
        writer.write(np.full((48, 64, 3), i * 20, np.uint8))
    writer.release()
    before = video.read_bytes()
    photo = tmp_path / "p.jpg"
    Image.new("RGB", (64, 48)).save(photo)
    for source, out in ((video, video), (photo, photo), (tmp_path, tmp_path / "annotated"), (photo, tmp_path / "."
                                                                                             / "p.jpg")):
        proc = _kit("detect", "--input", str(source), "--out", str(out))
        assert proc.returncode == 2 and "destroy what is being read" in proc.stderr, proc.stderr
    proc = _kit("detect", "--input", str(photo), "--json", str(photo))
    assert proc.returncode == 2 and "--json" in proc.stderr
    assert video.read_bytes() == before


# D3. browser frames reach only the JPEG and PNG decoders ------------------------------------------------

def test_a_browser_frame_never_reaches_other_decoders(monkeypatch):
    from PIL import EpsImagePlugin

    from kit.data.images import BROWSER_FORMATS, decode_bgr
    from kit.errors import ImageReadError

    def tripwire(*args, **kwargs):
        raise AssertionError("the EPS decoder was reached")

    monkeypatch.setattr(EpsImagePlugin.EpsImageFile, "_open", tripwire)
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n"
    with pytest.raises(ImageReadError, match="frame 7: not a JPEG or PNG image"):
        decode_bgr(eps, "frame 7", "KIT_MAX_FRAME_PIXELS", BROWSER_FORMATS)
    with pytest.raises(ImageReadError, match="not a JPEG, PNG"):  # files and uploads: photo formats only
        decode_bgr(eps, "upload")


def test_the_webcam_widget_answers_a_postscript_frame_with_an_error():
    require_models()
    from widgets.webcam_detector import WebcamDetector

    widget = WebcamDetector()
    answer = widget.handle_frame(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n", frame_id=3)
    assert answer["type"] == "error" and "not a JPEG or PNG" in answer["message"]


# D4. a damaged model file never reaches the interpreter ------------------------------------------------

def test_a_damaged_tflite_classifier_is_refused_by_its_hash(tmp_path):
    import shutil

    from kit.errors import ModelError
    from kit.vision.masks.classifier import DEFAULT_MODEL_DIR, load_predictor

    copy = tmp_path / "model"
    shutil.copytree(DEFAULT_MODEL_DIR, copy)
    data = bytearray((copy / "model.tflite").read_bytes())
    for i in range(1000, len(data), len(data) // 20):
        data[i] ^= 0xFF  # bit flips that crashed the interpreter (SIGSEGV) or gave NaN before
    (copy / "model.tflite").write_bytes(bytes(data))
    proc = _kit("detect", "--input", str(REPO / "kit"), "--classifier", str(copy), "--max-frames", "1")
    assert proc.returncode == 2 and "does not match the sha256 in its model card" in proc.stderr, proc.stderr
    with pytest.raises(ModelError, match="it was not loaded"):
        load_predictor(copy)


def test_non_finite_outputs_are_an_error_naming_the_model():
    import numpy as np

    from kit.errors import ModelError
    from kit.vision.masks.predictor import Predictor

    broken = Predictor(lambda batch: np.full((len(batch), 3), np.nan), 8, "mobilenet_v2", "tflite",
                       source="models/broken/model.tflite")
    with pytest.raises(ModelError, match="models/broken/model.tflite: the network gave non-finite outputs"):
        broken(np.zeros((2, 8, 8, 3), np.uint8))


# D5, D6, D7. course runs: escaped parameters, one file per run, links replaced ---------------------------

def _one_lesson(tmp_path, code="region = 'x'\nprint(region)"):
    import nbformat

    lessons = tmp_path / "lessons"
    lessons.mkdir()
    (lessons / "profiles.yaml").write_text("profiles:\n  quick:\n    description: t\n    lessons: {}\n")
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(code)
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# lesson"), cell]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, lessons / "01_one.ipynb")
    return lessons


def test_a_parameter_cannot_put_html_into_a_report(tmp_path):
    lessons = _one_lesson(tmp_path)
    out = tmp_path / "build"
    hostile = "`<img src=x onerror=alert(1)>` [click](javascript:alert(2)) | <script>alert(3)</script>"
    proc = _kit("course", "run", "--lessons-dir", str(lessons), "--out", str(out), "-p", f"region={hostile}")
    assert proc.returncode == 0, proc.stderr
    html = (out / "01_one.html").read_text()
    assert "onerror=alert(1)" not in html.replace("&lt;img src=x onerror=alert(1)&gt;", "")
    assert "<img src=x" not in html and "<script>alert(3)" not in html and 'href="javascript:' not in html
    assert "&lt;img" in html or "&#60;img" in html  # shown as text


def test_grid_values_that_look_alike_get_files_of_their_own(tmp_path):
    lessons = _one_lesson(tmp_path)
    out = tmp_path / "build"
    proc = _kit("course", "run", "--lessons-dir", str(lessons), "--out", str(out), "-p", "region=a b,a_b,a/b,NO")
    assert proc.returncode == 0, proc.stderr
    records = json.loads((out / "summary.json").read_text())
    notebooks = {r["notebook"] for r in records}
    assert len(records) == 4 and len(notebooks) == 4 and all(Path(n).is_file() for n in notebooks)
    assert sorted(r["parameters"]["region"] for r in records) == ["NO", "a b", "a/b", "a_b"]  # strings as typed


def test_links_planted_in_the_output_and_the_cache_are_replaced_not_written_through(tmp_path, cache,
                                                                                      write_registry):
    lessons = _one_lesson(tmp_path)
    out = tmp_path / "build"
    out.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (out / "01_one.ipynb").symlink_to(victim)
    (out / "01_one.html").symlink_to(victim)
    proc = _kit("course", "run", "--lessons-dir", str(lessons), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert victim.read_text() == "precious"
    assert not (out / "01_one.ipynb").is_symlink() and (out / "01_one.ipynb").stat().st_size > 100
    # the cache's hash memo
    payload = b"registry file"
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "f.bin").write_bytes(payload)
    registry = load_registry(write_registry([{"name": "f", "filename": "f.bin", "sha256": None,
                                              "sources": [{"url": "https://example.invalid/f.bin"}]}]))
    (cache / "f").mkdir(parents=True)
    (cache / "f" / ".f.bin.sha256").symlink_to(victim)
    os.environ["KIT_MIRROR"] = str(mirror)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fetch("f", registry=registry, progress=False)
    finally:
        del os.environ["KIT_MIRROR"]
    assert victim.read_text() == "precious" and not (cache / "f" / ".f.bin.sha256").is_symlink()


# D8. scenes without faces are scenes ------------------------------------------------------------------

def test_scenes_without_faces_count_and_their_detections_are_false_positives(tmp_path):
    import numpy as np

    from kit.vision.imagesets import load_voc
    from kit.vision.faces.detectors import Detection
    from kit.vision.live.scenes import evaluate_scenes

    root = tmp_path / "voc"
    (root / "images").mkdir(parents=True)
    (root / "annotations").mkdir()
    head = "<annotation><filename>{}</filename><size><width>100</width><height>80</height></size>"
    box = "<object><name>with_mask</name><bndbox><xmin>10</xmin><ymin>10</ymin><xmax>40</xmax><ymax>40</ymax></bndbox></object>"
    for stem, faces in (("a", 1), ("empty1", 0), ("empty2", 0)):
        Image.new("RGB", (100, 80)).save(root / "images" / f"{stem}.jpg")
        (root / "annotations" / f"{stem}.xml").write_text(head.format(stem) + box * faces + "</annotation>")
    images = load_voc(root, progress=False)
    assert len(images.empty_scenes) == 2 and images.notes["scenes without faces"] == 2

    class EveryScene:
        name = "stub"

        def detect(self, frame):  # one box in every scene: right in "a", false elsewhere
            return [Detection((11, 11, 41, 41), 0.9)]

    class Masked:
        name, classes, margin = "stub", ("mask_weared_incorrect", "with_mask", "without_mask"), 0.0

        def predict(self, crops):
            return np.tile([0.05, 0.9, 0.05], (len(crops), 1))

    ev = evaluate_scenes(root, detector=EveryScene(), classifier=Masked(), progress=False)
    assert ev.images == 3 and ev.to_json()["false_positives_per_image"] == round(2 / 3, 4)


# D9. annotation files are capped before parsing ---------------------------------------------------------

def test_a_huge_annotation_is_refused_before_parsing(tmp_path, monkeypatch):
    from kit.vision.imagesets import parse_voc
    from kit.errors import DataError

    path = tmp_path / "big.xml"
    path.write_text("<annotation><!--" + "x" * 3_000_000 + "--></annotation>")
    started = time.perf_counter()
    with pytest.raises(DataError, match="KIT_MAX_ANNOTATION_BYTES"):
        parse_voc(path)
    assert time.perf_counter() - started < 1
    monkeypatch.setenv("KIT_MAX_ANNOTATION_BYTES", "5000000")
    with pytest.raises(DataError, match="not a PASCAL-VOC annotation|size"):
        parse_voc(path)  # parsed once allowed (and then refused for what it is)


# D10. counts that overflow are skipped, never "best" --------------------------------------------------

def test_overflowing_counts_are_skipped_and_never_chosen():
    import numpy as np
    import pandas as pd

    from kit.forecast import compare

    y = pd.Series(np.cumsum(np.linspace(1e300, 2e300, 60)) / 10, index=pd.date_range("2020-03-01", periods=60))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        result = compare(y, "naive,arima", horizon=7, progress=False)
    table = result.table.set_index("model")
    assert table.loc["arima", "status"].startswith("skipped: its forecast is not a finite number")
    assert result.best in table.index[table["status"] == "ok"] and np.isfinite(table.loc[result.best, "rmse"])


# poor answers: one line naming the file, field or setting, exit 2 -----------------------------------------

def test_voc_fields_that_are_not_numbers(tmp_path):
    from kit.vision.imagesets import parse_voc

    path = tmp_path / "a.xml"
    path.write_text("<annotation><size><width>inf</width><height>1e400</height></size><object><name>with_mask</name>"
                    "<bndbox><xmin>1</xmin><ymin>1</ymin><xmax>inf</xmax><ymax>9</ymax></bndbox></object></annotation>")
    ann = parse_voc(path, (100, 80))
    assert (ann["width"], ann["height"]) == (100, 80) and not ann["objects"] and "no numeric" in ann["problems"][0]


def test_a_truncated_scene_image_is_skipped_named_and_counted(tmp_path):
    from kit.vision.imagesets import load_voc

    root = tmp_path / "voc"
    (root / "images").mkdir(parents=True)
    (root / "annotations").mkdir()
    xml = ("<annotation><size><width>64</width><height>64</height></size><object><name>with_mask</name><bndbox>"
           "<xmin>5</xmin><ymin>5</ymin><xmax>40</xmax><ymax>40</ymax></bndbox></object></annotation>")
    import numpy as np

    for stem in ("good", "cut"):
        Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(
            root / "images" / f"{stem}.jpg", quality=95)
        (root / "annotations" / f"{stem}.xml").write_text(xml)
    data = (root / "images" / "cut.jpg").read_bytes()
    (root / "images" / "cut.jpg").write_bytes(data[: len(data) // 2])
    Image.new("RGB", (64, 64)).save(root / "images" / "good.png")  # a second picture of scene "good"
    images = load_voc(root, progress=False)
    assert set(images.frame["group"]) == {"good"} and images.notes["scenes skipped"] == 1
    reasons = " ".join(images.skipped["reason"])
    assert "cut.jpg" in reasons and "good.png: another image of scene good (good.jpg)" in reasons


def test_broken_onnx_files_are_named(tmp_path):
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    import numpy as np

    from kit.errors import ModelError
    from kit.vision.faces.detectors import CenterFaceDetector

    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"\x08\x07not a protobuf at all" * 10)
    with pytest.raises(ModelError, match="garbage.onnx"):
        CenterFaceDetector(model=garbage)
    weight = numpy_helper.from_array(np.ones((1,), np.float32), "w")
    onnx.external_data_helper.set_external_data(weight, location="../../../etc/passwd")
    weight.ClearField("raw_data")
    graph = helper.make_graph([helper.make_node("Add", ["x", "w"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])], [weight])
    external = tmp_path / "external.onnx"
    external.write_bytes(helper.make_model(graph).SerializeToString())
    with pytest.raises(ModelError, match="external data"):
        CenterFaceDetector(model=external)


def test_model_cards_that_are_too_deep_too_big_or_malformed(tmp_path):
    from kit.errors import ModelError
    from kit.vision.cards import read_card, read_detector_card

    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "model.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ModelError, match="nested too deeply|JSON object"):
        read_card(folder)
    (folder / "model.json").write_text(json.dumps({"threshold": 0.3, "pad": "x" * 1_100_000}))
    with pytest.raises(ModelError, match="too large for a model card"):
        read_detector_card(folder)
    (folder / "model.json").write_text(json.dumps({"threshold": 0.3, "split": {"test": "maksssksksss1"}}))
    with pytest.raises(ModelError, match="split must map"):
        read_detector_card(folder)
    classifier_card = {"classes": ["with_mask", "without_mask"], "input_size": 96, "preprocess": "mobilenet_v2",
                       "split": {"test": "maksssksksss1"}}  # a string would be read as a list of letters
    (folder / "model.json").write_text(json.dumps(classifier_card))
    with pytest.raises(ModelError, match="split must map"):
        read_card(folder)


@pytest.mark.parametrize("args, message", [
    (["detect", "--input", "camera:-1"], "camera:N with N a whole number from 0 to 63"),
    (["detect", "--input", "camera:99999999999999999999"], "camera:N with N a whole number"),
    (["detect", "--input", "/dev/zero"], "not a regular file or folder"),
    (["detect", "--input", "x.jpg", "--max-frames", "-1"], "argument --max-frames"),
    (["detect", "--input", "x.jpg", "--max-frames", "0"], "argument --max-frames"),
    (["detect", "--input", "x.jpg", "--threshold", "0"], "argument --threshold"),
    (["forecast", "compare", "--source", "synthetic", "--region", "Synthland", "--workers", "0"], "argument --workers"),
    (["forecast", "compare", "--source", "synthetic", "--region", "Synthland", "--workers", "-2"], "argument --workers"),
    (["forecast", "compare", "--source", "synthetic", "--region", "Synthland", "--train-end", "2020-13-45"],
     "is not a date"),
    (["forecast", "compare", "--source", "/dev/zero", "--region", "X"], "not a regular file"),
])
def test_bad_settings_are_one_line_before_any_work(args, message):
    started = time.perf_counter()
    proc = _kit(*args)
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and time.perf_counter() - started < 20


def test_a_dollar_in_a_region_name_is_drawn_as_a_dollar(tmp_path):
    import pandas as pd

    days = pd.date_range("2020-03-01", periods=60)
    rows = pd.DataFrame({"date": days.strftime("%Y-%m-%d"), "region": "Cost $5 $land", "confirmed": range(0, 600, 10)})
    rows.to_csv(tmp_path / "d.csv", index=False)
    proc = _kit("forecast", "compare", "--source", str(tmp_path / "d.csv"), "--region", "Cost $5 $land",
                "--models", "naive", "--plot", str(tmp_path / "p.png"))
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "p.png").stat().st_size > 1000


def test_a_full_disk_while_adopting_a_placed_file_still_serves_it(cache, write_registry, monkeypatch):
    import importlib

    fetch_module = importlib.import_module("kit.data.fetch")

    registry = load_registry(write_registry([{"name": "k", "kind": "images", "sha256": None, "filename": "k.csv",
                                              "sources": [{"manual": "download it"}]}]))
    placed = cache / "k" / "k.csv"
    placed.parent.mkdir(parents=True)
    placed.write_bytes(b"data")

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(fetch_module, "atomic_write", full)
    with pytest.warns(UnverifiedFileWarning):
        assert fetch("k", registry=registry, progress=False).read_bytes() == b"data"


def test_a_read_only_cache_that_holds_the_right_file_serves_it(cache, write_registry, monkeypatch):
    import importlib

    fetch_module = importlib.import_module("kit.data.fetch")

    payload = b"shared"
    import hashlib

    registry = load_registry(write_registry([{"name": "s", "filename": "s.bin",
                                              "sha256": hashlib.sha256(payload).hexdigest(),
                                              "sources": [{"url": "https://example.invalid/s.bin"}]}]))
    (cache / "s").mkdir(parents=True)
    (cache / "s" / "s.bin").write_bytes(payload)
    monkeypatch.setattr(fetch_module, "_writable", lambda folder: False)  # as a read-only mount is (root writes anyway)
    assert fetch("s", registry=registry, offline=True, progress=False).read_bytes() == payload
    (cache / "s" / "s.bin").write_bytes(b"tampered")
    with pytest.raises(FetchError, match="cannot be written and holds no verified copy"):
        fetch("s", registry=registry, offline=True, progress=False)


def test_a_typo_in_a_profile_is_an_error_not_a_silent_default(tmp_path):
    from kit.course.runner import plan
    from kit.errors import ProfileError

    lessons = _one_lesson(tmp_path)
    (lessons / "profiles.yaml").write_text("profiles:\n  full:\n    lesson:\n      01_one:\n        region: y\n")
    with pytest.raises(ProfileError, match="unknown key.*'lesson' \\(did you mean 'lessons'\\?\\)"):
        plan("full", None, tmp_path / "o", {}, lessons)
    (lessons / "profiles.yaml").write_text("profiles:\n  full:\n    lessons:\n      01_onee:\n        region: y\n")
    with pytest.raises(ProfileError, match="'01_onee' \\(did you mean '01_one'\\?\\)"):
        plan("full", None, tmp_path / "o", {}, lessons)


def test_the_webcam_widget_takes_every_detector_and_no_outputs_from_the_browser():
    require_models()
    from widgets.webcam_detector import WebcamDetector

    widget = WebcamDetector(detector="haar")
    assert 0.05 <= widget.threshold <= 0.95
    widget.set_state({"people": 10**9, "counts": {"x": "<b>"}, "kernel_ms": -1, "last_error": "<img>",
                      "threshold": 0.4})
    assert (widget.people, widget.counts, widget.kernel_ms, widget.last_error) == (0, {}, 0.0, "")
    assert widget.threshold == 0.4 and widget.refused_updates == 4


def test_two_course_runs_cannot_share_an_output_folder(tmp_path):
    from filelock import FileLock

    from kit.course.runner import plan, run_course
    from kit.errors import ParameterError

    lessons = _one_lesson(tmp_path)
    out = tmp_path / "build"
    out.mkdir()
    jobs = plan("quick", None, out, {}, lessons)
    with FileLock(str(out / ".kit-course.lock")):  # another run holds the folder
        with pytest.raises(ParameterError, match="another kit course run is writing into this folder"):
            run_course(jobs, progress=False)


def test_kit_serve_stops_whole_and_answers_only_loopback_hosts(tmp_path):
    import socket
    import urllib.error
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "kit", "serve", "seird_explorer.ipynb", "--port", str(port),
                             "--apps", str(REPO / "lessons" / "apps")], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 90
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    raise AssertionError(f"kit serve did not start: {proc.stderr.read() if proc.poll() else ''}")
                time.sleep(0.5)
        request = urllib.request.Request(f"http://127.0.0.1:{port}/", headers={"Host": f"attacker.example:{port}"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == 403
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    time.sleep(1)
    with socket.socket() as s:  # nothing is left listening on the port
        assert s.connect_ex(("127.0.0.1", port)) != 0
    leftovers = subprocess.run(["pgrep", "-f", f"voila_app.*--port={port}"], capture_output=True, text=True)
    assert leftovers.stdout.strip() == ""
