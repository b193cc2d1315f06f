"""Quantile forecasters of weekly incidence, the kind the COVID-19 Forecast Hubs collected.

Every model here follows one contract: ``fit(y, covariates=None)`` on a weekly series
(index: the Saturdays that end the weeks) returns the model, and
``predict_quantiles(horizon=4)`` returns a frame with one row per week ahead and one
column per hub quantile (:data:`kit.forecast.wis.QUANTILES`): non-negative and
non-crossing. ``covariates`` holds other weekly series of the same region (the death
model reads the cases: ``{"case": series}``); a model lists what it reads in ``needs``.

The models
----------
``baseline``
    The hubs' baseline: the median is last week's count, flat; the spread comes from
    the past week-to-week changes and their negatives (so it is symmetric about the last
    value), added up over the weeks ahead, truncated at zero (:class:`HubBaseline`).
``flat``, ``growth``, ``daily_growth``, ``case_lag``
    A point forecast (:class:`Flat`, :class:`GrowthRate`, :class:`DailyGrowth`,
    :class:`CaseLag`) whose quantiles come from its own errors at the weeks before
    (:class:`Calibrated`). ``daily_growth`` and ``case_lag`` also read the 7-day counts
    of the days up to the forecast date (covariates ``case_7d`` / ``death_7d``).
``naive`` ... ``prophet``
    The ten forecasters of :mod:`kit.forecast.models` fitted on the weekly counts, with
    quantiles from their own prediction intervals at the 11 central levels
    (:class:`NativeIntervals`).
``ensemble``
    The median of its members' quantiles, quantile by quantile, as the hubs' ensemble
    (:class:`QuantileEnsemble`); the default.

Which scale
-----------
Measured on the 32 countries of the European hub, 21 forecast dates (2020-09-14 to
2021-02-01), both targets (``benchmarks/forecast_hub.py``; data up to 2021-02-28):

* medians from growth rates (log counts) beat a flat line by 4–7 % in absolute error;
  undamped, a two-week trend carried four weeks ahead missed by orders of magnitude;
* spreads learned from past errors on the log scale blow up their upper tails (an error
  made when a country counted 5 deaths a week becomes a 99 % quantile many times the
  median once it counts 5,000): relative WIS 1.66 on deaths for a flat median; on the
  fourth root of the counts the same model scored 0.95 with 95 % intervals holding 0.90
  of the outcomes, on the square root 0.94 but holding only 0.78;
* growth read from the 7-day counts of the last eight days (up to the Sunday before the
  forecast date) beat growth read from the last two weeks: cases 0.76 against 0.78, and
  as the case forecast inside ``case_lag`` deaths 0.61 against 0.63; the ensembles went
  from 0.79 to 0.76 (cases) and 0.62 to 0.60 (deaths);
* what limits deaths is the case forecast a week ahead: with the true cases of the next
  week in place of forecast ones the deaths ensemble scored 0.52, with all four 0.50.
  Tried on deaths and not kept (ensemble 0.60–0.84 where it was 0.62): the ratio over 2
  or 3 weeks, a trend in the ratio, per-region choice of the delay by recent fit, more
  delays, members weighted by inverse past error, the mean instead of the median, extra
  growth members, a growth regression pooled over countries, spreads ×0.8–1.1;
* the ten forecasters of the daily lessons on weekly counts with their own intervals score
  0.97–1.34 (cases) and 0.99–1.09 (deaths); on log counts 1.4 to thousands.
"""
from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from kit.errors import DataError, ParameterError

from .models import MODEL_CLASSES, Forecaster, SkipModel, check_series
from .params import Estimator
from .wis import INTERVALS, MEDIAN, QUANTILES

HORIZON = 4  # weeks ahead, as the hubs asked


def tidy_quantiles(values: np.ndarray) -> np.ndarray:
    """Quantiles made non-negative and non-crossing (sorted along the last axis);
    NaN or infinite values are an error, not a forecast."""
    values = np.asarray(values, float)
    if not np.isfinite(values).all():
        raise SkipModel("the model gave non-finite quantiles")
    return np.sort(np.maximum(values, 0.0), axis=-1)


