"""Forecasting like the hubs: weekly targets, the calendar, WIS, the baseline, the models'
quantiles, the hub file format (written, read, refused), scores, backtests and the CLI."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from kit.errors import DataError, DataValidationError, NotFittedError, ParameterError
from kit.forecast.hub import hub_backtest, hub_forecast, read_forecasts, score_forecasts, target_name
from kit.forecast.hub_models import (HUB_MODELS, CaseLag, DailyGrowth, Flat, GrowthRate, HubBaseline,
                                     QuantileEnsemble, hub_model)
from kit.forecast.models import SkipModel
from kit.forecast.weekly import (MIN_WEEKS, RECENT_DAYS, check_forecast_date, last_complete_week,
                                 target_end_date, weekly_counts, weekly_targets)
from kit.forecast.wis import INTERVALS, QUANTILES, coverage_by_level, relative_wis, weighted_interval_score


def kit(*args):
    return subprocess.run([sys.executable, "-m", "kit.cli", *args], capture_output=True, text=True)


def tidy(days=200, regions=("A", "B"), start="2020-03-01", seed=0, deaths=True):
    """Cumulative counts of a few regions: a wave of cases, deaths a fortnight behind."""
    rng = np.random.default_rng(seed)
    rows = []
    t = np.arange(days)
    for k, region in enumerate(regions):
        daily = 200 * (1 + k) * np.exp(-((t - 90 - 10 * k) / 35.0) ** 2) * rng.uniform(0.7, 1.3, days) + 5
        cum = np.cumsum(np.round(daily))
        dead = np.cumsum(np.round(0.02 * np.concatenate([np.zeros(14), daily[:-14]])))
        for day, c, d in zip(pd.date_range(start, periods=days), cum, dead):
            rows.append({"date": day, "region": region, "province": "", "confirmed": c,
                         "deaths": d if deaths else np.nan, "recovered": np.nan})
    frame = pd.DataFrame(rows)
    frame.attrs.update({"source": "test", "synthetic": True})
    return frame


def write_csv(frame, path):
    frame[["date", "region", "confirmed", "deaths"]].to_csv(path, index=False, date_format="%Y-%m-%d")
    return path


# ---------------------------------------------------------------- calendar and weekly counts


def test_forecast_dates_are_mondays_and_weeks_end_on_saturdays():
    assert check_forecast_date("2021-01-04") == pd.Timestamp("2021-01-04")
    with pytest.raises(ParameterError, match="is a Tuesday.*2021-01-04 or 2021-01-11"):
        check_forecast_date("2021-01-05")
    with pytest.raises(ParameterError, match="must be a date"):
        check_forecast_date("next monday")
    assert last_complete_week("2021-01-04") == pd.Timestamp("2021-01-02")  # a Saturday
    assert target_end_date("2021-01-04", 1) == pd.Timestamp("2021-01-09")
    assert target_end_date("2021-01-04", 4) == pd.Timestamp("2021-01-30")
    assert target_name(2, "death") == "2 wk ahead inc death"


def test_weekly_incidence_is_sunday_to_saturday_and_counts_corrections():
    days = pd.date_range("2020-03-01", "2020-04-11")  # Sunday 1 March .. Saturday 11 April
    cum = np.arange(1, len(days) + 1, dtype=float) * 10  # 10 new cases a day
    cum[20] -= 35  # a correction on 21 March: the count goes down by 25 from the day before
    frame = pd.DataFrame({"date": days, "region": "X", "province": "", "confirmed": cum, "deaths": np.nan,
                          "recovered": np.nan})
    weekly = weekly_counts(frame, "confirmed")
    assert list(weekly.values.index.day_of_week.unique()) == [5]
    assert weekly.values.index[0] == pd.Timestamp("2020-03-14")  # the first week with a Saturday before it
    # after the correction (cummax) the count stays flat until it catches up: never negative
    assert (weekly.values["X"] >= 0).all() and weekly.values["X"].sum() == cum[-1] - cum[6]
    assert len(weekly.corrections) == 1 and weekly.corrections["drop"].iloc[0] == 25
    # nothing after `before` is used
    cut = weekly_counts(frame, "confirmed", before="2020-03-30")
    assert cut.values.index[-1] == pd.Timestamp("2020-03-28")
    pd.testing.assert_series_equal(cut.values["X"], weekly.values["X"].loc[:"2020-03-28"])


def test_a_missing_saturday_breaks_the_run_of_weeks_and_is_named():
    frame = tidy(days=120, regions=("A",))
    frame = frame[frame["date"] != pd.Timestamp("2020-06-20")]  # a Saturday
    weekly = weekly_counts(frame, "confirmed")
    assert weekly.values["A"].isna().sum() == 2  # the week it ends and the next
    with pytest.raises(DataError, match="week ending 2020-06-27 has missing days"):
        weekly.history("A", pd.Timestamp("2020-06-27"))
    before_gap = weekly.history("A", pd.Timestamp("2020-06-13"))
    assert before_gap.index[-1] == pd.Timestamp("2020-06-13") and before_gap.notna().all()


def test_too_few_weeks_is_a_reason_not_a_crash():
    frame = tidy(days=30, regions=("A",))
    with pytest.raises(DataError, match=f"at least {MIN_WEEKS}"):
        weekly_counts(frame, "deaths").history("A")


# ---------------------------------------------------------------- scores


def test_wis_of_a_point_forecast_is_its_absolute_error_and_matches_the_definition():
    y = np.array([10.0, 50.0])
    point = np.full((2, 23), 30.0)
    assert np.allclose(weighted_interval_score(y, point)["wis"], [20.0, 20.0])
    rng = np.random.default_rng(1)
    q = np.sort(rng.normal(100, 20, (50, 23)), axis=1)
    y = rng.normal(100, 30, 50)
    got = weighted_interval_score(y, q)
    # Bracher et al. (2021), written out interval by interval
    expected = []
    for yi, qi in zip(y, q):
        total = 0.5 * abs(yi - qi[11])
        for k, level in enumerate(INTERVALS):
            alpha = 1 - level / 100
            lo, hi = qi[k], qi[22 - k]
            score = (hi - lo) + 2 / alpha * max(lo - yi, 0) + 2 / alpha * max(yi - hi, 0)
            total += alpha / 2 * score
        expected.append(total / (len(INTERVALS) + 0.5))
    assert np.allclose(got["wis"], expected)
    assert np.allclose(got["dispersion"] + got["overprediction"] + got["underprediction"], got["wis"])
    # twice the mean pinball loss over the 23 quantiles
    pinball = ((y[:, None] < q) - np.array(QUANTILES)) * (q - y[:, None])
    assert np.allclose(got["wis"], 2 * pinball.mean(axis=1))
    cov = coverage_by_level(y, q)
    assert list(cov.index) == sorted(INTERVALS) and cov.is_monotonic_increasing


def test_relative_wis_is_the_pairwise_geometric_mean_ratio():
    rows = []
    for date in range(4):
        for loc in ("a", "b"):
            rows += [{"model": "base", "forecast_date": date, "location": loc, "target": "t", "horizon": 1, "wis": 2.0},
                     {"model": "good", "forecast_date": date, "location": loc, "target": "t", "horizon": 1, "wis": 1.0}]
    rows.append({"model": "part", "forecast_date": 0, "location": "a", "target": "t", "horizon": 1, "wis": 0.5})
    rel = relative_wis(pd.DataFrame(rows), "base").set_index("model")["relative_wis"]
    assert rel["base"] == 1.0 and rel["good"] == pytest.approx(0.5)
    # 'part' forecast once: compared on that forecast only (0.25 of the baseline, 0.5 of 'good')
    assert rel["part"] == pytest.approx(0.25)


# ---------------------------------------------------------------- models


def test_hub_baseline_is_flat_symmetric_and_not_negative():
    y = pd.Series([100.0, 120, 90, 130, 110, 20], index=pd.date_range("2020-01-04", periods=6, freq="7D"))
    q = HubBaseline().fit(y).predict_quantiles(4)
    assert list(q.index) == [1, 2, 3, 4] and list(q.columns) == list(QUANTILES)
    assert (q[0.5] == 20).all()  # the last week, flat
    assert (q.to_numpy() >= 0).all() and (np.diff(q.to_numpy(), axis=1) >= 0).all()
    assert (q[0.99].diff().dropna() >= 0).all()  # wider further ahead
    again = HubBaseline().fit(y).predict_quantiles(4)
    pd.testing.assert_frame_equal(q, again)  # seeded: the same history gives the same quantiles


@pytest.mark.parametrize("name", [n for n in HUB_MODELS if n not in ("prophet", "auto_arima", "svr")])
@pytest.mark.parametrize("series", ["wave", "zeros_then_spike", "tiny"])
def test_every_hub_model_gives_sorted_non_negative_quantiles(name, series):
    weeks = pd.date_range("2020-03-07", periods=30, freq="7D")
    values = {"wave": 1000 * np.exp(-((np.arange(30) - 15) / 6.0) ** 2) + 3,
              "zeros_then_spike": np.r_[np.zeros(25), [0, 40, 0, 3, 500]],
              "tiny": np.r_[np.ones(28), [0, 2]]}[series]
    y = pd.Series(values, index=weeks)
    cases = pd.Series(np.r_[values[2:], values[-1], values[-1]] * 50 + 10, index=weeks)
    covariates = {"case": cases, "case_7d": days_between_weeks(cases), "death_7d": days_between_weeks(y)}
    try:
        model = hub_model(name, "death")
        q = model.fit(y, covariates).predict_quantiles(4).to_numpy()
    except SkipModel as exc:
        assert name in ("auto_arima", "arima", "ar") or "too few" in str(exc) or "zero" in str(exc), exc
        return
    assert q.shape == (4, 23) and np.isfinite(q).all()
    assert (q >= 0).all() and (np.diff(q, axis=1) >= -1e-9).all()


def days_between_weeks(weekly: pd.Series) -> pd.DataFrame:
    """What WeeklyCounts.recent_days gives for data that ends on a Saturday: 7-day counts
    between the weeks (here interpolated), the Sunday after the last week unknown."""
    values = weekly.to_numpy(float)
    before = np.r_[values[0], values[:-1]]
    frame = pd.DataFrame({k: values + (k / 7) * (values - before) if k <= 0 else np.r_[values[1:], np.nan]
                          for k in RECENT_DAYS}, index=weekly.index)
    return frame


def test_recent_days_are_the_7_day_counts_around_each_week_and_stop_before_the_date():
    frame = tidy()
    date = pd.Timestamp("2020-07-13")  # a Monday: its Sunday (07-12) is the newest day a forecast sees
    counts = weekly_counts(frame, "confirmed", before=date)
    last = last_complete_week(date)
    days = counts.recent_days("A", last)
    assert list(days.columns) == list(RECENT_DAYS) and days.index.equals(counts.values.loc[:last].index)
    np.testing.assert_allclose(days[0].to_numpy()[1:], counts.values["A"].loc[:last].to_numpy()[1:])
    cumulative = frame[frame["region"] == "A"].set_index("date")["confirmed"]
    sunday = last + pd.Timedelta(days=1)
    assert days[1].iloc[-1] == cumulative[sunday] - cumulative[sunday - pd.Timedelta(days=7)]
    assert days[-6].iloc[-1] == cumulative[last - pd.Timedelta(days=6)] - cumulative[last - pd.Timedelta(days=13)]
    ends_saturday = weekly_counts(frame[frame["date"] <= last], "confirmed", before=date).recent_days("A", last)
    assert np.isnan(ends_saturday[1].iloc[-1]) and np.isfinite(ends_saturday[0].iloc[-1])


def test_daily_growth_reads_the_days_and_falls_back_to_the_weeks():
    weeks = pd.date_range("2020-03-07", periods=8, freq="7D")
    rate = 0.05  # per day
    seven = pd.DataFrame({k: 1000 * np.exp(rate * (7 * np.arange(8) + k)) for k in RECENT_DAYS}, index=weeks)
    values = seven[0].to_numpy()
    ahead = DailyGrowth(damping=1.0, cap=10).forecast(values, {"case_7d": seven.to_numpy()}, 2)
    np.testing.assert_allclose(np.log1p(ahead) - np.log1p(values[-1]), [7 * rate, 14 * rate], atol=2e-3)
    capped = DailyGrowth(damping=1.0, cap=0.1).forecast(values, {"case_7d": seven.to_numpy()}, 1)
    assert np.isclose(np.log1p(capped[0]) - np.log1p(values[-1]), 0.1, atol=2e-3)
    weekly_only = seven.copy()
    weekly_only.loc[:, [k for k in RECENT_DAYS if k != 0]] = np.nan  # a source with Saturdays only
    weekly_only = weekly_only.to_numpy()
    np.testing.assert_allclose(DailyGrowth().forecast(values, {"case_7d": weekly_only}, 4),
                               GrowthRate().forecast(values, {}, 4))
    with pytest.raises(SkipModel, match="7-day case counts"):
        hub_model("daily_growth", "case").fit(pd.Series(values, index=weeks))
    assert hub_model("case_lag", "death").needs == ("case", "case_7d")


def test_case_lag_reads_deaths_from_earlier_cases():
    weeks = pd.date_range("2020-03-07", periods=20, freq="7D")
    cases = pd.Series(np.r_[np.full(10, 1000.0), np.full(10, 3000.0)], index=weeks)
    deaths = pd.Series(0.01 * cases.shift(2).fillna(1000).to_numpy(), index=weeks)
    point = CaseLag(weights=(0, 0, 1), cases=Flat()).forecast(deaths.to_numpy(), {"case": cases.to_numpy()}, 4)
    assert np.allclose(point, 30.0)
    with pytest.raises(SkipModel, match="case counts"):
        hub_model("case_lag", "death").fit(deaths)


def test_growth_rate_is_damped_and_capped():
    values = np.array([100.0, 200.0, 400.0])
    ahead = GrowthRate(window=2, damping=0.5, cap=10).forecast(values, {}, 4)
    steps = np.log1p(ahead) - np.log1p(400)
    slope = np.log1p(400) - np.log1p(200)
    assert np.allclose(steps, slope * np.cumsum(0.5 ** np.arange(1, 5)))
    capped = GrowthRate(window=2, damping=1.0, cap=0.1).forecast(values, {}, 1)
    assert np.isclose(np.log1p(capped[0]) - np.log1p(400), 0.1)


def test_estimators_show_their_parameters_clone_and_refuse_to_predict_unfitted():
    from kit.forecast.models import ARIMA, Holt

    assert repr(Holt(damped=True)) == "Holt(damped=True)" and repr(Holt()) == "Holt()"
    assert repr(ARIMA(order=(1, 1, 0))) == "ARIMA(order=(1, 1, 0))"
    model = HubBaseline(samples=500)
    copy = model.clone()
    assert copy is not model and copy.get_params() == {"samples": 500, "seed": 0}
    with pytest.raises(NotFittedError, match="fit"):
        copy.predict_quantiles(4)
    with pytest.raises(NotFittedError):
        Holt().predict(3)
    ensemble = hub_model("ensemble", "death")
    assert isinstance(ensemble, QuantileEnsemble) and ensemble.clone().members[0] is not ensemble.members[0]


# ---------------------------------------------------------------- hub files


def test_hub_forecast_is_deterministic_and_sees_nothing_after_its_date(tmp_path):
    frame = tidy()
    date = "2020-07-13"
    a = hub_forecast(frame, date, progress=False)
    b = hub_forecast(frame[frame["date"] < pd.Timestamp(date)], date, progress=False)
    path_a, path_b = a.to_csv(tmp_path / "a.csv"), b.to_csv(tmp_path / "b.csv")
    assert path_a.read_bytes() == path_b.read_bytes()
    assert hub_forecast(frame, date, progress=False).to_csv(tmp_path / "c.csv").read_bytes() == path_a.read_bytes()
    table = pd.read_csv(path_a)
    assert list(table.columns) == ["forecast_date", "target", "target_end_date", "location", "type", "quantile",
                                   "value"]
    assert set(table["target"]) == {target_name(h, t) for h in (1, 2, 3, 4) for t in ("case", "death")}
    assert (table.groupby(["location", "target", "type"]).size() == table["type"].map(
        {"point": 1, "quantile": 23}).groupby([table["location"], table["target"], table["type"]]).first()).all()
    assert (table["value"] >= 0).all()
    assert set(table["target_end_date"]) == {str(target_end_date(date, h).date()) for h in (1, 2, 3, 4)}


def test_regions_that_cannot_be_forecast_are_skipped_with_a_reason():
    frame = tidy()
    late = tidy(days=30, regions=("Late",), start="2020-07-01")
    zeros = tidy(regions=("Zero",)).assign(confirmed=0.0, deaths=0.0)
    both = pd.concat([frame, late, zeros], ignore_index=True)
    both.attrs = dict(frame.attrs)
    result = hub_forecast(both, "2020-07-27", progress=False)
    reasons = result.skipped.set_index(["location", "target"])["reason"]
    assert "at least" in reasons[("Late", "case")]
    assert "all" in reasons[("Zero", "case")] and "zero" in reasons[("Zero", "case")]
    assert set(result.table["location"]) == {"A", "B"}
    with pytest.raises(ParameterError, match="needs the week ending 2021-01-02, but the data end on 2020-09-16"):
        hub_forecast(frame, "2021-01-04", progress=False)
    with pytest.raises(ParameterError, match="at least"):
        hub_forecast(frame, "2020-03-16", progress=False)
    with pytest.raises(DataError, match="no region 'Bb'.*Did you mean 'B'"):
        hub_forecast(frame, "2020-07-27", regions="a,Bb", progress=False)
    assert set(hub_forecast(frame, "2020-07-27", regions="a", progress=False).table["location"]) == {"A"}


def _hub_file(tmp_path, name="2020-07-13-team-model.csv"):
    path = hub_forecast(tidy(), "2020-07-13", progress=False).to_csv(tmp_path / name)
    return path, path.read_text().splitlines()


@pytest.mark.parametrize("change, message", [
    (lambda lines: [lines[0]] + [l for l in lines[1:] if ",quantile,0.3," not in l], "lacks quantile"),
    (lambda lines: lines + [lines[5]], "duplicate row"),
    (lambda lines: [lines[0], lines[1].replace("1 wk ahead inc case", "1 wk ahead cum case")] + lines[2:],
     "unknown target"),
    (lambda lines: [lines[0]] + [l.replace(",quantile,0.6,", ",quantile,0.6,") for l in lines[1:3]] +
     [lines[3].rsplit(",", 1)[0] + ",1e12"] + lines[4:], "crossing quantiles"),
    (lambda lines: [lines[0], lines[1].replace("2020-07-18", "2020-07-25")] + lines[2:], "does not match"),
    (lambda lines: [lines[0], lines[1].replace("2020-07-13,", "2020-07-14,", 1)] + lines[2:], "not a Monday"),
    (lambda lines: [lines[0], lines[1].rsplit(",", 1)[0] + ",-3"] + lines[2:], "negative value"),
    (lambda lines: [lines[0].replace("quantile", "q")] + lines[1:], "missing column"),
])
def test_bad_forecast_files_are_refused_naming_file_and_line(tmp_path, change, message):
    path, lines = _hub_file(tmp_path)
    path.write_text("\n".join(change(lines)) + "\n")
    with pytest.raises(DataValidationError, match=message) as info:
        read_forecasts(path)
    assert path.name in str(info.value)


def test_scores_against_truth_with_relative_wis_and_unobserved_weeks(tmp_path):
    frame = tidy()
    for model in ("baseline", "growth"):
        hub_forecast(frame[frame["date"] < "2020-08-31"], "2020-08-31", model=model, progress=False).to_csv(
            tmp_path / f"2020-08-31-kit-{model}.csv")
    forecasts = read_forecasts(tmp_path)
    assert set(forecasts["model"]) == {"kit-baseline", "kit-growth"}
    scores = score_forecasts(forecasts, weekly_targets(frame), baseline="kit-baseline")
    table = scores.table.set_index(["model", "target"])
    assert table.loc[("kit-baseline", "inc case"), "relative_wis"] == 1.0
    # the data end on 16 September: the 3 and 4 week targets (19 and 26 September) are not observed yet
    assert set(scores.per_forecast["horizon"]) == {1, 2}
    assert scores.skipped["reason"].str.contains("not observed yet").all()
    assert {"dispersion", "overprediction", "underprediction", "coverage_50", "coverage_95"} <= set(table.columns)
    assert len(scores.coverage) == 2 * 2 * len(INTERVALS)


def test_backtest_scores_every_model_and_never_looks_ahead():
    frame = tidy()
    result = hub_backtest(frame, "2020-06-01", "2020-07-27", models="growth,case_lag,ensemble,naive",
                          progress=False)
    assert len(result.dates) == 9
    models = set(result.scores.table["model"])
    assert models == {"baseline", "growth", "case_lag", "ensemble", "naive"}
    first = result.forecasts[(result.forecasts["model"] == "ensemble") &
                             (result.forecasts["forecast_date"] == pd.Timestamp("2020-06-01"))]
    alone = hub_forecast(frame[frame["date"] < "2020-06-01"], "2020-06-01", progress=False)
    mine = result.hub_table("ensemble", "2020-06-01")
    assert len(first) == 16
    pd.testing.assert_frame_equal(mine.reset_index(drop=True)[["location", "target", "value"]].sort_values(
        ["location", "target", "value"], ignore_index=True),
        alone.table[["location", "target", "value"]].sort_values(["location", "target", "value"], ignore_index=True),
        check_exact=False, rtol=1e-12)
    # case_lag has no case forecast: not a row of its own for cases
    assert not ((result.scores.table["model"] == "case_lag") & (result.scores.table["target"] == "inc case")).any()


# ---------------------------------------------------------------- command line


def test_cli_hub_score_and_backtest(tmp_path):
    source = write_csv(tidy(), tmp_path / "counts.csv")
    out = tmp_path / "fc" / "2020-07-13-kit-ensemble.csv"
    proc = kit("forecast", "hub", "--source", str(source), "--forecast-date", "2020-07-13", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert out.exists() and "2 regions" in proc.stdout
    proc = kit("forecast", "score", "--forecasts", str(out.parent), "--truth", str(source),
               "--json", str(tmp_path / "s.json"), "--plot", str(tmp_path / "s.png"))
    assert proc.returncode == 0, proc.stderr
    assert "kit-ensemble" in proc.stdout and "baseline" in proc.stdout and (tmp_path / "s.png").exists()
    import json

    rows = json.loads((tmp_path / "s.json").read_text())["rows"]
    assert {r["model"] for r in rows} == {"kit-ensemble", "baseline"}
    proc = kit("forecast", "hub-backtest", "--source", str(source), "--from", "2020-07-06", "--to", "2020-07-20",
               "--models", "growth", "--targets", "case", "--out", str(tmp_path / "bt"))
    assert proc.returncode == 0, proc.stderr
    assert "3 forecast dates" in proc.stdout
    assert (tmp_path / "bt" / "growth" / "2020-07-13-kit-growth.csv").exists()


@pytest.mark.parametrize("args, message", [
    (["--forecast-date", "2020-07-14"], "is a Tuesday"),
    (["--forecast-date", "2021-07-12"], "the data end on"),
    (["--forecast-date", "2020-07-13", "--targets", "hospital"], "targets are case and death"),
    (["--forecast-date", "2020-07-13", "--regions", "Atlantis"], "no region 'Atlantis'"),
])
def test_cli_hub_bad_input_is_one_line(tmp_path, args, message):
    source = write_csv(tidy(days=160), tmp_path / "counts.csv")
    proc = kit("forecast", "hub", "--source", str(source), "--out", str(tmp_path / "x.csv"), *args)
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "x.csv").exists()


def test_cli_deaths_only_source_skips_cases_with_the_reason(tmp_path):
    frame = tidy()
    frame[["date", "region", "deaths"]].to_csv(tmp_path / "deaths.csv", index=False, date_format="%Y-%m-%d")
    out = tmp_path / "d.csv"
    proc = kit("forecast", "hub", "--source", str(tmp_path / "deaths.csv"), "--forecast-date", "2020-07-13",
               "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "no confirmed counts" in proc.stderr
    assert set(pd.read_csv(out)["target"].str.split(" ").str[-1]) == {"death"}


def test_the_european_hub_is_a_named_set_of_regions():
    from kit.errors import DataError, ParameterError
    from kit.forecast.hub import EUROPEAN_HUB, check_regions

    assert len(EUROPEAN_HUB) == 32 and len(set(EUROPEAN_HUB)) == 32
    assert check_regions("european_hub", [*EUROPEAN_HUB, "US"]) == list(EUROPEAN_HUB)
    with pytest.raises((DataError, ParameterError), match="Malta"):
        check_regions("european_hub", [r for r in EUROPEAN_HUB if r != "Malta"])
