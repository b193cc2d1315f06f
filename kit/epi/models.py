"""Compartmental models: SEIR, SEIRD and the course's SEIRD-ICU.

A model is data — compartments, parameters with defaults and descriptions — plus
one scalar *flows* function compiled with numba. ``flows(t, y, c, m, lf)`` returns the
derivatives of member ``m`` given its state tuple ``y``, its row of precomputed
coefficients ``c[:, m]`` and the logistic factor ``lf = 1/(1 + exp(k (t - x0)))`` of
the intervention (the integrator supplies it). Every flow leaves one compartment and
enters another, so the derivatives sum to zero and the population is conserved.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from numba import njit

from kit.errors import ParameterError


def logistic_r0(t, r0_start, r0_end, k, x0):
    """R0(t) = (R0_start - R0_end) / (1 + exp(-k (x0 - t))) + R0_end.

    An intervention centred on day ``x0`` with steepness ``k`` moves the reproduction
    number from ``r0_start`` to ``r0_end``. Works elementwise on arrays (ensembles).
    """
    z = np.clip(-np.asarray(k) * (np.asarray(x0) - t), -700.0, 700.0)
    return (np.asarray(r0_start) - r0_end) / (1.0 + np.exp(z)) + r0_end


def icu_beds(t, beds_per_100k, population, beds_growth):
    """Beds(t) = beds_per_100k · N / 100k · (1 + growth · t): capacity that grows linearly."""
    return np.asarray(beds_per_100k) * population / 100_000.0 * (1.0 + np.asarray(beds_growth) * t)


@dataclass(frozen=True)
class Parameter:
    name: str
    default: float | None
    description: str
    kind: str = "positive"  # positive | nonnegative | probability | day


@dataclass(frozen=True)
class Model:
    """A compartmental model: compartments, parameters and a vectorised RHS."""

    name: str
    compartments: tuple[str, ...]
    parameters: tuple[Parameter, ...]
    flows: Callable = field(repr=False)
    coefficients: Callable = field(repr=False)
    description: str = ""

    def defaults(self) -> dict:
        return {p.name: p.default for p in self.parameters}

    def parameter(self, name: str) -> Parameter:
        for p in self.parameters:
            if p.name == name:
                return p
        raise KeyError(name)

    def initial(self, p: dict) -> np.ndarray:
        """State on day 0: everybody susceptible except ``initial_exposed``."""
        n = np.asarray(p["population"], float)
        e0 = np.asarray(p["initial_exposed"], float) * np.ones_like(n)
        y = np.zeros((len(self.compartments), n.size))
        y[0], y[1] = n - e0, e0
        return y

    def derivatives(self, t: float, y, p: dict, member: int = 0) -> np.ndarray:
        """dy/dt of one member at time ``t`` (for ``solve_ivp`` and for teaching).

        Uses the same compiled flows as the integrator.
        """
        c = self.coefficients(p)
        k, x0 = float(np.ravel(p["k"])[member % np.size(p["k"])]), float(np.ravel(p["x0"])[member % np.size(p["x0"])])
        lf = 1.0 / (1.0 + math.exp(min(700.0, k * (t - x0))))
        return np.array(self.flows(float(t), tuple(float(v) for v in y), c, member % c.shape[1], lf))


_COMMON = (
    Parameter("population", None, "N, people in the population"),
    Parameter("r0_start", 3.0, "basic reproduction number before the intervention"),
    Parameter("r0_end", None, "reproduction number after the intervention (default: r0_start, no intervention)"),
    Parameter("k", 0.5, "steepness of the intervention's logistic R0 drop (1/day)"),
    Parameter("x0", 60.0, "day on which the intervention is half effective", "day"),
    Parameter("incubation_days", 3.0, "mean latent period, 1/sigma (days)"),
    Parameter("infectious_days", 9.0, "mean infectious period, 1/gamma (days)"),
    Parameter("initial_exposed", 1.0, "people exposed on day 0", "nonnegative"),
)


def _common_rows(p) -> list:
    """Rows 0-3 of every model's coefficients: γ(R0_start − R0_end), γ·R0_end, 1/N, σ."""
    gamma = 1.0 / p["infectious_days"]
    return [gamma * (p["r0_start"] - p["r0_end"]), gamma * p["r0_end"], 1.0 / p["population"],
            1.0 / p["incubation_days"]]


def _stack(rows) -> np.ndarray:
    n = max(np.size(r) for r in rows)
    return np.ascontiguousarray(np.stack([np.broadcast_to(np.asarray(r, float).ravel(), (n,)) for r in rows]))