def _frame(values: np.ndarray) -> pd.DataFrame:
    frame = pd.DataFrame(tidy_quantiles(values), columns=list(QUANTILES),
                         index=pd.RangeIndex(1, len(values) + 1, name="horizon"))
    frame.columns.name = "quantile"
    return frame


class QuantileForecaster(Estimator):
    """Base: ``fit(y, covariates) -> self``, ``predict_quantiles(horizon) -> DataFrame``.

    A subclass implements ``_fit(values, covariates)`` on numpy arrays and
    ``_quantiles(horizon) -> array (horizon, 23)``.
    """

    name = "quantile"
    needs: tuple = ()
    min_weeks = 3

    def fit(self, y: pd.Series, covariates: dict | None = None) -> "QuantileForecaster":
        y = check_series(y)
        if len(y) < self.min_weeks:
            raise SkipModel(f"needs at least {self.min_weeks} weeks, got {len(y)}")
        if (y < 0).any():
            week = y.index[(y < 0).to_numpy()][0].date()
            raise DataError(f"negative count in the week ending {week}: weekly incidence cannot be negative")
        arrays = {}
        for name in self.needs:
            series = (covariates or {}).get(name)
            if series is None:
                what = f"7-day {name[:-3]} counts of each day" if name.endswith("_7d") else f"weekly {name} counts"
                raise SkipModel(f"needs the {what} of the same region")
            series = series.reindex(y.index)
            if isinstance(series, pd.DataFrame):  # days around each week: gaps allowed, the model copes
                arrays[name] = series.to_numpy(float)
                continue
            if series.isna().any():
                week = series.index[series.isna().to_numpy()][0].date()
                raise SkipModel(f"no {name} count for the week ending {week}")
            arrays[name] = series.to_numpy(float)
        self.y_ = y
        self._fit(y.to_numpy(float), arrays)
        return self

    def predict_quantiles(self, horizon: int = HORIZON) -> pd.DataFrame:
        """One row per week ahead (1..horizon), one column per hub quantile."""
        self._check_fitted("y_")
        if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or horizon < 1:
            raise ParameterError(f"horizon must be a whole number of weeks >= 1, got {horizon!r}")
        return _frame(self._quantiles(int(horizon)))

    def _fit(self, values, covariates):
        raise NotImplementedError

    def _quantiles(self, horizon):
        raise NotImplementedError


class HubBaseline(QuantileForecaster):
    """The hubs' baseline (as in the US and European COVID-19 Forecast Hubs).

    Median: the last week's count at every horizon. Spread: trajectories built by
    drawing ``samples`` sums of ``horizon`` week-to-week changes at random from all the
    past changes *and their negatives*; quantiles of those trajectories, shifted so that
    the median is the last value, truncated at zero. Draws come from a generator seeded
    with ``seed``: the same history gives the same quantiles.
    """

    name = "baseline"
    min_weeks = 2

    def __init__(self, samples: int = 10_000, seed: int = 0):
        self.samples, self.seed = samples, seed

    def _fit(self, values, covariates):
        changes = np.diff(values)
        self.changes_ = np.concatenate([changes, -changes])
        self.last_ = float(values[-1])

    def _quantiles(self, horizon):
        rng = np.random.default_rng(self.seed)
        draws = rng.choice(self.changes_, size=(self.samples, horizon)).cumsum(axis=1)
        q = np.quantile(draws, QUANTILES, axis=0).T  # (horizon, 23) of the change from the last value
        return self.last_ + q - q[:, [MEDIAN]]


# ---------------------------------------------------------------- point forecasts


class PointModel(Estimator):
    """A median forecast from arrays: ``forecast(values, covariates, horizon) -> (horizon,)``."""

    name = "point"
    needs: tuple = ()
    min_weeks = 3

    def forecast(self, values: np.ndarray, covariates: dict, horizon: int) -> np.ndarray:
        raise NotImplementedError


class Flat(PointModel):
    """Next weeks as last week."""

    name = "flat"

    def forecast(self, values, covariates, horizon):
        return np.full(horizon, values[-1])


