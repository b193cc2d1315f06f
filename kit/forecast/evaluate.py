"""Honest evaluation of forecasters: the evaluator cuts the data, never the model.

* :class:`Holdout` — one split: the last fraction of the series, or everything after
  a train-end date, is the test set.
* :class:`RollingOrigin` — K forecast origins, each fitting on everything before it and
  forecasting the next H days (sktime's "expanding window").
* :func:`compare` — every model under the same splitter, one tidy table
  (model, MAE, RMSE, MAPE, coverage and interval score per level, fit seconds, status),
  the forecasts, and a plot; models run in parallel on Dask when a client is given.

Intervals are scored by their empirical **coverage** (the share of actual values inside
the L % interval: close to L/100 is honest, far below is overconfident) and the
**interval (Winkler) score**: width + (2/α)·(how far the actual value falls outside),
α = 1 − L/100; lower is better, and a narrow interval that misses pays for it.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from kit.blas import one_thread
from kit.errors import ParameterError
from kit.progress import show_progress

from .models import BASELINES, LEVELS, Forecaster, SkipModel, check_levels, check_series, level_name, make_models

DEFAULT_HORIZON = 7  # days per backtest fold when no horizon is given


@dataclass(frozen=True)
class Holdout:
    """Train on the start, test on the end: ``fraction`` of the points or after ``train_end``."""

    fraction: float | None = 0.1
    train_end: str | None = None
    last: int | None = None  # test on the last ``last`` days instead of a fraction

    def split(self, y: pd.Series):
        n = len(y)
        if self.train_end is not None:
            end = pd.Timestamp(self.train_end)
            n_train = int((y.index <= end).sum())
            if n_train == 0 or n_train == n:
                raise ParameterError(f"train end {end.date()} leaves no {'training' if n_train == 0 else 'test'} "
                                     f"data in {y.index[0].date()}..{y.index[-1].date()}")
        elif self.last is not None:
            n_train = n - self.last
            if n_train < 2:
                raise ParameterError(f"a test of the last {self.last} days leaves {max(n_train, 0)} day(s) to "
                                     f"train on; the series has {n} points")
        else:
            if not 0 < self.fraction < 1:
                raise ParameterError(f"holdout fraction must be between 0 and 1, got {self.fraction}")
            n_train = n - max(1, int(round(n * self.fraction)))
            if n_train < 2:
                raise ParameterError(f"the series has {n} point(s): too short to hold out a test part and "
                                     f"train on the rest (at least 3 are needed)")
        yield np.arange(n_train), np.arange(n_train, n)


@dataclass(frozen=True)
class RollingOrigin:
    """``folds`` origins spaced ``step`` days apart (default: ``horizon``), the last ending at the series end."""

    folds: int = 5
    horizon: int = DEFAULT_HORIZON
    step: int | None = None
    min_train: int = 10

    def split(self, y: pd.Series):
        step = self.step or self.horizon
        n = len(y)
        first_origin = n - self.horizon - (self.folds - 1) * step
        if first_origin < self.min_train:
            raise ParameterError(f"{self.folds} folds of horizon {self.horizon} need at least "
                             f"{self.min_train + self.horizon + (self.folds - 1) * step} points, the series has {n}")
        for k in range(self.folds):
            origin = first_origin + k * step
            yield np.arange(origin), np.arange(origin, origin + self.horizon)


def errors(actual: np.ndarray, predicted: np.ndarray) -> dict:
    """MAE, RMSE and MAPE (%) — MAPE over the points whose actual value is not zero."""
    actual, predicted = np.asarray(actual, float), np.asarray(predicted, float)
    err = predicted - actual
    nz = actual != 0
    return {"mae": float(np.mean(np.abs(err))), "rmse": _rms(err),
            "mape": float(np.mean(np.abs(err[nz] / actual[nz])) * 100) if nz.any() else float("nan")}


def _rms(values) -> float:
    """Root mean square without overflow: counts near 1e300 square to infinity otherwise."""
    values = np.asarray(values, float)
    scale = float(np.max(np.abs(values))) if values.size else 0.0
    if not np.isfinite(scale) or scale == 0:
        return scale if values.size else float("nan")
    return scale * float(np.sqrt(np.mean((values / scale) ** 2)))


TRANSFORMS = ("cumulative", "daily")


def as_target(y: pd.Series, transform: str = "cumulative") -> pd.Series:
    """The series to forecast: the cumulative counts as they are, or ``daily``: the 7-day
    mean of new counts (negative corrections clipped to 0), whose ups and downs a model
    must actually predict; a cumulative series only rises, which flatters every model."""
    if transform not in TRANSFORMS:
        raise ParameterError(f"transform must be one of {', '.join(TRANSFORMS)}, got {transform!r}")
    if transform == "cumulative":
        return y
    daily = y.diff().clip(lower=0).rolling(7).mean().dropna()
    daily.attrs = dict(y.attrs)
    return daily.rename(f"{y.name or 'count'} (new per day, 7-day mean)")


def interval_scores(actual: np.ndarray, lower: np.ndarray, upper: np.ndarray, level: float) -> dict:
    """Coverage (share of actual values inside) and mean interval (Winkler) score of one
    level's interval; NaN where the model gave no interval."""
    actual, lower, upper = (np.asarray(v, float) for v in (actual, lower, upper))
    if not (np.isfinite(lower).all() and np.isfinite(upper).all()):
        return {"coverage": np.nan, "interval_score": np.nan}
    alpha = 1 - level / 100.0
    below, above = actual < lower, actual > upper
    score = (upper - lower) + (2 / alpha) * (lower - actual) * below + (2 / alpha) * (actual - upper) * above
    return {"coverage": float(np.mean(~below & ~above)), "interval_score": float(np.mean(score))}


