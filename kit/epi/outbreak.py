"""A synthetic outbreak: the course's SEIRD-ICU model behind a realistic observation model.

What the quick profile, the tests and the lessons use instead of real counts, so the
course runs anywhere without a network. Each province gets its own outbreak (the
course's model, with a logistic R0 drop at an intervention); only a fraction of
infections is confirmed, reports arrive after a gamma-distributed delay, weekends
under-report and the backlog is caught up early in the week, and counts carry
negative-binomial noise. Deterministic for a given seed; labelled as synthetic
wherever it ends up.

The data layer ships the default outbreak (seed 0) as a file
(``kit/data/synthetic_outbreak.csv.gz``, read by ``kit.data.load_timeseries("synthetic")``)
so that loading data never needs the models; :func:`write_default` regenerates it and a
test checks that the file is exactly what :func:`outbreak` makes.
"""
from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from kit.data.synthetic import DEFAULT_OUTBREAK, SYNTHETIC_LABEL
from kit.errors import ParameterError

from .models import get_model

MODEL_DEFAULTS = get_model("seird-icu").defaults()

# Reported share of a week's counts on Mon..Sun: weekend dips, early-week catch-up.
WEEKDAY_REPORTING = (1.10, 1.05, 1.0, 1.0, 0.98, 0.80, 0.62)

DEFAULT_REGIONS = {
    "Synthland": ("Northshire", "Southmoor", "Eastvale", "Westfield", "Capital District", "Highlands"),
    "Examplia": ("Upper Examplia", "Lower Examplia", "Coastal", "Riverlands"),
    "Modelstan": ("Central", "Frontier", "Lakeside"),
}


@dataclass(frozen=True)
class ProvinceTruth:
    """The parameters an outbreak was generated with (what a fit should recover)."""

    population: int
    r0_start: float
    r0_end: float
    intervention_day: float
    k: float
    incubation_days: float
    infectious_days: float
    p_ic: float
    p_cd: float
    beds_per_100k: float
    ascertainment: float
    initial_exposed: int
    reporting_delay_days: float


def _seird_daily(truth: ProvinceTruth, days: int) -> dict[str, np.ndarray]:
    """Daily new infections, deaths and recoveries of the course's SEIRD-ICU model (kit.epi)."""
    from .integrate import integrate

    y = integrate("seird-icu", days + 1, {
        "population": truth.population, "r0_start": truth.r0_start, "r0_end": truth.r0_end,
        "k": truth.k, "x0": truth.intervention_day, "incubation_days": truth.incubation_days,
        "infectious_days": truth.infectious_days, "p_ic": truth.p_ic, "p_cd": truth.p_cd,
        "beds_per_100k": truth.beds_per_100k, "initial_exposed": truth.initial_exposed,
    })[:, :, 0]
    s, _e, _i, _c, r, d = y.T
    return {"infections": -np.diff(s), "deaths": np.diff(d), "recovered": np.diff(r)}


def _delay_kernel(mean_days: float, max_days: int = 30) -> np.ndarray:
    """Discretised gamma (shape 2) reporting delay."""
    from scipy.stats import gamma

    edges = np.arange(max_days + 1)
    cdf = gamma.cdf(edges, a=2.0, scale=mean_days / 2.0)
    kernel = np.diff(cdf)
    return kernel / kernel.sum()


def _observe(expected: np.ndarray, start_weekday: int, delay: np.ndarray,
             rng: np.random.Generator, dispersion: float = 30.0) -> np.ndarray:
    """Reporting delay, weekday under-reporting with backlog, negative-binomial noise."""
    delayed = np.convolve(expected, delay)[: len(expected)]
    reported = np.empty_like(delayed)
    backlog = 0.0
    for t, value in enumerate(delayed):
        due = value + backlog
        share = min(1.0, WEEKDAY_REPORTING[(start_weekday + t) % 7])
        reported[t] = due * share
        backlog = due - reported[t]
        if WEEKDAY_REPORTING[(start_weekday + t) % 7] > 1.0:
            # Catch-up days report part of the backlog on top.
            extra = min(backlog, due * (WEEKDAY_REPORTING[(start_weekday + t) % 7] - 1.0) * 4)
            reported[t] += extra
            backlog -= extra
    mean = np.maximum(reported, 0.0)
    p = dispersion / (dispersion + mean + 1e-12)
    return rng.negative_binomial(dispersion, p).astype(np.int64)


