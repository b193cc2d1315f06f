"""Scoring quantile forecasts as the COVID-19 Forecast Hubs did.

* :data:`QUANTILES` — the hubs' 23 levels: 0.01, 0.025, 0.05, 0.10, 0.15, ..., 0.90,
  0.95, 0.975, 0.99; with the median they make 11 central intervals (98 %, 95 %, 90 %,
  80 %, ..., 10 %).
* :func:`weighted_interval_score` — the WIS of Bracher et al. (2021, PLOS Comp. Biol.
  17:e1008618), with its three parts:

  WIS = 1/(K + 1/2) · ( 1/2·|y − m| + Σ_k α_k/2 · IS_{α_k} ),
  IS_α = (u − l) + 2/α·(l − y)·1[y < l] + 2/α·(y − u)·1[y > u],

  over the K = 11 central (1 − α) intervals [l, u] and the median m. *Dispersion* is
  the width part, *over-prediction* what the forecast pays for values below its
  intervals (and median), *under-prediction* for values above; the three add up to the
  WIS. It equals the mean pinball loss over the 23 quantiles times 2, and reduces to
  the absolute error for a forecast that is only a median.
* :func:`relative_wis` — the pairwise comparison of Cramer et al. (2022, PNAS
  119:e2113561119): for every pair of models, the ratio of their mean WIS on the
  forecasts both made; each model's geometric mean of its ratios, divided by the
  baseline's. Models that forecast different dates or regions compare fairly.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from kit.errors import DataError, ParameterError

QUANTILES = (0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5,
             0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 0.975, 0.99)
MEDIAN = QUANTILES.index(0.5)
# Central interval levels (%) the 23 quantiles make, widest first: 98, 95, 90, 80, ..., 10.
INTERVALS = tuple(round(100 * (1 - 2 * q)) for q in QUANTILES[:MEDIAN])
COVERAGE_LEVELS = (50, 95)  # the coverages the hubs reported


def interval_columns(level: float) -> tuple[int, int]:
    """Positions in :data:`QUANTILES` of the lower and upper bound of a central interval."""
    lower = round((1 - level / 100) / 2, 3)
    if lower not in QUANTILES:
        raise ParameterError(f"no {level:g} % central interval among the hub's quantiles; "
                             f"levels: {', '.join(map(str, INTERVALS))}")
    i = QUANTILES.index(lower)
    return i, len(QUANTILES) - 1 - i


def weighted_interval_score(y, q) -> dict:
    """WIS and its parts for forecasts given as the 23 hub quantiles.

    Parameters
    ----------
    y : array-like, shape (n,)
        What happened.
    q : array-like, shape (n, 23)
        Each forecast's quantiles at :data:`QUANTILES` (sorted).

    Returns
    -------
    dict of arrays, shape (n,)
        ``wis``, ``dispersion``, ``overprediction``, ``underprediction``, ``abs_error``
        (of the median) and ``inside_L`` (1 when y lies in the central L % interval)
        for L in :data:`COVERAGE_LEVELS`.
    """
    y = np.asarray(y, float)
    q = np.asarray(q, float)
    if q.ndim != 2 or q.shape[1] != len(QUANTILES) or len(y) != len(q):
        raise ParameterError(f"need one value and {len(QUANTILES)} quantiles per forecast, got values of shape "
                             f"{y.shape} and quantiles of shape {q.shape}")
    lower, upper = q[:, :MEDIAN], q[:, MEDIAN + 1:][:, ::-1]  # pairs from the widest interval inwards
    median = q[:, MEDIAN]
    alphas = 1 - np.array(INTERVALS) / 100
    norm = len(alphas) + 0.5
    below = np.maximum(lower - y[:, None], 0)  # the value fell below the interval by this much
    above = np.maximum(y[:, None] - upper, 0)
    dispersion = (alphas / 2 * (upper - lower)).sum(axis=1) / norm
    over = (below.sum(axis=1) + 0.5 * np.maximum(median - y, 0)) / norm
    under = (above.sum(axis=1) + 0.5 * np.maximum(y - median, 0)) / norm
    out = {"wis": dispersion + over + under, "dispersion": dispersion, "overprediction": over,
           "underprediction": under, "abs_error": np.abs(y - median)}
    for level in COVERAGE_LEVELS:
        lo, hi = interval_columns(level)
        out[f"inside_{level}"] = ((q[:, lo] <= y) & (y <= q[:, hi])).astype(float)
    return out


def coverage_by_level(y, q) -> pd.Series:
    """Share of values inside each of the 11 central intervals (index: nominal level %)."""
    y = np.asarray(y, float)
    q = np.asarray(q, float)
    shares = {}
    for level in INTERVALS:
        lo, hi = interval_columns(level)
        shares[level] = float(np.mean((q[:, lo] <= y) & (y <= q[:, hi]))) if len(y) else np.nan
    return pd.Series(shares, name="coverage").rename_axis("level").sort_index()


def relative_wis(scores: pd.DataFrame, baseline: str, by=("target",),
                 keys=("forecast_date", "location", "target", "horizon")) -> pd.DataFrame:
    """Relative WIS per model (Cramer et al. 2022), within each group of ``by``.

    Parameters
    ----------
    scores : DataFrame
        One row per model and forecast: ``model``, the columns of ``keys`` and ``wis``.
    baseline : str
        The model every other is scaled by (its relative WIS is 1).
    by : tuple of str
        Columns that make separate comparisons (the target by default: cases and deaths
        are not comparable).
    keys : tuple of str
        What makes two models' forecasts the same forecast.

    Returns
    -------
    DataFrame
        ``*by, model, relative_wis`` — NaN for a model that shares no forecast with the
        baseline's comparison set.
    """
    missing = [c for c in ("model", "wis", *keys, *by) if c not in scores.columns]
    if missing:
        raise ParameterError(f"scores need the column(s) {', '.join(missing)}")
    rows = []
    groups = scores.groupby(list(by), sort=True) if by else [((), scores)]
    for group, part in groups:
        group = group if isinstance(group, tuple) else (group,)
        table = part.pivot_table(index=list(keys), columns="model", values="wis", aggfunc="mean")
        models = list(table.columns)
        if baseline not in models:
            raise DataError(f"no forecasts of the baseline {baseline!r} for {', '.join(map(str, group)) or 'the data'}"
                            f"; models: {', '.join(models)}")
        values = table.to_numpy()
        present = np.isfinite(values)
        theta = {}
        for i, m in enumerate(models):
            ratios = []
            for j in range(len(models)):
                both = present[:, i] & present[:, j]
                if both.any():
                    den = values[both, j].mean()
                    num = values[both, i].mean()
                    if den > 0 and num > 0:
                        ratios.append(np.log(num / den))
                    elif num == den:
                        ratios.append(0.0)
            theta[m] = np.exp(np.mean(ratios)) if ratios else np.nan
        for m in models:
            rows.append({**dict(zip(by, group)), "model": m, "relative_wis": theta[m] / theta[baseline]})
    return pd.DataFrame(rows, columns=[*by, "model", "relative_wis"])


def plot_score(quantiles, outcome: float, ax=None, title: str | None = None):
    """WIS drawn: one forecast's 11 central intervals as nested bars, the median, what
    happened, and the score's three parts.

    Each bar is a (1 − α) interval; its width counts α/2 × width towards dispersion, and
    when the outcome falls outside it, 1 × the distance (= α/2 · 2/α) towards over- or
    under-prediction. Narrow bars are cheap until they miss.
    """
    import matplotlib.pyplot as plt

    q = np.asarray(quantiles, float).reshape(-1)
    if q.shape != (len(QUANTILES),):
        raise ParameterError(f"need the {len(QUANTILES)} hub quantiles of one forecast, got {q.shape[0]} values")
    parts = weighted_interval_score(np.array([outcome]), q[None, :])
    ax = ax or plt.subplots(figsize=(8, 3.6))[1]
    cmap = plt.get_cmap("Blues")
    for k, level in enumerate(INTERVALS):
        lo, hi = q[k], q[len(QUANTILES) - 1 - k]
        missed = outcome < lo or outcome > hi
        ax.barh(k, hi - lo, left=lo, height=0.8, color=cmap(0.25 + 0.6 * k / len(INTERVALS)),
                edgecolor="#e6550d" if missed else "white", lw=1.5 if missed else 0.5)
        ax.text(hi, k, f" {level} %", va="center", fontsize=7)
    ax.axvline(q[MEDIAN], color="#08306b", lw=2, label=f"median {q[MEDIAN]:,.0f}")
    ax.axvline(outcome, color="#e6550d", lw=2, ls="--", label=f"what happened {outcome:,.0f}")
    ax.set_yticks([])
    ax.set_xlabel("count")
    left, right = min(q[0], outcome), max(q[-1], outcome)
    ax.set_xlim(left - 0.05 * (right - left), right + 0.15 * (right - left))
    ax.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    total = parts["wis"][0]
    ax.set_title(title or f"WIS {total:,.1f} = dispersion {parts['dispersion'][0]:,.1f} + over-prediction "
                          f"{parts['overprediction'][0]:,.1f} + under-prediction {parts['underprediction'][0]:,.1f}"
                          f"\n(intervals outlined in orange missed)", fontsize=10)
    return ax
