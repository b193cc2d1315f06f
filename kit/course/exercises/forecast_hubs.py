"""Exercises of lesson 03b: the interval score by hand, the best model on deaths, the ensemble's honesty."""
from __future__ import annotations

import math

from .core import ChoiceExercise, FunctionExercise, NumberExercise, exercise_key

LESSON = "03b_forecast_hubs"
EXERCISES = {
    "interval_score": "interval_score(lower, upper, y, alpha): one interval scored",
    "best_on_deaths": "Which model beats the baseline on deaths by the most?",
    "ensemble_coverage": "How often did the ensemble's 95 % interval hold the deaths?",
}
DEATHS = "inc death"


def _interval_score(lower: float, upper: float, y: float, alpha: float) -> float:
    return ((upper - lower) + 2 / alpha * max(lower - y, 0.0) + 2 / alpha * max(y - upper, 0.0))


def interval_score() -> FunctionExercise:
    """Write interval_score(lower, upper, y, alpha) (Gneiting and Raftery)."""
    cases = [
        ("an outcome inside the 80 % interval [10, 30]", (10.0, 30.0, 20.0, 0.2)),
        ("an outcome below the 80 % interval [10, 30]", (10.0, 30.0, 4.0, 0.2)),
        ("an outcome above the 95 % interval [10, 30]", (10.0, 30.0, 41.0, 0.05)),
        ("an outcome exactly on the lower end", (10.0, 30.0, 10.0, 0.5)),
        ("an interval of width 0 that misses", (12.0, 12.0, 15.0, 0.02)),
    ]
    return FunctionExercise(
        exercise_key(LESSON, "interval_score"), "interval_score(lower, upper, y, alpha)", "interval_score",
        solution='''
def interval_score(lower, upper, y, alpha):
    width = upper - lower
    below = max(lower - y, 0)   # how far the outcome fell below the interval
    above = max(y - upper, 0)   # ... or above it
    return width + 2 / alpha * (below + above)''',
        reference=_interval_score, cases=cases,
        hints=["A (1 − alpha) central interval [lower, upper] scores its width plus a penalty when the outcome "
               "misses it.",
               "The penalty is 2 / alpha times how far the outcome lies outside: (lower − y) below, (y − upper) "
               "above, 0 inside. A 95 % interval (alpha 0.05) pays 40 times the miss."],
        explanation="The weighted interval score sums this over the 11 central intervals, each weighted by "
                    "alpha / 2, plus half the median's absolute error, over 11.5 (`kit.forecast.wis`).")


def best_on_deaths(scores_table) -> ChoiceExercise:
    """The model with the lowest relative WIS on weekly deaths (the baseline excluded)."""
    table = scores_table[scores_table["model"] != "baseline"]
    deaths = table[table["target"] == DEATHS].sort_values("relative_wis")
    cases = table[table["target"] != DEATHS].set_index("model")["relative_wis"]
    best_cases = cases.idxmin() if len(cases) else None
    options = {}
    for row in deaths.itertuples():
        text = f"relative WIS {row.relative_wis:.3f} on deaths"
        if row.model in cases.index:
            text += f", {cases[row.model]:.3f} on cases"
        if row.model == best_cases and row.model != deaths["model"].iloc[0]:
            text += " — the best on cases, not on deaths"
        options[str(row.model)] = text + (" — the lowest on deaths" if row.Index == deaths.index[0] else "")
    return ChoiceExercise(
        exercise_key(LESSON, "best_on_deaths"), "The model with the lowest relative WIS on weekly deaths",
        "best_on_deaths",
        solution='''
table = backtest.scores.table
deaths = table[(table["target"] == "inc death") & (table["model"] != "baseline")]
best_on_deaths = deaths.sort_values("relative_wis")["model"].iloc[0]''',
        options=options, right=str(deaths["model"].iloc[0]),
        hints=["`backtest.scores.table` has one row per model and target; deaths are `target == \"inc death\"`.",
               "Relative WIS below 1 beats the baseline; the lowest beats it by the most."],
        explanation="Deaths follow cases by two to three weeks, so a model that reads the cases "
                    "(case_lag, and the ensemble through it) knows deaths that the death counts do not yet show.")


def ensemble_coverage(scores_table) -> NumberExercise:
    """The share of weekly death counts inside the ensemble's 95 % interval."""
    row = scores_table[(scores_table["model"] == "ensemble") & (scores_table["target"] == DEATHS)]
    expected = float(row["coverage_95"].iloc[0]) if len(row) else None
    fifty = float(row["coverage_50"].iloc[0]) if len(row) else math.nan
    return NumberExercise(
        exercise_key(LESSON, "ensemble_coverage"), "The share of weekly deaths inside the ensemble's 95 % interval",
        "ensemble_coverage_95",
        solution='''
table = backtest.scores.table
ensemble_coverage_95 = table.query("model == 'ensemble' and target == 'inc death'")["coverage_95"].iloc[0]''',
        expected=expected, unit="", rel_tol=0, abs_tol=0.005,
        mistakes=[(lambda v, e: math.isclose(v / 100, e, abs_tol=0.005), "that is in percent; give the share (0 to 1)"),
                  (lambda v, e: math.isclose(v, fifty, abs_tol=0.005), "that is the 50 % interval's coverage")],
        hints=["Find the ensemble's row for `inc death` in `backtest.scores.table`.",
               "`coverage_95` is the share of outcomes inside the 95 % interval, between 0 and 1."],
        explanation="A calibrated 95 % interval holds about 95 % of the outcomes; the hubs' ensemble held 0.90 "
                    "(Cramer et al. 2022).")
