"""Exploratory analysis of COVID counts: the quantities the course's EDA computes.

All functions take the tidy frame of :mod:`kit.data` (or one region's series) and
return DataFrames, so a lesson shows a table or plots it in one line.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from kit.data.tidy import MEASURES, resolve_region, select_series
from kit.errors import DataError, ParameterError


def national(frame: pd.DataFrame, region: str) -> pd.DataFrame:
    """One region's cumulative counts (provinces summed), indexed by date."""
    region = resolve_region(frame, region)
    rows = frame[frame["region"] == region]
    cols = {m: select_series(frame, region, m) for m in MEASURES if rows[m].notna().any()}
    if not cols:
        raise DataError(f"{frame.attrs.get('source', 'the data')} has no counts for {region!r}")
    return pd.DataFrame(cols)


def daily(cumulative: pd.DataFrame, window: int = 7) -> pd.DataFrame:
    """Daily new counts (negative corrections clipped to 0) and their centred moving average."""
    new = cumulative.diff().clip(lower=0)
    out = new.add_prefix("new_")
    for col in new.columns:
        out[f"new_{col}_{window}d"] = new[col].rolling(window, center=True, min_periods=1).mean()
    return out


def active_closed(cumulative: pd.DataFrame) -> pd.DataFrame:
    """Active = confirmed − deaths − recovered; closed = deaths + recovered."""
    if "recovered" not in cumulative:
        raise DataError("active and closed cases need a recovered series, which this source lacks")
    closed = cumulative["deaths"] + cumulative["recovered"]
    return pd.DataFrame({"active": cumulative["confirmed"] - closed, "closed": closed})


def rates(cumulative: pd.DataFrame) -> pd.DataFrame:
    """Mortality and recovery rates over time, in % of confirmed cases (and of closed cases)."""
    confirmed = cumulative["confirmed"].where(cumulative["confirmed"] > 0)
    out = pd.DataFrame({"mortality_%": cumulative["deaths"] / confirmed * 100})
    if "recovered" in cumulative:
        out["recovery_%"] = cumulative["recovered"] / confirmed * 100
        closed = (cumulative["deaths"] + cumulative["recovered"]).where(lambda c: c > 0)
        out["mortality_of_closed_%"] = cumulative["deaths"] / closed * 100
    return out


def rate_summary(cumulative: pd.DataFrame) -> pd.DataFrame:
    """Mean and median of the rates over time (the course's headline numbers)."""
    r = rates(cumulative)
    return pd.DataFrame({"mean": r.mean(), "median": r.median()})


def growth(cumulative: pd.Series, window: int = 7) -> pd.DataFrame:
    """Growth factor (today's new cases / yesterday's, smoothed) and doubling time in days."""
    new = cumulative.diff().clip(lower=0).rolling(window, min_periods=1).mean()
    factor = new / new.shift(1).where(new.shift(1) > 0)
    rate = np.log(cumulative.where(cumulative > 0)).diff().rolling(window, min_periods=1).mean()
    doubling = (np.log(2) / rate).where(rate > 0)
    return pd.DataFrame({"growth_factor": factor, "doubling_time_days": doubling})


def doubling_time(cumulative: pd.Series, period: str) -> float | None:
    """Days the count took to double at ``period``'s average growth (e.g. ``"2020-03"``).

    From the first to the last day of ``period`` with a positive count: the days between
    them times ln 2 over the log of their ratio. None when the count did not grow.

    Raises
    ------
    ParameterError
        When the series has no day in ``period``, naming the days it has.
    """
    try:
        part = cumulative.loc[str(period)]
    except (KeyError, ValueError, TypeError):
        part = cumulative.iloc[:0]
    if not len(part):
        raise ParameterError(f"no day of {period!r} in the series; it runs from {cumulative.index[0].date()} "
                             f"to {cumulative.index[-1].date()}" if len(cumulative) else "the series is empty")
    part = part[part > 0]
    if len(part) < 2 or part.iloc[-1] <= part.iloc[0]:
        return None
    days = (part.index[-1] - part.index[0]).days
    return float(days * np.log(2) / np.log(part.iloc[-1] / part.iloc[0]))


def average_daily_increase(cumulative: pd.DataFrame) -> pd.Series:
    """Mean number of new cases (deaths, recoveries) per day over the whole period."""
    return cumulative.diff().clip(lower=0).mean().rename("average daily increase")


def days_per_step(cumulative: pd.Series, step: float = 100_000) -> pd.DataFrame:
    """How many days each additional ``step`` cases took (the course's "days per 100k")."""
    top = cumulative.max()
    if top < step:
        return pd.DataFrame(columns=["reached", "date", "days_taken"])
    rows, previous = [], None
    for level in np.arange(step, top + 1, step):
        date = cumulative.index[np.argmax(cumulative.to_numpy() >= level)]
        rows.append({"reached": int(level), "date": date.date(),
                     "days_taken": (date - previous).days if previous is not None else np.nan})
        previous = date
    return pd.DataFrame(rows)


