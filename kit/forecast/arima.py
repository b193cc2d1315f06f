"""ARIMA estimated fast enough for every country at once, the way R's auto.arima does.

statsmodels fits an ARIMA through the exact state-space likelihood: right, but 50-400 ms
a fit, and pmdarima's stepwise search runs a dozen or more of them (2-6 s a series). The
comparator fits ARIMA-family models about 4,000 times over the JHU countries, so the kit
follows R's ``auto.arima``: series of up to ``APPROXIMATE_ABOVE`` (150) points get the
exact likelihood (statsmodels), longer ones the conditional sum of squares of R's
``arima(method = "CSS")``:

* the series is differenced ``d`` times; with ``d <= 1`` a constant (the mean, or the
  drift of the levels) is estimated with the ARMA part;
* the one-step residuals come from ``scipy.signal.lfilter`` (compiled code), conditional
  on the first ``p`` values, and the parameters minimise their sum of squares with
  Levenberg-Marquardt (``scipy.optimize.least_squares``, exact Jacobian), started from
  Hannan-Rissanen regressions (zeros would often end in a local optimum near a unit root);
* the AR part is stationary and the MA part invertible by construction: both are
  parametrised through partial autocorrelations (Jones 1980, what statsmodels does);
* forecasts follow the ARMA recursion (future shocks zero) and are integrated back;
  the intervals come from the psi-weights of the whole ARIMA polynomial,
  var(h) = s^2 * sum_{j<h} psi_j^2 (parameter uncertainty ignored, like statsmodels
  and pmdarima), with one change to the textbook: s^2 is the larger of the fitted
  innovation variance and the mean squared residual of the last ``RECENT_DAYS``. An
  epidemic's day-to-day noise grows with it, a variance averaged over quiet months
  makes bands too narrow, and across the JHU countries the textbook 95 % bands held
  only 82-85 % of the held-out values (91-93 % with the recent variance;
  ``benchmarks/forecast_many_series.py``).

:func:`auto_arima` is the Hyndman-Khandakar stepwise search of ``auto.arima`` and
pmdarima: ``d`` by repeated KPSS tests, then (p, q, constant) moved one step at a time
from four starting models while the AIC improves. Every candidate of one search is
conditioned on the same first ``max_p`` values, so their AICs compare like with like.
Unlike R, the chosen model is not refitted by exact likelihood afterwards (that one fit
would cost as much as the whole search).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

APPROXIMATE_ABOVE = 150  # longer series are fitted by conditional sum of squares (R's rule)
RECENT_DAYS = 56  # the residuals whose variance the bands use when it exceeds the fitted one


def band_variance(sigma2: float, residuals: np.ndarray) -> float:
    """The innovation variance of the bands: the fitted one, or the mean squared residual
    of the last ``RECENT_DAYS`` where that is larger (see the module)."""
    recent = np.asarray(residuals, float)[-RECENT_DAYS:]
    return max(float(sigma2), float(np.mean(recent ** 2)) if len(recent) else 0.0)


def _partial_to_coefficients(x: np.ndarray, jacobian: bool = False):
    """Unconstrained numbers -> coefficients of a stationary AR polynomial (Durbin-Levinson
    on the partial autocorrelations tanh(x), all inside (-1, 1)); with ``jacobian``, also
    d coefficients / d x, carried through the same recursion."""
    r = np.tanh(x)
    k_all = len(r)
    phi = np.zeros(k_all)
    jac = np.zeros((k_all, k_all))  # d phi / d r
    for k in range(k_all):
        previous = phi[:k].copy()
        phi[k] = r[k]
        phi[:k] = previous - r[k] * previous[::-1]
        if jacobian:
            jac_prev = jac[:k].copy()
            jac[:k] = jac_prev - r[k] * jac_prev[::-1]
            jac[:k, k] -= previous[::-1]
            jac[k, k] = 1.0
    if jacobian:
        return phi, jac * (1.0 - r ** 2)
    return phi


def _coefficients_to_partial(phi: np.ndarray) -> np.ndarray:
    """The inverse of :func:`_partial_to_coefficients` (reverse Durbin-Levinson); a
    polynomial that is not stationary is shrunk towards zero until it is."""
    for shrink in (1.0, 0.9, 0.7, 0.5, 0.0):
        current = np.asarray(phi, float) * shrink ** np.arange(1, len(phi) + 1)
        r = np.zeros(len(current))
        for k in range(len(current) - 1, -1, -1):
            r[k] = current[k]
            if abs(r[k]) >= 0.99:
                break
            current = (current[:k] + r[k] * current[:k][::-1]) / (1.0 - r[k] ** 2)
        else:
            return np.arctanh(r)
    return np.zeros(len(phi))


def _hannan_rissanen(z: np.ndarray, p: int, q: int) -> tuple[np.ndarray, np.ndarray]:
    """Start values for ARMA(p, q) on a centred series: a long autoregression estimates the
    shocks, then z is regressed on its own lags and the lagged shocks (Hannan & Rissanen
    1982, the start statsmodels uses). Least squares only: microseconds."""
    n = len(z)

    def lags(series, count, first):
        return np.column_stack([series[first - i:n - i] for i in range(1, count + 1)])

    shocks = np.zeros(n)
    long_order = min(max(p + q + 1, int(np.ceil(10 * np.log10(n)))), n // 4) if q else 0
    if q:
        long_lags = lags(z, long_order, long_order)
        coef = np.linalg.lstsq(long_lags, z[long_order:], rcond=None)[0]
        shocks[long_order:] = z[long_order:] - long_lags @ coef
    first = max(p, q) + long_order
    if p + q == 0 or n - first < 2 * (p + q) + 5:
        return np.zeros(p), np.zeros(q)
    design = np.column_stack(([lags(z, p, first)] if p else []) + ([lags(shocks, q, first)] if q else []))
    coef = np.linalg.lstsq(design, z[first:], rcond=None)[0]
    return coef[:p], coef[p:]


def _polynomial(coefficients: np.ndarray, sign: float) -> np.ndarray:
    """1 + sign * (c1 B + c2 B^2 + ...) as lfilter wants it."""
    return np.concatenate(([1.0], sign * coefficients))


def _difference_polynomial(d: int) -> np.ndarray:
    poly = np.array([1.0])
    for _ in range(d):
        poly = np.convolve(poly, [1.0, -1.0])
    return poly


@dataclass
class ArimaFit:
    """A fitted ARIMA(p, d, q): coefficients, constant, innovation variance, AIC, and what
    forecasting needs (the last values of every difference, residuals)."""

    order: tuple[int, int, int]
    ar: np.ndarray
    ma: np.ndarray
    constant: float | None  # mean of the d-times differenced series; None without one
    sigma2: float
    aic: float
    nobs: int
    _centred: np.ndarray  # the differenced series minus the constant
    _residuals: np.ndarray  # aligned with _centred (zeros before the first p values)
    _tails: tuple  # last value of y, of diff(y), ... (one per difference)

    def forecast(self, h: int) -> tuple[np.ndarray, np.ndarray]:
        """Mean forecast and its standard error for steps 1..h."""
        p, d, q = self.order
        x = list(self._centred[-p:]) if p else []
        e = list(self._residuals[-q:]) if q else []
        future = np.empty(h)
        for k in range(h):
            value = sum(self.ar[i] * x[-1 - i] for i in range(p)) + sum(self.ma[j] * e[-1 - j] for j in range(q))
            future[k] = value
            if p:
                x.append(value)
            if q:
                e.append(0.0)
        mean = future + (self.constant or 0.0)
        for tail in reversed(self._tails):  # integrate back, innermost difference first
            mean = tail + np.cumsum(mean)
        impulse = np.zeros(h)
        impulse[0] = 1.0
        from scipy.signal import lfilter

        full_ar = np.convolve(_polynomial(self.ar, -1.0), _difference_polynomial(d))
        psi = lfilter(_polynomial(self.ma, 1.0), full_ar, impulse)
        return mean, np.sqrt(band_variance(self.sigma2, self._residuals[p:]) * np.cumsum(psi ** 2))


class _ConditionalSquares:
    """Residuals of an ARMA(p, q) with optional mean on a standardised series ``z``, and
    their Jacobian in closed form (every column is one more pass of the same MA filter)."""

    def __init__(self, z: np.ndarray, p: int, q: int, constant: bool, condition: int):
        self.z, self.p, self.q, self.constant, self.skip = z, p, q, constant, condition - p
        self._last = (None, None)

    def parts(self, params):
        """Coefficients, centred series and residuals at ``params`` (the last answer is
        kept: Levenberg-Marquardt asks for the Jacobian where it just asked for residuals)."""
        from scipy.signal import lfilter

        key = params.tobytes()
        if self._last[0] == key:
            return self._last[1]
        p, q = self.p, self.q
        ar, ar_jac = _partial_to_coefficients(params[:p], jacobian=True)
        ma, ma_jac = _partial_to_coefficients(params[p:p + q], jacobian=True)
        ma, ma_jac = -ma, -ma_jac
        x = self.z - params[p + q] if self.constant else self.z
        a = lfilter(_polynomial(ar, -1.0), [1.0], x)[p:] if p else x
        e = lfilter([1.0], _polynomial(ma, 1.0), a) if q else a
        self._last = (key, (ar, ma, x, e, ar_jac, ma_jac))
        return self._last[1]

    def residuals(self, params):
        return self.parts(params)[3][self.skip:]

    def jacobian(self, params):
        from scipy.signal import lfilter

        p, q = self.p, self.q
        ar, ma, x, e, ar_jac, ma_jac = self.parts(params)
        n = len(e)
        raw = np.zeros((p + q + int(self.constant), n))
        for i in range(1, p + 1):
            raw[i - 1] = -x[p - i:p - i + n]
        for j in range(1, q + 1):
            raw[p + j - 1, j:] = -e[:n - j]
        if self.constant:
            raw[-1] = -(1.0 - ar.sum())
        if q:
            raw = lfilter([1.0], _polynomial(ma, 1.0), raw, axis=1)
        jac = raw.T[self.skip:]
        if p:
            jac[:, :p] = jac[:, :p] @ ar_jac
        if q:
            jac[:, p:p + q] = jac[:, p:p + q] @ ma_jac
        return jac


@dataclass
class ExactArimaFit:
    """An ARIMA fitted by statsmodels' exact likelihood, behind the same ``aic`` / ``forecast``."""

    order: tuple[int, int, int]
    aic: float
    result: object
    recent_variance: bool = True  # False: statsmodels' textbook bands (the seed engine)

    def forecast(self, h: int) -> tuple[np.ndarray, np.ndarray]:
        fc = self.result.get_forecast(h)
        mean, se = np.asarray(fc.predicted_mean, float), np.asarray(fc.se_mean, float)
        sigma2 = float(self.result.params[-1])
        if not self.recent_variance or sigma2 <= 0:
            return mean, se
        residuals = np.asarray(self.result.resid, float)[self.order[1]:]  # the first d are diffuse
        return mean, se * np.sqrt(band_variance(sigma2, residuals) / sigma2)


