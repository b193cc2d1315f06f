"""Fitting the SEIRD-ICU model (or SEIR/SEIRD) to observed deaths or cases with lmfit.

The model is fitted to *daily* counts (differences of the cumulative series): daily
counts are far less autocorrelated than cumulative ones, so the standard errors mean
something. Residuals are Pearson-scaled, ``(observed - model) / sqrt(max(model, 1))``,
a Poisson-like weighting; lmfit rescales the covariance by the reduced chi-square,
which absorbs over-dispersion (weekday effects, reporting noise).

Day 0 of the model is ``lead_days`` before the first reported count (or the first
date of the data if that is later): the epidemic had to run for a while before the
first death was reported.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from kit.errors import ConvergenceWarning, FitError, ParameterError

from .integrate import integrate, resolve_parameters
from .models import get_model

# name: (initial guess, min, max); x0 bounds are set from the data length.
DEFAULT_BOUNDS = {
    "r0_start": (3.0, 1.0, 8.0),
    "r0_end": (0.9, 0.1, 4.0),
    "k": (0.5, 0.01, 5.0),
    "x0": (None, 0.0, None),
    "p_cd": (0.5, 0.05, 0.95),
    "reporting_fraction": (0.3, 0.001, 1.0),
    "initial_exposed": (1.0, 0.01, 1e5),
    "ifr": (0.01, 1e-4, 0.1),
}


@dataclass
class FitResult:
    """Estimates, uncertainty and the fitted curve.

    Attributes
    ----------
    parameters : DataFrame
        name, value, stderr, ci_low, ci_high (95 %: on the log scale for positive
        parameters, within their bounds), varied. :meth:`summary` shows it readably.
    curve : DataFrame
        Indexed by date: ``observed`` and ``fitted`` daily counts.
    rmse : float
        Root mean squared error of the daily counts.
    n_points : int
    start : Timestamp
        Date of model day 0.
    """

    model: str
    target: str
    parameters: pd.DataFrame
    curve: pd.DataFrame
    rmse: float
    n_points: int
    start: pd.Timestamp
    all_parameters: dict
    covariance: np.ndarray | None
    varied: list
    aic: float
    bic: float
    reduced_chisqr: float
    lmfit_result: object = field(repr=False, default=None)
    region: str = ""

    def value(self, name: str) -> float:
        return float(self.all_parameters[name])

    def summary(self) -> pd.DataFrame:
        """The parameter table for people: estimate, standard error and 95 % interval as
        readable numbers (no scientific notation), fitted parameters first."""
        rows = [{"parameter": r["name"], "estimate": _figure(r["value"]), "std. error": _figure(r["stderr"]),
                 "95 % interval": f"{_figure(r['ci_low'])} – {_figure(r['ci_high'])}" if r["varied"] else "",
                 "fitted": "yes" if r["varied"] else "fixed"} for r in self.parameters.to_dict(orient="records")]
        return pd.DataFrame(rows).set_index("parameter")

    def band(self, n: int = 300, q: tuple = (0.025, 0.975), seed: int = 0, days: int | None = None) -> pd.DataFrame:
        """Ensemble band of the daily target from parameter uncertainty.

        Draws ``n`` parameter sets from the fitted multivariate normal (within bounds),
        integrates them in one ensemble call and returns quantiles per date.

        Returns
        -------
        DataFrame
            Indexed by date: ``low``, ``median``, ``high``.
        """
        days = days or len(self.curve) + (self.curve.index[0] - self.start).days
        if self.covariance is None:
            raise FitError("the fit has no covariance matrix (parameters not identifiable), so no band")
        rng = np.random.default_rng(seed)
        centre = np.array([self.all_parameters[k] for k in self.varied])
        draws = rng.multivariate_normal(centre, self.covariance, size=n, method="svd")
        params = {k: v for k, v in self.all_parameters.items()}
        for j, name in enumerate(self.varied):
            _, lo, hi = _bounds(name, days)
            params[name] = np.clip(draws[:, j], lo, hi)
        daily = _daily_target(self.model, self.target, params, days)
        low, med, high = np.quantile(daily, [q[0], 0.5, q[1]], axis=1)
        index = pd.date_range(self.start + pd.Timedelta(days=1), periods=days - 1, freq="D", name="date")
        frame = pd.DataFrame({"low": low, "median": med, "high": high}, index=index)
        return frame.loc[frame.index >= self.curve.index[0]]

    def simulation(self, days: int | None = None):
        """The fitted model simulated from day 0 (dated), e.g. to show R0(t) or C(t)."""
        from .integrate import simulate

        days = days or len(self.curve) + (self.curve.index[0] - self.start).days
        params = {k: v for k, v in self.all_parameters.items() if k != "reporting_fraction"}
        return simulate(self.model, days, start=str(self.start.date()), **params)

    def to_json(self) -> dict:
        """``{"parameters": {name: {"value", "stderr"}}, "rmse", "n_points", ...}``."""
        params = {r["name"]: {"value": _num(r["value"]), "stderr": _num(r["stderr"])}
                  for r in self.parameters.to_dict(orient="records")}
        return {"model": self.model, "target": self.target, "parameters": params,
                "rmse": _num(self.rmse), "n_points": self.n_points, "start": self.start.date().isoformat()}


def _num(x):
    return None if x is None or not np.isfinite(x) else float(x)


def _interval(name: str, value: float, se: float, days: int) -> tuple[float, float]:
    """95 % interval. A parameter that must be positive (R0, a count, a steepness, a
    probability) gets it on the log scale, value·exp(±1.96·se/value), so a count is never
    given a negative lower end; every interval stays within the parameter's bounds."""
    _, lo, hi = _bounds(name, days)
    if not np.isfinite(se):
        return np.nan, np.nan
    if lo is not None and lo > 0 and value > 0:
        spread = np.exp(1.96 * se / value)
        low, high = value / spread, value * spread
    else:
        low, high = value - 1.96 * se, value + 1.96 * se
    return max(low, lo) if lo is not None else low, min(high, hi) if hi is not None else high