def _run_one(model: Forecaster, y: pd.Series, train_idx, test_idx, levels: tuple = LEVELS) -> dict:
    """Fit a fresh copy on the training part only and forecast the test part."""
    with one_thread():
        return _fit_and_score(model.clone(), y, train_idx, test_idx, levels)


def _fit_and_score(model: Forecaster, y: pd.Series, train_idx, test_idx, levels: tuple) -> dict:
    train, test = y.iloc[train_idx], y.iloc[test_idx]
    start = time.perf_counter()
    try:
        model.fit(train, horizon=len(test))
        fit_seconds = time.perf_counter() - start
        forecast = model.predict(len(test), level=levels)
    except SkipModel as exc:
        return {"model": model.name, "status": f"skipped: {exc}", "fit_seconds": np.nan,
                "train_end": train.index[-1] if len(train) else None}
    except Exception as exc:  # a model failing must not take the comparison down
        return {"model": model.name, "status": f"failed: {type(exc).__name__}: {str(exc)[:150]}",
                "fit_seconds": time.perf_counter() - start, "train_end": train.index[-1]}
    if not np.isfinite(forecast["mean"].to_numpy(float)).all():
        return {"model": model.name, "status": "skipped: its forecast is not a finite number (counts this large "
                "overflow the model)", "fit_seconds": np.nan, "train_end": train.index[-1]}
    forecast["actual"] = test.to_numpy()
    scored = {level_name(L): interval_scores(test.to_numpy(), forecast[f"lower_{level_name(L)}"],
                                             forecast[f"upper_{level_name(L)}"], L) for L in levels}
    return {"model": model.name, "status": "ok", "fit_seconds": fit_seconds, "forecast": forecast,
            "train_end": train.index[-1], **errors(test.to_numpy(), forecast["mean"].to_numpy()),
            "coverage": {k: v["coverage"] for k, v in scored.items()},
            "interval_score": {k: v["interval_score"] for k, v in scored.items()}}


