"""Which lesson has which exercises: one place for the lesson list and the catalog.

Each lesson's exercises live in one module of this package, named like the lesson
without its number; its ``EXERCISES`` maps exercise names to titles.
"""
from __future__ import annotations

import importlib

import pandas as pd

from kit.errors import ParameterError

LESSONS = {
    "00_welcome": "welcome",
    "01_covid_eda": "covid_eda",
    "02_seird_simulation": "seird",
    "03_forecasting": "forecasting",
    "03b_forecast_hubs": "forecast_hubs",
    "04_transfer_learning": "transfer_learning",
    "05_realtime_detection": "realtime_detection",
}


def lesson_module(lesson: str):
    """The module holding ``lesson``'s exercises."""
    if lesson not in LESSONS:
        raise ParameterError(f"no exercises for lesson {lesson!r}; lessons: {', '.join(LESSONS)}")
    return importlib.import_module(f"{__package__}.{LESSONS[lesson]}")


def catalog() -> pd.DataFrame:
    """Every exercise of the course: lesson, key, title."""
    rows = []
    for lesson in LESSONS:
        module = lesson_module(lesson)
        number = lesson.split("_", 1)[0]
        rows += [{"lesson": lesson, "key": f"{number}.{name}", "title": title}
                 for name, title in module.EXERCISES.items()]
    return pd.DataFrame(rows)
