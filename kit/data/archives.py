"""Safe extraction of zip and tar archives (the registry's ``unpack`` step).

Python's own extractors either silently rewrite dangerous member names (zipfile) or
need the right filter (tarfile). We refuse such archives outright, before writing
anything, and name the offending member: a registry file that tries to write outside
its folder is a broken or hostile file, not something to repair quietly.
"""
from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

from kit.errors import ParameterError, UnsafeArchiveError


def _check_member(archive: Path, name: str, target: Path) -> None:
    pure = PurePosixPath(name.replace("\\", "/"))
    if pure.is_absolute() or (pure.parts and pure.parts[0].endswith(":")):
        raise UnsafeArchiveError(f"{archive.name}: member {name!r} has an absolute path; refusing to extract")
    resolved = (target / pure).resolve()
    if resolved != target and target not in resolved.parents:
        raise UnsafeArchiveError(f"{archive.name}: member {name!r} would be written outside "
                                 f"the extraction folder; refusing to extract")


def _check_zip(archive: Path, zf: zipfile.ZipFile, target: Path) -> None:
    for info in zf.infolist():
        _check_member(archive, info.filename, target)
        mode = (info.external_attr >> 16) & 0o170000
        if mode == 0o120000:
            raise UnsafeArchiveError(f"{archive.name}: member {info.filename!r} is a symbolic link; refusing to extract")


def _check_tar(archive: Path, tf: tarfile.TarFile, target: Path) -> None:
    for member in tf.getmembers():
        _check_member(archive, member.name, target)
        if member.issym() or member.islnk():
            raise UnsafeArchiveError(f"{archive.name}: member {member.name!r} is a link; refusing to extract")
        if not (member.isfile() or member.isdir()):
            raise UnsafeArchiveError(f"{archive.name}: member {member.name!r} is a device or fifo; refusing to extract")


def extract(archive: Path, target: Path, kind: str) -> Path:
    """Extract ``archive`` into the folder ``target`` atomically.

    Members are checked first; the archive is unpacked into a temporary sibling
    folder that is renamed to ``target`` only when everything succeeded.

    Parameters
    ----------
    archive : Path
    target : Path
        Folder to create (replaced if it exists).
    kind : {"zip", "tar"}

    Returns
    -------
    Path
        ``target``.

    Raises
    ------
    UnsafeArchiveError
        If any member is absolute, climbs out with ``..`` or is a link.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.unpack-", dir=target.parent)).resolve()
    try:
        if kind == "zip":
            try:
                with zipfile.ZipFile(archive) as zf:
                    _check_zip(archive, zf, tmp)
                    zf.extractall(tmp)
            except zipfile.BadZipFile as exc:
                raise UnsafeArchiveError(f"{archive.name} is not a valid zip file: {exc}") from None
        elif kind == "tar":
            try:
                with tarfile.open(archive) as tf:
                    _check_tar(archive, tf, tmp)
                    tf.extractall(tmp, filter="data")
            except tarfile.TarError as exc:
                raise UnsafeArchiveError(f"{archive.name} is not a valid tar file: {exc}") from None
        else:
            raise ParameterError(f"unknown archive kind {kind!r}")
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
        return target
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
