"""Exercises of lesson 00: the data the course runs on, and how the kit trusts files."""
from __future__ import annotations

import pandas as pd

from .core import ChoiceExercise, FunctionExercise, NumberExercise, exercise_key

LESSON = "00_welcome"
EXERCISES = {
    "worst_day": "The worst day of an outbreak",
    "checksum": "A file that is not what the registry says",
    "new_per_day": "From cumulative counts to new counts per day",
}


def worst_day(outbreak: pd.DataFrame, region: str | None = None) -> NumberExercise:
    """How many new confirmed cases ``region`` (default: the first) reported on its worst day."""
    region = region or min(outbreak["region"].unique())
    rows = outbreak[outbreak["region"] == region]
    national = rows.groupby("date")["confirmed"].sum()
    expected = float(national.diff().max())
    by_province = rows.pivot_table(index="date", columns="province", values="confirmed", aggfunc="sum")
    one_province = float(by_province.diff().max().max())
    return NumberExercise(
        exercise_key(LESSON, "worst_day"), f"The most new confirmed cases {region} reported in one day",
        "worst_day_cases",
        solution=f'''
national = outbreak[outbreak["region"] == {region!r}].groupby("date")["confirmed"].sum()
worst_day_cases = national.diff().max()''',
        expected=expected, unit="cases", rel_tol=0, abs_tol=0.5,
        mistakes=[(lambda v, e: v == float(national.max()),
                   "that is the cumulative total on the last day; the question asks for new cases in one day"),
                  (lambda v, e: abs(v - one_province) < 0.5,
                   "that is the worst day of a single province; add the provinces up first")],
        hints=["The table is cumulative: `confirmed` counts every case so far. New cases on a day are the "
               "difference to the day before (`.diff()`).",
               f"Sum the provinces of {region} per date first: `.groupby(\"date\")[\"confirmed\"].sum()`."],
        explanation="A cumulative count never goes down, so its largest value is always the last one; "
                    "the epidemic's worst day is the largest day-to-day difference.")


def checksum() -> ChoiceExercise:
    """What the kit does with a download whose sha256 is not the registry's."""
    return ChoiceExercise(
        exercise_key(LESSON, "checksum"), "A download whose sha256 differs from the registry's", "checksum_answer",
        solution='checksum_answer = "next source"',
        options={
            "use it": "No: a file that is not the pinned one never reaches the cache, warning or not; "
                      "the lessons would silently compute on other data.",
            "next source": "The download is thrown away (it was written beside the cache, never into "
                           "it), the entry's next source is tried, and when none has the pinned file the kit "
                           "raises an error that lists every source and why it failed.",
            "ask": "No: nothing is asked: a course run has nobody to ask. The kit decides by the hash alone.",
        },
        right="next source",
        hints=["Look at `registry` above: each entry has a sha256 and one or more sources.",
               "Files are written atomically: beside their final place first, moved there only when complete."],
        explanation="Pinned hashes make every run of the course compute on the same bytes (see README, "
                    "'Data and the registry').")


def _new_per_day(cumulative: pd.Series) -> pd.Series:
    return cumulative.diff().fillna(cumulative).clip(lower=0)


def new_per_day() -> FunctionExercise:
    """Write new_per_day(cumulative): new counts per day from a cumulative Series."""
    days = pd.date_range("2020-03-01", periods=6, name="date")
    cases = [
        ("a growing count", (pd.Series([1.0, 3, 7, 7, 12, 20], index=days),)),
        ("a count that was corrected downwards on one day", (pd.Series([5.0, 9, 8, 12, 12, 15], index=days),)),
        ("a series of one day", (pd.Series([4.0], index=days[:1]),)),
        ("a series that is all zeros", (pd.Series([0.0] * 6, index=days),)),
        ("an empty series", (pd.Series([], dtype=float, index=days[:0]),)),
    ]
    return FunctionExercise(
        exercise_key(LESSON, "new_per_day"), "new_per_day(cumulative): new counts per day", "new_per_day",
        solution='''
def new_per_day(cumulative):
    return cumulative.diff().fillna(cumulative).clip(lower=0)''',
        reference=_new_per_day, cases=cases,
        hints=["`cumulative.diff()` gives the difference to the day before; its first value is NaN.",
               "On the first day everything counted so far is new: fill that NaN with the cumulative value.",
               "A day on which the count went down is a correction, not negative cases: `.clip(lower=0)`."],
        explanation="The kit's own `eda.daily` and the hubs' weekly targets start from the same differences.")