def top_provinces(frame: pd.DataFrame, region: str | None = None, n: int = 10,
                  by: str = "confirmed", date=None) -> pd.DataFrame:
    """Top-N provinces (or regions when ``region`` is None) by confirmed or deaths on a date."""
    date = pd.Timestamp(date) if date is not None else frame["date"].max()
    day = frame[frame["date"] == date]
    if region is not None:
        day = day[day["region"] == resolve_region(frame, region)]
        key = "province"
    else:
        day = day.groupby("region", as_index=False)[["confirmed", "deaths"]].sum()
        key = "region"
    table = day[[key, "confirmed", "deaths"]].copy()
    table["mortality_%"] = table["deaths"] / table["confirmed"].where(table["confirmed"] > 0) * 100
    return table.sort_values(by, ascending=False).head(n).reset_index(drop=True)


def cluster(frame: pd.DataFrame, region: str | None = None, k: int = 3, seed: int = 0, date=None) -> pd.DataFrame:
    """K-means of provinces (or regions) on scaled confirmed, deaths and mortality.

    When ``region`` has no provinces (a country reported as one row), the regions
    themselves are clustered instead; ``attrs["level"]`` says which.

    Returns one row per place with its cluster, sorted by cluster; ``attrs["centres"]``
    holds the cluster table (mean of each feature in original units, and size).
    """
    from sklearn.cluster import KMeans
    from sklearn.preprocessing import StandardScaler

    if region is not None:
        region = resolve_region(frame, region)
        if not (frame.loc[frame["region"] == region, "province"] != "").any():
            region = None
    table = top_provinces(frame, region, n=10**9, date=date).dropna()
    if len(table) < k:
        raise DataError(f"{len(table)} places with data, fewer than k={k} clusters")
    features = ["confirmed", "deaths", "mortality_%"]
    x = StandardScaler().fit_transform(np.log1p(table[features].to_numpy(float)))
    labels = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(x)
    table["cluster"] = labels
    centres = table.groupby("cluster")[features].mean()
    centres["size"] = table.groupby("cluster").size()
    out = table.sort_values(["cluster", "confirmed"], ascending=[True, False]).reset_index(drop=True)
    out.attrs["centres"] = centres
    out.attrs["level"] = "province" if region is not None else "region"
    return out


def plot_counts(cumulative: pd.DataFrame, title: str = "", window: int = 7):
    """Four panels: daily new cases with the moving average, active vs closed,
    growth factor and doubling time, mortality and recovery rates."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(13, 7), constrained_layout=True)
    d = daily(cumulative, window)
    ax = axes[0, 0]
    ax.bar(d.index, d["new_confirmed"], color="0.8", width=1.0, label="new confirmed")
    ax.plot(d.index, d[f"new_confirmed_{window}d"], color="#d62728", lw=2, label=f"{window}-day mean")
    ax.set_title("Daily new confirmed cases")
    ax.legend(frameon=False)
    ax = axes[0, 1]
    if "recovered" in cumulative and cumulative["recovered"].notna().any():
        ac = active_closed(cumulative)
        ax.plot(ac.index, ac["active"], lw=2, label="active")
        ax.plot(ac.index, ac["closed"], lw=2, label="closed (deaths + recovered)")
        ax.legend(frameon=False)
    else:
        ax.text(0.5, 0.5, "no recovered series in this source", ha="center", transform=ax.transAxes)
    ax.set_title("Active and closed cases")
    g = growth(cumulative["confirmed"], window)
    ax = axes[1, 0]
    ax.plot(g.index, g["growth_factor"], color="#9467bd", lw=1.5)
    ax.axhline(1, color="0.5", ls=":")
    ax.set_ylim(0, max(3, float(np.nanpercentile(g["growth_factor"].dropna(), 95)) if g["growth_factor"].notna().any() else 3))
    ax.set_ylabel("growth factor", color="#9467bd")
    twin = ax.twinx()
    twin.plot(g.index, g["doubling_time_days"], color="#2ca02c", lw=1.5)
    twin.set_ylabel("doubling time (days)", color="#2ca02c")
    twin.set_yscale("log")
    ax.set_title("Growth factor (1 = flat) and doubling time")
    ax = axes[1, 1]
    r = rates(cumulative)
    for col in r.columns:
        ax.plot(r.index, r[col], lw=1.8, label=col)
    ax.set_ylabel("%")
    ax.set_title("Mortality and recovery rates over time")
    ax.legend(frameon=False)
    for a in axes.ravel():
        a.grid(alpha=0.3)
        a.tick_params(axis="x", labelrotation=30, labelsize=8)
    if title:
        fig.suptitle(title)
    return fig
