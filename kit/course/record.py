"""Recording a lesson's key numbers so that ``kit course run`` can collect them.

A lesson calls :func:`record` once or a few times (an RMSE table, a test accuracy,
an FPS). Under the runner the values go to the file named by ``KIT_METRICS_FILE``
and end up in ``summary.json``; in JupyterLab they are kept in memory. What the reader
of the lesson sees is a one-line summary of what was recorded, never the raw values.
"""
from __future__ import annotations

import os

import pandas as pd

from kit.files import jsonable, write_json

_RECORDED: dict = {}


def _jsonable(value):
    if isinstance(value, pd.DataFrame):
        return [_jsonable(r) for r in value.to_dict(orient="records")]
    if isinstance(value, pd.Series):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return jsonable(value)


def format_number(value: float) -> str:
    """A recorded number for people: 11,340 rather than 1.134e+04; 0.7111 rather than 0.711111."""
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"


class Recorded:
    """What one :func:`record` call stored, shown as one short line."""

    def __init__(self, names: list[str], values: dict):
        self.names, self.values = names, values

    def _brief(self, name) -> str:
        value = self.values[name]
        if isinstance(value, float):
            return f"{name} = {format_number(value)}"
        if isinstance(value, (int, str)) and len(str(value)) <= 40:
            return f"{name} = {value}"
        if isinstance(value, list):
            return f"{name} ({len(value)} rows)"
        if value is None:
            return f"{name}: none"
        return name

    def __repr__(self) -> str:
        return "Recorded for the course report: " + "; ".join(self._brief(n) for n in self.names)

    def _repr_markdown_(self) -> str:
        return f"<small>{self!r}</small>"


def record(**metrics) -> Recorded:
    """Record named results of this lesson (numbers, strings, tables).

    Parameters
    ----------
    **metrics
        ``name=value``; DataFrames become lists of row dicts, NaN becomes null.

    Returns
    -------
    Recorded
        Shown in a notebook as one line naming what was recorded.

    Examples
    --------
    >>> record(test_accuracy=0.93)            # doctest: +SKIP
    Recorded for the course report: test_accuracy = 0.93
    """
    for name, value in metrics.items():
        _RECORDED[name] = _jsonable(value)
    target = os.environ.get("KIT_METRICS_FILE")
    if target:
        write_json(target, _RECORDED)
    return Recorded(list(metrics), dict(_RECORDED))


def recorded() -> dict:
    """What this kernel has recorded so far."""
    return dict(_RECORDED)
