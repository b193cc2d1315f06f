"""Plots of simulations and fits (matplotlib; one function per picture the course shows)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

COLOURS = {"S": "#1f77b4", "E": "#ff7f0e", "I": "#d62728", "C": "#9467bd", "R": "#2ca02c",
           "D": "#222222"}


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
    ax.set_title(title or f"{sim.model.name.upper()} simulation")
    ax.legend(frameon=False, ncol=4)
    ax.grid(alpha=0.3)
    return ax


def plot_icu(sim, ax=None, title: str = "Critical patients against ICU capacity"):
    """C(t) with the bed line and the over-capacity area shaded."""
    ax = ax or plt.subplots(figsize=(8, 3.5))[1]
    c, beds = sim.frame["C"], sim.frame["beds"]
    ax.plot(sim.frame.index, c, color=COLOURS["C"], lw=2, label="critical (C)")
    ax.plot(sim.frame.index, beds, "--", color="0.3", label="ICU beds")
    ax.fill_between(sim.frame.index, beds, c, where=c > beds, color="#d62728", alpha=0.3,
                    label="without a bed")
    ax.set_ylabel("people")
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
    ax.set_ylabel(compartment)
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
