"""Forecasters behind one small interface.

Every forecaster is built with its options only, learns in ``fit(y)`` (``y`` a daily
series indexed by date) and returns itself, and answers ``predict(h, level=(80, 95))``
with a frame indexed by the forecast dates: ``mean`` and, per level L, the prediction
interval ``lower_L`` / ``upper_L`` (``lower_95``, ``upper_95``...). ``predict`` never
refits. The evaluator, not the model, cuts the data, so no model can see the future.

Intervals are the model's own where it has them (naive, drift, Holt/ETS, the ARIMA
family, Prophet). The others (linear trend, SVR) get **split-conformal** intervals per
horizon step (locally weighted split conformal, Lei et al. 2018). During ``fit`` the
model is refitted at ``CALIBRATION_ORIGINS`` origins inside the training series,
``CALIBRATION_SPACING`` days apart (closer on short series), each forecasting the next
``horizon`` days. Each absolute error is divided by the *difficulty* of its forecast:
how far the forecast departs from the local trend (the last value plus the mean change
of the last 7 days per step) plus the local scale (the mean absolute day-to-day change
over the last ``LOCAL_SCALE_DAYS``) times the step. A trend fitted to a whole epidemic
drifts away from where the series is heading, and the band must say so. Each step's
scores are divided by their mean (the step's scale), the scores of all steps are
pooled, and the half-width at step k is the difficulty of the forecast at hand times
the step's scale times the conformal quantile of the pooled scores (the
⌈(m+1)·L/100⌉-th smallest of m). Calibration sees only the training series, never the
test period. Origins spread over months, not days: errors from neighbouring origins are
nearly the same, and six adjacent ones covered only half of the held-out values over
the JHU countries (``benchmarks/forecast_many_series.py``). With fewer than
``MIN_CALIBRATION_ORIGINS`` origins, or beyond the days the origins could check, or with
too few scores for a level, that interval is NaN (the comparator scores it as missing,
it never fails).
"""
from __future__ import annotations

import functools
import warnings

import numpy as np
import pandas as pd

from kit.errors import DataError, ParameterError

from .params import Estimator

LEVELS = (80, 95)  # prediction-interval levels (%) unless others are asked for
CALIBRATION_ORIGINS = 12  # refits inside the training series (each a full fit: SVR pays 12 more)
MIN_CALIBRATION_ORIGINS = 3
CALIBRATION_HORIZON = 28  # days calibrated when fit() is not told the horizon
CALIBRATION_SPACING = 14  # days between calibration origins (fewer on short series)
LOCAL_SCALE_DAYS = 14  # the window of the local scale that conformal errors are divided by


def check_levels(level) -> tuple:
    """Interval levels as a sorted tuple of numbers strictly between 0 and 100."""
    values = (level,) if isinstance(level, (int, float, np.number)) else tuple(level)
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float, np.number)) or not 0 < v < 100:
            raise ParameterError(f"interval levels are percentages strictly between 0 and 100, got {v!r}")
    return tuple(sorted({float(v) for v in values}))


def level_name(level: float) -> str:
    """80.0 -> "80", 97.5 -> "97.5" (column names and JSON keys)."""
    return f"{level:g}"


def _z(level: float) -> float:
    from scipy.stats import norm

    return float(norm.ppf(0.5 + level / 200.0))


class SkipModel(Exception):
    """The model cannot be fitted on this series (too short, constant, ...): the reason."""


def series_step(index: pd.DatetimeIndex) -> pd.Timedelta:
    """The spacing of a series: one day, or one week for weekly counts (each point a
    week's total, as the forecast hubs' targets); a daily series is the default."""
    # nanoseconds as integers: index arithmetic is slow, and this runs for every fit
    gaps = np.diff(index.to_numpy(dtype="datetime64[ns]").astype(np.int64))
    if len(gaps) and not (gaps % pd.Timedelta(weeks=1).value).any():
        return pd.Timedelta(weeks=1)
    return pd.Timedelta(days=1)


