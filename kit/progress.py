"""When to draw progress bars: where someone watches them.

tqdm redraws a bar with carriage returns; in a terminal or a notebook that is one line
that moves, in a log file or a pipe (CI, ``kit course run > log``) it is hundreds of
lines. Bars are drawn in a terminal and in a Jupyter kernel, not elsewhere;
``KIT_PROGRESS=1`` or ``0`` forces them on or off.
"""
from __future__ import annotations

import os
import sys


def show_progress(requested: bool = True) -> bool:
    """Whether a progress bar the caller asked for (``requested``) should be drawn."""
    if not requested:
        return False
    forced = os.environ.get("KIT_PROGRESS", "").strip().lower()
    if forced in ("1", "true", "yes", "on"):
        return True
    if forced in ("0", "false", "no", "off"):
        return False
    if "ipykernel" in sys.modules:  # a notebook: tqdm.auto draws a widget there
        return True
    stream = sys.stderr
    return bool(getattr(stream, "isatty", lambda: False)())