@dataclass
class Comparison:
    """The result of :func:`compare`.

    Attributes
    ----------
    table : DataFrame
        One row per model: ``model, mae, rmse, mape``, then ``coverage_L`` and
        ``interval_score_L`` per interval level L, ``fit_seconds, status`` (means over folds
        for a backtest), sorted by RMSE with skipped models last.
    by_horizon : DataFrame or None
        Backtests only: ``model, step, mae, rmse, mape, coverage_L`` per forecast step.
    forecasts : dict
        Model name → list of forecast frames (``mean, lower_L, upper_L..., actual``), one per fold.
    levels : tuple
        The interval levels (%).
    series : Series
        The series that was evaluated.
    """

    table: pd.DataFrame
    by_horizon: pd.DataFrame | None
    forecasts: dict
    series: pd.Series
    splitter: object
    runs: list = field(repr=False, default_factory=list)
    levels: tuple = LEVELS

    @property
    def best(self) -> str | None:
        """The model with the lowest RMSE among those scored with finite errors (None if none)."""
        ok = self.table[(self.table["status"] == "ok") & np.isfinite(self.table["rmse"].astype(float))]
        return None if ok.empty else str(ok.sort_values("rmse").iloc[0]["model"])

    def last_fold(self) -> "Comparison":
        """The last fold of a backtest alone: the same table a hold-out of its test days
        would give (same training data, same fits), without fitting anything again."""
        ends = [r["train_end"] for r in self.runs if r.get("train_end") is not None]
        if not ends:
            return self
        runs = [r for r in self.runs if r.get("train_end") == max(ends)]
        names = list(dict.fromkeys(r["model"] for r in self.runs))
        table, _, forecasts = _summarise(runs, names, self.levels)
        return Comparison(table, None, forecasts, self.series, self.splitter, runs, self.levels)

    @property
    def train_end(self):
        ends = [r["train_end"] for r in self.runs if r.get("train_end") is not None]
        return max(ends) if ends else None

    def plot(self, ax=None, fold: int = -1, models=None, intervals: bool = True, title: str | None = None):
        """Every model's forecast against the truth (last fold by default)."""
        import matplotlib.pyplot as plt
        from matplotlib.ticker import StrMethodFormatter

        ax = ax or plt.subplots(figsize=(10, 4.5))[1]
        history = self.series
        shown = models or [m for m in self.table["model"] if self.forecasts.get(m)]
        first_fc = next(iter(self.forecasts[m][fold] for m in shown if self.forecasts.get(m)), None)
        window = history
        if first_fc is not None:
            span = max(3 * len(first_fc), 30)
            window = history.loc[: first_fc.index[-1]].iloc[-(span + len(first_fc)):]
        ax.plot(window.index, window.to_numpy(), color="black", lw=2, label="observed")
        for name in shown:
            runs = self.forecasts.get(name)
            if not runs:
                continue
            fc = runs[fold]
            line = ax.plot(fc.index, fc["mean"], lw=1.6, label=name,
                           ls="--" if name in BASELINES else "-")[0]
            if intervals and name == self.best:
                for level, shade in zip(sorted(self.levels, reverse=True), (0.12, 0.25, 0.35)):
                    lo, hi = fc[f"lower_{level_name(level)}"], fc[f"upper_{level_name(level)}"]
                    if lo.notna().all():
                        ax.fill_between(fc.index, lo, hi, color=line.get_color(), alpha=shade, lw=0,
                                        label=f"{name} {level_name(level)} % interval")
        if first_fc is not None:
            ax.axvline(first_fc.index[0] - pd.Timedelta(hours=12), color="0.5", ls=":", lw=1)
        ax.set_title(title or "Forecasts against the truth (dotted line: forecast origin)")
        ax.legend(frameon=False, ncol=3, fontsize=8)
        ax.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
        ax.grid(alpha=0.3)
        return ax

    def plot_by_horizon(self, ax=None, log: bool = True, metric: str = "rmse"):
        """Backtests: RMSE (or ``metric``: ``mae``, ``mape``, ``coverage_95``...) of every
        model against the number of days ahead; a coverage plot shows the nominal level."""
        import matplotlib.pyplot as plt

        if self.by_horizon is None:
            raise ParameterError("errors per horizon exist only for a rolling-origin backtest (folds > 0)")
        if metric not in self.by_horizon.columns or metric in ("model", "step"):
            choices = [c for c in self.by_horizon.columns if c not in ("model", "step")]
            raise ParameterError(f"metric must be one of {', '.join(choices)}, got {metric!r}")
        coverage = metric.startswith("coverage_")
        ax = ax or plt.subplots(figsize=(9, 4))[1]
        for name, part in self.by_horizon.groupby("model"):
            if part[metric].notna().any():
                ax.plot(part["step"], part[metric], marker="o", lw=1.5, label=name,
                        ls="--" if name in BASELINES else "-")
        ax.set_xlabel("days ahead")
        if coverage:
            level = metric.split("_", 1)[1]
            ax.axhline(float(level) / 100, color="black", lw=1, ls=":", label=f"nominal {level} %")
            ax.set_ylim(-0.03, 1.03)
            ax.set_ylabel(f"share inside the {level} % interval")
            ax.set_title(f"Coverage of the {level} % intervals against the horizon (rolling origin)")
        else:
            ax.set_ylabel(metric.upper())
            if log:
                ax.set_yscale("log")
            ax.set_title(f"{metric.upper()} against the forecast horizon (rolling origin)")
        if coverage:  # lines pile up at 0 and 1: the legend goes beside the plot
            ax.legend(frameon=False, fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
        else:
            ax.legend(frameon=False, ncol=3, fontsize=8)
        ax.grid(alpha=0.3)
        return ax

    def to_json(self, region: str | None = None, target: str | None = None) -> dict:
        """The CLI's JSON contract."""
        rows = []
        names = [level_name(L) for L in self.levels]
        for r in self.table.to_dict(orient="records"):
            rows.append({"model": r["model"], "mae": _num(r["mae"]), "rmse": _num(r["rmse"]),
                         "mape": _num(r["mape"]),
                         "coverage": {k: _num(r.get(f"coverage_{k}")) for k in names},
                         "interval_score": {k: _num(r.get(f"interval_score_{k}")) for k in names},
                         "fit_seconds": _num(r["fit_seconds"]), "status": r["status"]})
        horizon = getattr(self.splitter, "horizon", None) or len(next(
            (v[0] for v in self.forecasts.values() if v), []))
        end = self.train_end
        return {"region": region, "target": target, "train_end": end.date().isoformat() if end is not None else None,
                "horizon": int(horizon), "folds": len(next((v for v in self.forecasts.values() if v), [])) or None,
                "levels": [float(L) for L in self.levels], "rows": rows, "best": self.best}


def _num(x):
    return None if x is None or not np.isfinite(x) else float(x)


def ranking_change(first: Comparison, second: Comparison, labels=("hold-out", "backtest")) -> pd.DataFrame:
    """RMSE and rank of every model under two evaluations, side by side."""
    a, b = labels
    table = first.table[["model", "rmse"]].merge(second.table[["model", "rmse"]], on="model",
                                                 suffixes=(f" {a}", f" {b}"))
    table[f"rank {a}"] = table[f"rmse {a}"].rank()
    table[f"rank {b}"] = table[f"rmse {b}"].rank()
    return table.sort_values(f"rank {b}").reset_index(drop=True)


def _summarise(runs: list[dict], names: list[str], levels: tuple = LEVELS
               ) -> tuple[pd.DataFrame, pd.DataFrame | None, dict]:
    keys = [level_name(L) for L in levels]
    rows, forecasts, steps = [], {n: [] for n in names}, []
    for name in names:
        mine = [r for r in runs if r["model"] == name]
        ok = [r for r in mine if r["status"] == "ok"]
        forecasts[name] = [r["forecast"] for r in ok]
        if ok:
            status = "ok" if len(ok) == len(mine) else f"ok on {len(ok)} of {len(mine)} folds"
            row = {"model": name, "mae": np.mean([r["mae"] for r in ok]),
                   "rmse": np.mean([r["rmse"] for r in ok]), "mape": np.mean([r["mape"] for r in ok])}
            for k in keys:
                row[f"coverage_{k}"] = _mean_or_nan([r["coverage"][k] for r in ok])
                row[f"interval_score_{k}"] = _mean_or_nan([r["interval_score"][k] for r in ok])
            rows.append({**row, "fit_seconds": np.mean([r["fit_seconds"] for r in ok]), "status": status})
            for r in ok:
                fc = r["forecast"]
                pred, act = fc["mean"].to_numpy(float), fc["actual"].to_numpy(float)
                with np.errstate(divide="ignore", invalid="ignore"):
                    ape = np.where(act != 0, np.abs(pred - act) / np.abs(act) * 100, np.nan)
                with np.errstate(over="ignore"):  # an overflowing square is an infinite error, said as such
                    sq_error = (pred - act) ** 2
                step = {"model": name, "step": np.arange(1, len(fc) + 1), "abs_error": np.abs(pred - act),
                        "sq_error": sq_error, "ape": ape}
                for k in keys:
                    lo, hi = fc[f"lower_{k}"].to_numpy(float), fc[f"upper_{k}"].to_numpy(float)
                    step[f"in_{k}"] = np.where(np.isfinite(lo) & np.isfinite(hi), (lo <= act) & (act <= hi), np.nan)
                steps.append(pd.DataFrame(step))
        else:
            rows.append({"model": name, "mae": np.nan, "rmse": np.nan, "mape": np.nan,
                         **{f"{m}_{k}": np.nan for k in keys for m in ("coverage", "interval_score")},
                         "fit_seconds": np.nan, "status": mine[0]["status"] if mine else "not run"})
    table = pd.DataFrame(rows)
    table["_bad"] = table["status"] != "ok"
    table = table.sort_values(["_bad", "rmse"], na_position="last").drop(columns="_bad").reset_index(drop=True)
    by_h = None
    if steps:
        s = pd.concat(steps, ignore_index=True)
        by_h = s.groupby(["model", "step"], sort=False).agg(
            mae=("abs_error", "mean"), rmse=("sq_error", "mean"), mape=("ape", "mean"),
            **{f"coverage_{k}": (f"in_{k}", "mean") for k in keys}).reset_index()
        by_h["rmse"] = np.sqrt(by_h["rmse"])
        by_h = by_h.sort_values(["model", "step"], ignore_index=True)
    return table, by_h, forecasts


def _mean_or_nan(values) -> float:
    values = np.asarray(values, float)
    return float(np.mean(values)) if np.isfinite(values).all() and len(values) else np.nan


def compare(y: pd.Series, models="default", *, holdout: float | None = None, train_end: str | None = None,
            horizon: int | None = None, folds: int | None = None, level=LEVELS, engine: str = "kit",
            client=None, progress: bool = True) -> Comparison:
    """Evaluate forecasters on one series under one splitter.

    Parameters
    ----------
    y : Series
        Daily values indexed by date (e.g. cumulative confirmed cases).
    models : "default", "all", names or Forecaster objects
        ``default`` (or ``all``) is every model; naive and drift are always added.
    holdout : float, optional
        Test on the last fraction (default 0.1 when nothing else is given).
    train_end : str, optional
        Test on everything after this date (up to ``horizon`` days if given).
    horizon : int, optional
        Days to forecast: the length of each backtest fold (default 7), the test after
        ``train_end``, or, alone, a test on the last ``horizon`` days.
    folds : int, optional
        A rolling-origin backtest of ``folds`` origins, ``horizon`` days each (0: no backtest).
    level : number or sequence of numbers
        Prediction-interval levels in % (default 80 and 95), each scored by coverage and
        interval score.
    engine : "kit" or "statsmodels"
        How the ARIMA family is estimated: the kit's engine (exact likelihood up to 150
        points, conditional sum of squares beyond), or the seed notebooks' statsmodels
        and pmdarima (:func:`make_models`).
    client : dask.distributed.Client, optional
        Fit the models (and folds) in parallel on its workers.
    progress : bool
        A progress bar over the model fits.

    Returns
    -------
    Comparison
    """
    from tqdm.auto import tqdm

    y = check_series(y)
    levels = check_levels(level)
    horizon = None if horizon is None else _whole_number(horizon, "horizon", least=1)
    folds = None if folds is None else _whole_number(folds, "folds", least=0)
    if holdout is not None and (train_end is not None or folds):
        raise ParameterError("give holdout alone: it cannot be combined with train_end or folds")
    if holdout is not None and horizon is not None:
        raise ParameterError("give either holdout (a fraction) or horizon (days), not both")
    if folds:
        splitter = RollingOrigin(folds=folds, horizon=horizon or DEFAULT_HORIZON)
    elif train_end is not None:
        splitter = Holdout(fraction=None, train_end=train_end)
    elif horizon is not None:
        splitter = Holdout(fraction=None, last=horizon)
    else:
        splitter = Holdout(fraction=0.1 if holdout is None else holdout)
    splits = list(splitter.split(y))
    if train_end and horizon and not folds:
        splits = [(tr, te[:horizon]) for tr, te in splits]
    chosen = make_models(models, engine)
    tasks = [(m, tr, te) for m in chosen.values() for tr, te in splits]
    if client is not None:
        y_future = client.scatter(y, broadcast=True)
        futures = [client.submit(_run_one, m, y_future, tr, te, levels, pure=False) for m, tr, te in tasks]
        runs = client.gather(futures)
    else:
        with one_thread():
            runs = [_run_one(m, y, tr, te, levels) for m, tr, te in tqdm(
                tasks, desc="model fits", unit="fit", disable=not show_progress(progress), leave=False)]
    table, by_h, forecasts = _summarise(runs, list(chosen), levels)
    return Comparison(table, by_h if folds else None, forecasts, y, splitter, runs, levels)


def _whole_number(value, name: str, least: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
        raise ParameterError(f"{name} must be a whole number of at least {least}, got {value!r}")
    return int(value)


def _compare_one_series(key, y, models, kwargs, holdout_too=False):
    try:
        with one_thread():
            result = compare(y, models, progress=False, **kwargs)
    except ValueError as exc:
        return key, None, str(exc)
    if not kwargs.get("folds"):
        return key, result.table.assign(evaluation="hold-out"), None
    table = result.table.assign(evaluation="backtest")
    if holdout_too:
        table = pd.concat([result.last_fold().table.assign(evaluation="hold-out"), table], ignore_index=True)
    return key, table, None


def plot_many(table: pd.DataFrame, level: float = 95, title: str | None = None):
    """Over many series (:func:`compare_many`'s table): how often each model is the best
    (lowest RMSE) and the spread of its interval coverage, with the nominal level."""
    import matplotlib.pyplot as plt

    column = f"coverage_{level:g}"
    ok = table[table["status"] == "ok"]
    if ok.empty or column not in ok:
        raise ParameterError(f"no model was evaluated with {column} in this table")
    wins = ok.loc[ok.groupby("series")["rmse"].idxmin(), "model"].value_counts()
    models = list(ok.groupby("model")["rmse"].median().sort_values().index)
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4), constrained_layout=True)
    left.barh(wins.index[::-1], wins.to_numpy()[::-1], color="#1f77b4")
    left.set_xlabel(f"series where it is the best (of {ok['series'].nunique()})")
    left.set_title("Best model (lowest RMSE)")
    data = [ok.loc[ok["model"] == m, column].dropna().to_numpy() for m in models]
    right.boxplot(data, tick_labels=models, orientation="horizontal")
    # the nominal level named in a legend: a label above the axis ran into the title
    right.axvline(level / 100, color="black", ls=":", lw=1, label=f"nominal {level:g} %")
    right.legend(loc="best", fontsize=8, frameon=False)
    right.set_xlim(-0.03, 1.03)
    right.set_xlabel(f"share of actual values inside the {level:g} % interval, per series")
    right.set_title(f"Coverage of the {level:g} % intervals")
    if title:
        fig.suptitle(title)
    return fig


