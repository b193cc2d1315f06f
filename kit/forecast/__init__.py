"""Statistical forecasting: forecasters behind one interface, honest backtests, the
stationarity toolkit, and forecasting as the COVID-19 Forecast Hubs did (weekly quantiles, WIS)."""
from .evaluate import (TRANSFORMS, Comparison, Holdout, RollingOrigin, as_target, compare, compare_many, errors,
                       interval_scores, plot_many, ranking_change)
from .models import BASELINES, LEVELS, MODEL_CLASSES, Forecaster, SkipModel, make_models

__all__ = ["BASELINES", "Comparison", "Forecaster", "Holdout", "LEVELS", "MODEL_CLASSES", "RollingOrigin",
           "SkipModel", "TRANSFORMS", "as_target", "compare", "compare_many", "errors",
           "interval_scores", "make_models", "plot_many", "ranking_change"]