class GrowthRate(PointModel):
    """The recent growth rate, damped.

    The slope of log(1 + count) over the last ``window`` weeks (least squares), kept
    within ±``cap`` per week, carried forward from the fitted last week with each week's
    growth ``damping`` times the week before's: a wave slows down, and a trend
    extrapolated undamped four weeks ahead missed more than a flat line did.
    """

    name = "growth"

    def __init__(self, window: int = 2, damping: float = 0.5, cap: float = 0.4):
        self.window, self.damping, self.cap = window, damping, cap

    @property
    def min_weeks(self):
        return max(self.window, 2)

    def forecast(self, values, covariates, horizon):
        logs = np.log1p(values[-self.window:])
        t = np.arange(len(logs), dtype=float)
        slope, intercept = np.polyfit(t, logs, 1)
        level = intercept + slope * t[-1]
        growth = np.clip(slope, -self.cap, self.cap) * np.cumsum(self.damping ** np.arange(1, horizon + 1))
        return np.expm1(level + growth)


class DailyGrowth(PointModel):
    """The growth rate of the last eight days, damped as :class:`GrowthRate`'s.

    Reads the 7-day counts ending on each of the eight days from the Sunday that
    starts the last week to the Sunday after it, the day before the forecast date
    (covariate ``"<target>_7d"``, :meth:`kit.forecast.weekly.WeeklyCounts.recent_days`;
    7-day counts carry no weekday pattern). The slope of log(1 + count) over those
    days (least squares) is the weekly growth, read a day later and from eight points
    where :class:`GrowthRate` has two weeks; the fitted line at the last Saturday is
    the level. It is carried forward damped and capped as in :class:`GrowthRate`.
    With fewer than ``min_days`` of those counts known (weekly data, missing days)
    it is :class:`GrowthRate` on the weeks.
    """

    name = "daily_growth"
    min_weeks = 2

    def __init__(self, target: str = "case", damping: float = 0.5, cap: float = 0.4, min_days: int = 4):
        self.target, self.damping, self.cap, self.min_days = target, damping, cap, min_days

    @property
    def needs(self):
        return (f"{self.target}_7d",)

    def forecast(self, values, covariates, horizon):
        from .weekly import RECENT_DAYS

        days = np.asarray(RECENT_DAYS, float)
        counts = covariates[f"{self.target}_7d"][-1]
        known = np.isfinite(counts) & (counts >= 0)
        if known.sum() < self.min_days:
            return GrowthRate(damping=self.damping, cap=self.cap).forecast(values, covariates, horizon)
        slope, level = np.polyfit(days[known], np.log1p(counts[known]), 1)  # level: the fit at the Saturday (day 0)
        growth = np.clip(slope * 7, -self.cap, self.cap) * np.cumsum(self.damping ** np.arange(1, horizon + 1))
        return np.expm1(level + growth)


class CaseLag(PointModel):
    """Deaths from earlier cases: a distributed lag with the recent case fatality ratio.

    (Named ``case_lag``, ``case_lag_1_2`` or ``case_lag_1_3`` after its delays in :data:`OWN_MODELS`.)

    Deaths in week t are ``ratio · Σ_j weights[j] · cases[t − j]``; the ratio is the
    last ``window`` weeks' deaths over their lagged cases (it follows testing and who
    is infected), and cases in the weeks ahead come from ``cases`` (a point model on
    the case series; by default :class:`DailyGrowth`, which reads the days up to the
    forecast date). With the default lags of 0–3 weeks (weights 0.2, 0.4, 0.3, 0.1)
    most of the deaths of the next two weeks are already in the observed cases.
    """

    def __init__(self, weights: tuple = (0.2, 0.4, 0.3, 0.1), window: int = 1, cases: PointModel | None = None):
        self.weights, self.window, self.cases = weights, window, cases

    @property
    def needs(self):
        return ("case", *self._case_model().needs)

    def _case_model(self) -> PointModel:
        return self.cases if self.cases is not None else DailyGrowth("case")

    @property
    def name(self):
        lags = np.flatnonzero(np.asarray(self.weights, float) > 0)
        if tuple(self.weights) == (0.2, 0.4, 0.3, 0.1) or not len(lags):
            return "case_lag"
        return f"case_lag_{lags[0]}_{lags[-1]}"

    @property
    def min_weeks(self):
        return len(self.weights) + self.window

    def forecast(self, values, covariates, horizon):
        w = np.asarray(self.weights, float)
        if (w < 0).any() or w.sum() <= 0:
            raise ParameterError(f"lag weights must be non-negative and not all zero, got {self.weights}")
        w = w / w.sum()
        cases = covariates["case"]
        model = self._case_model()
        ahead = model.forecast(cases, {k: covariates[k] for k in model.needs}, horizon)
        extended = np.concatenate([cases, ahead])
        lags = len(w)

        def lagged(t):  # weighted cases behind the deaths of week index t
            return float(extended[t - lags + 1:t + 1][::-1] @ w)

        n = len(values)
        known = sum(lagged(t) for t in range(n - self.window, n))
        ratio = values[-self.window:].sum() / known if known > 0 else 0.0
        return np.array([ratio * lagged(n - 1 + h) for h in range(1, horizon + 1)])


