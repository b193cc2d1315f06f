"""Compartmental epidemic models (SEIR, SEIRD, SEIRD-ICU), ensemble integration,
fitting with uncertainty and the scenarios the course asks about.

>>> from kit import epi
>>> sim = epi.simulate("seird-icu", population=60e6, r0_start=3.2, r0_end=0.9, x0=60)
>>> epi.peak(sim)["over_capacity"]   # doctest: +SKIP
"""
from kit.errors import FitError, ParameterError

from .demography import country_parameters, icu_probabilities
from .fit import FitResult, fit, fit_region
from .integrate import Simulation, integrate, simulate
from .models import MODELS, get_model, icu_beds, logistic_r0
from .outbreak import outbreak
from .scenarios import ensemble_band, intervention_effect, peak

__all__ = ["FitError", "FitResult", "MODELS", "ParameterError", "Simulation", "country_parameters",
           "ensemble_band", "fit", "fit_region", "get_model", "icu_beds", "icu_probabilities", "integrate",
           "intervention_effect", "logistic_r0", "outbreak", "peak", "simulate"]
