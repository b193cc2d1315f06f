"""Which registry files this process has read, with their hashes.

The course runner sets ``KIT_READ_LOG`` for each lesson's kernel; every successful
:func:`kit.data.fetch` appends one JSON line there, and the runner stamps the
executed notebook with the list. In an interactive session :func:`reads` gives the
same list for the current process.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

_READS: dict[str, dict] = {}


def record_read(name: str, path: Path, sha256: str, verified: bool) -> None:
    """Remember that registry entry ``name`` was read from ``path``."""
    item = {"name": name, "path": str(path), "sha256": sha256, "verified": bool(verified)}
    _READS[name] = item
    log = os.environ.get("KIT_READ_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(item) + "\n")


def reads() -> list[dict]:
    """Registry files read by this process: ``[{name, path, sha256, verified}]``."""
    return list(_READS.values())


def read_log(path: str | Path) -> list[dict]:
    """Parse a ``KIT_READ_LOG`` file, one item per entry name (last read wins)."""
    path = Path(path)
    if not path.exists():
        return []
    items: dict[str, dict] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            item = json.loads(line)
            items[item["name"]] = item
    return list(items.values())