def fit_exact(y, order: tuple[int, int, int], constant: bool | None = None, recent_variance: bool = True
              ) -> ExactArimaFit:
    """ARIMA(p, d, q) by statsmodels' exact state-space likelihood (a drift as a linear
    trend in the levels when d == 1, a mean when d == 0); ``recent_variance=False`` keeps
    statsmodels' own bands."""
    from statsmodels.tsa.arima.model import ARIMA

    p, d, q = (int(v) for v in order)
    constant = (d <= 1) if constant is None else bool(constant)
    if constant and d > 1:
        raise ValueError("a constant with d > 1 is a polynomial trend; not fitted")
    trend = ("c" if d == 0 else "t") if constant else "n"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = ARIMA(np.asarray(y, float), order=(p, d, q), trend=trend).fit()
    return ExactArimaFit((p, d, q), float(result.aic), result, recent_variance)


def fit(y, order: tuple[int, int, int], constant: bool | None = None, condition: int | None = None):
    """ARIMA(p, d, q): exact likelihood up to ``APPROXIMATE_ABOVE`` points, conditional sum
    of squares beyond (``condition`` is passed on to :func:`fit_arima`)."""
    if len(y) <= APPROXIMATE_ABOVE:
        return fit_exact(y, order, constant)
    return fit_arima(y, order, constant, condition)


