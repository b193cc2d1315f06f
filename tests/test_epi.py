"""kit.epi: flows as specified, agreement with solve_ivp, conservation, parameter
recovery with honest confidence intervals, scenarios and bad inputs."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from scipy.integrate import solve_ivp

from kit import epi
from kit.epi import FitError, ParameterError, get_model, integrate
from kit.epi.integrate import resolve_parameters

ICU = dict(population=1e7, r0_start=3.5, r0_end=0.8, k=0.3, x0=70, p_ic=0.08, p_cd=0.6)


def reference(model, params, days):
    m = get_model(model)
    p, _ = resolve_parameters(m, params)
    sol = solve_ivp(lambda t, y: m.derivatives(t, y, p), (0, days - 1), m.initial(p)[:, 0],
                    t_eval=np.arange(days), method="DOP853", rtol=1e-12, atol=1e-9)
    assert sol.success
    return sol.y.T


def test_icu_flows_match_the_course_formulas():
    m = get_model("seird-icu")
    p = dict(population=1000.0, r0_start=3.0, r0_end=1.0, k=0.5, x0=10.0, incubation_days=4.0,
             infectious_days=8.0, p_ic=0.1, p_cd=0.4, beds_per_100k=1000.0, beds_growth=0.01)
    params, _ = resolve_parameters(m, p)
    t, (s, e, i, c, r, d) = 12.0, (600.0, 100.0, 150.0, 30.0, 100.0, 20.0)
    beds = 1000.0 * 1000 / 1e5 * (1 + 0.01 * t)  # = 11.2, so C exceeds capacity
    r0 = (3.0 - 1.0) / (1 + np.exp(-0.5 * (10.0 - t))) + 1.0
    beta, sigma, gamma = r0 / 8.0, 1 / 4.0, 1 / 8.0
    inf = beta * i * s / 1000.0
    to_c, i_r = 0.1 * i / 12, gamma * 0.9 * i
    c_d = 0.4 * min(beds, c) / 7.5 + max(0.0, c - beds)
    c_r = 0.6 * min(beds, c) / 6.5
    expected = [-inf, inf - sigma * e, sigma * e - to_c - i_r, to_c - c_d - c_r, i_r + c_r, c_d]
    np.testing.assert_allclose(m.derivatives(t, (s, e, i, c, r, d), params), expected, rtol=1e-12)


@pytest.mark.parametrize("model,params", [
    ("seir", dict(population=5e6, r0_start=2.5)),
    ("seird", dict(population=5e6, r0_start=2.8, r0_end=0.9, x0=60, ifr=0.01)),
    ("seird-icu", ICU),                                     # ample beds
    ("seird-icu", {**ICU, "beds_per_100k": 2.0}),           # C crosses capacity twice
    ("seird-icu", {**ICU, "beds_per_100k": 0.0}),           # no beds at all
])
def test_agrees_with_solve_ivp_and_conserves_population(model, params):
    days = 200
    ours = integrate(model, days, params)[:, :, 0]
    ref = reference(model, params, days)
    scale = np.maximum(np.abs(ref).max(axis=0), 1.0)
    rel = np.abs(ours - ref) / scale  # relative to each compartment's size
    assert rel.max() < 1e-4, rel.max(axis=0)
    pointwise = np.abs(ours - ref) / np.maximum(np.abs(ref), 1.0)  # one person as the floor
    assert pointwise.max() < 1e-4, pointwise.max(axis=0)
    total = ours.sum(axis=1)
    assert np.abs(total - params["population"]).max() / params["population"] < 1e-6


def test_capacity_is_actually_crossed_in_the_kink_case():
    sim = epi.simulate("seird-icu", days=200, **{**ICU, "beds_per_100k": 2.0})
    info = epi.peak(sim)
    assert info["over_capacity"] and info["days_over_capacity"] > 5 and info["max_excess"] > 0


def test_ensemble_members_equal_single_runs():
    rng = np.random.default_rng(0)
    r0 = rng.uniform(2, 4, 50)
    x0 = rng.uniform(30, 90, 50)
    ens = integrate("seird-icu", 150, {**ICU, "r0_start": r0, "x0": x0})
    for j in (0, 17, 49):
        single = integrate("seird-icu", 150, {**ICU, "r0_start": r0[j], "x0": x0[j]})[:, :, 0]
        np.testing.assert_allclose(ens[:, :, j], single, rtol=1e-12)


@pytest.mark.parametrize("params,message", [
    (dict(population=0), "population' must be positive"),
    (dict(population=-1e6), "population' must be positive"),
    (dict(population=1e6, r0_start=float("nan")), "r0_start' must be positive"),
    (dict(population=1e6, r0_start=np.array([2.0, np.inf])), "ensemble member 1"),
    (dict(population=1e6, p_ic=1.5), "probability"),
    (dict(population=1e6, p_cd=-0.1), "probability"),
    (dict(population=1e6, beds_per_100k=-3), "non-negative"),
    (dict(population=1e6, infectious_days=0), "positive"),
    (dict(population=1e6, bogus=1), "unknown parameter"),
    (dict(population=1e6, r0_start=np.ones(3), x0=np.ones(4)), "same number of values: .*r0_start has 3, x0 has 4"),
    (dict(population=10, initial_exposed=20), "cannot exceed the population"),
    (dict(r0_start=3), "needs a value for population"),
])
def test_bad_parameters_are_rejected_clearly(params, message):
    with pytest.raises(ParameterError, match=message):
        integrate("seird-icu", 10, params)


def test_bad_days_and_model():
    with pytest.raises(ParameterError, match="days"):
        integrate("seir", 0, {"population": 1e6})
    with pytest.raises(ValueError, match="unknown model"):
        integrate("sir-x", 10, {"population": 1e6})


def noisy_deaths(true, days=160, seed=1, start="2020-02-01"):
    y = integrate("seird-icu", days, true)[:, :, 0]
    daily = np.diff(y[:, 5])
    rng = np.random.default_rng(seed)
    counts = rng.negative_binomial(50, 50 / (50 + daily))
    return pd.Series(np.concatenate([[0], np.cumsum(counts)]),
                     index=pd.date_range(start, periods=days, freq="D"))


def test_fit_recovers_known_parameters_within_their_intervals():
    true = dict(population=1e7, r0_start=3.2, r0_end=0.8, k=0.4, x0=75, p_ic=0.05, p_cd=0.6, beds_per_100k=12.0)
    series = noisy_deaths(true)
    known = {k: v for k, v in true.items() if k not in ("r0_start", "r0_end", "k", "x0")}
    result = epi.fit(series, lead_days=365, **known)
    table = result.parameters.set_index("name")
    for name in ("r0_start", "r0_end", "k", "x0"):
        row = table.loc[name]
        assert np.isfinite(row["stderr"]) and row["stderr"] > 0
        assert row["ci_low"] - 0.5 * row["stderr"] <= true[name] <= row["ci_high"] + 0.5 * row["stderr"], (name, row)
    assert abs(table.loc["r0_start", "value"] - 3.2) < 0.3 and abs(table.loc["x0", "value"] - 75) < 5
    assert result.n_points == len(series) - 1 and result.rmse < series.diff().max() * 0.2
    band = result.band(n=100)
    assert (band["low"] <= band["high"]).all() and len(band) == result.n_points
    out = result.to_json()
    assert set(out["parameters"]["r0_start"]) == {"value", "stderr"} and out["n_points"] == result.n_points


def test_fit_bad_inputs():
    dates = pd.date_range("2020-03-01", periods=40, freq="D")
    with pytest.raises(FitError, match="no deaths reported"):
        epi.fit(pd.Series(0.0, index=dates), population=1e6)
    with_nan = pd.Series(np.arange(40.0), index=dates)
    with_nan.iloc[[5, 9]] = np.nan
    with pytest.raises(FitError, match="2 missing value.*2020-03-06"):
        epi.fit(with_nan, population=1e6)
    with pytest.raises(FitError, match="only 7 daily points"):
        epi.fit(pd.Series(np.arange(8.0), index=dates[:8]), population=1e6)
    with pytest.raises(FitError, match="population"):
        epi.fit(pd.Series(np.arange(40.0), index=dates), population=-3)
    with pytest.raises(FitError, match="indexed by date"):
        epi.fit(pd.Series(np.arange(40.0)), population=1e6)


def test_fit_repairs_decreasing_cumulative_series_with_a_warning():
    true = dict(population=1e7, r0_start=3.0, r0_end=0.8, x0=70)
    series = noisy_deaths(true, days=140)
    series.iloc[100] = series.iloc[99] - 5  # a correction
    with pytest.warns(UserWarning, match="decreases on 1 day"):
        result = epi.fit(series, lead_days=365, starts=1, population=1e7)
    assert (result.curve["observed"] >= 0).all()


def test_intervention_earlier_avoids_deaths():
    effect = epi.intervention_effect(days=250, earlier_by=14, **epi.country_parameters("Italy"),
                                     r0_start=3.2, r0_end=0.9, x0=100)
    assert effect["deaths_avoided"] > 0.5 * effect["deaths_baseline"]
    assert effect["peak_baseline"]["over_capacity"] and not effect["peak_earlier"]["over_capacity"]
    with pytest.raises(ValueError, match="earlier_by"):
        epi.intervention_effect(earlier_by=500, population=1e6, x0=50)


def test_ensemble_band_quantiles_are_ordered():
    band = epi.ensemble_band("seird-icu", 120, {**ICU, "r0_start": np.linspace(2.5, 3.5, 200)}, "C")
    assert list(band.columns) == ["q05", "q50", "q95"]
    assert (band["q05"] <= band["q50"]).all() and (band["q50"] <= band["q95"]).all()


def test_age_weighting():
    italy, india = epi.icu_probabilities("Italy"), epi.icu_probabilities("India")
    assert italy["p_ic"] > india["p_ic"]  # an older population needs more intensive care
    young = epi.icu_probabilities([1, 1, 1, 0, 0, 0, 0, 0, 0, 0])
    assert young["p_ic"] == pytest.approx((0.001 + 0.003 + 0.009) / 3)
    with pytest.raises(ValueError, match="Did you mean Italy"):
        epi.icu_probabilities("Itly")
    with pytest.raises(ValueError, match="ten|10"):
        epi.icu_probabilities([1, 2, 3])


def kit(*args):
    return subprocess.run([sys.executable, "-m", "kit", *args], capture_output=True, text=True)


def test_cli_simulate_json_contract(tmp_path):
    out, png = tmp_path / "sim.json", tmp_path / "sim.png"
    proc = kit("epi", "simulate", "--model", "seird-icu", "-p", "population=2e6", "-p", "x0=80",
               "--days", "120", "--json", str(out), "--plot", str(png))
    assert proc.returncode == 0, proc.stderr
    payload = json.loads(out.read_text())
    assert set(payload) >= {"model", "parameters", "days", "series", "peak"}
    assert set(payload["series"]) == {"S", "E", "I", "C", "R", "D"} and len(payload["series"]["S"]) == 120
    assert payload["peak"]["compartment"] == "C" and png.stat().st_size > 10_000
    bad = kit("epi", "simulate", "-p", "p_ic=2")
    assert bad.returncode == 2 and "probability" in bad.stderr and "Traceback" not in bad.stderr


def test_cli_fit_on_a_csv(tmp_path):
    true = dict(population=5e6, r0_start=3.0, r0_end=0.8, x0=70)
    deaths = noisy_deaths(true, days=150)
    csv = tmp_path / "tidy.csv"
    pd.DataFrame({"date": deaths.index.date, "region": "Testland", "province": "",
                  "confirmed": deaths * 50, "deaths": deaths}).to_csv(csv, index=False)
    out = tmp_path / "fit.json"
    proc = kit("epi", "fit", "--source", str(csv), "--region", "Testland", "--json", str(out),
               "--lead-days", "400", "-p", "population=5e6")
    assert proc.returncode == 0, proc.stderr
    payload = json.loads(out.read_text())
    assert {"parameters", "rmse", "n_points"} <= set(payload)
    assert abs(payload["parameters"]["r0_start"]["value"] - 3.0) < 0.5
    unknown = kit("epi", "fit", "--source", str(csv), "--region", "Testlnd")
    assert unknown.returncode == 2 and "Did you mean 'Testland'" in unknown.stderr
