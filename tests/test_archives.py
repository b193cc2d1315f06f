"""Extraction refuses members that would leave the target folder, and is atomic."""
from __future__ import annotations

import io
import tarfile
import zipfile

import pytest

from kit.data.archives import UnsafeArchiveError, extract


def _zip(path, members):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _tar(path, members, link=None):
    with tarfile.open(path, "w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        if link:
            info = tarfile.TarInfo(link[0])
            info.type = tarfile.SYMTYPE
            info.linkname = link[1]
            tf.addfile(info)
    return path


@pytest.mark.parametrize("bad", ["../evil", "a/../../evil", "/abs/evil"])
def test_zip_members_outside_are_refused_before_writing(tmp_path, bad):
    archive = _zip(tmp_path / "a.zip", {"good.txt": b"1", bad: b"2"})
    target = tmp_path / "out"
    with pytest.raises(UnsafeArchiveError, match="refusing"):
        extract(archive, target, "zip")
    assert not target.exists()
    assert not (tmp_path / "evil").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["a.zip"]


def test_tar_traversal_and_links_are_refused(tmp_path):
    with pytest.raises(UnsafeArchiveError, match="outside"):
        extract(_tar(tmp_path / "a.tar.gz", {"../evil": b"x"}), tmp_path / "out", "tar")
    with pytest.raises(UnsafeArchiveError, match="link"):
        extract(_tar(tmp_path / "b.tar.gz", {"ok": b"x"}, link=("l", "/etc/passwd")), tmp_path / "out", "tar")
    assert not (tmp_path / "out").exists()


def test_good_archives_extract(tmp_path):
    out = extract(_zip(tmp_path / "a.zip", {"d/x.txt": b"x"}), tmp_path / "z", "zip")
    assert (out / "d" / "x.txt").read_bytes() == b"x"
    out = extract(_tar(tmp_path / "a.tar.gz", {"d/y.txt": b"y"}), tmp_path / "t", "tar")
    assert (out / "d" / "y.txt").read_bytes() == b"y"


def test_corrupt_zip_is_reported(tmp_path):
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(UnsafeArchiveError, match="bad.zip is not a valid zip"):
        extract(bad, tmp_path / "out", "zip")