def _figure(x: float) -> str:
    if not np.isfinite(x):
        return "–"
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.4g}"


def _bounds(name: str, days: int):
    guess, lo, hi = DEFAULT_BOUNDS[name]
    if name == "x0":
        guess, hi = days / 2.0, float(days)
    return guess, lo, hi


def _daily_target(model: str, target: str, params: dict, days: int) -> np.ndarray:
    """Daily modelled deaths (ΔD) or reported cases (reporting_fraction × new infections)."""
    params = dict(params)
    reporting = params.pop("reporting_fraction", 1.0)
    y = integrate(model, days, params)
    m = get_model(model)
    if target == "deaths":
        return np.diff(y[:, m.compartments.index("D"), :], axis=0)
    return -np.diff(y[:, 0, :], axis=0) * np.asarray(reporting)


def prepare_series(observed: pd.Series, target: str = "deaths", lead_days: int = 30,
                   start: str | None = None, end: str | None = None) -> tuple[pd.Series, pd.Timestamp]:
    """Validate a cumulative series and turn it into the daily counts a fit uses.

    Returns
    -------
    (daily counts indexed by date, date of model day 0)

    Raises
    ------
    FitError
        For NaNs (naming the dates), a series with nothing reported, or too few points.
    """
    if not isinstance(observed, pd.Series) or not isinstance(observed.index, pd.DatetimeIndex):
        raise FitError("observed must be a pandas Series of cumulative counts indexed by date")
    series = observed.sort_index().astype(float)
    if series.index.has_duplicates:
        dup = series.index[series.index.duplicated()][:3]
        raise FitError(f"dates appear twice in the {target} series: {', '.join(d.date().isoformat() for d in dup)}")
    if start is not None:
        series = series.loc[pd.Timestamp(start):]
    if end is not None:
        series = series.loc[: pd.Timestamp(end)]
    missing = series.index[series.isna()]
    if len(missing):
        shown = ", ".join(d.date().isoformat() for d in missing[:5])
        raise FitError(f"{len(missing)} missing value(s) in the {target} series (e.g. {shown}); fill or drop "
                       f"them first (e.g. series.interpolate()), a fit will not guess them")
    if (series < 0).any():
        bad = series.index[series < 0][0].date().isoformat()
        raise FitError(f"negative cumulative {target} on {bad}")
    decreases = int((series.diff() < 0).sum())
    if decreases:
        warnings.warn(f"the cumulative {target} series decreases on {decreases} day(s) (corrections); "
                      f"fitting its running maximum instead", UserWarning, stacklevel=3)
        series = series.cummax()
    if series.empty or series.iloc[-1] <= 0:
        raise FitError(f"no {target} reported in the selected dates: nothing to fit yet")
    first = series.index[series > 0][0]
    day0 = max(series.index[0], first - pd.Timedelta(days=lead_days))
    if day0 == series.index[0] and start is None and series.iloc[0] > 0:
        warnings.warn(f"the series starts with {series.iloc[0]:.0f} {target} already reported; the model "
                      f"starts on its first date, which may be too late", UserWarning, stacklevel=3)
    series = series.loc[day0:]
    daily = series.diff().iloc[1:]
    return daily, day0