@njit(cache=True)
def _seir_flows(t, y, c, m, lf):
    s, e, i, _r = y
    beta = c[0, m] * lf + c[1, m]
    infection = beta * i * s * c[2, m]
    onset = c[3, m] * e
    removal = c[4, m] * i
    return (-infection, infection - onset, onset - removal, removal)


def _seir_coefficients(p):
    return _stack(_common_rows(p) + [1.0 / p["infectious_days"]])


@njit(cache=True)
def _seird_flows(t, y, c, m, lf):
    s, e, i, _r, _d = y
    beta = c[0, m] * lf + c[1, m]
    infection = beta * i * s * c[2, m]
    onset = c[3, m] * e
    recover = c[4, m] * i
    death = c[5, m] * i
    return (-infection, infection - onset, onset - recover - death, recover, death)


def _seird_coefficients(p):
    gamma = 1.0 / p["infectious_days"]
    return _stack(_common_rows(p) + [gamma * (1.0 - p["ifr"]), gamma * p["ifr"]])


@njit(cache=True)
def _seird_icu_flows(t, y, c, m, lf):
    s, e, i, crit, _r, _d = y
    beta = c[0, m] * lf + c[1, m]
    beds = c[8, m] + c[9, m] * t
    infection = beta * i * s * c[2, m]
    onset = c[3, m] * e
    to_icu = c[4, m] * i
    i_recover = c[5, m] * i
    treated = min(beds, crit)
    untreated = max(0.0, crit - beds)  # patients beyond capacity die
    c_die = c[6, m] * treated + untreated
    c_recover = c[7, m] * treated
    return (-infection, infection - onset, onset - to_icu - i_recover,
            to_icu - c_die - c_recover, i_recover + c_recover, c_die)


def _seird_icu_coefficients(p):
    gamma = 1.0 / p["infectious_days"]
    beds0 = p["beds_per_100k"] * p["population"] / 100_000.0
    return _stack(_common_rows(p) + [
        p["rate_i_to_c"] * p["p_ic"],            # I→C
        gamma * (1.0 - p["p_ic"]),               # I→R
        p["rate_c_to_d"] * p["p_cd"],            # C→D while in a bed
        (1.0 - p["p_cd"]) * p["rate_c_to_r"],    # C→R
        beds0, beds0 * p["beds_growth"],         # Beds(t) = beds0 + beds0·growth·t
    ])


SEIR = Model(
    "seir", ("S", "E", "I", "R"), _COMMON, _seir_flows, _seir_coefficients,
    "S→E: β(t)·I·S/N, E→I: σ·E, I→R: γ·I, with β(t) = γ·R0(t).",
)

SEIRD = Model(
    "seird", ("S", "E", "I", "R", "D"),
    _COMMON + (Parameter("ifr", 0.01, "infection fatality ratio: share of removals that die", "probability"),),
    _seird_flows, _seird_coefficients,
    "SEIR plus deaths: a share `ifr` of those leaving I die.",
)

SEIRD_ICU = Model(
    "seird-icu", ("S", "E", "I", "C", "R", "D"),
    _COMMON + (
        Parameter("p_ic", 0.05, "probability that an infected person becomes critical", "probability"),
        Parameter("p_cd", 0.5, "probability that a critical patient in a bed dies", "probability"),
        Parameter("beds_per_100k", 12.5, "ICU beds per 100,000 people on day 0", "nonnegative"),
        Parameter("beds_growth", 0.003, "relative growth of ICU beds per day", "nonnegative"),
        Parameter("rate_i_to_c", 1 / 12, "1/days from infectious to critical"),
        Parameter("rate_c_to_d", 1 / 7.5, "1/days from critical to death"),
        Parameter("rate_c_to_r", 1 / 6.5, "1/days from critical to recovery"),
    ),
    _seird_icu_flows, _seird_icu_coefficients,
    "S, E, I, C (critical), R, D with ICU capacity: patients beyond Beds(t) die.",
)

MODELS = {m.name: m for m in (SEIR, SEIRD, SEIRD_ICU)}


def get_model(name: str | Model) -> Model:
    """A model by name: ``seir``, ``seird`` or ``seird-icu``."""
    if isinstance(name, Model):
        return name
    key = str(name).lower().replace("_", "-")
    if key not in MODELS:
        raise ParameterError(f"unknown model {name!r}; choose from {', '.join(MODELS)}")
    return MODELS[key]