# ---------------------------------------------------------------- quantiles from past errors


class Calibrated(QuantileForecaster):
    """A point model with quantiles from its own past errors.

    At each of the last ``origins`` weeks inside the training series the point model is
    fitted on the weeks before and forecasts ``horizon`` weeks; its errors on the
    ``power`` scale (count ** power, the fourth root by default) give one spread per
    week ahead: the root mean square error, each past origin weighted by
    0.5 ** (its age in weeks / ``halflife``), so that the spread follows the epidemic's
    current phase. The quantiles are the point forecast on that scale plus the spread
    times Student's t with ``tail_df`` degrees of freedom (scaled to unit variance:
    heavier tails than the normal, as epidemic surprises are), transformed back to counts.
    A week ahead with fewer than three past errors takes the spread of the furthest week
    that has them, grown as the square root of the weeks.

    Past forecasts are remembered by the instance (keyed by the weeks they saw), so a
    backtest that refits one instance forecast date after forecast date computes each
    past origin once; results do not depend on it.
    """

    def __init__(self, point: PointModel, power: float = 0.25, origins: int = 36, halflife: float = 12.0,
                 tail_df: float = 6.0, horizon: int = HORIZON):
        self.point, self.power, self.origins, self.halflife = point, power, origins, halflife
        self.tail_df, self.horizon = tail_df, horizon

    @property
    def name(self):
        return self.point.name

    @property
    def needs(self):
        return self.point.needs

    @property
    def min_weeks(self):
        return self.point.min_weeks + 1

    def _scale(self, v):
        return np.maximum(v, 0.0) ** self.power

    def _point(self, values, covariates, horizon):
        key = hashlib.sha1(values.tobytes() + b"".join(covariates[k].tobytes() for k in sorted(covariates)))
        key = (key.hexdigest(), horizon)
        memo = self.__dict__.setdefault("_memo", {})
        if key not in memo:
            forecast = np.asarray(self.point.forecast(values, covariates, horizon), float)
            memo[key] = np.where(np.isfinite(forecast), forecast, np.nan)
        return memo[key]

    def _fit(self, values, covariates):
        from scipy.stats import t as student

        if not 0 < self.power <= 1:
            raise ParameterError(f"power must be in (0, 1], got {self.power}")
        if not self.halflife > 0:
            raise ParameterError(f"halflife must be a positive number of weeks, got {self.halflife}")
        n, horizon = len(values), self.horizon
        self.median_ = self._point(values, covariates, horizon)
        if not np.isfinite(self.median_).all():
            raise SkipModel("the point forecast is not finite")
        scaled = self._scale(values)
        origins = range(max(self.point.min_weeks, n - self.origins), n)
        errors = np.full((len(origins), horizon), np.nan)
        for i, origin in enumerate(origins):
            past = self._point(values[:origin], {k: v[:origin] for k, v in covariates.items()}, horizon)
            seen = min(horizon, n - origin)
            errors[i, :seen] = scaled[origin:origin + seen] - self._scale(past[:seen])
        weight = 0.5 ** ((n - 1 - np.array(origins, float)) / self.halflife)
        spread = np.full(horizon, np.nan)
        for k in range(horizon):
            ok = np.isfinite(errors[:, k])
            if ok.sum() >= 3:
                spread[k] = np.sqrt(np.sum(weight[ok] * errors[ok, k] ** 2) / weight[ok].sum())
        known = np.flatnonzero(np.isfinite(spread))
        if not len(known):
            raise SkipModel(f"too few weeks to learn its spread from its own past errors ({n} weeks)")
        far = known[-1]
        for k in range(far + 1, horizon):
            spread[k] = spread[far] * np.sqrt((k + 1) / (far + 1))
        self.spread_, self.errors_ = spread, errors
        df = self.tail_df
        self._z = student.ppf(QUANTILES, df) * (np.sqrt((df - 2) / df) if np.isfinite(df) and df > 2 else 1.0)

    def _quantiles(self, horizon):
        if horizon > self.horizon:
            raise ParameterError(f"this model was calibrated {self.horizon} weeks ahead; asked for {horizon}")
        centre = self._scale(self.median_[:horizon])[:, None]
        scaled = centre + self.spread_[:horizon, None] * self._z[None, :]
        return np.maximum(scaled, 0.0) ** (1 / self.power)


