"""Safe extraction of zip and tar archives (the registry's ``unpack`` step).

Python's own extractors either silently rewrite dangerous member names (zipfile) or
need the right filter (tarfile). We refuse such archives outright, before writing
anything, and name the offending member: a registry file that tries to write outside
its folder is a broken or hostile file, not something to repair quietly.
"""
from __future__ import annotations

import tarfile
import zipfile
from pathlib import Path, PurePosixPath

from kit.errors import ParameterError, UnsafeArchiveError
from kit.files import atomic_folder


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


class _Budget:
    """Bytes an extraction may still write; refuses the archive the moment it is exceeded."""

    def __init__(self, archive: Path, max_bytes: float, max_ratio: float):
        self.archive, self.left = archive, max_bytes
        self.max_bytes, self.max_ratio = max_bytes, max_ratio
        self.packed = max(archive.stat().st_size, 1)
        self.written = 0

    def check_declared(self, total: int) -> None:
        if total > self.max_bytes:
            raise UnsafeArchiveError(f"{self.archive.name} would unpack to {total:,} bytes, more than the limit of "
                                     f"{self.max_bytes:,.0f} (KIT_MAX_EXTRACT_BYTES, or the entry's "
                                     f"max_unpacked_bytes); refusing to extract")
        if total / self.packed > self.max_ratio:
            raise UnsafeArchiveError(f"{self.archive.name} would unpack to {total / self.packed:,.0f} times its "
                                     f"size (limit {self.max_ratio:g}: KIT_MAX_COMPRESSION, or the entry's "
                                     f"max_compression); a compression bomb? refusing to extract")

    def copy(self, fin, path: Path, name: str) -> None:
        with open(path, "wb") as fout:
            while chunk := fin.read(2**20):
                self.written += len(chunk)
                if self.written > self.max_bytes or self.written / self.packed > self.max_ratio:
                    raise UnsafeArchiveError(f"{self.archive.name}: member {name!r} unpacks to more than its header "
                                             f"says (past {self.written:,} bytes); refusing to extract")
                fout.write(chunk)


def _extract_zip(archive: Path, zf: zipfile.ZipFile, tmp: Path, budget: _Budget) -> None:
    budget.check_declared(sum(i.file_size for i in zf.infolist()))
    for info in zf.infolist():
        path = tmp / info.filename
        if info.is_dir():
            path.mkdir(parents=True, exist_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        with zf.open(info) as fin:
            budget.copy(fin, path, info.filename)


def _extract_tar(archive: Path, tf: tarfile.TarFile, tmp: Path, budget: _Budget) -> None:
    members = tf.getmembers()
    budget.check_declared(sum(m.size for m in members if m.isfile()))
    for member in members:
        path = tmp / member.name
        if member.isdir():
            path.mkdir(parents=True, exist_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        budget.copy(tf.extractfile(member), path, member.name)


def extract(archive: Path, target: Path, kind: str, max_bytes: float | None = None,
            max_ratio: float | None = None) -> Path:
    """Extract ``archive`` into the folder ``target`` atomically.

    Members are checked first (paths, links, and the total size and compression ratio
    the headers announce), then unpacked into a temporary sibling folder while counting
    the bytes actually written; the folder is renamed to ``target`` only when everything
    succeeded.

    Parameters
    ----------
    archive : Path
    target : Path
        Folder to create (replaced if it exists).
    kind : {"zip", "tar"}
    max_bytes, max_ratio : float, optional
        Limits on the unpacked size and on unpacked / packed size (default
        ``KIT_MAX_EXTRACT_BYTES`` and ``KIT_MAX_COMPRESSION``; a registry entry may set its
        own ``max_unpacked_bytes`` and ``max_compression``).

    Returns
    -------
    Path
        ``target``.

    Raises
    ------
    UnsafeArchiveError
        If any member is absolute, climbs out with ``..`` or is a link, or the archive
        unpacks to more than the limits allow.
    """
    from kit.limits import limit

    budget = _Budget(Path(archive), max_bytes or limit("KIT_MAX_EXTRACT_BYTES"),
                     max_ratio or limit("KIT_MAX_COMPRESSION"))
    target = Path(target)
    # the cache's own folder: replaced whole, and only once everything was unpacked (kit.files)
    with atomic_folder(target, owned=lambda folder: True, option="unpack folder") as tmp:
        tmp = tmp.resolve()
        if kind == "zip":
            try:
                with zipfile.ZipFile(archive) as zf:
                    _check_zip(archive, zf, tmp)
                    _extract_zip(archive, zf, tmp, budget)
            except zipfile.BadZipFile as exc:
                raise UnsafeArchiveError(f"{archive.name} is not a valid zip file: {exc}") from None
        elif kind == "tar":
            try:
                with tarfile.open(archive) as tf:
                    _check_tar(archive, tf, tmp)
                    _extract_tar(archive, tf, tmp, budget)
            except tarfile.TarError as exc:
                raise UnsafeArchiveError(f"{archive.name} is not a valid tar file: {exc}") from None
        else:
            raise ParameterError(f"unknown archive kind {kind!r}")
    return target