def fit_arima(y, order: tuple[int, int, int], constant: bool | None = None, condition: int | None = None
              ) -> ArimaFit:
    """ARIMA(p, d, q) by conditional sum of squares.

    ``constant``: estimate a mean/drift (default: when ``d <= 1``). ``condition``: how many
    first values of the differenced series the residuals are conditioned on (default
    ``p``; a search passes its largest ``p`` so that every candidate's AIC counts the
    same points). Raises ``ValueError`` when the series is too short for the order.
    """
    from scipy.optimize import least_squares

    p, d, q = (int(v) for v in order)
    y = np.asarray(y, float)
    constant = (d <= 1) if constant is None else bool(constant)
    condition = p if condition is None else max(int(condition), p)
    tails = []
    w = y
    for _ in range(d):
        tails.append(w[-1])
        w = np.diff(w)
    k = p + q + int(constant)
    if len(w) - condition < k + 2:
        raise ValueError(f"ARIMA{(p, d, q)} needs more than {condition + k + 2 + d} points, got {len(y)}")
    # scale-free estimation: cumulative counts reach 1e8, their differences 1e5
    centre = float(np.mean(w)) if constant else 0.0
    spread = float(np.std(w)) or 1.0
    problem = _ConditionalSquares((w - centre) / spread, p, q, constant, condition)
    params = np.zeros(k)
    if p + q:
        ar0, ma0 = _hannan_rissanen(problem.z, p, q)
        params[:p], params[p:p + q] = _coefficients_to_partial(ar0), _coefficients_to_partial(-ma0)
    if k:
        # near a unit root the surface is flat in the transformed coordinates: past 40
        # iterations per parameter, or below a 1e-6 relative change of the sum of squares,
        # the fit no longer changes what is forecast (the same orders in 31 of 32 countries
        # as at 1e-8, in two thirds of the time)
        params = least_squares(problem.residuals, params, jac=problem.jacobian, method="lm",
                               ftol=1e-6, xtol=1e-6, max_nfev=40 * (k + 1)).x
    ar, ma, x, e = problem.parts(params)[:4]
    kept = e[problem.skip:]
    n = len(kept)
    sigma2_scaled = max(float(np.mean(kept ** 2)), 1e-12)
    loglik = -0.5 * n * (np.log(2 * np.pi * sigma2_scaled) + 1) - n * np.log(spread)
    mean = centre + spread * params[p + q] if constant else None
    return ArimaFit(order=(p, d, q), ar=ar, ma=ma, constant=mean, sigma2=sigma2_scaled * spread ** 2,
                    aic=float(-2 * loglik + 2 * (k + 1)), nobs=n, _centred=x * spread,
                    _residuals=np.concatenate((np.zeros(p), e * spread)), _tails=tuple(tails))


