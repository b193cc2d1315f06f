"""The lesson runner: summary records, failures that name the cell, parameter grids,
provenance stamps, Dask execution and the CLI's exit code."""
from __future__ import annotations

import json
import subprocess
import sys

import nbformat
import pytest
import yaml

from kit.course import ProfileError, plan, run_course
from kit.course.profiles import expand_grid, parse_overrides, typed_value

from .conftest import sha256


def _lesson(path, parameters: str, *cells: str):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(f"# {path.stem}")]
    param = nbformat.v4.new_code_cell(parameters)
    param.metadata["tags"] = ["parameters"]
    nb.cells.append(param)
    nb.cells += [nbformat.v4.new_code_cell(c) for c in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


@pytest.fixture
def lessons(tmp_path, monkeypatch, write_registry):
    folder = tmp_path / "lessons"
    folder.mkdir()
    payload = b"a,b\n1,2\n"
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "tiny.csv").write_bytes(payload)
    registry = write_registry([{"name": "tiny", "filename": "tiny.csv", "sha256": sha256(payload),
                                "sources": [{"url": "https://example.invalid/tiny.csv"}]}])
    monkeypatch.setenv("KIT_REGISTRY", str(registry))
    monkeypatch.setenv("KIT_MIRROR", str(mirror))
    monkeypatch.setenv("KIT_CACHE", str(tmp_path / "cache"))
    _lesson(folder / "00_reads.ipynb", "scale = 2",
            "from kit import data, course\nimport pandas as pd",
            "frame = pd.read_csv(data.fetch('tiny'))",
            "course.record(total=int(frame.to_numpy().sum()) * scale, table=frame)")
    _lesson(folder / "01_breaks.ipynb", "x = 1",
            "y = x + 1",
            "raise ValueError(f'broken on purpose, y={y}')",
            "print('never reached')")
    _lesson(folder / "02_grid.ipynb", "region = 'Alpha'\ndays = 10",
            "from kit import course\ncourse.record(region=region, days=days)")
    (folder / "profiles.yaml").write_text(yaml.safe_dump({"profiles": {
        "quick": {"env": {"KIT_OFFLINE": "1"}, "lessons": {}},
        "full": {"lessons": {"02_grid": {"days": 99}}},
    }}))
    return folder


def test_failing_lesson_does_not_stop_others_and_is_described(lessons, tmp_path):
    out = tmp_path / "out"
    jobs = plan("quick", None, out, parse_overrides(["region=Alpha,Beta"]), lessons)
    assert [(j.lesson, j.parameters) for j in jobs] == [
        ("00_reads", {}), ("01_breaks", {}), ("02_grid", {"region": "Alpha"}), ("02_grid", {"region": "Beta"})]
    records = run_course(jobs, progress=False)
    summary = json.loads((out / "summary.json").read_text())
    assert [r["status"] for r in summary] == ["ok", "failed", "ok", "ok"]
    for r in summary:
        assert {"lesson", "profile", "parameters", "status", "seconds", "metrics", "error"} <= set(r)

    ok = summary[0]
    # numbers stay in summary.json; tables go beside it as CSV (summary.json stays small)
    assert ok["metrics"]["total"] == 6 and "table" not in ok["metrics"]
    assert ok["tables"] == {"table": "00_reads.table.csv"}
    assert (out / "00_reads.table.csv").read_text().splitlines() == ["a,b", "1,2"]
    stamped = nbformat.read(out / "00_reads.ipynb", as_version=4)
    reads = stamped.metadata["kit"]["registry_reads"]
    assert reads == [{"name": "tiny", "path": reads[0]["path"], "sha256": sha256(b"a,b\n1,2\n"), "verified": True}]
    assert "numpy" in stamped.metadata["kit"]["packages"] and stamped.metadata["kit"]["kit_version"]
    assert "Provenance" in stamped.cells[-1].source and (out / "00_reads.html").stat().st_size > 1000

    bad = summary[1]
    assert "cell 3" in bad["error"] and "ValueError: broken on purpose, y=2" in bad["error"]
    partial = nbformat.read(out / "01_breaks.ipynb", as_version=4)
    assert any("broken on purpose" in json.dumps(c.get("outputs", [])) for c in partial.cells)
    assert (out / "01_breaks.html").exists()

    assert [r["metrics"]["region"] for r in summary[2:]] == ["Alpha", "Beta"]
    assert (out / "02_grid--region-Alpha.ipynb").exists() and (out / "02_grid--region-Beta.ipynb").exists()
    assert [r["lesson"] for r in records] == [r["lesson"] for r in summary]


