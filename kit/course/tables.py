"""Tables as a lesson shows them: words for headers, units, no row numbers.

A lesson's tables come from the kit's functions with programmer's column names
(``interval_score_80``, ``fit_seconds``, ``mape``) and a 0..n index. :func:`show` turns one
into what a student reads: ``interval score 80 %``, ``fit s``, ``MAPE %``, rounded numbers
with thousands separators, and no index unless it means something (a named index).
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

# column names the kit's tables use, as people read them
HEADERS = {
    "mae": "MAE", "rmse": "RMSE", "mape": "MAPE %", "fit_seconds": "fit s", "wis": "WIS",
    "relative_wis": "relative WIS", "abs_error": "abs. error", "n": "forecasts",
    "overprediction": "over-prediction", "underprediction": "under-prediction",
}
_LEVELLED = re.compile(r"^(coverage|interval_score|in)_(\d+(\.\d+)?)$")


def header(name) -> str:
    """``interval_score_80`` → ``interval score 80 %``; ``fit_seconds`` → ``fit s``."""
    text = str(name)
    if text in HEADERS:
        return HEADERS[text]
    match = _LEVELLED.match(text)
    if match:
        what = {"coverage": "coverage", "interval_score": "interval score", "in": "inside"}[match.group(1)]
        return f"{what} {match.group(2)} %"
    return text.replace("_", " ")


def _format(value) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "–"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    if isinstance(value, (float, np.floating)):
        magnitude = abs(float(value))
        if magnitude >= 100:
            return f"{value:,.0f}"
        if magnitude >= 1:
            return f"{value:,.2f}"
        return f"{value:.3f}"
    return str(value)


def show(table: pd.DataFrame, caption: str | None = None):
    """A Styler of ``table`` for people: readable headers, rounded numbers, no row numbers
    (a named index, e.g. ``model``, is kept)."""
    out = table.rename(columns=header)
    styler = out.style.format(_format)
    if out.index.name is None and not isinstance(out.index, pd.MultiIndex):
        styler = styler.hide(axis="index")
    if caption:
        styler = styler.set_caption(caption)
    return styler
