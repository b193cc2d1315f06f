"""Exercises in the lessons: checked on the spot, hinted, solved on request, graded.

In a lesson::

    ex = exercises.begin("01_covid_eda", solve=solve)
    ...
    q1 = ex.doubling_time(counts, doubling_month)   # made from what the lesson computed
    q1.check(doubling_days)                          # right, or wrong and why
    q1.hint(); q1.solution()

Each lesson's exercises live in one module here (named like the lesson without its
number); :data:`LESSONS` maps lessons to them, and each module's ``EXERCISES`` names its
exercises and titles, so the catalog and the progress count come from one place.
"""
from __future__ import annotations

import pandas as pd

from . import progress
from .catalog import LESSONS, catalog, lesson_module
from .core import MODE, ChoiceExercise, Exercise, Feedback, FunctionExercise, NumberExercise


def begin(lesson: str, solve: bool = False):
    """Start ``lesson``'s exercises in this kernel; returns the module that makes them.

    ``solve=True`` fills every exercise left unanswered with its solution (the ``solved``
    profile, and CI, run the lessons so).
    """
    module = lesson_module(lesson)
    MODE.solve, MODE.lesson = bool(solve), lesson
    done = progress_table()
    mine = done[done["lesson"] == lesson]
    print(f"{len(mine)} exercises in this lesson; {int(mine['done'].sum())} done on this machine. "
          f"Answer each in its cell, then .check(answer); .hint() and .solution() help."
          + (" Solve mode: unanswered exercises are filled with their solutions." if solve else ""))
    return module


def progress_table(path=None) -> pd.DataFrame:
    """The catalog with this machine's progress: done (passed once), attempts, when first passed."""
    table = catalog()
    state = progress.load(path)["exercises"]
    table["done"] = [bool((state.get(k) or {}).get("first_passed")) for k in table["key"]]
    table["attempts"] = [int((state.get(k) or {}).get("attempts", 0)) for k in table["key"]]
    table["first_passed"] = [(state.get(k) or {}).get("first_passed") for k in table["key"]]
    return table


__all__ = ["LESSONS", "ChoiceExercise", "Exercise", "Feedback", "FunctionExercise", "NumberExercise", "begin",
           "catalog", "lesson_module", "progress", "progress_table"]
