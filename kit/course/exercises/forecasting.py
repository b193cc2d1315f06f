"""Exercises of lesson 03: a forecaster of one's own, which model wins, and honest intervals."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .core import ChoiceExercise, FunctionExercise, NumberExercise, describe, exercise_key

LESSON = "03_forecasting"
EXERCISES = {
    "seasonal_naive": "A seasonal-naive forecaster behind the kit's Forecaster interface",
    "backtest_winner": "Which model wins the rolling-origin backtest?",
    "honest_intervals": "How many models' 95 % intervals are honest?",
}
SEASON = 7  # days: weekday reporting makes a week the series' season


def _seasonal_naive(y: pd.Series, h: int):
    if len(y) < SEASON:
        return "skipped (too short)"
    return np.resize(y.to_numpy(float)[-SEASON:], h)


def _use(cls, y: pd.Series, h: int):
    from kit.forecast.models import SkipModel

    try:
        return cls().fit(y).predict(h)["mean"].to_numpy()
    except SkipModel:
        return "skipped (too short)"


class ForecasterExercise(FunctionExercise):
    """The answer is a class: it must subclass the kit's Forecaster before it is tried."""

    def _judge(self, answer):
        from kit.forecast.models import Forecaster

        if not (isinstance(answer, type) and issubclass(answer, Forecaster)):
            return "invalid", (f"{describe(answer)} is not a Forecaster: write `class {self.variable}(Forecaster):` "
                               f"(from kit.forecast.models import Forecaster) so compare() can use it")
        return super()._judge(answer)


def seasonal_naive() -> ForecasterExercise:
    """Write SeasonalNaive: each future day repeats the same weekday of the last week."""
    days = pd.date_range("2020-03-02", periods=21, name="date")
    weekly = pd.Series(np.tile([50.0, 60, 55, 58, 62, 30, 20], 3) + np.arange(21), index=days)
    cases = [
        ("three weeks of counts with a weekend dip, 5 days ahead", (weekly, 5)),
        ("the same, 10 days ahead (longer than a week)", (weekly, 10)),
        ("exactly one week of data, 7 days ahead", (weekly.iloc[:7], 7)),
        ("a constant series, 3 days ahead", (pd.Series(4.0, index=days), 3)),
        ("5 days of data: too short for a weekly season, must be skipped (SkipModel)", (weekly.iloc[:5], 3)),
    ]
    return ForecasterExercise(
        exercise_key(LESSON, "seasonal_naive"), "SeasonalNaive: next week repeats the last one", "SeasonalNaive",
        solution='''
import numpy as np
from kit.forecast.models import Forecaster

class SeasonalNaive(Forecaster):
    name = "seasonal_naive"
    min_points = 7            # one whole season
    native_intervals = False  # the kit calibrates conformal intervals

    def _fit(self, y):
        pass                  # nothing to learn: fit() keeps y as self.y_

    def _predict(self, h, levels):
        return np.resize(self.y_.to_numpy()[-7:], h), {}''',
        reference=_seasonal_naive, cases=cases, call=_use,
        hints=["Subclass `kit.forecast.models.Forecaster`; `fit()` checks the series and keeps it as `self.y_`, "
               "then calls your `_fit(y)`; `predict(h)` calls your `_predict(h, levels)`.",
               "`_predict` returns `(mean, bands)`: `mean` has h values, the last 7 repeated "
               "(`np.resize(values[-7:], h)`); with `native_intervals = False` return `{}` and the kit "
               "adds conformal intervals.",
               "Set `min_points = 7`: `fit()` then raises SkipModel on a shorter series, as the kit's models do."],
        explanation="A seasonal naive is the baseline to beat on daily counts with weekday reporting: "
                    "`compare(daily, {\"seasonal_naive\": SeasonalNaive(), ...})` puts it in the table.")


def backtest_winner(backtest, single) -> ChoiceExercise:
    """Which model has the lowest RMSE over the rolling-origin backtest."""
    table = backtest.table[backtest.table["status"] == "ok"].sort_values("rmse").reset_index(drop=True)
    held = single.table[single.table["status"] == "ok"].sort_values("rmse")["model"].tolist()
    options = {}
    for rank, row in table.iterrows():
        place = f"; in the single hold-out it ranked {held.index(row['model']) + 1}" if row["model"] in held else ""
        options[str(row["model"])] = (f"backtest RMSE {row['rmse']:,.4g}, rank {rank + 1} of {len(table)}{place}"
                                      + (" — the winner" if rank == 0 else ""))
    return ChoiceExercise(
        exercise_key(LESSON, "backtest_winner"), "The model with the lowest RMSE in the rolling-origin backtest",
        "backtest_winner",
        solution='backtest_winner = backtest.table.query("status == \'ok\'").sort_values("rmse")["model"].iloc[0]',
        options=options, right=backtest.best,
        hints=["`backtest.table` has one row per model; the `rmse` column is averaged over every fold.",
               "The single hold-out (`single.table`) may crown another model: the question is about the backtest."],
        explanation="One hold-out is one draw of luck; the backtest averages several forecast origins, so its "
                    "winner is the one to trust.")


def honest_intervals(backtest) -> NumberExercise:
    """How many models' 95 % intervals held at least 90 % of the actual values."""
    ok = backtest.table[backtest.table["status"] == "ok"]
    coverage = ok["coverage_95"].astype(float)
    expected = int((coverage >= 0.9).sum())
    strict = int((coverage >= 0.95).sum())
    return NumberExercise(
        exercise_key(LESSON, "honest_intervals"), "Models whose 95 % intervals held at least 90 % of the actual values",
        "honest_models",
        solution='honest_models = int((backtest.table.query("status == \'ok\'")["coverage_95"] >= 0.9).sum())',
        expected=expected, unit="models", rel_tol=0, abs_tol=0,
        mistakes=[(lambda v, e: v == strict and strict != e,
                   "you counted the models at 95 % or more; the question asks for at least 90 %"),
                  (lambda v, e: v == len(ok) - e, "that is the number of models whose intervals are too narrow")],
        hints=["The `coverage_95` column is the share (0 to 1) of actual values inside the 95 % interval.",
               "Count the rows with `coverage_95 >= 0.9`."],
        explanation="An interval that holds far fewer of the actual values than it claims is overconfident: "
                    "its narrowness is not knowledge.")