def kpss_differences(y, max_d: int = 2, alpha: float = 0.05) -> int:
    """Differences needed by repeated KPSS tests (level stationarity, short lag
    truncation trunc(3 sqrt(n) / 13), as pmdarima's ``ndiffs`` and R's ``ndiffs``)."""
    from statsmodels.tsa.stattools import kpss

    w = np.asarray(y, float)
    for d in range(max_d + 1):
        if d == max_d or len(w) < 10 or np.ptp(w) == 0:
            return d
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # p-values outside the table are clipped, with a warning
            p_value = kpss(w, regression="c", nlags=max(1, int(3 * np.sqrt(len(w)) / 13)))[1]
        if p_value >= alpha:
            return d
        w = np.diff(w)
    return max_d


def auto_arima(y, max_p: int = 5, max_q: int = 5, max_d: int = 2) -> ArimaFit:
    """The stepwise search of Hyndman & Khandakar (R's ``auto.arima``, pmdarima's default).

    ``d`` from KPSS tests; start from ARIMA(2,d,2), (0,d,0), (1,d,0), (0,d,1) (with a
    constant when ``d <= 1``, plus (0,d,0) without); then, from the best so far, try p and
    q one up or down (alone and together) and the constant on or off, moving to the first
    neighbour with a lower AIC, until none is lower.
    """
    y = np.asarray(y, float)
    d = kpss_differences(y, max_d)
    allow_constant = d <= 1
    fits: dict = {}

    def aic(p, q, c):
        if not (0 <= p <= max_p and 0 <= q <= max_q) or (c and not allow_constant):
            return np.inf
        if (p, q, c) not in fits:
            try:
                fits[(p, q, c)] = fit(y, (p, d, q), constant=c, condition=max_p)
            except (ValueError, np.linalg.LinAlgError):
                fits[(p, q, c)] = None
        candidate = fits[(p, q, c)]
        return candidate.aic if candidate is not None and np.isfinite(candidate.aic) else np.inf

    starts = [(2, 2, allow_constant), (0, 0, allow_constant), (1, 0, allow_constant), (0, 1, allow_constant)]
    if allow_constant:
        starts.append((0, 0, False))
    best = min(starts, key=lambda s: aic(*s))
    for _ in range(100):
        p, q, c = best
        neighbours = [(p - 1, q, c), (p + 1, q, c), (p, q - 1, c), (p, q + 1, c), (p - 1, q - 1, c),
                      (p + 1, q + 1, c), (p - 1, q + 1, c), (p + 1, q - 1, c), (p, q, not c)]
        better = next((n for n in neighbours if aic(*n) < aic(*best)), None)
        if better is None:
            break
        best = better
    if not np.isfinite(aic(*best)):
        raise ValueError("no ARIMA model could be fitted to this series")
    return fits[best]
