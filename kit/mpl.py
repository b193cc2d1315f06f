"""Text from data in Matplotlib, shown exactly as it is.

Matplotlib reads text between two dollar signs as mathematical notation: a region named
``A$B$C`` in a title is typeset as math, and an unbalanced one (``Cost $5``) stops the
figure with a parse error. Every name that comes from the data (regions, provinces,
locations, file names) goes through :func:`plain` before it reaches a title, a label or
a legend.
"""
from __future__ import annotations


def plain(text) -> str:
    """``text`` with its dollar signs escaped, so Matplotlib shows them as dollar signs."""
    return str(text).replace("\\", "\\\\").replace("$", r"\$")
