"""Statistical forecasting: forecasters behind one interface, honest backtests, the
stationarity toolkit and the EDA the course teaches."""
from .evaluate import Comparison, Holdout, RollingOrigin, compare, compare_many, errors, ranking_change
from .models import BASELINES, MODEL_CLASSES, SLOW_MODELS, Forecaster, SkipModel, make_models

__all__ = ["BASELINES", "Comparison", "Forecaster", "Holdout", "MODEL_CLASSES", "RollingOrigin", "SLOW_MODELS",
           "SkipModel", "compare", "compare_many", "errors", "make_models", "ranking_change"]
