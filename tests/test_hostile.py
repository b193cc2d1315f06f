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
    from kit.data.images import load_image_folder

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

def test_an_interrupted_course_run_leaves_an_honest_summary(tmp_path):
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
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and "kit: interrupted" in stderr
    summary = {r["lesson"]: r["status"] for r in json.loads((out / "summary.json").read_text())}
    assert summary == {"01_fast": "ok", "02_slow": "interrupted", "03_never": "interrupted"}


# poor messages that mattered ---------------------------------------------------------------------------

def test_kit_serve_on_a_public_address_warns_without_a_token(monkeypatch, capsys):
    from kit import cli

    calls = []
    monkeypatch.setattr(subprocess, "call", lambda cmd, env=None: calls.append((cmd, env)) or 0)
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
    from kit.forecast import eda

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
    from kit.vision.streams import iter_frames

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
