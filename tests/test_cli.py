"""`kit data list/fetch`: JSON contract, exit codes, clear errors."""
from __future__ import annotations

import json
import subprocess
import sys

from .conftest import sha256


def kit(*args, env=None):
    return subprocess.run([sys.executable, "-m", "kit.cli", *args], capture_output=True, text=True, env=env)


def test_data_list_json_lists_every_entry_with_sources_license_size():
    proc = kit("data", "list", "--json")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    names = {r["name"] for r in rows}
    assert {"res10_ssd_face_detector", "jhu_confirmed_global", "masks_voc_853"} <= names
    for row in rows:
        assert row["sources"] and row["license"] and "size_bytes" in row and "cached" in row


def test_data_list_table():
    proc = kit("data", "list")
    assert proc.returncode == 0 and "res10_ssd_face_detector" in proc.stdout and "not pinned" in proc.stdout


def test_fetch_prints_paths_and_fails_clearly(tmp_path, write_registry, monkeypatch):
    import os

    payload = b"x" * 10
    mirror = tmp_path / "m"
    mirror.mkdir()
    (mirror / "ok.bin").write_bytes(payload)
    reg = write_registry([
        {"name": "ok", "filename": "ok.bin", "sha256": sha256(payload), "sources": [{"url": "https://example.invalid/ok.bin"}]},
        {"name": "gone", "filename": "gone.bin", "sha256": sha256(b"?"), "sources": [{"manual": "ask the TA"}]},
    ])
    env = {**os.environ, "KIT_REGISTRY": str(reg), "KIT_MIRROR": str(mirror), "KIT_CACHE": str(tmp_path / "c")}
    proc = kit("data", "fetch", "ok", "--offline", "--quiet", env=env)
    assert proc.returncode == 0 and proc.stdout.strip().endswith("ok.bin")
    proc = kit("data", "fetch", "gone", "--offline", env=env)
    assert proc.returncode == 1
    assert "'gone'" in proc.stderr and "ask the TA" in proc.stderr and "KIT_MIRROR" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = kit("data", "fetch", "nonexistent", env=env)
    assert proc.returncode == 2 and "No registry entry named 'nonexistent'" in proc.stderr