class NativeIntervals(QuantileForecaster):
    """One of the ten forecasters of :mod:`kit.forecast.models` on weekly counts, with
    quantiles from its own prediction intervals at the 11 central levels (its mean as the
    median), on the counts (``scale="count"``, the default) or on log(1 + count) (``"log"``).

    On the log scale their normal intervals turn into upper tails tens of times the
    median four weeks ahead (relative WIS 8 to 170 on cases in the development window);
    on the counts they score 0.97 to 1.7.
    """

    def __init__(self, forecaster: Forecaster, scale: str = "count"):
        self.forecaster, self.scale = forecaster, scale

    @property
    def name(self):
        return self.forecaster.name

    @property
    def min_weeks(self):
        return self.forecaster.min_points

    def _fit(self, values, covariates):
        if self.scale not in ("count", "log"):
            raise ParameterError(f"scale must be 'count' or 'log', got {self.scale!r}")
        series = pd.Series(np.log1p(values) if self.scale == "log" else values, index=self.y_.index)
        self.model_ = self.forecaster.clone().fit(series, horizon=HORIZON)

    def _quantiles(self, horizon):
        from scipy.stats import norm

        fc = self.model_.predict(horizon, level=INTERVALS)
        mean = fc["mean"].to_numpy()
        lower = np.array([fc[f"lower_{level:g}"].to_numpy() for level in INTERVALS])  # widest first
        upper = np.array([fc[f"upper_{level:g}"].to_numpy() for level in INTERVALS])
        defined = np.isfinite(lower).all(axis=1) & np.isfinite(upper).all(axis=1)
        if not defined.any():
            raise SkipModel("its intervals are undefined here (too few weeks to calibrate them)")
        # Conformal intervals need 49 calibration scores for a 98 % bound; where the widest
        # levels are undefined they are the widest defined one's, scaled as a normal's would be.
        widest = int(np.flatnonzero(defined)[0])
        z = norm.ppf(0.5 + np.array(INTERVALS) / 200)
        for k in np.flatnonzero(~defined):
            ratio = z[k] / z[widest]
            lower[k] = mean - (mean - lower[widest]) * ratio
            upper[k] = mean + (upper[widest] - mean) * ratio
        q = np.column_stack([*lower, mean, *upper[::-1]])
        return np.expm1(q) if self.scale == "log" else q


class QuantileEnsemble(QuantileForecaster):
    """The median (or mean) of the members' quantiles, quantile by quantile, as the
    hubs built their ensembles. Members that cannot forecast a series are left out
    (``skipped_`` says why); with none left the ensemble is skipped."""

    name = "ensemble"

    def __init__(self, members: tuple = (), combine: str = "median"):
        self.members, self.combine = members, combine

    @property
    def needs(self):
        return ()

    @property
    def min_weeks(self):
        return min((m.min_weeks for m in self.members), default=3)

    def fit(self, y, covariates=None):
        if self.combine not in ("median", "mean"):
            raise ParameterError(f"combine must be 'median' or 'mean', got {self.combine!r}")
        if not self.members:
            raise ParameterError("an ensemble needs at least one member")
        self.y_ = check_series(y)
        self.fitted_, self.skipped_ = [], {}
        for member in self.members:
            try:
                self.fitted_.append(member.fit(y, covariates))
            except SkipModel as exc:
                self.skipped_[member.name] = str(exc)
        if not self.fitted_:
            raise SkipModel("no member could forecast: " + "; ".join(f"{k}: {v}" for k, v in self.skipped_.items()))
        return self

    def _quantiles(self, horizon):
        stack = []
        for member in self.fitted_:
            try:
                stack.append(member.predict_quantiles(horizon).to_numpy())
            except SkipModel as exc:
                self.skipped_[member.name] = str(exc)
        if not stack:
            raise SkipModel("no member gave quantiles")
        return np.median(stack, axis=0) if self.combine == "median" else np.mean(stack, axis=0)


