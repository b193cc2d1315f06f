"""Writing files so that nothing is ever half-written, hashing them, and strict JSON.

Every file the kit writes goes through :func:`atomic_path` (or :func:`atomic_folder`):
the content is written to a temporary name beside the target and moved into place with
``os.replace`` only when it is complete. A crash, a full disk or Ctrl-C leaves the old
file (or nothing), never a truncated one that a later run would trust.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import shutil
import tempfile
import uuid
from pathlib import Path


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike, mode: int | None = None):
    """Yield a temporary path beside ``target``; on success it replaces ``target``.

    Parameters
    ----------
    target : path
        The final file. Its folder is created.
    mode : int, optional
        Permission bits for the new file (default: what the process creates).

    Examples
    --------
    >>> with atomic_path("out.csv") as tmp:      # doctest: +SKIP
    ...     frame.to_csv(tmp)
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.part")
    try:
        yield tmp
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write(target: str | os.PathLike, data: bytes | str, mode: int | None = None) -> Path:
    """Write ``data`` (bytes, or text as UTF-8) to ``target`` atomically; returns the path."""
    with atomic_path(target, mode) as tmp:
        tmp.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return Path(target)


@contextlib.contextmanager
def atomic_folder(target: str | os.PathLike, owned=None, option: str = "--out", kind: str = "model folder"):
    """Yield a temporary folder beside ``target``; on success it replaces ``target`` whole.

    An existing folder is replaced only when it is empty or ``owned(target)`` says the kit
    wrote it (a model folder recognised by its card): a folder of the user's is never
    removed, and the refusal comes before any work is done. An existing folder is moved
    aside first and deleted only after the new one is in place, so readers see the old
    folder or the new one, never a mixture.

    Raises
    ------
    ParameterError
        When ``target`` is a file, or a non-empty folder the kit did not write.
    """
    target = Path(target)
    check_replaceable(target, owned, option, kind)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes it private; the result is an ordinary folder
    try:
        yield tmp
        check_replaceable(target, owned, option, kind)  # nothing of the user's appeared meanwhile
        if target.exists() or target.is_symlink():
            old = target.with_name(f".{target.name}-replaced-{uuid.uuid4().hex[:8]}")
            os.replace(target, old)
            os.replace(tmp, target)
            if old.is_symlink() or old.is_file():
                old.unlink()
            else:
                shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def check_replaceable(target: str | os.PathLike, owned=None, option: str = "--out", kind: str = "model folder") -> Path:
    """``target`` may be written as a whole folder: it is absent, an empty folder, or a folder
    ``owned(target)`` recognises as the kit's (a ``kind`` the kit wrote). Check it before long work starts."""
    from kit.errors import ParameterError

    target = Path(target)
    if target.is_symlink():
        raise ParameterError(f"{option} {target}: is a symbolic link; give the folder itself")
    if not target.exists():
        return target
    if not target.is_dir():
        raise ParameterError(f"{option} {target}: is a file, not a folder; choose a new folder name")
    if not any(target.iterdir()):
        return target
    if owned is not None and owned(target):
        return target
    raise ParameterError(f"{option} {target}: the folder is not empty and is not a {kind} the kit wrote, "
                         f"so nothing in it is replaced; choose a new folder (e.g. {target}-{kind.split()[0]})")


def _digest(path: str | os.PathLike, algorithm: str) -> str:
    digest = hashlib.new(algorithm, usedforsecurity=False) if algorithm == "md5" else hashlib.new(algorithm)
    with open(path, "rb") as fh:
        while chunk := fh.read(2**20):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_of(path: str | os.PathLike) -> str:
    """The sha256 of a file, read in chunks."""
    return _digest(path, "sha256")


def sha256_of_bytes(*parts: bytes) -> str:
    """The sha256 of bytes held in memory (several parts hashed as one)."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part)
    return digest.hexdigest()


def md5_of(path: str | os.PathLike) -> str:
    """The md5 of a file (only where a publisher states nothing better)."""
    return _digest(path, "md5")


def jsonable(value):
    """``value`` with NaN and infinities as ``None`` and numpy/pandas scalars as Python ones.

    Strict JSON has no NaN token; parsers in other languages reject files that contain it.
    """
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 1) == 0:
        value = value.item()  # numpy scalar
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, (str, int, bool)):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "tolist"):
        return jsonable(value.tolist())
    return str(value)


def write_json(target: str | os.PathLike, payload, indent: int | None = 1) -> Path:
    """Write ``payload`` as strict JSON (no NaN tokens), atomically; returns the path."""
    text = json.dumps(jsonable(payload), indent=indent, allow_nan=False)
    return atomic_write(target, text + "\n")


def refuse_overwriting_inputs(inputs, outputs: dict, inside: bool = True) -> None:
    """Refuse, before any work, an output path that is one of the inputs or lies inside an
    input folder (``kit detect --input v.avi --out v.avi`` would destroy the video).

    Parameters
    ----------
    inputs : iterable of paths (non-paths such as ``camera:0`` or registry names are ignored)
    outputs : dict
        ``{option: path or None}``, e.g. ``{"--out": args.out, "--json": args.json}``.
    inside : bool
        Also refuse outputs inside an input folder (a folder of frames would read its own
        annotated copies); a command that reads only known sub-folders passes False.
    """
    from kit.errors import ParameterError

    sources = []
    for item in inputs:
        if item is None:
            continue
        path = Path(str(item))
        if path.exists():
            sources.append(path.resolve())
    for option, target in outputs.items():
        if target is None:
            continue
        resolved = Path(str(target)).resolve()
        for source in sources:
            if resolved == source or (inside and source.is_dir() and source in resolved.parents):
                where = "is" if resolved == source else "lies inside"
                raise ParameterError(f"{option} {target} {where} the input {source}; writing there would destroy "
                                     f"what is being read. Choose another path")
