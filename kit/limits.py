"""The limits that keep hostile or broken input from exhausting memory, disk or time.

One place for each limit; each can be raised (or lowered) with an environment
variable, documented in the README's environment table. A value that is not a
positive number is an error naming the variable, never silently replaced.

The defaults are in ``DEFAULTS`` below; the README's environment table shows them (a
test keeps the two equal):

- ``KIT_MAX_PIXELS``: pixels of one image or video frame, read from the header before decoding
- ``KIT_MAX_FRAME_BYTES``, ``KIT_MAX_FRAME_PIXELS``: bytes and pixels of one frame sent by a browser
- ``KIT_MAX_EXTRACT_BYTES``, ``KIT_MAX_COMPRESSION``: what an archive may unpack to, in bytes and
  as unpacked / packed size (a registry entry may set its own under ``limits``)
- ``KIT_TIMEOUT``, ``KIT_DEADLINE``: seconds to wait for a network answer, and for a whole download
- ``KIT_MAX_REGISTRY_BYTES``: size of a registry file
- ``KIT_MAX_ANNOTATION_BYTES``: size of one PASCAL-VOC annotation file, checked before it is parsed
"""
from __future__ import annotations

import math
import os

from kit.errors import ParameterError

DEFAULTS = {
    "KIT_MAX_PIXELS": 50_000_000,
    "KIT_MAX_FRAME_BYTES": 8_000_000,
    "KIT_MAX_FRAME_PIXELS": 3840 * 2160,
    "KIT_MAX_EXTRACT_BYTES": 20_000_000_000,
    "KIT_MAX_COMPRESSION": 200,
    "KIT_TIMEOUT": 30,
    "KIT_DEADLINE": 3600,
    "KIT_MAX_REGISTRY_BYTES": 1_000_000,
    "KIT_MAX_ANNOTATION_BYTES": 2_000_000,
}


def limit(name: str) -> float:
    """The current value of a limit (its environment variable, else the default).

    Raises
    ------
    ParameterError
        When the variable is set to something that is not a positive finite number.
    """
    if name not in DEFAULTS:
        raise KeyError(name)
    raw = os.environ.get(name, "").strip()
    if not raw:
        return DEFAULTS[name]
    try:
        value = float(raw.replace("_", ""))
    except ValueError:
        value = float("nan")
    if not math.isfinite(value) or value <= 0:
        raise ParameterError(f"{name}={raw!r} must be a positive number (default {DEFAULTS[name]:,})")
    return value


def max_pixels() -> int:
    return int(limit("KIT_MAX_PIXELS"))


def max_frame_bytes() -> int:
    return int(limit("KIT_MAX_FRAME_BYTES"))


def check_pixels(width: int, height: int, what: str, limit_name: str = "KIT_MAX_PIXELS") -> None:
    """Refuse an image whose header announces more pixels than the limit ``limit_name``."""
    from kit.errors import ImageReadError

    if width <= 0 or height <= 0:
        raise ImageReadError(f"{what}: announces an empty image ({width}x{height})")
    most = int(limit(limit_name))
    if width * height > most:
        raise ImageReadError(f"{what}: {width}x{height} = {width * height:,} pixels is more than the limit of "
                             f"{most:,} ({limit_name}); scale it down first")