# ---------------------------------------------------------------- by name


# How the own models' spreads are learned, per target (chosen on the development window):
# weekly deaths come with reporting backlogs that land in one week, so heavier tails
# (Student's t with 3 degrees of freedom) and a shorter memory of past errors suit them;
# weekly cases are closer to normal.
CALIBRATION = {"case": {"tail_df": 10.0, "halflife": 12.0}, "death": {"tail_df": 3.0, "halflife": 8.0}}
OWN_MODELS = {
    "baseline": lambda target: HubBaseline(),
    "flat": lambda target: Calibrated(Flat(), **CALIBRATION[target]),
    "growth": lambda target: Calibrated(GrowthRate(), **CALIBRATION[target]),
    "daily_growth": lambda target: Calibrated(DailyGrowth(target), **CALIBRATION[target]),
    # deaths from the cases of the same week and the three before (mean delay 1.3 weeks) ...
    "case_lag": lambda target: Calibrated(CaseLag(), **CALIBRATION[target]),
    # ... of the one and two weeks before (1.5 weeks) ...
    "case_lag_1_2": lambda target: Calibrated(CaseLag(weights=(0, 0.5, 0.5)), **CALIBRATION[target]),
    # ... of one to three weeks before (2 weeks)
    "case_lag_1_3": lambda target: Calibrated(CaseLag(weights=(0, 0.3, 0.4, 0.3)), **CALIBRATION[target]),
}
# The ensemble's members per target, chosen on the development window (module docstring).
ENSEMBLE_MEMBERS = {"case": ("growth", "flat", "daily_growth"),
                    "death": ("case_lag", "case_lag_1_2", "case_lag_1_3", "growth")}
HUB_MODELS = (*OWN_MODELS, *MODEL_CLASSES, "ensemble")  # every name hub_model() knows
DEFAULT_MODEL = "ensemble"
BASELINE = "baseline"


def hub_model(name: str, target: str) -> QuantileForecaster:
    """A fresh quantile forecaster by name for a hub target (``case`` or ``death``).

    Names: ``baseline``, ``flat``, ``growth``, ``case_lag`` (deaths only), ``ensemble``
    and the ten forecasters of :mod:`kit.forecast.models` (``naive`` ... ``prophet``) on
    weekly counts with their own intervals.
    """
    from .weekly import TARGETS

    if target not in TARGETS:
        raise ParameterError(f"target must be one of {', '.join(TARGETS)}, got {target!r}")
    if name == "ensemble":
        members = tuple(hub_model(m, target) for m in ENSEMBLE_MEMBERS[target])
        return QuantileEnsemble(members)
    if name.startswith("case_lag") and target != "death":
        raise SkipModel(f"{name} forecasts deaths from cases; it has no case forecast")
    if name in OWN_MODELS:
        return OWN_MODELS[name](target)
    if name in MODEL_CLASSES:
        return NativeIntervals(MODEL_CLASSES[name]())
    import difflib

    close = difflib.get_close_matches(name, HUB_MODELS, n=2)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise ParameterError(f"unknown hub model {name!r}.{hint} Models: {', '.join(HUB_MODELS)}")


def check_model_names(models) -> list[str]:
    """Model names from ``"a,b"``, a list, ``all`` (every model) or ``default`` (the ensemble);
    the baseline is always first."""
    if isinstance(models, str):
        if models == "all":
            names = list(HUB_MODELS)
        elif models == "default":
            names = [DEFAULT_MODEL]
        else:
            names = [m.strip() for m in models.split(",") if m.strip()]
    else:
        names = list(models)
    for name in names:
        if name not in HUB_MODELS:
            hub_model(name, "case")  # raises with close names
    return [BASELINE] + [n for n in dict.fromkeys(names) if n != BASELINE]
