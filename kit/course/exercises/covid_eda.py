"""Exercises of lesson 01: growth, mortality and the growth factor of the region the student chose."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .core import FunctionExercise, NumberExercise, exercise_key

LESSON = "01_covid_eda"
EXERCISES = {
    "doubling_time": "How fast did the count double in a month?",
    "mortality": "Mortality on the last day",
    "growth_factor": "growth_factor(new): the growth factor by hand",
}


def doubling_time(counts: pd.DataFrame, month: str) -> NumberExercise:
    """The doubling time (days) of confirmed cases in ``month``, for the lesson's region."""
    from kit.eda import doubling_time as kit_doubling_time

    expected = kit_doubling_time(counts["confirmed"], month)
    part = counts["confirmed"].loc[str(month)]
    part = part[part > 0]
    rate = (math.log(part.iloc[-1] / part.iloc[0]) / max(1, (part.index[-1] - part.index[0]).days)
            if expected is not None else None)
    mistakes = [] if expected is None else [
        (lambda v, e: math.isclose(v * 7, e, rel_tol=0.03), "your doubling time is in weeks, not days"),
        (lambda v, e: math.isclose(v, rate, rel_tol=0.03),
         "that is the growth rate per day (the log of the ratio per day); the doubling time is ln 2 divided by it"),
        (lambda v, e: math.isclose(v, e / math.log(2), rel_tol=0.03) or math.isclose(v, e * math.log(10) / math.log(2),
                                                                                   rel_tol=0.03),
         "close, but the logarithm is off: use natural logs throughout, ln 2 over ln(last / first) times the days"),
    ]
    return NumberExercise(
        exercise_key(LESSON, "doubling_time"), f"Doubling time of confirmed cases in {month}", "doubling_days",
        solution=f'''
import numpy as np
month = counts["confirmed"].loc[{str(month)!r}]
month = month[month > 0]
days = (month.index[-1] - month.index[0]).days
doubling_days = days * np.log(2) / np.log(month.iloc[-1] / month.iloc[0])''',
        expected=expected, unit="days", rel_tol=0.02, mistakes=mistakes,
        hints=[f"Take the confirmed counts of {month}: `counts[\"confirmed\"].loc[\"{month}\"]`, and its first and "
               "last day with a positive count.",
               "Growing at a steady rate r per day, a count is multiplied by e^(r·days): r = ln(last / first) / days.",
               "It doubles when e^(r·T) = 2, so T = ln 2 / r. In days, not weeks. (If it did not grow, the answer "
               "is None.)"],
        explanation="A doubling time turns a growth rate into something people feel: 3 days means eight times "
                    "as many cases in a little over a week.")


def mortality(counts: pd.DataFrame) -> NumberExercise:
    """Deaths per confirmed case (%) on the last day of the lesson's window."""
    last = counts.iloc[-1]
    expected = 100.0 * last["deaths"] / last["confirmed"] if last["confirmed"] > 0 else None
    daily = (100.0 * counts["deaths"] / counts["confirmed"].where(counts["confirmed"] > 0))
    return NumberExercise(
        exercise_key(LESSON, "mortality"), "Deaths per confirmed case on the last day, in percent", "mortality_pct",
        solution='''
last = counts.iloc[-1]
mortality_pct = 100 * last["deaths"] / last["confirmed"]''',
        expected=expected, unit="%", rel_tol=0.01,
        mistakes=[(lambda v, e: math.isclose(v * 100, e, rel_tol=0.01), "that is a fraction; the answer is in percent"),
                  (lambda v, e: math.isclose(v, float(daily.mean()), rel_tol=0.01),
                   "that is the mean over all days (the summary table); the question asks for the last day")],
        hints=["`counts.iloc[-1]` is the last day: cumulative deaths and confirmed cases so far.",
               "Deaths over confirmed cases, times 100."],
        explanation="Deaths lag cases by weeks, so this ratio rises after a wave even when nothing changes; "
                    "it is not the infection fatality rate.")


def _growth_factor(new: pd.Series) -> pd.Series:
    return (new / new.shift(1)).replace([np.inf, -np.inf], np.nan)


def growth_factor() -> FunctionExercise:
    """Write growth_factor(new): today's new cases over yesterday's, NaN after a day without any."""
    days = pd.date_range("2020-03-01", periods=6, name="date")
    cases = [
        ("a growing outbreak", (pd.Series([2.0, 4, 6, 9, 12, 12], index=days),)),
        ("days without new cases (0 / 0 and 5 / 0)", (pd.Series([3.0, 0, 0, 5, 10, 5], index=days),)),
        ("a series of one day", (pd.Series([7.0], index=days[:1]),)),
    ]
    return FunctionExercise(
        exercise_key(LESSON, "growth_factor"), "growth_factor(new): the growth factor of daily new cases",
        "growth_factor",
        solution='''
import numpy as np
def growth_factor(new):
    return (new / new.shift(1)).replace([np.inf, -np.inf], np.nan)''',
        reference=_growth_factor, cases=cases,
        hints=["`new.shift(1)` lines each day up with the day before.",
               "Dividing by 0 gives inf (or NaN for 0 / 0); a growth factor after a day without cases is "
               "undefined: make it NaN (`.replace([np.inf, -np.inf], np.nan)`)."],
        explanation="Above 1 the epidemic accelerates, below 1 it slows; the lesson's plot smooths both counts "
                    "over 7 days first because weekends make the raw factor jump.")