DEFAULT_VARY = ("r0_start", "r0_end", "k", "x0", "initial_exposed")


def fit(observed: pd.Series, *, model: str = "seird-icu", target: str = "deaths",
        vary: tuple = DEFAULT_VARY, fit_p_cd: bool = False,
        reporting_fraction: float | None = None, lead_days: int = 30, start: str | None = None,
        end: str | None = None, starts: int = 3, max_evaluations: int = 3000, **fixed) -> FitResult:
    """Fit a compartmental model to a cumulative series of deaths or confirmed cases.

    Parameters
    ----------
    observed : Series
        Cumulative counts indexed by date (what the loaders return).
    model : str
        ``seird-icu`` (default), ``seird`` or ``seir`` (``seir`` only with ``target="confirmed"``).
    target : {"deaths", "confirmed"}
    vary : tuple of str
        Parameters to estimate: R0 before and after the intervention, its steepness and
        day, and how many were exposed on day 0 (a count nobody knows) by default.
    fit_p_cd : bool
        Also estimate p_CD (ICU model).
    reporting_fraction : float, optional
        For ``target="confirmed"``: the share of infections that are confirmed. Estimated
        when not given.
    lead_days : int
        Model day 0 is this many days before the first reported count.
    start, end : str, optional
        Date window of the data.
    starts : int
        Number of starting values for x0 (the best fit wins; guards against local minima).
    max_evaluations : int
        Model evaluations allowed per start (each takes well under a millisecond).
    **fixed
        Other model parameters (``population`` is required; see :func:`kit.epi.simulate`).

    Returns
    -------
    FitResult
    """
    import lmfit

    if target not in ("deaths", "confirmed"):
        raise FitError(f"target must be 'deaths' or 'confirmed', got {target!r}")
    m = get_model(model)
    if target == "deaths" and "D" not in m.compartments:
        raise FitError(f"model {m.name!r} has no deaths compartment; use seird or seird-icu")
    vary = list(vary)
    if fit_p_cd:
        if "p_cd" not in {p.name for p in m.parameters}:
            raise FitError(f"model {m.name!r} has no p_cd")
        vary.append("p_cd")
    if target == "confirmed" and reporting_fraction is None:
        vary.append("reporting_fraction")
    daily, day0 = prepare_series(observed, target, lead_days, start, end)
    n_points = len(daily)
    if n_points < len(vary) + 5:
        raise FitError(f"only {n_points} daily points to fit {len(vary)} parameters; need at least "
                       f"{len(vary) + 5} (choose a longer date range)")
    days = n_points + 1
    try:
        base, _ = resolve_parameters(m, {k: v for k, v in fixed.items() if k != "reporting_fraction"})
    except ParameterError as exc:
        raise FitError(str(exc)) from None
    base = {k: float(v[0]) for k, v in base.items()}
    if target == "confirmed":
        base["reporting_fraction"] = reporting_fraction if reporting_fraction is not None else 0.3
    y_obs = daily.to_numpy()

    def residual(params):
        values = {**base, **{k: params[k].value for k in vary}}
        modelled = _daily_target(m.name, target, values, days)[:, 0]
        return (y_obs - modelled) / np.sqrt(np.maximum(modelled, 1.0))

    best = None
    x0_guesses = np.linspace(0.3, 0.7, starts) * days if starts > 1 else [days / 2.0]
    for x0_guess in x0_guesses:
        params = lmfit.Parameters()
        for name in vary:
            guess, lo, hi = _bounds(name, days)
            if name == "x0":
                guess = float(x0_guess)
            elif name in base and name not in ("population",):
                guess = float(np.clip(base[name], lo, hi))
            params.add(name, value=guess, min=lo, max=hi)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            result = lmfit.minimize(residual, params, method="leastsq", nan_policy="raise",
                                    max_nfev=max_evaluations)
        if best is None or result.chisqr < best.chisqr:
            best = result
    if not best.success or best.nfev >= max_evaluations:
        warnings.warn(f"the fit stopped after {best.nfev} evaluations without converging: "
                      f"{best.message}; treat the estimates with care", ConvergenceWarning, stacklevel=2)
    estimates = {**base, **{k: best.params[k].value for k in vary}}
    fitted = _daily_target(m.name, target, estimates, days)[:, 0]
    rows = []
    for name in vary:
        p = best.params[name]
        se = p.stderr if p.stderr is not None else np.nan
        low, high = _interval(name, p.value, se, days)
        rows.append({"name": name, "value": p.value, "stderr": se, "ci_low": low, "ci_high": high, "varied": True})
    for name in ("population", "p_ic", "p_cd", "beds_per_100k", "incubation_days", "infectious_days",
                 "initial_exposed", "reporting_fraction", "ifr"):
        if name in estimates and name not in vary:
            rows.append({"name": name, "value": estimates[name], "stderr": np.nan, "ci_low": np.nan,
                         "ci_high": np.nan, "varied": False})
    table = pd.DataFrame(rows)
    covariance = best.covar if getattr(best, "covar", None) is not None else None
    if covariance is None:
        warnings.warn("lmfit could not estimate standard errors: some parameters are not identifiable "
                      "from these data (try fixing k or a longer series)", UserWarning, stacklevel=2)
    curve = pd.DataFrame({"observed": y_obs, "fitted": fitted}, index=daily.index)
    return FitResult(
        model=m.name, target=target, parameters=table, curve=curve,
        rmse=float(np.sqrt(np.mean((y_obs - fitted) ** 2))), n_points=n_points, start=day0,
        all_parameters=estimates, covariance=covariance, varied=vary, aic=float(best.aic),
        bic=float(best.bic), reduced_chisqr=float(best.redchi), lmfit_result=best,
    )


