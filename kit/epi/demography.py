"""Age structure and ICU capacity: where p_IC, p_CD and beds per 100k come from.

The SEIRD-ICU model has single probabilities p_IC (infected → critical) and p_CD
(critical → dead). The course derives them from per-age-group probabilities weighted
by a country's age distribution; ``kit/epi/data/README.md`` documents the sources.
"""
from __future__ import annotations

import difflib
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from kit.errors import ParameterError

_DATA = Path(__file__).parent / "data"
AGE_GROUPS = ("0_9", "10_19", "20_29", "30_39", "40_49", "50_59", "60_69", "70_79", "80_89", "90_100")


@lru_cache(maxsize=1)
def demography() -> pd.DataFrame:
    """Population by age group (thousands) and ICU beds per 100k, one row per country."""
    return pd.read_csv(_DATA / "demography.csv").set_index("country")


@lru_cache(maxsize=1)
def age_probabilities() -> pd.DataFrame:
    """Per-age-group probabilities of becoming critical and of dying in the ICU."""
    return pd.read_csv(_DATA / "probabilities.csv").set_index("age_group")


def _profile(age_profile) -> np.ndarray:
    if isinstance(age_profile, str):
        table = demography()
        if age_profile not in table.index:
            close = difflib.get_close_matches(age_profile, list(table.index), n=3)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise ParameterError(f"no age profile for {age_profile!r}.{hint} Known: {', '.join(table.index)}; "
                             f"or pass ten age-group counts.")
        return table.loc[age_profile, list(AGE_GROUPS)].to_numpy(float)
    weights = np.asarray(age_profile, float)
    if weights.shape != (len(AGE_GROUPS),) or not np.isfinite(weights).all() or (weights < 0).any() \
            or weights.sum() <= 0:
        raise ParameterError(f"an age profile needs {len(AGE_GROUPS)} non-negative counts "
                         f"({', '.join(AGE_GROUPS)}), got {age_profile!r}")
    return weights


def icu_probabilities(age_profile) -> dict:
    """p_IC and p_CD for a population: age-group probabilities weighted by its age distribution.

    Parameters
    ----------
    age_profile : str or sequence of 10 numbers
        A country in :func:`demography` or counts per ten-year age group.

    Returns
    -------
    dict
        ``{"p_ic": ..., "p_cd": ...}``. p_CD is weighted by who reaches the ICU
        (age share × p_IC of that age), not by the whole population.
    """
    weights = _profile(age_profile)
    probs = age_probabilities()
    p_ic_age = probs["p_infected_to_icu"].to_numpy()
    p_ic = float(np.average(p_ic_age, weights=weights))
    p_cd = float(np.average(probs["p_icu_to_death"].to_numpy(), weights=weights * p_ic_age))
    return {"p_ic": p_ic, "p_cd": p_cd}


def country_parameters(country: str) -> dict:
    """SEIRD-ICU parameters a country's tables give: population, p_ic, p_cd, beds_per_100k."""
    weights = _profile(country)
    beds = demography().loc[country, "icu_beds_per_100k"]
    return {"population": float(weights.sum() * 1000), **icu_probabilities(country),
            "beds_per_100k": float(beds)}


def region_parameters(region: str, frame=None, province: str | None = None) -> dict:
    """Model parameters we know for a region: the demography table, else a synthetic truth.

    For a country in :func:`demography` (and no province), population, p_ic, p_cd and
    beds_per_100k. For a region (or province) of a synthetic outbreak frame, its
    population. Otherwise an empty dict: the caller must supply the population.
    """
    if region in demography().index and not province:
        return country_parameters(region)
    truth = getattr(frame, "attrs", {}).get("truth") if frame is not None else None
    if truth:
        rows = [v for k, v in truth.items()
                if k.split("/", 1)[0] == region and (not province or k.split("/", 1)[1] == province)]
        if rows:
            # A synthetic region's make-up is known: population and population-weighted probabilities.
            pops = np.array([r["population"] for r in rows], float)
            out = {"population": float(pops.sum())}
            for name in ("p_ic", "p_cd", "beds_per_100k"):
                if all(name in r for r in rows):
                    out[name] = float(np.average([r[name] for r in rows], weights=pops))
            return out
    return {}
