"""Data access: the registry, fetching, loaders and embedded synthetic data.

>>> from kit import data
>>> path = data.fetch("res10_ssd_face_detector")   # doctest: +SKIP
>>> frame = data.load_timeseries("synthetic")       # offline, deterministic
"""
from kit.errors import DataValidationError, FetchError, RegistryError, UnsafeArchiveError, UnverifiedFileWarning

from . import synthetic
from .catalog import catalog, catalog_table
from .fetch import cache_dir, cached_path, fetch, is_offline
from .jhu import load_jhu
from .owid import load_owid
from .provenance import reads
from .registry import Entry, Registry, load_registry
from .tidy import date_window, every_series, find_decreases, read_tidy_csv, repair_decreases, select_series
from .timeseries import combine_measures, load_timeseries

__all__ = [
    "DataValidationError", "Entry", "combine_measures", "date_window", "FetchError", "catalog", "catalog_table", "load_jhu", "load_owid",
    "every_series", "find_decreases", "load_timeseries", "read_tidy_csv", "repair_decreases", "select_series", "Registry", "RegistryError", "UnsafeArchiveError",
    "UnverifiedFileWarning", "cache_dir", "cached_path", "fetch", "is_offline",
    "load_registry", "reads", "synthetic",
]