def _future_index(y: pd.Series, h: int) -> pd.DatetimeIndex:
    step = series_step(y.index)
    return pd.date_range(y.index[-1] + step, periods=h, freq=f"{step.days}D", name="date")


def _frame(y, h, mean, bands: dict, levels: tuple) -> pd.DataFrame:
    """The documented shape: ``mean`` then ``lower_L``, ``upper_L`` per level (NaN where a
    model has no interval at that level)."""
    columns = {"mean": np.asarray(mean, float)}
    for level in levels:
        lo, hi = bands.get(level, (None, None))
        columns[f"lower_{level_name(level)}"] = np.full(h, np.nan) if lo is None else np.asarray(lo, float)
        columns[f"upper_{level_name(level)}"] = np.full(h, np.nan) if hi is None else np.asarray(hi, float)
    return pd.DataFrame(columns, index=_future_index(y, h))


class Forecaster(Estimator):
    """Base class: ``fit(y) -> self``, ``predict(h, level) -> DataFrame[mean, lower_L, upper_L...]``.

    A subclass implements ``_fit(y)`` and ``_predict(h, levels) -> (mean, {level: (lower,
    upper)})``; with ``native_intervals = False`` it returns no bands and gets conformal ones.
    """

    name = "base"
    min_points = 3
    native_intervals = True

    def fit(self, y: pd.Series, horizon: int | None = None) -> "Forecaster":
        """Learn from ``y``. ``horizon``: the longest forecast that will be asked (conformal
        models calibrate up to it; default ``CALIBRATION_HORIZON``)."""
        y = check_series(y)
        if len(y) < self.min_points:
            raise SkipModel(f"needs at least {self.min_points} points, got {len(y)}")
        self.y_ = y
        self._fit(y)
        if not self.native_intervals:
            self._calibrate(y, int(horizon or CALIBRATION_HORIZON))
        return self

    def predict(self, h: int, level=LEVELS) -> pd.DataFrame:
        self._check_fitted("y_")
        if isinstance(h, bool) or not isinstance(h, (int, np.integer)) or h < 1:
            raise ParameterError(f"horizon must be a whole number of days >= 1, got {h!r}")
        levels = check_levels(level)
        mean, bands = self._predict(int(h), levels)
        if not self.native_intervals:
            bands = self._conformal_bands(np.asarray(mean, float), levels)
        return _frame(self.y_, int(h), mean, bands, levels)

    def _calibrate(self, y: pd.Series, horizon: int) -> None:
        """Errors per step from refits at the last origins inside ``y`` (split conformal)."""
        n = len(y)
        values = y.to_numpy(float)
        self.scale_floor_ = max(1e-12, 0.01 * float(np.mean(np.abs(np.diff(values))))) if n > 1 else 1e-12
        reach = min(horizon, n - self.min_points - MIN_CALIBRATION_ORIGINS + 1)  # days every origin can check
        self.calibration_errors_ = np.full((0, max(horizon, 1)), np.nan)
        if reach < 1:
            return
        last = n - reach
        spacing = max(1, min(CALIBRATION_SPACING, (last - self.min_points) // (CALIBRATION_ORIGINS - 1)))
        origins = [t for t in range(last - spacing * (CALIBRATION_ORIGINS - 1), last + 1, spacing)
                   if t >= self.min_points]
        clone = self.clone()
        rows = []
        for t in origins:
            train = y.iloc[:t]
            try:
                clone.y_ = train
                clone._fit(train)
                mean, _ = clone._predict(reach, ())
            except Exception:  # an origin the model cannot fit adds no errors  # noqa: BLE001
                continue
            row = np.full(horizon, np.nan)
            mean = np.asarray(mean, float)
            row[:reach] = np.abs(values[t:t + reach] - mean) / self._difficulty(values[:t], mean)
            rows.append(row)
        if len(rows) >= MIN_CALIBRATION_ORIGINS:
            self.calibration_errors_ = np.vstack(rows)

    def _difficulty(self, history: np.ndarray, mean: np.ndarray) -> np.ndarray:
        """How hard each step of a forecast ``mean`` from the end of ``history`` is, in the
        series' units: its distance from the local trend plus the local scale (mean
        absolute day-to-day change over the last ``LOCAL_SCALE_DAYS``, at least 1 % of the
        training series' mean change: a run of zeros has no scale) times the step."""
        changes = np.diff(history[-LOCAL_SCALE_DAYS - 1:])
        scale = max(float(np.mean(np.abs(changes))) if len(changes) else 0.0, self.scale_floor_)
        steps = np.arange(1, len(mean) + 1)
        slope = float(np.mean(changes[-7:])) if len(changes) else 0.0
        local = history[-1] + slope * steps
        return np.abs(mean - local) + scale * steps

    def _conformal_bands(self, mean: np.ndarray, levels: tuple) -> dict:
        """Locally weighted split conformal: the scores (errors over their forecast's
        difficulty) of each step are divided by their mean (the step's scale), pooled, and
        the conformal quantile of the pooled scores times the step's scale times the
        difficulty of this forecast is the half-width."""
        h = len(mean)
        errors = self.calibration_errors_[:, :h]
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            scale = np.nanmean(errors, axis=0) if len(errors) else np.full(h, np.nan)
        scale = np.concatenate([scale, np.full(h - len(scale), np.nan)])
        scores = (errors / np.where(scale[:errors.shape[1]] > 0, scale[:errors.shape[1]], np.nan)).ravel()
        scores = np.sort(scores[np.isfinite(scores)])
        bands = {}
        for level in levels:
            rank = int(np.ceil((len(scores) + 1) * level / 100.0))
            q = scores[rank - 1] if len(scores) and rank <= len(scores) else np.nan
            half = q * scale * self._difficulty(self.y_.to_numpy(float), mean)
            bands[level] = (mean - half, mean + half)
        return bands

    def _fit(self, y):
        raise NotImplementedError

    def _predict(self, h, levels):
        raise NotImplementedError


def check_series(y: pd.Series) -> pd.Series:
    """A daily (or weekly) float series without gaps, duplicates or NaNs (clear errors otherwise)."""
    if not isinstance(y, pd.Series) or not isinstance(y.index, pd.DatetimeIndex):
        raise DataError("a forecaster needs a pandas Series indexed by date")
    if len(y) == 0:
        raise DataError("the series is empty: nothing to forecast")
    if not pd.api.types.is_numeric_dtype(y):
        raise DataError(f"the series holds {y.dtype} values; forecasting needs numbers")
    if np.isinf(y.to_numpy(dtype=float)).any():
        first = y.index[np.isinf(y.to_numpy(dtype=float))][0].date()
        raise DataError(f"infinite value in the series on {first}")
    if y.index.has_duplicates:
        dup = y.index[y.index.duplicated()][0].date()
        raise DataError(f"duplicated date {dup} in the series; aggregate or drop duplicates first")
    if y.isna().any():
        first = y.index[y.isna()][0].date()
        raise DataError(f"{int(y.isna().sum())} missing value(s) in the series (first on {first}); "
                         f"fill them (e.g. .interpolate()) before forecasting")
    y = y.sort_index().astype(float)
    step = series_step(y.index)
    full = pd.date_range(y.index[0], y.index[-1], freq=f"{step.days}D")
    if len(full) != len(y):
        unit, every = ("week", "weekly") if step.days == 7 else ("day", "daily")
        raise DataError(f"the series has {len(full) - len(y)} missing {unit}(s) between {y.index[0].date()} "
                         f"and {y.index[-1].date()}; reindex to {every} and fill first")
    y.index = full
    return y


class Naive(Forecaster):
    """Last value carried forward; interval z·sigma·sqrt(h) from one-step changes."""

    name = "naive"
    min_points = 2

    def _fit(self, y):
        steps = np.diff(y.to_numpy())
        self.sigma_ = float(np.std(steps, ddof=1)) if len(steps) > 1 else 0.0

    def _predict(self, h, levels):
        last = self.y_.iloc[-1]
        width = self.sigma_ * np.sqrt(np.arange(1, h + 1))
        return np.full(h, last), {L: (last - _z(L) * width, last + _z(L) * width) for L in levels}


class Drift(Forecaster):
    """Straight line through the first and last observation, extended (Hyndman's drift)."""

    name = "drift"
    min_points = 3

    def _fit(self, y):
        values = y.to_numpy()
        n = len(values)
        self.slope_ = (values[-1] - values[0]) / (n - 1)
        resid = np.diff(values) - self.slope_
        self.sigma_ = float(np.std(resid, ddof=1))
        self.n_ = n

    def _predict(self, h, levels):
        steps = np.arange(1, h + 1)
        mean = self.y_.iloc[-1] + self.slope_ * steps
        width = self.sigma_ * np.sqrt(steps * (1 + steps / (self.n_ - 1)))
        return mean, {L: (mean - _z(L) * width, mean + _z(L) * width) for L in levels}


class LinearTrend(Forecaster):
    """Ordinary least squares on time (the course's linear regression); conformal intervals."""

    name = "linear"
    min_points = 3
    native_intervals = False  # its residuals are autocorrelated: conformal intervals

    def _fit(self, y):
        from sklearn.linear_model import LinearRegression

        t = np.arange(len(y), dtype=float)[:, None]
        self.model_ = LinearRegression().fit(t, y.to_numpy())

    def _predict(self, h, levels):
        t = np.arange(len(self.y_), len(self.y_) + h, dtype=float)[:, None]
        return self.model_.predict(t), {}


class PolynomialSVR(Forecaster):
    """Support vector regression with a polynomial kernel on time (the course's SVR).

    Time and values are scaled to [0, 1] first; without that the polynomial kernel
    is numerically useless on day numbers in the hundreds. Conformal intervals.

    The kernel (gamma * t * s + coef0)^degree of a single input is the dot product of
    ``degree + 1`` explicit features sqrt(binom(degree, k) * gamma^k * coef0^(degree-k)) * t^k,
    so the model is solved in the primal: half the squared weights plus ``C`` times the
    epsilon-insensitive loss, minimised over ``degree`` weights and the intercept with
    L-BFGS on the loss smoothed within ``SMOOTHING`` of the tube's edge (the constant
    feature is absorbed by the intercept, which an SVR does not penalise). Same model as
    scikit-learn's ``SVR(kernel="poly", gamma="scale")``: forecasts within 0.2 % of the
    series' range of libsvm run to tol=1e-6, and 100 times faster than libsvm (about 3 ms
    instead of 300 ms a fit on 400 days, which the conformal calibration pays 12 more times).
    """

    name = "svr"
    min_points = 10
    native_intervals = False
    SMOOTHING = 1e-4  # in units of the scaled series (its range is 1)

    def __init__(self, degree: int = 3, C: float = 1.0, epsilon: float = 0.01):
        self.degree, self.C, self.epsilon = degree, C, epsilon

    def _features(self, t: np.ndarray) -> np.ndarray:
        from math import comb

        return np.column_stack([np.sqrt(comb(self.degree, k) * self.gamma_ ** k) * t ** k
                                for k in range(1, self.degree + 1)])

    def _fit(self, y):
        from scipy.optimize import minimize

        n = len(y)
        self.t_scale_ = float(n)
        lo, hi = float(y.min()), float(y.max())
        self.y_lo_, self.y_span_ = lo, (hi - lo) or 1.0
        t = np.arange(n) / self.t_scale_
        self.gamma_ = 1.0 / float(np.var(t))  # scikit-learn's gamma="scale" for one feature
        features = self._features(t)
        target = (y.to_numpy() - lo) / self.y_span_
        C, eps, delta = self.C, self.epsilon, self.SMOOTHING

        def objective(v):
            w, b = v[:-1], v[-1]
            r = target - features @ w - b
            excess = np.abs(r) - eps
            inside, edge = excess <= 0, excess < delta
            loss = np.where(inside, 0.0, np.where(edge, excess ** 2 / (2 * delta), excess - delta / 2))
            slope = np.where(inside, 0.0, np.where(edge, excess / delta, 1.0)) * np.sign(r)
            return 0.5 * w @ w + C * loss.sum(), np.r_[w - C * features.T @ slope, -C * slope.sum()]

        solution = minimize(objective, np.zeros(self.degree + 1), jac=True, method="L-BFGS-B",
                            options={"maxiter": 5000, "gtol": 1e-10, "ftol": 1e-14})
        self.weights_, self.intercept_ = solution.x[:-1], float(solution.x[-1])

    def _predict(self, h, levels):
        n = len(self.y_)
        scaled = self._features(np.arange(n, n + h) / self.t_scale_) @ self.weights_ + self.intercept_
        return scaled * self.y_span_ + self.y_lo_, {}


class Holt(Forecaster):
    """Holt's linear trend (additive ETS with a trend), intervals from the state space model."""

    name = "holt"
    min_points = 10

    def __init__(self, damped: bool = False):
        self.damped = damped

    def _fit(self, y):
        from statsmodels.tsa.exponential_smoothing.ets import ETSModel

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.model_ = ETSModel(y, error="add", trend="add", damped_trend=self.damped).fit(disp=False)

    def _predict(self, h, levels):
        pred = self.model_.get_prediction(start=len(self.y_), end=len(self.y_) + h - 1)
        bands = {}
        for level in levels:
            summary = pred.summary_frame(alpha=1 - level / 100)
            bands[level] = (summary["pi_lower"].to_numpy(), summary["pi_upper"].to_numpy())
        return pred.predicted_mean, bands


def choose_d(y: pd.Series, max_d: int = 2, alpha: float = 0.05) -> int:
    """Differences needed for stationarity by the augmented Dickey-Fuller test."""
    from statsmodels.tsa.stattools import adfuller

    series = y.to_numpy(float)
    for d in range(max_d + 1):
        if len(series) < 10 or np.ptp(series) == 0:
            return d
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # rank-deficient lags on runs of zeros: the test still answers
                p = adfuller(series, autolag="AIC", result_object=False)[1]
        except (ValueError, np.linalg.LinAlgError):
            return d
        if p < alpha:
            return d
        series = np.diff(series)
    return max_d


def orders_from_acf_pacf(y: pd.Series, max_lag: int = 5, d: int | None = None) -> tuple[int, int, int]:
    """(p, d, q) read off the correlograms, as the course teaches.

    ``d`` from the ADF test; ``p`` = last lag up to ``max_lag`` whose partial
    autocorrelation of the differenced series is outside the 95 % band, ``q`` the same
    for the autocorrelation. ar, ma and arima all ask this of the same training series
    (the ADF test costs more than their fits): answers are remembered per series.
    """
    return _orders(np.asarray(y, float).tobytes(), max_lag, d)


@functools.lru_cache(maxsize=64)
def _orders(values: bytes, max_lag: int, d: int | None) -> tuple[int, int, int]:
    from statsmodels.tsa.stattools import acf, pacf

    series = np.frombuffer(values, dtype=float)
    d = choose_d(pd.Series(series)) if d is None else d
    z = np.diff(series, n=d) if d else series
    if len(z) < 3 * max_lag or np.ptp(z) == 0:
        return 1, d, 0
    band = _z(95) / np.sqrt(len(z))
    a = acf(z, nlags=max_lag, fft=True)[1:]
    pa = pacf(z, nlags=max_lag, method="ywm")[1:]
    sig_p = [i + 1 for i, v in enumerate(pa) if abs(v) > band]
    sig_q = [i + 1 for i, v in enumerate(a) if abs(v) > band]
    return (max(sig_p) if sig_p else 0), d, (max(sig_q) if sig_q else 0)


ARIMA_ENGINES = ("kit", "statsmodels")  # the kit's fast estimator, or the seed notebooks' libraries
ENGINE_ALIASES = {"seed": "statsmodels"}  # the earlier name ("seed" also means a random seed)


def check_engine(engine: str, who: str = "engine") -> str:
    """An ARIMA engine name (``seed`` is read as ``statsmodels``), else a clear error."""
    engine = ENGINE_ALIASES.get(engine, engine)
    if engine not in ARIMA_ENGINES:
        raise ParameterError(f"{who} must be one of {', '.join(ARIMA_ENGINES)}, got {engine!r}")
    return engine


class _ARIMAFamily(Forecaster):
    """ARIMA models with orders chosen by a subclass.

    ``engine="kit"`` (default) follows R's auto.arima (:mod:`kit.forecast.arima`): exact
    likelihood up to 150 points, conditional sum of squares beyond (10-30 times faster,
    the same coefficients to about two decimals on the JHU series), bands from the larger
    of the fitted and the recent innovation variance; ``engine="statsmodels"``: statsmodels'
    exact state-space likelihood and its textbook bands (pmdarima for auto_arima), as the
    seed notebooks did. Either way a constant (the mean, or the drift of the levels) is
    estimated when d <= 1.
    """

    min_points = 15

    def __init__(self, engine: str = "kit"):
        self.engine = check_engine(engine, f"{self.name}: engine")

    def _order(self, y):
        raise NotImplementedError

    def _fit(self, y):
        if np.ptp(y.to_numpy()) == 0:
            raise SkipModel("the series is constant")
        self.order_ = self._order(y)
        from .arima import fit, fit_exact

        try:
            self.model_ = (fit(y.to_numpy(), self.order_) if self.engine == "kit"
                           else fit_exact(y.to_numpy(), self.order_, recent_variance=False))
        except ValueError as exc:
            raise SkipModel(str(exc)) from None

    def _predict(self, h, levels):
        mean, se = self.model_.forecast(h)
        return mean, {L: (mean - _z(L) * se, mean + _z(L) * se) for L in levels}


class AR(_ARIMAFamily):
    """Autoregressive model on the differenced series: ARIMA(p, d, 0), p from the PACF."""

    name = "ar"

    def _order(self, y):
        p, d, _ = orders_from_acf_pacf(y)
        return (max(p, 1), d, 0)


class MA(_ARIMAFamily):
    """Moving-average model on the differenced series: ARIMA(0, d, q), q from the ACF."""

    name = "ma"

    def _order(self, y):
        _, d, q = orders_from_acf_pacf(y)
        return (0, d, max(q, 1))


class ARIMA(_ARIMAFamily):
    """ARIMA(p, d, q) with orders given or read from the ACF/PACF."""

    name = "arima"

    def __init__(self, order: tuple | None = None, engine: str = "kit"):
        super().__init__(engine)
        self.order = order

    def _order(self, y):
        return tuple(self.order) if self.order is not None else orders_from_acf_pacf(y)


class AutoARIMA(_ARIMAFamily):
    """Orders by AIC in the stepwise search of Hyndman & Khandakar (d by KPSS tests,
    p, q <= 5, a constant when d <= 1).

    ``engine="kit"`` (default): the kit's search (:func:`kit.forecast.arima.auto_arima`),
    tens of milliseconds a series; ``engine="statsmodels"``: pmdarima's ``auto_arima`` with the
    seed notebook's settings, 2-7 s a series (exact likelihood for every candidate).
    """

    name = "auto_arima"
    min_points = 20

    def _fit(self, y):
        if np.ptp(y.to_numpy()) == 0:
            raise SkipModel("the series is constant")
        if self.engine == "kit":
            from .arima import auto_arima

            try:
                self.model_ = auto_arima(y.to_numpy())
            except ValueError as exc:
                raise SkipModel(str(exc)) from None
            self.order_ = self.model_.order
            return
        import pmdarima

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.model_ = pmdarima.auto_arima(y.to_numpy(), seasonal=False, stepwise=True, max_p=5, max_q=5,
                                              max_d=2, suppress_warnings=True, error_action="ignore")
        self.order_ = self.model_.order

    def _predict(self, h, levels):
        if self.engine == "kit":
            return super()._predict(h, levels)
        mean = self.model_.predict(n_periods=h)
        bands = {}
        for level in levels:
            _, ci = self.model_.predict(n_periods=h, return_conf_int=True, alpha=1 - level / 100)
            bands[level] = (ci[:, 0], ci[:, 1])
        return mean, bands


class Prophet(Forecaster):
    """Facebook's Prophet with weekly seasonality (reporting weekday effects) on daily series."""

    name = "prophet"
    min_points = 14

    def _fit(self, y):
        import logging

        for name in ("prophet", "prophet.plot", "cmdstanpy"):  # quiet before and after import
            logging.getLogger(name).setLevel(logging.CRITICAL)
        from prophet import Prophet as _Prophet

        logging.getLogger("cmdstanpy").disabled = True
        frame = pd.DataFrame({"ds": y.index, "y": y.to_numpy()})
        daily = series_step(y.index).days == 1  # a weekday effect exists only in daily counts
        self.model_ = _Prophet(weekly_seasonality=daily, yearly_seasonality=False, daily_seasonality=False,
                               interval_width=0.95, uncertainty_samples=200)
        self.model_.fit(frame)

    def _predict(self, h, levels):
        future = pd.DataFrame({"ds": _future_index(self.y_, h)})
        samples_kept, self.model_.uncertainty_samples = self.model_.uncertainty_samples, 0
        try:  # the mean without Prophet's own interval sampling, which would be done twice
            mean = self.model_.predict(future)["yhat"].to_numpy()
        finally:
            self.model_.uncertainty_samples = samples_kept
        if not levels:
            return mean, {}
        # the model's own simulated futures give every level from one set of samples
        samples = self.model_.predictive_samples(future)["yhat"]
        bands = {L: (np.quantile(samples, 0.5 - L / 200, axis=1), np.quantile(samples, 0.5 + L / 200, axis=1))
                 for L in levels}
        return mean, bands


MODEL_CLASSES = {cls.name: cls for cls in (Naive, Drift, LinearTrend, PolynomialSVR, Holt, AR, MA, ARIMA,
                                           AutoARIMA, Prophet)}
BASELINES = ("naive", "drift")


def make_models(models="default", engine: str = "kit") -> dict[str, Forecaster]:
    """Forecasters by name; the naive and drift baselines are always included.

    Parameters
    ----------
    models : "default", "all", a comma-separated string or a list of names or Forecaster objects
        ``default`` and ``all``: every model.
    engine : "kit" or "statsmodels" (``seed``, the earlier name, is accepted)
        How the ARIMA family (ar, ma, arima, auto_arima) is estimated: the kit's engine
        (:mod:`kit.forecast.arima`, default), or statsmodels and pmdarima as in the seed
        notebooks (10-300 times slower on long series).
    """
    engine = check_engine(engine)
    if isinstance(models, str):
        if models in ("all", "default"):
            names = list(MODEL_CLASSES)
        else:
            names = [m.strip() for m in models.split(",") if m.strip()]
    else:
        names = list(models)
    out: dict[str, Forecaster] = {}
    for item in names:
        if isinstance(item, Forecaster):
            out[item.name] = item
            continue
        if item not in MODEL_CLASSES:
            import difflib

            close = difflib.get_close_matches(item, list(MODEL_CLASSES), n=2)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise ParameterError(f"unknown model {item!r}.{hint} Models: {', '.join(MODEL_CLASSES)}")
        cls = MODEL_CLASSES[item]
        out[item] = cls(engine=engine) if issubclass(cls, _ARIMAFamily) else cls()
    for base in reversed(BASELINES):
        if base not in out:
            out = {base: MODEL_CLASSES[base](), **out}
    return out
