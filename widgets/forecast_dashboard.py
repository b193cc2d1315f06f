"""The forecast dashboard: pick a region, a target, models and a horizon; get the
comparison table and the forecasts plotted against the truth.

Built from ipywidgets controls around :func:`kit.forecast.compare`, so it works the
same in JupyterLab and Voila. It shows a first result as soon as it is displayed and
follows every control. The chart is a PNG drawn off screen (``W.Image``), the table
plain HTML (``W.HTML``): no ``Output`` widget and no progress bar widget, which in Voila
left references to closed widgets ("model not found") and in JupyterLab drew a blank
first figure.
"""
from __future__ import annotations

import html

import ipywidgets as W
import numpy as np
import pandas as pd

from kit.data.tidy import select_series
from kit.errors import DataError, KitError
from kit.forecast import MODEL_CLASSES, as_target, compare
from kit.forecast.models import BASELINES
from kit.mpl import plain

from .static_view import StaticView, image_html, note_html, png_bytes

CONTROLS_WIDTH = "330px"  # beside the results on a laptop; above them, full width, on a phone
DEFAULT_MODELS = ("holt", "arima", "linear")


def table_html(table: pd.DataFrame) -> str:
    """The comparison table for people: thousands separators, units, no index."""
    def number(x, digits=0):
        return "–" if x is None or not np.isfinite(x) else f"{x:,.{digits}f}"

    levels = [c.split("_", 1)[1] for c in table.columns if c.startswith("coverage_")]
    head = "".join(f"<th>{h}</th>" for h in ("model", "MAE", "RMSE", "MAPE %",
                                              *(f"in {lv} %" for lv in levels), "fit ms", "status"))
    rows = []
    for r in table.to_dict(orient="records"):
        big = max(abs(r["rmse"]) if np.isfinite(r["rmse"]) else 0, 1) >= 100
        rows.append("<tr>" + "".join((
            f"<td><b>{html.escape(str(r['model']))}</b></td>" if r["model"] not in BASELINES
            else f"<td>{html.escape(str(r['model']))} <small>(baseline)</small></td>",
            f"<td>{number(r['mae'], 0 if big else 2)}</td>", f"<td>{number(r['rmse'], 0 if big else 2)}</td>",
            f"<td>{number(r['mape'], 2)}</td>",
            *(f"<td>{number(100 * r[f'coverage_{lv}'], 0)} %</td>" for lv in levels),
            f"<td>{number(1000 * r['fit_seconds'], 0)}</td>",
            f"<td>{html.escape(str(r['status']))[:80]}</td>")) + "</tr>")
    bands = " / ".join(levels)
    note = (f"<p style='font-size:12px;color:#555;margin:4px 0'>in {bands} %: the share of the actual values "
            f"inside the model's {bands} % prediction interval (honest: close to {bands} %).</p>") if levels else ""
    return ("<table class='kit-table' style='border-collapse:collapse;font-size:13px'>"
            "<style>.kit-table td,.kit-table th{padding:2px 10px;text-align:right;border-bottom:1px solid #ddd;"
            "white-space:nowrap}"
            ".kit-table td:first-child,.kit-table th:first-child,.kit-table td:last-child{text-align:left}</style>"
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>{note}")


class ForecastDashboard(StaticView, W.HBox):
    """Interactive model comparison on a tidy COVID frame.

    Parameters
    ----------
    frame : DataFrame
        Tidy counts (``kit.data.load_timeseries``).
    region : str, optional
        Initially selected region (default: the one with the most cases; also when the
        frame does not hold it, e.g. the synthetic fallback).
    target : {"confirmed", "deaths"}
    models : sequence of str
        Initially selected models (the naive and drift baselines are always added).
    horizon : int
        Days forecast (the test is the last ``horizon`` days, or each backtest fold).
    folds : int
        0: one hold-out; k: a rolling-origin backtest with k origins.
    """

    def __init__(self, frame: pd.DataFrame, region: str | None = None, target: str = "confirmed",
                 models=DEFAULT_MODELS, horizon: int = 14, folds: int = 0):
        self.frame = frame
        measures = [m for m in ("confirmed", "deaths") if m in frame and frame[m].notna().any()]
        if not measures:
            raise DataError("the forecast dashboard needs confirmed or deaths counts; the frame has neither")
        totals = frame.groupby("region")[measures[0]].max().sort_values(ascending=False)
        regions = sorted(totals.index)
        if region not in regions:
            region = str(totals.index[0])
        style = {"description_width": "64px"}
        full = W.Layout(width="100%")
        self.region = W.Dropdown(options=regions, value=region, description="region", style=style, layout=full)
        # a ToggleButtons' own description wraps onto a line of its own: label it beside instead
        toggle = {"style": {"button_width": "auto"}}
        self.target = W.ToggleButtons(options=measures, value=target if target in measures else measures[0],
                                      **toggle)
        # one toggle per model: a tap picks or drops it (a multiple select needs Ctrl, which a phone has not)
        self.model_buttons = {m: W.ToggleButton(value=m in models, description=m, tooltip=f"include {m}",
                                                layout=W.Layout(width="auto", min_width="64px", margin="2px"))
                              for m in MODEL_CLASSES if m not in BASELINES}
        self.models = W.HBox(list(self.model_buttons.values()), layout=W.Layout(flex_flow="row wrap", width="100%"))
        self.series = W.ToggleButtons(options=[("cumulative", "cumulative"), ("per day", "daily")],
                                      value="cumulative", tooltips=["the running total", "7-day mean of new counts"],
                                      **toggle)
        self.horizon = W.IntSlider(value=horizon, min=1, max=60, description="horizon", continuous_update=False,
                                   style=style, layout=full)
        self.folds = W.IntSlider(value=folds, min=0, max=10, description="folds", continuous_update=False,
                                 style=style, layout=full,
                                 tooltip="0: one hold-out of `horizon` days; k: rolling-origin backtest")
        note = W.HTML("<small>Tap models to add or remove them; the naive and drift baselines are always in the "
                      "table.</small>")
        self.status = W.HTML()
        self.chart = W.Image(format="png", layout=W.Layout(width="100%", max_width="960px", height="auto"))
        self.table = W.HTML()
        def labelled(name, widget):
            label = W.HTML(f"<div style='text-align:right;padding-right:8px'>{name}</div>",
                           layout=W.Layout(width="72px", flex="0 0 72px"))
            return W.HBox([label, widget], layout=W.Layout(align_items="center"))

        # wrapping flex: on a wide screen the controls sit beside the results; where both do not fit
        # (a phone), the results move below the controls and take the whole width
        controls = W.VBox([self.region, labelled("target", self.target), labelled("series", self.series),
                           W.HTML("models"), self.models, note, self.horizon, self.folds],
                          layout=W.Layout(flex=f"1 1 {CONTROLS_WIDTH}", max_width=CONTROLS_WIDTH, min_width="0",
                                          padding="0 12px 0 0"))
        results = W.VBox([self.status, self.chart, self.table],
                         layout=W.Layout(flex="999 1 420px", min_width="0", overflow="auto"))
        super().__init__([controls, results], layout=W.Layout(width="100%", align_items="flex-start",
                                                               flex_flow="row wrap"))
        self.add_class("kit-dashboard")
        self.result = None
        for control in (self.region, self.target, self.series, *self.model_buttons.values(), self.horizon,
                        self.folds):
            control.observe(lambda _change: self.update(), names="value")
        self.update()

    @property
    def chosen_models(self) -> list[str]:
        """The models picked (the baselines are added by the comparison)."""
        return [m for m, button in self.model_buttons.items() if button.value]

    def update(self):
        """Run the comparison with the current choices and show table and plot."""
        import matplotlib.pyplot as plt

        label = "SYNTHETIC DATA (quick profile) · " if self.frame.attrs.get("synthetic") else ""
        where = f"{self.region.value}, {'new ' if self.series.value == 'daily' else ''}{self.target.value}"
        self.status.value = f"{label}{html.escape(where)}: fitting…"
        try:
            y = as_target(select_series(self.frame, self.region.value, self.target.value), self.series.value)
            result = compare(y, self.chosen_models, horizon=self.horizon.value,
                             folds=self.folds.value or None, progress=False)
        except KitError as exc:
            self.status.value = f"{label}<span style='color:#b00020'>{html.escape(str(exc))}</span>"
            return None
        self.result = result
        kind = (f"rolling origin, {self.folds.value} folds of {self.horizon.value} days" if self.folds.value
                else f"last {self.horizon.value} days held out")
        self.status.value = (f"{label}{html.escape(where)} ({kind}): best model <b>{result.best or 'none'}</b>")
        self.table.value = table_html(result.table)
        fig, ax = plt.subplots(figsize=(10, 4))
        daily = self.series.value == "daily"
        result.plot(ax=ax, title=f"{plain(self.region.value)}: {'new ' if daily else ''}{self.target.value}"
                                 f"{' per day (7-day mean)' if daily else ''}, best model with its 80 and 95 % bands")
        ax.set_ylabel(f"{'new' if daily else 'cumulative'} {self.target.value}")
        self.chart.value = png_bytes(fig)
        return result

    def static_html(self) -> str:
        if self.result is None:
            return note_html("Forecast dashboard: " + self.status.value)
        return (f"<p>{self.status.value}</p>" + image_html(self.chart.value, "forecasts against the truth")
                + self.table.value + note_html("A static copy of the dashboard; open the lesson in JupyterLab "
                                               "to change region, target, models and horizon."))
