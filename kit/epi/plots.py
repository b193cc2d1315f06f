"""Plots of simulations and fits (matplotlib; one function per picture the course shows)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

COLOURS = {"S": "#1f77b4", "E": "#ff7f0e", "I": "#d62728", "C": "#9467bd", "R": "#2ca02c",
           "D": "#222222"}
NAMES = {"S": "susceptible", "E": "exposed", "I": "infectious", "C": "critical patients", "R": "recovered",
         "D": "deaths"}


def _people(x, _pos=None) -> str:
    for size, unit in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= size:
            return f"{x / size:g}{unit}"
    return f"{x:g}"


def _people_axis(ax) -> None:
    """Counts of people read as 60M, 4k, not as 6 with a 1e7 in the corner."""
    from matplotlib.ticker import FuncFormatter

    ax.yaxis.set_major_formatter(FuncFormatter(_people))


def _x_label(ax, index) -> None:
    ax.set_xlabel("day of the simulation" if index.name == "day" else "date")


def plot_overview(sim, title: str | None = None):
    """The figure ``kit epi simulate --plot`` writes and the explorer shows in reports:
    every compartment, the ICU panel (critical patients against beds, which the
    compartments' scale hides) for the ICU model, and R0(t)."""
    icu = "beds" in sim.frame.columns
    rows = 3 if icu else 2
    fig, axes = plt.subplots(rows, 1, figsize=(9, 8.5 if icu else 6.5), sharex=True, constrained_layout=True,
                             height_ratios=[3, 2, 1.2] if icu else [3, 1.2])
    # on one linear axis of 60 million the infectious, critical and dead would be flat lines at zero
    plot_simulation(sim, ax=axes[0], title=title, log=True)
    if icu:
        plot_icu(sim, ax=axes[1])
    plot_r0(sim, ax=axes[-1])
    _x_label(axes[-1], sim.frame.index)
    return fig


def plot_simulation(sim, compartments=None, ax=None, title: str | None = None, log: bool = False):
    """Every compartment over time; the ICU model also gets its bed capacity."""
    ax = ax or plt.subplots(figsize=(8, 4))[1]
    for name in compartments or sim.model.compartments:
        ax.plot(sim.frame.index, sim.frame[name], label=name, color=COLOURS.get(name), lw=2)
    if "beds" in sim.frame.columns and (compartments is None or "C" in compartments):
        ax.plot(sim.frame.index, sim.frame["beds"], "--", color=COLOURS["C"], lw=1.2, label="ICU beds")
    ax.set_ylabel("people")
    if log:
        ax.set_yscale("log")
        ax.set_ylim(bottom=1)  # fewer than one person is noise of the integrator
        ax.set_ylabel("people (log scale)")
    _people_axis(ax)
    ax.set_title(title or f"{sim.model.name.upper()} simulation")
    ax.legend(frameon=False, ncol=4)
    ax.grid(alpha=0.3)
    return ax


def plot_icu(sim, ax=None, title: str = "Critical patients against ICU capacity"):
    """C(t) with the bed line and the over-capacity area shaded."""
    ax = ax or plt.subplots(figsize=(8, 3.5))[1]
    c, beds = sim.frame["C"], sim.frame["beds"]
    ax.plot(sim.frame.index, c, color=COLOURS["C"], lw=2, label="critical (C)")
    ax.plot(sim.frame.index, beds, "--", color="0.3", label="ICU beds (added every day: beds_growth)")
    ax.fill_between(sim.frame.index, beds, c, where=c > beds, color="#d62728", alpha=0.3,
                    label="without a bed")
    ax.set_ylabel("people")
    _people_axis(ax)
    ax.set_title(title)
    ax.legend(frameon=False)
    ax.grid(alpha=0.3)
    return ax


def plot_r0(sim, ax=None):
    """The reproduction number R0(t) of the intervention."""
    ax = ax or plt.subplots(figsize=(8, 2.8))[1]
    ax.plot(sim.frame.index, sim.frame["R0"], color="#8c564b", lw=2)
    ax.axhline(1.0, color="0.5", lw=1, ls=":")
    ax.set_ylabel("R0(t)")
    ax.set_title("Reproduction number over time (1 = the epidemic stops growing)")
    ax.grid(alpha=0.3)
    return ax


def plot_comparison(a, b, compartment: str = "D", labels=("baseline", "earlier intervention"), ax=None):
    """One compartment of two simulations, e.g. deaths with and without an earlier intervention."""
    ax = ax or plt.subplots(figsize=(8, 3.5))[1]
    ax.plot(a.frame.index, a.frame[compartment], lw=2, label=labels[0])
    ax.plot(b.frame.index, b.frame[compartment], lw=2, label=labels[1])
    ax.fill_between(a.frame.index, b.frame[compartment], a.frame[compartment], alpha=0.2, color="#2ca02c")
    ax.set_ylabel(NAMES.get(compartment, compartment))
    _people_axis(ax)
    _x_label(ax, a.frame.index)
    ax.legend(frameon=False)
    ax.grid(alpha=0.3)
    return ax


def plot_fit(result, band: pd.DataFrame | None = None, ax=None, title: str | None = None):
    """Observed daily counts, the fitted curve and (optionally) its 95 % band."""
    ax = ax or plt.subplots(figsize=(8, 3.8))[1]
    curve = result.curve
    ax.bar(curve.index, curve["observed"], color="0.75", width=1.0, label=f"observed daily {result.target}")
    ax.plot(curve.index, curve["fitted"], color="#d62728", lw=2, label=f"{result.model} fit")
    if band is not None:
        ax.fill_between(band.index, band["low"], band["high"], color="#d62728", alpha=0.2,
                        label="95 % band (parameter uncertainty)")
    ax.set_ylabel(f"daily {result.target}")
    ax.set_title(title or f"Fit to daily {result.target} (RMSE {result.rmse:.3g}, {result.n_points} days)")
    ax.legend(frameon=False)
    ax.grid(alpha=0.3)
    return ax
