"""Forecasters behind one small interface.

Every forecaster is built with its options only, learns in ``fit(y)`` (``y`` a daily
series indexed by date) and returns itself, and answers ``predict(h)`` with a frame of
``mean`` and, where the model has them, ``lower``/``upper`` 95 % prediction intervals.
``predict`` never refits. The evaluator, not the model, cuts the data, so no model
can see the future.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from kit.errors import DataError, ParameterError

Z95 = 1.959963984540054


class SkipModel(Exception):
    """The model cannot be fitted on this series (too short, constant, ...): the reason."""


def _future_index(y: pd.Series, h: int) -> pd.DatetimeIndex:
    return pd.date_range(y.index[-1] + pd.Timedelta(days=1), periods=h, freq="D", name="date")


def _frame(y, h, mean, lower=None, upper=None) -> pd.DataFrame:
    index = _future_index(y, h)
    nan = np.full(h, np.nan)
    return pd.DataFrame({"mean": np.asarray(mean, float),
                         "lower": nan if lower is None else np.asarray(lower, float),
                         "upper": nan if upper is None else np.asarray(upper, float)}, index=index)


class Forecaster:
    """Base class: ``fit(y) -> self``, ``predict(h) -> DataFrame[mean, lower, upper]``."""

    name = "base"
    min_points = 3

    def fit(self, y: pd.Series) -> "Forecaster":
        y = check_series(y)
        if len(y) < self.min_points:
            raise SkipModel(f"needs at least {self.min_points} points, got {len(y)}")
        self.y_ = y
        self._fit(y)
        return self

    def predict(self, h: int) -> pd.DataFrame:
        if not hasattr(self, "y_"):
            raise RuntimeError(f"{self.name}: call fit() before predict()")
        if h < 1:
            raise ParameterError(f"horizon must be a whole number of days >= 1, got {h!r}")
        return self._predict(h)

    def _fit(self, y):
        raise NotImplementedError

    def _predict(self, h):
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}()"


def check_series(y: pd.Series) -> pd.Series:
    """A daily float series without gaps, duplicates or NaNs (clear errors otherwise)."""
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
    full = pd.date_range(y.index[0], y.index[-1], freq="D")
    if len(full) != len(y):
        raise DataError(f"the series has {len(full) - len(y)} missing day(s) between {y.index[0].date()} "
                         f"and {y.index[-1].date()}; reindex to daily and fill first")
    y.index = full
    return y


class Naive(Forecaster):
    """Last value carried forward; interval sigma·sqrt(h) from one-step changes."""

    name = "naive"
    min_points = 2

    def _fit(self, y):
        steps = np.diff(y.to_numpy())
        self.sigma_ = float(np.std(steps, ddof=1)) if len(steps) > 1 else 0.0

    def _predict(self, h):
        last = self.y_.iloc[-1]
        spread = Z95 * self.sigma_ * np.sqrt(np.arange(1, h + 1))
        return _frame(self.y_, h, np.full(h, last), last - spread, last + spread)


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

    def _predict(self, h):
        steps = np.arange(1, h + 1)
        mean = self.y_.iloc[-1] + self.slope_ * steps
        spread = Z95 * self.sigma_ * np.sqrt(steps * (1 + steps / (self.n_ - 1)))
        return _frame(self.y_, h, mean, mean - spread, mean + spread)


class LinearTrend(Forecaster):
    """Ordinary least squares on time (the course's linear regression)."""

    name = "linear"
    min_points = 3

    def _fit(self, y):
        from sklearn.linear_model import LinearRegression

        t = np.arange(len(y), dtype=float)[:, None]
        self.model_ = LinearRegression().fit(t, y.to_numpy())
        resid = y.to_numpy() - self.model_.predict(t)
        self.sigma_ = float(np.std(resid, ddof=2))

    def _predict(self, h):
        t = np.arange(len(self.y_), len(self.y_) + h, dtype=float)[:, None]
        mean = self.model_.predict(t)
        return _frame(self.y_, h, mean, mean - Z95 * self.sigma_, mean + Z95 * self.sigma_)


class PolynomialSVR(Forecaster):
    """Support vector regression with a polynomial kernel on time (the course's SVR).

    Time and values are scaled to [0, 1] first; without that the polynomial kernel
    is numerically useless on day numbers in the hundreds.
    """

    name = "svr"
    min_points = 10

    def __init__(self, degree: int = 3, C: float = 1.0, epsilon: float = 0.01):
        self.degree, self.C, self.epsilon = degree, C, epsilon

    def _fit(self, y):
        from sklearn.svm import SVR

        n = len(y)
        self.t_scale_ = float(n)
        lo, hi = float(y.min()), float(y.max())
        self.y_lo_, self.y_span_ = lo, (hi - lo) or 1.0
        t = (np.arange(n) / self.t_scale_)[:, None]
        target = (y.to_numpy() - lo) / self.y_span_
        self.model_ = SVR(kernel="poly", degree=self.degree, C=self.C, epsilon=self.epsilon, coef0=1.0,
                          gamma="scale").fit(t, target)

    def _predict(self, h):
        n = len(self.y_)
        t = (np.arange(n, n + h) / self.t_scale_)[:, None]
        return _frame(self.y_, h, self.model_.predict(t) * self.y_span_ + self.y_lo_)


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

    def _predict(self, h):
        pred = self.model_.get_prediction(start=len(self.y_), end=len(self.y_) + h - 1)
        summary = pred.summary_frame(alpha=0.05)
        return _frame(self.y_, h, summary["mean"], summary["pi_lower"], summary["pi_upper"])


def choose_d(y: pd.Series, max_d: int = 2, alpha: float = 0.05) -> int:
    """Differences needed for stationarity by the augmented Dickey-Fuller test."""
    from statsmodels.tsa.stattools import adfuller

    series = y.to_numpy(float)
    for d in range(max_d + 1):
        if len(series) < 10 or np.ptp(series) == 0:
            return d
        try:
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
    for the autocorrelation.
    """
    from statsmodels.tsa.stattools import acf, pacf

    d = choose_d(y) if d is None else d
    z = np.diff(y.to_numpy(float), n=d) if d else y.to_numpy(float)
    if len(z) < 3 * max_lag or np.ptp(z) == 0:
        return 1, d, 0
    band = Z95 / np.sqrt(len(z))
    a = acf(z, nlags=max_lag, fft=True)[1:]
    pa = pacf(z, nlags=max_lag, method="ywm")[1:]
    sig_p = [i + 1 for i, v in enumerate(pa) if abs(v) > band]
    sig_q = [i + 1 for i, v in enumerate(a) if abs(v) > band]
    return (max(sig_p) if sig_p else 0), d, (max(sig_q) if sig_q else 0)


class _StatsmodelsARIMA(Forecaster):
    min_points = 15

    def _order(self, y):
        raise NotImplementedError

    def _fit(self, y):
        from statsmodels.tsa.arima.model import ARIMA

        if np.ptp(y.to_numpy()) == 0:
            raise SkipModel("the series is constant")
        self.order_ = self._order(y)
        trend = "t" if self.order_[1] == 1 else ("n" if self.order_[1] > 1 else "c")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.model_ = ARIMA(y.to_numpy(), order=self.order_, trend=trend).fit()

    def _predict(self, h):
        fc = self.model_.get_forecast(h)
        ci = fc.conf_int(alpha=0.05)
        return _frame(self.y_, h, fc.predicted_mean, ci[:, 0], ci[:, 1])


class AR(_StatsmodelsARIMA):
    """Autoregressive model on the differenced series: ARIMA(p, d, 0), p from the PACF."""

    name = "ar"

    def _order(self, y):
        p, d, _ = orders_from_acf_pacf(y)
        return (max(p, 1), d, 0)


class MA(_StatsmodelsARIMA):
    """Moving-average model on the differenced series: ARIMA(0, d, q), q from the ACF."""

    name = "ma"

    def _order(self, y):
        _, d, q = orders_from_acf_pacf(y)
        return (0, d, max(q, 1))


class ARIMA(_StatsmodelsARIMA):
    """ARIMA(p, d, q) with orders given or read from the ACF/PACF."""

    name = "arima"

    def __init__(self, order: tuple | None = None):
        self.order = order

    def _order(self, y):
        return tuple(self.order) if self.order is not None else orders_from_acf_pacf(y)


class AutoARIMA(Forecaster):
    """pmdarima's stepwise auto_arima (orders by AIC).

    The slow one: about 7 s per fit on a 400-day series, three quarters of the whole
    comparator's time (benchmarks/forecast_many_series.py), so it runs only when asked
    for (``models="all"`` or by name).
    """

    name = "auto_arima"
    min_points = 20
    slow = True

    def _fit(self, y):
        import pmdarima

        if np.ptp(y.to_numpy()) == 0:
            raise SkipModel("the series is constant")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.model_ = pmdarima.auto_arima(y.to_numpy(), seasonal=False, stepwise=True, max_p=5, max_q=5,
                                              max_d=2, suppress_warnings=True, error_action="ignore")

    def _predict(self, h):
        mean, ci = self.model_.predict(n_periods=h, return_conf_int=True, alpha=0.05)
        return _frame(self.y_, h, mean, ci[:, 0], ci[:, 1])


class Prophet(Forecaster):
    """Facebook's Prophet with weekly seasonality (reporting weekday effects)."""

    name = "prophet"
    min_points = 14

    def _fit(self, y):
        import logging

        for name in ("prophet", "prophet.plot", "cmdstanpy"):  # quiet before and after import
            logging.getLogger(name).setLevel(logging.CRITICAL)
        from prophet import Prophet as _Prophet

        logging.getLogger("cmdstanpy").disabled = True
        frame = pd.DataFrame({"ds": y.index, "y": y.to_numpy()})
        self.model_ = _Prophet(weekly_seasonality=True, yearly_seasonality=False, daily_seasonality=False,
                               interval_width=0.95, uncertainty_samples=200)
        self.model_.fit(frame)

    def _predict(self, h):
        future = pd.DataFrame({"ds": _future_index(self.y_, h)})
        out = self.model_.predict(future)
        return _frame(self.y_, h, out["yhat"], out["yhat_lower"], out["yhat_upper"])


MODEL_CLASSES = {cls.name: cls for cls in (Naive, Drift, LinearTrend, PolynomialSVR, Holt, AR, MA, ARIMA,
                                           AutoARIMA, Prophet)}
BASELINES = ("naive", "drift")
SLOW_MODELS = tuple(name for name, cls in MODEL_CLASSES.items() if getattr(cls, "slow", False))


def make_models(models="default") -> dict[str, Forecaster]:
    """Forecasters by name; the naive and drift baselines are always included.

    Parameters
    ----------
    models : "default", "all", a comma-separated string or a list of names or Forecaster objects
        ``default`` (alias ``fast``) is every model but the slow one (auto_arima), which is
        opt-in: ``all`` or its name. Leaving it out changes no other model's result.
    """
    if isinstance(models, str):
        if models == "all":
            names = list(MODEL_CLASSES)
        elif models in ("default", "fast"):
            names = [n for n in MODEL_CLASSES if n not in SLOW_MODELS]
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
        out[item] = MODEL_CLASSES[item]()
    for base in reversed(BASELINES):
        if base not in out:
            out = {base: MODEL_CLASSES[base](), **out}
    return out