ICU_ONLY = ("p_ic", "p_cd", "beds_per_100k")


def fit_region(frame: pd.DataFrame, region: str, *, target: str = "deaths", province: str | None = None,
               model: str = "seird-icu", start: str | None = None, end: str | None = None, lead_days: int = 30,
               fit_p_cd: bool = False, **params) -> FitResult:
    """Fit the model to one region of a tidy frame: the one path ``kit epi fit`` and lesson 02 share.

    The region's known parameters (population, age-weighted p_IC and p_CD, ICU beds from the
    demography table, or a synthetic region's population) fill in what ``params`` leaves out.

    Parameters
    ----------
    frame : DataFrame
        Tidy counts (:func:`kit.data.load_timeseries`).
    region, province : str
    **params
        Model parameters held fixed (e.g. ``population``), overriding the known ones.

    Raises
    ------
    FitError
        When the population is unknown (pass ``population=``) or the data cannot be fitted.
    """
    from kit.data import select_series

    from .demography import region_parameters

    series = select_series(frame, region, target, province)
    known = {**region_parameters(series.attrs["region"], frame, province), **params}
    if "population" not in known:
        raise FitError(f"population of {region!r}{' / ' + province if province else ''} is unknown: "
                       f"pass population=N (-p population=N)")
    if model != "seird-icu":
        known = {k: v for k, v in known.items() if k not in ICU_ONLY}
    result = fit(series, model=model, target=target, start=start, end=end, lead_days=lead_days,
                 fit_p_cd=fit_p_cd, **known)
    result.region = series.attrs["region"] + (f" / {province}" if province else "")
    return result
