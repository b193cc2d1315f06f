"""The forecast dashboard: pick a region, a target, models and a horizon; get the
comparison table and the forecasts plotted against the truth.

Built from ipywidgets controls around :func:`kit.forecast.compare`, so it works the
same in JupyterLab and Voila.
"""
from __future__ import annotations

import ipywidgets as W
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import display

from kit.data.tidy import select_series
from kit.forecast import MODEL_CLASSES, compare
from kit.forecast.models import BASELINES


class ForecastDashboard(W.VBox):
    """Interactive model comparison on a tidy COVID frame.

    Parameters
    ----------
    frame : DataFrame
        Tidy counts (``kit.data.load_timeseries``).
    region : str
        Initially selected region.
    models : sequence of str
        Initially selected models (naive and drift are always added).
    """

    def __init__(self, frame: pd.DataFrame, region: str | None = None, target: str = "confirmed",
                 models=("holt", "arima", "linear"), horizon: int = 14, folds: int = 0):
        self.frame = frame
        regions = sorted(frame["region"].unique())
        measures = [m for m in ("confirmed", "deaths") if frame[m].notna().any()]
        self.region = W.Dropdown(options=regions, value=region or regions[0], description="region")
        self.target = W.ToggleButtons(options=measures, value=target if target in measures else measures[0],
                                      description="target")
        self.models = W.SelectMultiple(options=[m for m in MODEL_CLASSES if m not in BASELINES],
                                       value=[m for m in models if m in MODEL_CLASSES and m not in BASELINES],
                                       description="models", rows=8)
        self.horizon = W.IntSlider(value=horizon, min=1, max=60, description="horizon")
        self.folds = W.IntSlider(value=folds, min=0, max=10, description="folds",
                                 tooltip="0: one hold-out of `horizon` days; k: rolling-origin backtest")
        self.run = W.Button(description="Compare", button_style="primary", icon="play")
        self.status = W.HTML()
        self.table = W.Output()
        self.chart = W.Output()
        self.run.on_click(lambda _: self.update())
        note = W.HTML("<small>naive and drift baselines are always included</small>")
        controls = W.VBox([self.region, self.target, self.models, note, self.horizon, self.folds, self.run])
        super().__init__([W.HBox([controls, W.VBox([self.status, self.table])]), self.chart])
        self.result = None
        if frame.attrs.get("synthetic"):
            self.status.value = "<b>SYNTHETIC DATA</b> (quick profile)"

    def update(self):
        """Run the comparison with the current choices and show table and plot."""
        self.run.disabled = True
        self.status.value = "fitting..."
        try:
            y = select_series(self.frame, self.region.value, self.target.value)
            horizon, folds = self.horizon.value, self.folds.value
            if folds:
                result = compare(y, list(self.models.value), horizon=horizon, folds=folds)
            else:
                train_end = y.index[-horizon - 1]
                result = compare(y, list(self.models.value), train_end=str(train_end.date()), horizon=horizon)
        except ValueError as exc:
            self.status.value = f"<span style='color:#b00020'>{exc}</span>"
            return None
        finally:
            self.run.disabled = False
        self.result = result
        label = "SYNTHETIC " if self.frame.attrs.get("synthetic") else ""
        self.status.value = f"{label}{self.region.value}, {self.target.value}: best model <b>{result.best}</b>"
        self.table.clear_output(wait=True)
        with self.table:
            display(result.table.round(2))
        self.chart.clear_output(wait=True)
        with self.chart:
            fig, ax = plt.subplots(figsize=(10, 4))
            result.plot(ax=ax, title=f"{self.region.value}: {self.target.value}")
            plt.show()
        return result
