"""The stationarity toolkit the course teaches: rolling statistics, the augmented
Dickey-Fuller table, log and differencing transforms, ACF/PACF plots."""
from __future__ import annotations

import numpy as np
import pandas as pd


def transforms(y: pd.Series) -> dict[str, pd.Series]:
    """The series as is, its log, its first difference and the difference of its log.

    The log uses ``log1p`` so that zeros (early days of an outbreak) stay finite.
    """
    log = np.log1p(y.clip(lower=0))
    return {"raw": y, "log": log, "diff": y.diff().dropna(), "log diff": log.diff().dropna()}


def rolling_stats(y: pd.Series, window: int = 7) -> pd.DataFrame:
    """The series with its rolling mean and standard deviation (a stationary series has flat ones)."""
    return pd.DataFrame({"value": y, "rolling mean": y.rolling(window).mean(),
                         "rolling std": y.rolling(window).std()})


def adf_table(y: pd.Series, alpha: float = 0.05) -> pd.DataFrame:
    """Augmented Dickey-Fuller test of each transform: statistic, p-value, lags, critical values.

    A p-value below ``alpha`` rejects a unit root: that transform looks stationary.
    """
    from statsmodels.tsa.stattools import adfuller

    rows = []
    for name, series in transforms(y).items():
        values = series.to_numpy(float)
        if len(values) < 10 or np.ptp(values) == 0:
            rows.append({"transform": name, "statistic": np.nan, "p-value": np.nan, "lags": np.nan,
                         "observations": len(values), "critical 1%": np.nan, "critical 5%": np.nan,
                         "critical 10%": np.nan, "stationary": None})
            continue
        stat, p, lags, nobs, crit, _ = adfuller(values, autolag="AIC", result_object=False)
        rows.append({"transform": name, "statistic": stat, "p-value": p, "lags": lags, "observations": nobs,
                     "critical 1%": crit["1%"], "critical 5%": crit["5%"], "critical 10%": crit["10%"],
                     "stationary": bool(p < alpha)})
    return pd.DataFrame(rows)


def plot_rolling(y: pd.Series, window: int = 7, axes=None, title: str | None = None):
    """Raw, log and differenced series with their rolling mean and std, in a 2×2 grid
    (readable dates, one legend for the four panels)."""
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    parts = transforms(y)
    names = ["raw", "log", "diff", "log diff"]
    if axes is None:
        fig, grid = plt.subplots(2, 2, figsize=(12, 6.5), sharex=True, constrained_layout=True)
        axes = grid.ravel()
    for ax, name in zip(axes, names):
        stats = rolling_stats(parts[name], window)
        ax.plot(stats.index, stats["value"], color="0.6", lw=1, label="series")
        ax.plot(stats.index, stats["rolling mean"], color="#d62728", lw=1.5, label=f"{window}-day mean")
        ax.plot(stats.index, stats["rolling std"], color="#1f77b4", lw=1.5, label=f"{window}-day std")
        ax.set_title(name)
        ax.grid(alpha=0.3)
        locator = mdates.AutoDateLocator(maxticks=6)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    handles, labels = axes[0].get_legend_handles_labels()
    figure = axes[0].figure
    figure.legend(handles, labels, loc="outside upper right", ncol=3, frameon=False, fontsize=10)
    if title:
        figure.suptitle(title, x=0.02, ha="left")
    return axes


def plot_acf_pacf(y: pd.Series, lags: int = 20, d: int = 1, axes=None):
    """ACF and PACF of the ``d``-times differenced series, with the 95 % band."""
    import matplotlib.pyplot as plt
    from statsmodels.graphics.tsaplots import plot_acf, plot_pacf

    z = y.to_numpy(float)
    for _ in range(d):
        z = np.diff(z)
    lags = min(lags, len(z) // 2 - 1)
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(11, 3), constrained_layout=True)
    plot_acf(z, lags=lags, ax=axes[0], title=f"ACF (differenced {d}x)")
    plot_pacf(z, lags=lags, ax=axes[1], method="ywm", title=f"PACF (differenced {d}x)")
    return axes
