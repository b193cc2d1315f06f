"""What the registry holds and what is cached: the table behind ``kit data list``."""
from __future__ import annotations

import pandas as pd

from .fetch import cache_state
from .registry import Registry, load_registry


def _size(n: int | None) -> str:
    if n is None:
        return "unknown"
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000.0
    return str(n)


def catalog(registry: Registry | None = None) -> list[dict]:
    """One dict per entry: name, kind, size, license, cached, pinned hash, sources.

    ``cached`` means a copy is in the cache (``KIT_CACHE``); it is not re-hashed here,
    :func:`kit.data.fetch` verifies on every use.
    """
    registry = registry if registry is not None else load_registry()
    rows = []
    for entry in registry:
        state = cache_state(entry)
        rows.append({
            "name": entry.name,
            "kind": entry.kind,
            "size_bytes": entry.size_bytes,
            "size": _size(entry.size_bytes),
            "license": entry.license,
            "cached": state.is_cached(),
            "path": str(state.unpacked if entry.unpack != "none" else state.file),
            "sha256": entry.sha256,
            "md5": entry.md5,
            "unpack": entry.unpack,
            "description": entry.description,
            "sources": [
                {k: v for k, v in {"type": s.type, "location": s.location, "member": s.member,
                                   "sha256": s.sha256 if s.own_hash else None}.items()
                 if v is not None}
                for s in entry.sources
            ],
        })
    return rows


def catalog_table(registry: Registry | None = None) -> pd.DataFrame:
    """:func:`catalog` as a compact DataFrame for notebooks and the terminal."""
    rows = catalog(registry)
    frame = pd.DataFrame(rows, columns=["name", "kind", "size", "license", "cached", "sha256"])
    md5 = pd.Series([r["md5"] for r in rows], index=frame.index)
    frame["sha256"] = [h[:12] + "…" if isinstance(h, str) else f"md5 {m[:8]}…" if isinstance(m, str) else "not pinned"
                       for h, m in zip(frame["sha256"], md5)]
    return frame