def compare_many(series: dict, models="default", *, client=None, progress: bool = True, holdout_too: bool = False,
                 **kwargs) -> pd.DataFrame:
    """Run :func:`compare` on many series (e.g. every country), on Dask when a client is given.

    Parameters
    ----------
    series : dict
        Name → Series.
    holdout_too : bool
        With ``folds``: also the hold-out of the last ``horizon`` days, taken from the
        backtest's last fold (the same split and fits; :meth:`Comparison.last_fold`).
    **kwargs
        Passed to :func:`compare` (holdout, train_end, horizon, folds, level, engine).

    Returns
    -------
    DataFrame
        The per-model tables stacked with a ``series`` and an ``evaluation`` column
        (``hold-out`` or ``backtest``); series that cannot be evaluated appear once with
        their reason in ``status``.
    """
    from tqdm.auto import tqdm

    items = list(series.items())
    results = []
    if client is not None:
        from dask.distributed import as_completed

        futures = [client.submit(_compare_one_series, k, v, models, kwargs, holdout_too, pure=False)
                   for k, v in items]
        for fut in tqdm(as_completed(futures), total=len(futures), desc="series", disable=not show_progress(progress)):
            results.append(fut.result())
    else:
        for k, v in tqdm(items, desc="series", disable=not show_progress(progress)):
            results.append(_compare_one_series(k, v, models, kwargs, holdout_too))
    frames = []
    for key, table, error in sorted(results, key=lambda r: str(r[0])):
        if table is None:
            frames.append(pd.DataFrame([{"series": key, "model": None, "status": f"skipped: {error}"}]))
        else:
            frames.append(table.assign(series=key))
    out = pd.concat(frames, ignore_index=True)
    return out[["series"] + [c for c in out.columns if c != "series"]]
