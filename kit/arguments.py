"""Argument types for the command line: values checked where they are typed.

argparse calls these on the text of an option; a value out of range is an error of that
option (one line, exit code 2) before anything starts, instead of a hang or a crash
deep in a library (``--workers 0`` waited 30 s for a Dask cluster that never came).
"""
from __future__ import annotations

import argparse
import math


def whole(least: int = 1, most: int | None = None):
    """A whole number in ``least..most``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < least or (most is not None and value > most):
            span = f"from {least} to {most}" if most is not None else f"of at least {least}"
            raise argparse.ArgumentTypeError(f"{value} is out of range: give a whole number {span}")
        return value
    return parse


def number(low: float, high: float, open_low: bool = False, open_high: bool = False):
    """A finite number between ``low`` and ``high`` (ends excluded where ``open_*``)."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not math.isfinite(value) or value < low or value > high or (open_low and value == low) or (
                open_high and value == high):
            left, right = "(" if open_low else "[", ")" if open_high else "]"
            raise argparse.ArgumentTypeError(f"{text} is out of range: give a number in {left}{low:g}, {high:g}{right}")
        return value
    return parse


def date(text: str) -> str:
    """A calendar date ``YYYY-MM-DD`` that exists (``2020-13-45`` does not)."""
    import datetime

    try:
        datetime.date.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2020-06-01") from None
    return text.strip()