def test_profile_values_and_overrides(lessons, tmp_path):
    jobs = plan("full", ["grid"], tmp_path / "o", parse_overrides(["region=Gamma"]), lessons)
    assert [j.parameters for j in jobs] == [{"days": 99, "region": "Gamma"}]


@pytest.mark.parametrize("args,message", [
    (dict(profile="nope"), "unknown profile 'nope'"),
    (dict(lessons=["missing"]), "no lesson named 'missing'"),
    (dict(overrides={"colour": ["red"]}), "no selected lesson declares parameter"),
])
def test_bad_requests_fail_before_running(lessons, tmp_path, args, message):
    kwargs = dict(profile="quick", lessons=None, out_dir=tmp_path / "o", overrides=None, folder=lessons)
    kwargs.update(args)
    with pytest.raises(ProfileError, match=message):
        plan(**kwargs)


def test_override_parsing_and_grids():
    grid = parse_overrides(["region=US,Italy", "days=30", "models=[naive,drift]", "rate=0.5"])
    assert grid == {"region": ["US", "Italy"], "days": ["30"], "models": ["[naive,drift]"], "rate": ["0.5"]}
    assert len(expand_grid(grid)) == 2
    # typed by what the notebook declares: strings stay as typed, YAML's yes/no/off are never guessed
    assert typed_value("NO", "str") == "NO" and typed_value("off", "None") == "off"
    assert typed_value("30", "int") == 30 and typed_value("0.5", "float") == 0.5
    assert typed_value("[naive,drift]", "None") == ["naive", "drift"] and typed_value("none", "None") is None
    assert typed_value("007", "str") == "007" and typed_value("true", "bool") is True
    with pytest.raises(ProfileError, match="whole number"):
        typed_value("2.5", "int")
    with pytest.raises(ProfileError, match="true or false"):
        typed_value("yes", "bool")
    with pytest.raises(ProfileError, match="KEY=VALUE"):
        parse_overrides(["novalue"])


def test_grid_runs_on_dask_workers(lessons, tmp_path):
    out = tmp_path / "dask"
    jobs = plan("quick", ["grid"], out, parse_overrides(["region=Alpha,Beta"]), lessons)
    records = run_course(jobs, workers=2, progress=False)
    assert [r["metrics"]["region"] for r in records] == ["Alpha", "Beta"]
    assert all(r["status"] == "ok" for r in records)


def test_cli_exit_code_and_table(lessons, tmp_path):
    out = tmp_path / "cli"
    proc = subprocess.run([sys.executable, "-m", "kit.cli", "course", "run", "--lessons-dir", str(lessons),
                           "--out", str(out), "--lesson", "breaks", "--lesson", "00_reads"],
                          capture_output=True, text=True)
    assert proc.returncode == 1, proc.stderr
    assert "failed" in proc.stdout and "ok" in proc.stdout and "ValueError" in proc.stdout
    assert {r["lesson"] for r in json.loads((out / "summary.json").read_text())} == {"00_reads", "01_breaks"}
    # a long run is never silent, even in a log: a line as each lesson starts and ends, with its time
    lines = proc.stderr.splitlines()
    assert any(line.split() == ["00_reads", "running", "..."] for line in lines), proc.stderr
    assert any(line.split()[:3] == ["00_reads", "ok", "in"] and line.endswith(" s") for line in lines), proc.stderr
    assert any(line.split()[:3] == ["01_breaks", "failed", "in"] for line in lines), proc.stderr


def test_the_shipped_profiles_plan_every_lesson():
    from pathlib import Path

    folder = Path(__file__).resolve().parents[1] / "lessons"
    for profile in ("quick", "full"):
        stems = [j.stem for j in plan(profile, None, "build", {}, folder)]
        assert stems == sorted(stems) and "03b_forecast_hubs" in stems and stems.index("03b_forecast_hubs") == 4
    assert [j.stem for j in plan("quick", ["03b"], "build", {}, folder)] == ["03b_forecast_hubs"]
