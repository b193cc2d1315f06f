"""The course's questions, answered with the models: when is the ICU peak and does it
exceed capacity, how many deaths does an earlier intervention avoid, how uncertain
is all of it."""
from __future__ import annotations

import numpy as np
import pandas as pd

from kit.errors import ParameterError

from .integrate import Simulation, integrate, resolve_parameters, simulate
from .models import get_model


def peak(sim: Simulation, compartment: str = "C") -> dict:
    """Peak of one compartment and how it compares with ICU capacity.

    Returns
    -------
    dict
        ``day`` (index of the peak), ``date`` (ISO, when the simulation has dates),
        ``height``, and for the ICU model ``beds_at_peak``, ``over_capacity`` (bool),
        ``days_over_capacity``, ``first_day_over_capacity`` and ``max_excess``
        (critical patients without a bed at worst).
    """
    if compartment not in sim.frame.columns:
        raise ParameterError(f"no compartment {compartment!r} in a {sim.model.name} simulation; "
                         f"it has {', '.join(sim.model.compartments)}")
    values = sim.frame[compartment].to_numpy()
    i = int(np.argmax(values))
    label = sim.frame.index[i]
    out = {"compartment": compartment, "day": i, "height": float(values[i]),
           "date": label.date().isoformat() if isinstance(label, pd.Timestamp) else None}
    if "beds" in sim.frame.columns and compartment == "C":
        beds = sim.frame["beds"].to_numpy()
        over = values > beds
        out.update({
            "beds_at_peak": float(beds[i]),
            "over_capacity": bool(over.any()),
            "days_over_capacity": int(over.sum()),
            "first_day_over_capacity": int(np.argmax(over)) if over.any() else None,
            "max_excess": float(np.max(values - beds).clip(min=0)),
        })
    return out


def intervention_effect(model: str = "seird-icu", days: int = 240, earlier_by: float = 14.0,
                        start: str | None = None, **params) -> dict:
    """Deaths avoided when the intervention (``x0``) comes ``earlier_by`` days sooner.

    Returns
    -------
    dict
        ``deaths_baseline``, ``deaths_earlier``, ``deaths_avoided`` (at the end of the
        horizon), the two peaks of C, and the two :class:`Simulation` objects under
        ``baseline`` and ``earlier``.
    """
    m = get_model(model)
    if "D" not in m.compartments:
        raise ParameterError(f"model {m.name!r} has no deaths; use seird or seird-icu")
    p, _ = resolve_parameters(m, params)
    x0 = float(p["x0"][0])
    if earlier_by < 0 or earlier_by > x0:
        raise ParameterError(f"earlier_by must be between 0 and x0 ({x0:g} days), got {earlier_by}")
    base = simulate(m, days, start, **params)
    early = simulate(m, days, start, **{**params, "x0": x0 - earlier_by})
    d0, d1 = float(base.frame["D"].iloc[-1]), float(early.frame["D"].iloc[-1])
    out = {"earlier_by": earlier_by, "deaths_baseline": d0, "deaths_earlier": d1,
           "deaths_avoided": d0 - d1, "baseline": base, "earlier": early}
    if "C" in m.compartments:
        out["peak_baseline"], out["peak_earlier"] = peak(base), peak(early)
    return out


def ensemble_band(model: str, days: int, params: dict, compartment: str = "D",
                  q: tuple = (0.05, 0.5, 0.95), start: str | None = None) -> pd.DataFrame:
    """Quantiles over an ensemble (parameters given as arrays), one row per day.

    Parameters
    ----------
    params : dict
        Scalars or arrays of the same length (the ensemble members), e.g. draws of R0.

    Returns
    -------
    DataFrame
        Columns ``q05``, ``q50``, ``q95`` (named after ``q``), indexed by day or date.
    """
    m = get_model(model)
    if compartment not in m.compartments:
        raise ParameterError(f"no compartment {compartment!r} in model {m.name!r}")
    y = integrate(m, days, params)[:, m.compartments.index(compartment), :]
    qs = np.quantile(y, q, axis=1)
    index = pd.date_range(start, periods=days, freq="D", name="date") if start else pd.RangeIndex(days, name="day")
    return pd.DataFrame({f"q{round(v * 100):02d}": row for v, row in zip(q, qs)}, index=index)
