"""kit.forecast: every model on a short series, baselines always present, fold
boundaries that never leak the future, skipped models, bad inputs, the CLI contract."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from kit.errors import ParameterError
from kit.forecast import (BASELINES, MODEL_CLASSES, Forecaster, Holdout, RollingOrigin, as_target, compare,
                          compare_many, errors, interval_scores, make_models)
from kit import eda
from kit.forecast import stationarity
from kit.forecast.models import orders_from_acf_pacf


def cumulative(n=60, seed=0, start="2020-03-01"):
    rng = np.random.default_rng(seed)
    daily = 50 * np.exp(0.05 * np.arange(n)) * rng.uniform(0.8, 1.2, n)
    return pd.Series(np.cumsum(daily).round(), index=pd.date_range(start, periods=n, freq="D"))


@pytest.mark.parametrize("name", list(MODEL_CLASSES))
def test_every_model_fits_and_forecasts_a_short_series(name):
    y = cumulative(45)
    model = MODEL_CLASSES[name]()
    assert model.fit(y) is model
    fc = model.predict(7)
    assert list(fc.columns) == ["mean", "lower_80", "upper_80", "lower_95", "upper_95"] and len(fc) == 7
    assert fc.index[0] == y.index[-1] + pd.Timedelta(days=1)
    assert np.isfinite(fc["mean"]).all()
    # every model has intervals at both levels (its own, or conformal), the 80 % inside the 95 %
    assert fc.notna().all().all(), fc
    tol = 1e-6 * fc["mean"].abs().max()
    assert (fc["lower_95"] <= fc["lower_80"] + tol).all() and (fc["lower_80"] <= fc["mean"] + tol).all()
    assert (fc["mean"] <= fc["upper_80"] + tol).all() and (fc["upper_80"] <= fc["upper_95"] + tol).all()


def test_predict_never_refits_and_needs_fit():
    model = MODEL_CLASSES["holt"]()
    with pytest.raises(RuntimeError, match="fit"):
        model.predict(3)
    model.fit(cumulative(40))
    first = model.predict(5)
    pd.testing.assert_frame_equal(first, model.predict(5))


def test_baselines_are_always_in_the_table():
    models = make_models("holt")
    assert list(models)[:2] == list(BASELINES)
    result = compare(cumulative(50), "linear", holdout=0.2)
    assert set(result.table["model"]) == {"naive", "drift", "linear"}
    with pytest.raises(ValueError, match="Did you mean arima"):
        make_models("arimaa")


def test_naive_and_drift_are_what_they_say():
    y = pd.Series([1.0, 3.0, 5.0, 7.0], index=pd.date_range("2020-01-01", periods=4))
    assert MODEL_CLASSES["naive"]().fit(y).predict(2)["mean"].tolist() == [7.0, 7.0]
    assert MODEL_CLASSES["drift"]().fit(y).predict(2)["mean"].tolist() == [9.0, 11.0]


class Spy(Forecaster):
    """Records what it was trained on, predicts the last training value."""
    name = "spy"
    min_points = 2
    seen: list = []

    def _fit(self, y):
        Spy.seen.append((y.index[0], y.index[-1]))

    def _predict(self, h, levels):
        return np.full(h, self.y_.iloc[-1]), {}  # no intervals: NaN bands, NaN coverage


def test_rolling_origin_folds_never_train_on_the_future():
    y = cumulative(60)
    splitter = RollingOrigin(folds=4, horizon=7)
    splits = list(splitter.split(y))
    assert len(splits) == 4
    for train, test in splits:
        assert train.max() < test.min() and test.min() == train.max() + 1 and len(test) == 7
        assert train.min() == 0
    assert splits[-1][1].max() == len(y) - 1
    Spy.seen = []
    result = compare(y, [Spy()], horizon=7, folds=4)
    ends = [end for _, end in Spy.seen]
    origins = [fc.index[0] for fc in result.forecasts["spy"]]
    assert len(origins) == 4 and all(end < origin for end, origin in zip(ends, origins))
    assert result.by_horizon["step"].max() == 7


def test_holdout_by_fraction_and_by_date():
    y = cumulative(50)
    (train, test), = Holdout(0.2).split(y)
    assert len(test) == 10 and train[-1] + 1 == test[0]
    (train, test), = Holdout(fraction=None, train_end="2020-04-10").split(y)
    assert y.index[train[-1]] == pd.Timestamp("2020-04-10")
    with pytest.raises(ValueError, match="leaves no test"):
        list(Holdout(fraction=None, train_end="2021-01-01").split(y))
    result = compare(y, "default", train_end="2020-04-10", horizon=5)
    assert all(len(v[0]) == 5 for v in result.forecasts.values() if v)


def test_too_short_for_some_models_skips_them_and_runs_the_rest():
    y = cumulative(12)
    result = compare(y, "all", holdout=0.25)
    status = dict(zip(result.table["model"], result.table["status"]))
    assert status["naive"] == "ok" and status["drift"] == "ok" and status["linear"] == "ok"
    assert status["auto_arima"].startswith("skipped: needs at least 20 points")
    assert status["prophet"].startswith("skipped")
    assert result.table.iloc[-1]["status"] != "ok"  # skipped ones sorted last


def test_series_of_zeros_does_not_crash():
    y = pd.Series(0.0, index=pd.date_range("2020-01-01", periods=40))
    result = compare(y, "default", holdout=0.2)
    status = dict(zip(result.table["model"], result.table["status"]))
    assert status["naive"] == "ok" and status["arima"].startswith("skipped: the series is constant")
    assert np.isnan(result.table.set_index("model").loc["naive", "mape"])  # no MAPE on zeros


def test_nan_and_duplicated_dates_are_clear_errors():
    y = cumulative(30)
    with_nan = y.copy()
    with_nan.iloc[4] = np.nan
    with pytest.raises(ValueError, match="1 missing value.*2020-03-05"):
        compare(with_nan, "naive")
    dup = pd.concat([y, y.iloc[[3]]])
    with pytest.raises(ValueError, match="duplicated date 2020-03-04"):
        compare(dup, "naive")
    gap = y.drop(y.index[10])
    with pytest.raises(ValueError, match="1 missing day"):
        compare(gap, "naive")


def test_metrics():
    m = errors(np.array([10.0, 0.0, 20.0]), np.array([12.0, 1.0, 15.0]))
    assert m["mae"] == pytest.approx(8 / 3) and m["rmse"] == pytest.approx(np.sqrt(30 / 3))
    assert m["mape"] == pytest.approx((20 + 25) / 2)


def test_orders_from_correlograms_and_adf_table():
    rng = np.random.default_rng(1)
    e = rng.normal(size=400)
    ar = np.zeros(400)
    for t in range(2, 400):
        ar[t] = 0.6 * ar[t - 1] - 0.3 * ar[t - 2] + e[t]
    y = pd.Series(np.cumsum(ar), index=pd.date_range("2020-01-01", periods=400))
    p, d, q = orders_from_acf_pacf(y)
    assert d == 1 and p == 2
    table = stationarity.adf_table(y)
    assert list(table["transform"]) == ["raw", "log", "diff", "log diff"]
    assert table.set_index("transform").loc["diff", "stationary"]


def test_parallel_on_dask_gives_the_same_table():
    from dask.distributed import Client, LocalCluster

    y = cumulative(60)
    local = compare(y, "default", holdout=0.15)
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster, Client(cluster) as client:
        remote = compare(y, "default", holdout=0.15, client=client)
        many = compare_many({"a": y, "b": cumulative(60, seed=2), "short": cumulative(3)}, "linear",
                            client=client, progress=False, holdout=0.2)
    cols = ["model", "mae", "rmse", "mape", "status"]
    pd.testing.assert_frame_equal(local.table[cols], remote.table[cols])
    assert set(many["series"]) == {"a", "b", "short"}
    short = many[many["series"] == "short"].set_index("model")["status"]
    assert short["naive"] == "ok" and short["drift"].startswith("skipped: needs at least 3 points")


def test_eda_quantities():
    dates = pd.date_range("2020-03-01", periods=6)
    counts = pd.DataFrame({"confirmed": [100, 200, 400, 800, 900, 1000], "deaths": [0, 2, 4, 8, 9, 10],
                           "recovered": [0, 10, 50, 100, 300, 500]}, index=dates)
    d = eda.daily(counts)
    assert d["new_confirmed"].tolist()[1:] == [100, 200, 400, 100, 100]
    ac = eda.active_closed(counts)
    assert ac["active"].iloc[-1] == 1000 - 10 - 500
    assert eda.rates(counts)["mortality_%"].iloc[-1] == pytest.approx(1.0)
    g = eda.growth(counts["confirmed"], window=1)
    assert g["growth_factor"].iloc[2] == pytest.approx(2.0) and g["doubling_time_days"].iloc[2] == pytest.approx(1.0)
    steps = eda.days_per_step(counts["confirmed"], 300)
    assert steps["reached"].tolist() == [300, 600, 900] and steps["days_taken"].tolist()[1:] == [1, 1]


def test_cli_json_contract(tmp_path):
    y = cumulative(80)
    csv = tmp_path / "tidy.csv"
    pd.DataFrame({"date": y.index.date, "region": "Testland", "province": "", "confirmed": y,
                  "deaths": (y * 0.01).round()}).to_csv(csv, index=False)
    out, png = tmp_path / "fc.json", tmp_path / "fc.png"
    proc = subprocess.run([sys.executable, "-m", "kit", "forecast", "compare", "--source", str(csv),
                           "--format", "tidy", "--region", "Testland", "--train-end", "2020-05-05",
                           "--horizon", "10", "--models", "holt,arima", "--json", str(out), "--plot", str(png)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    payload = json.loads(out.read_text())
    assert {"region", "target", "train_end", "horizon", "rows", "best"} <= set(payload)
    assert payload["train_end"] == "2020-05-05" and payload["horizon"] == 10
    assert {r["model"] for r in payload["rows"]} == {"naive", "drift", "holt", "arima"}
    assert payload["levels"] == [80.0, 95.0]
    for row in payload["rows"]:
        assert {"model", "mae", "rmse", "mape", "fit_seconds", "coverage", "interval_score"} <= set(row)
        assert set(row["coverage"]) == {"80", "95"} == set(row["interval_score"])
        assert 0 <= row["coverage"]["95"] <= 1 and row["interval_score"]["95"] > 0
    assert payload["best"] in {"naive", "drift", "holt", "arima"} and png.stat().st_size > 5000
    bad = subprocess.run([sys.executable, "-m", "kit", "forecast", "compare", "--source", str(csv),
                          "--region", "Testlnd"], capture_output=True, text=True)
    assert bad.returncode == 2 and "Did you mean 'Testland'" in bad.stderr


def test_default_is_every_model_and_the_statsmodels_engine_is_an_option():
    assert list(make_models("default")) == list(make_models("all")) and len(make_models("all")) == 10
    seed = make_models("arima,auto_arima", engine="statsmodels")
    assert seed["arima"].engine == "statsmodels" and seed["auto_arima"].engine == "statsmodels"
    assert make_models("arima", engine="seed")["arima"].engine == "statsmodels"  # the earlier name
    with pytest.raises(ParameterError, match="engine must be one of kit, statsmodels"):
        make_models("arima", engine="fast")


def test_svr_solved_in_the_primal_is_scikit_learns_svr():
    from sklearn.svm import SVR

    y = cumulative(200)
    ours = MODEL_CLASSES["svr"]().fit(y).predict(14)["mean"].to_numpy()
    n, lo, span = len(y), y.min(), y.max() - y.min()
    t = (np.arange(n) / n)[:, None]
    libsvm = SVR(kernel="poly", degree=3, C=1.0, epsilon=0.01, coef0=1.0, gamma="scale", tol=1e-6).fit(
        t, (y.to_numpy() - lo) / span)
    theirs = libsvm.predict((np.arange(n, n + 14) / n)[:, None]) * span + lo
    assert np.abs(ours - theirs).max() < 0.005 * span


def _simulated_arima(ar, ma, d, n=400, seed=3, drift=0.0):
    from scipy.signal import lfilter

    shocks = np.random.default_rng(seed).normal(size=n + 100)
    w = lfilter(np.r_[1.0, ma], np.r_[1.0, -np.asarray(ar)], shocks)[100:] + drift
    for _ in range(d):
        w = np.cumsum(w)
    return pd.Series(w, index=pd.date_range("2020-01-01", periods=n, freq="D"))


def test_css_arima_recovers_coefficients_and_agrees_with_statsmodels():
    from kit.forecast.arima import fit_arima

    y = _simulated_arima([0.6, -0.2], [0.4], d=1, drift=0.5)
    fit = fit_arima(y.to_numpy(), (2, 1, 1))
    assert np.allclose(fit.ar, [0.6, -0.2], atol=0.12) and np.allclose(fit.ma, [0.4], atol=0.12)
    assert abs(fit.constant - 0.5) < 0.3 and 0.8 < fit.sigma2 < 1.2
    ours = MODEL_CLASSES["arima"](order=(2, 1, 1)).fit(y).predict(10)
    seed = MODEL_CLASSES["arima"](order=(2, 1, 1), engine="statsmodels").fit(y).predict(10)
    spread = (seed["upper_95"] - seed["lower_95"]).to_numpy()
    assert np.all(np.abs(ours["mean"] - seed["mean"]).to_numpy() < 0.1 * spread)
    assert np.allclose((ours["upper_95"] - ours["lower_95"]).to_numpy(), spread, rtol=0.1)


def test_short_series_get_the_exact_likelihood_and_bands_follow_recent_noise():
    from kit.forecast.arima import APPROXIMATE_ABOVE, RECENT_DAYS, ArimaFit, ExactArimaFit, band_variance, fit

    y = _simulated_arima([0.5], [], d=1).to_numpy()
    assert isinstance(fit(y[:APPROXIMATE_ABOVE], (1, 1, 0)), ExactArimaFit)
    assert isinstance(fit(y[:APPROXIMATE_ABOVE + 1], (1, 1, 0)), ArimaFit)
    quiet_then_loud = np.r_[np.full(300, 1.0), np.full(RECENT_DAYS, 3.0)]
    assert band_variance(2.0, quiet_then_loud) == pytest.approx(9.0)  # the recent noise is larger
    assert band_variance(2.0, np.ones(400)) == 2.0  # never narrower than the fitted variance
    # a series whose noise triples in its last weeks gets bands about three times wider
    shocks = np.random.default_rng(1).normal(size=400) * np.r_[np.ones(340), np.full(60, 3.0)]
    calm = np.cumsum(np.random.default_rng(1).normal(size=400))
    wide = fit(np.cumsum(shocks), (1, 1, 0)).forecast(5)[1]
    narrow = fit(calm, (1, 1, 0)).forecast(5)[1]
    assert 2.0 < wide[0] / narrow[0] < 4.0


def test_css_auto_arima_finds_the_order_that_made_the_series():
    from kit.forecast.arima import auto_arima

    for ar, ma, d, order in [([0.7], [], 1, (1, 1, 0)), ([], [0.6, 0.3], 0, (0, 0, 2)),
                             ([0.5], [0.4], 2, (1, 2, 1))]:
        fit = auto_arima(_simulated_arima(ar, ma, d).to_numpy())
        assert fit.order == order, (ar, ma, d, fit.order)


def test_conformal_intervals_come_from_the_training_series_only_and_widen_with_the_step():
    y = cumulative(80)
    model = MODEL_CLASSES["linear"]().fit(y.iloc[:60], horizon=10)
    fc = model.predict(10, level=(50, 90))
    assert list(fc.columns) == ["mean", "lower_50", "upper_50", "lower_90", "upper_90"]
    half = (fc["upper_90"] - fc["mean"]).to_numpy()
    assert half[-1] > half[0] > 0  # errors grow with the step ahead
    # the calibration used days before the training end only: changing the future changes nothing
    future_changed = pd.concat([y.iloc[:60], y.iloc[60:] * 10])
    again = MODEL_CLASSES["linear"]().fit(future_changed.iloc[:60], horizon=10).predict(10, level=(50, 90))
    pd.testing.assert_frame_equal(fc, again)


def test_too_few_calibration_origins_leave_that_interval_empty_not_a_crash():
    y = cumulative(18)
    fc = MODEL_CLASSES["linear"]().fit(y, horizon=14).predict(14, level=(50, 95))
    assert fc[["lower_50", "lower_95"]].iloc[:13].notna().all().all()  # 3 origins could check 13 days
    assert fc[["lower_50", "lower_95"]].iloc[13:].isna().all().all()  # the 14th day: no error seen, no band
    tiny = MODEL_CLASSES["linear"]().fit(y.iloc[:5], horizon=3).predict(3)
    assert tiny["mean"].notna().all() and tiny["lower_95"].isna().all()  # no origin to calibrate on
    result = compare(y.iloc[:8], "linear", horizon=3)
    assert set(result.table["status"]) == {"ok"} and result.table["coverage_95"].isna().any()


@pytest.mark.parametrize("level", [0, 100, -5, 150, "80", True])
def test_levels_outside_0_100_are_refused(level):
    with pytest.raises(ParameterError, match="strictly between 0 and 100"):
        compare(cumulative(40), "holt", horizon=5, level=level)


def test_coverage_and_interval_score():
    actual = np.array([0.0, 5.0, 20.0])
    scored = interval_scores(actual, np.array([-1.0, 0.0, 0.0]), np.array([1.0, 10.0, 10.0]), 80)
    assert scored["coverage"] == pytest.approx(2 / 3)
    # widths 2, 10, 10; the third misses by 10: + (2 / 0.2) * 10
    assert scored["interval_score"] == pytest.approx((2 + 10 + 10 + 100) / 3)
    assert np.isnan(interval_scores(actual, np.full(3, np.nan), np.full(3, np.nan), 95)["coverage"])


def test_backtest_reports_coverage_per_model_and_step():
    result = compare(cumulative(90), "holt,linear", horizon=7, folds=3, level=(80, 95), progress=False)
    assert {"coverage_80", "interval_score_80", "coverage_95", "interval_score_95"} <= set(result.table)
    assert result.table["coverage_95"].between(0, 1).all()
    assert {"coverage_80", "coverage_95"} <= set(result.by_horizon)


def test_daily_target_is_the_7_day_mean_of_new_counts():
    y = pd.Series([0.0, 7, 14, 21, 28, 35, 42, 49, 40, 63], index=pd.date_range("2020-03-01", periods=10))
    daily = as_target(y, "daily")
    assert daily.index[0] == y.index[7] and daily.iloc[0] == pytest.approx(7.0)
    assert daily.iloc[1] == pytest.approx((6 * 7 + 0) / 7)  # the drop to 40 counts as 0 new, not -9
    assert as_target(y, "cumulative") is y
    with pytest.raises(ParameterError, match="transform"):
        as_target(y, "weekly")


def test_every_series_and_the_many_series_plot():
    import matplotlib
    matplotlib.use("Agg")
    from kit import data
    from kit.forecast import plot_many

    frame = data.load_timeseries("synthetic")
    regions = data.every_series(frame, "confirmed")
    provinces = data.every_series(frame, "confirmed", level="province")
    assert list(regions) == sorted(frame["region"].unique()) and len(provinces) == 13
    first = next(iter(provinces))
    assert " / " in first and provinces[first].attrs["province"] == first.split(" / ")[1]
    table = compare_many(dict(list(regions.items())[:2]), "holt", horizon=7, folds=2, progress=False)
    fig = plot_many(table)
    assert len(fig.axes) == 2 and "Coverage" in fig.axes[1].get_title()
    with pytest.raises(ParameterError):
        data.every_series(frame, "confirmed", level="county")


def test_last_fold_of_a_backtest_is_the_holdout_of_its_days():
    y = cumulative(90)
    backtest = compare(y, "holt,arima,linear", horizon=7, folds=3, progress=False)
    holdout = compare(y, "holt,arima,linear", horizon=7, progress=False)
    cols = ["model", "mae", "rmse", "coverage_95", "status"]
    pd.testing.assert_frame_equal(backtest.last_fold().table[cols], holdout.table[cols])
    both = compare_many({"a": y, "short": cumulative(12)}, "holt", horizon=7, folds=3, holdout_too=True,
                        progress=False)
    assert set(both.loc[both["series"] == "a", "evaluation"]) == {"hold-out", "backtest"}
    assert both.loc[both["series"] == "short", "status"].str.startswith("skipped").all()


def test_cli_engine_choice_is_checked():
    bad = subprocess.run([sys.executable, "-m", "kit", "forecast", "compare", "--source", "synthetic", "--region",
                          "Synthland", "--engine", "statsforecast"], capture_output=True, text=True)
    assert bad.returncode == 2 and "invalid choice: 'statsforecast'" in bad.stderr and "kit" in bad.stderr
