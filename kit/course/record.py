"""Recording a lesson's key numbers so that ``kit course run`` can collect them.

A lesson calls :func:`record` once or a few times (an RMSE table, a test accuracy,
an FPS). Under the runner the values go to the file named by ``KIT_METRICS_FILE``
and end up in ``summary.json``; in JupyterLab they are kept in memory and returned.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd

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
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, (pd.Timestamp,)):
        return value.isoformat()
    if value is None or isinstance(value, (str, int, bool)):
        return value
    return str(value)


def record(**metrics) -> dict:
    """Record named results of this lesson (numbers, strings, tables).

    Parameters
    ----------
    **metrics
        ``name=value``; DataFrames become lists of row dicts, NaN becomes null.

    Returns
    -------
    dict
        Everything recorded so far in this kernel.

    Examples
    --------
    >>> record(test_accuracy=0.93)            # doctest: +SKIP
    """
    for name, value in metrics.items():
        _RECORDED[name] = _jsonable(value)
    target = os.environ.get("KIT_METRICS_FILE")
    if target:
        tmp = Path(target).with_suffix(".tmp")
        tmp.write_text(json.dumps(_RECORDED, indent=1))
        os.replace(tmp, target)
    return dict(_RECORDED)


def recorded() -> dict:
    """What this kernel has recorded so far."""
    return dict(_RECORDED)
