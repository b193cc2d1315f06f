"""How far a student is: "7 of 21 exercises done", per lesson, with a Refresh button.

It reads the progress file the checks write (:mod:`kit.course.exercises.progress`); in an
exported report, where no kernel runs, the same table is shown as static HTML.
"""
from __future__ import annotations

import html

import ipywidgets as W

from kit.course.exercises import progress_table

from .static_view import StaticView


def progress_html(table) -> str:
    """The per-lesson table: a bar and "done of total" for each lesson, then its exercises."""
    rows = []
    for lesson, part in table.groupby("lesson", sort=False):
        done, total = int(part["done"].sum()), len(part)
        marks = "<br>".join(("✓ " if d else "○ ") + html.escape(t) for t, d in zip(part["title"], part["done"]))
        width = 100 * done // max(total, 1)
        rows.append(f"<tr><td><b>{html.escape(lesson)}</b></td>"
                    f"<td><div style='background:#eaeef2;width:90px;height:10px;border-radius:5px'>"
                    f"<div style='background:#1a7f37;width:{width}%;height:10px;border-radius:5px'></div></div></td>"
                    f"<td style='white-space:nowrap'>{done} of {total}</td>"
                    f"<td style='font-size:90%;color:#444'>{marks}</td></tr>")
    return ("<table class='kit-progress' style='border-collapse:collapse'>"
            "<style>.kit-progress td{padding:3px 8px;vertical-align:middle;text-align:left}</style>"
            + "".join(rows) + "</table>")


class ExerciseProgress(StaticView, W.VBox):
    """The exercises done on this machine; *Refresh* re-reads the progress file."""

    def __init__(self, path=None):
        self.path = path
        self.bar = W.IntProgress(min=0, max=1, value=0, bar_style="success", layout=W.Layout(width="240px"))
        self.label = W.HTML()
        self.refresh_button = W.Button(description="Refresh", icon="refresh", tooltip="read the progress file again",
                                       layout=W.Layout(width="auto"))
        self.table = W.HTML()
        self.refresh_button.on_click(lambda _: self.refresh())
        super().__init__([W.HBox([self.bar, self.label, self.refresh_button],
                                 layout=W.Layout(align_items="center", flex_flow="row wrap")), self.table])
        self.refresh()

    def refresh(self) -> None:
        table = progress_table(self.path)
        done, total = int(table["done"].sum()), len(table)
        self.done, self.total = done, total
        self.bar.max, self.bar.value = max(total, 1), done
        self.label.value = f"<b class='kit-progress-count'>{done} of {total} exercises done</b>"
        self.table.value = progress_html(table)

    def static_html(self) -> str:
        return f"<p><b>{self.done} of {self.total} exercises done</b></p>" + self.table.value