def _province_truth(rng: np.random.Generator) -> ProvinceTruth:
    return ProvinceTruth(
        population=int(rng.integers(800_000, 9_000_000)),
        r0_start=float(rng.uniform(2.6, 3.6)),
        r0_end=float(rng.uniform(0.6, 1.1)),
        intervention_day=float(rng.uniform(35, 60)),
        k=float(rng.uniform(0.15, 0.5)),
        incubation_days=MODEL_DEFAULTS["incubation_days"],   # the model's own, so fits can recover R0
        infectious_days=MODEL_DEFAULTS["infectious_days"],
        p_ic=float(rng.uniform(0.03, 0.06)),
        p_cd=float(rng.uniform(0.4, 0.65)),
        beds_per_100k=float(rng.uniform(8.0, 30.0)),
        ascertainment=float(rng.uniform(0.15, 0.4)),
        initial_exposed=int(rng.integers(5, 60)),
        reporting_delay_days=float(rng.uniform(3.0, 7.0)),
    )


def outbreak(regions: dict | list | str | None = None, *, days: int = 180,
             start: str = "2020-02-01", seed: int = 0) -> pd.DataFrame:
    """A synthetic outbreak in the loader schema.

    Each province gets its own SEIRD-ICU outbreak (the course's model, with a logistic
    R0 drop at an intervention) and a
    realistic observation model: only a fraction of infections is confirmed, reports
    arrive after a gamma-distributed delay, weekends under-report and the backlog is
    caught up early in the week, and counts carry negative-binomial noise.

    Parameters
    ----------
    regions : dict, list or str, optional
        ``{region: [province, ...]}``, a list of region names (provinces from the
        defaults or generated) or one name. Defaults to three made-up countries.
    days : int
        Length of the series.
    start : str
        First date (ISO).
    seed : int
        Everything is deterministic for a given seed.

    Returns
    -------
    pandas.DataFrame
        Columns ``date, region, province, confirmed, deaths, recovered`` (cumulative),
        sorted by region, province and date. ``frame.attrs`` holds ``synthetic=True``,
        a ``label``, the ``sha256`` of the frame's CSV form, and ``truth``: the
        generating parameters per province.
    """
    if days < 14:
        raise ParameterError(f"days must be at least 14 for a meaningful outbreak, got {days}")
    if regions is None:
        regions = DEFAULT_REGIONS
    elif isinstance(regions, str):
        regions = {regions: DEFAULT_REGIONS.get(regions, (f"{regions} A", f"{regions} B", f"{regions} C"))}
    elif not isinstance(regions, dict):
        regions = {r: DEFAULT_REGIONS.get(r, (f"{r} A", f"{r} B", f"{r} C")) for r in regions}
    dates = pd.date_range(start, periods=days, freq="D")
    start_weekday = dates[0].weekday()
    frames, truths = [], {}
    for region, provinces in regions.items():
        for province in provinces:
            key = f"{region}/{province}"
            sub_seed = int.from_bytes(hashlib.sha256(f"{seed}:{key}".encode()).digest()[:4], "little")
            rng = np.random.default_rng(sub_seed)
            truth = _province_truth(rng)
            flows = _seird_daily(truth, days)
            delay = _delay_kernel(truth.reporting_delay_days)
            confirmed = _observe(flows["infections"] * truth.ascertainment, start_weekday, delay, rng)
            deaths = _observe(flows["deaths"], start_weekday, _delay_kernel(truth.reporting_delay_days + 4), rng)
            recovered = _observe(flows["recovered"] * truth.ascertainment, start_weekday,
                                 _delay_kernel(truth.reporting_delay_days + 10), rng)
            frames.append(pd.DataFrame({
                "date": dates, "region": region, "province": province,
                "confirmed": np.cumsum(confirmed), "deaths": np.cumsum(deaths),
                "recovered": np.cumsum(recovered),
            }))
            truths[key] = asdict(truth)
    frame = pd.concat(frames, ignore_index=True).sort_values(["region", "province", "date"],
                                                            ignore_index=True)
    csv = frame.to_csv(index=False).encode()
    frame.attrs.update({
        "synthetic": True,
        "label": SYNTHETIC_LABEL,
        "source": f"kit.epi.outbreak(seed={seed}, days={days}, start={start!r})",
        "sha256": hashlib.sha256(csv).hexdigest(),
        "truth": truths,
    })
    return frame


def write_default(path: str | Path = DEFAULT_OUTBREAK) -> Path:
    """Write the default outbreak (seed 0) where the data layer reads it: the counts as
    gzipped CSV and the generating parameters beside it as JSON."""
    import gzip

    from kit.files import atomic_write, write_json

    frame = outbreak(seed=0)
    path = Path(path)
    csv = frame.to_csv(index=False, date_format="%Y-%m-%d").encode()
    atomic_write(path, gzip.compress(csv, mtime=0))
    meta = {k: v for k, v in frame.attrs.items() if k != "sha256"}
    write_json(path.with_name(path.name.replace(".csv.gz", ".json")), dict(sorted(meta.items())))
    return path
