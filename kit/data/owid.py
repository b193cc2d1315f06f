"""Loader for Our World in Data's long COVID table (one row per location and date)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from kit.files import sha256_of

from .tidy import DataValidationError, check_counts, finish, read_csv_checked

REQUIRED = ("location", "date", "total_cases", "total_deaths")


def load_owid(path: str | Path, include_aggregates: bool = False) -> pd.DataFrame:
    """OWID's ``owid-covid-data.csv`` in the tidy schema (``region`` = location).

    OWID also has continents and income groups as locations (iso codes starting with
    ``OWID_``); they are dropped unless ``include_aggregates``.
    """
    path = Path(path)
    header = read_csv_checked(path, nrows=0).columns
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise DataValidationError(f"{path.name}: missing column(s) {', '.join(missing)} for the OWID layout")
    usecols = [c for c in ("iso_code", *REQUIRED) if c in header]
    raw = read_csv_checked(path, usecols=usecols, dtype=str, keep_default_na=False)
    if not include_aggregates and "iso_code" in raw.columns:
        raw = raw[~raw["iso_code"].str.startswith("OWID_")].reset_index(drop=True)
    dates = pd.to_datetime(raw["date"], errors="coerce", format="%Y-%m-%d")
    if dates.isna().any():
        i = int(np.flatnonzero(dates.isna())[0])
        raise DataValidationError(f"{path.name}: column 'date', line {i + 2}: cannot parse {raw['date'].iat[i]!r}")
    dup = pd.DataFrame({"location": raw["location"], "date": dates}).duplicated(keep=False)
    if dup.any():
        rows = np.flatnonzero(dup)[:2]
        raise DataValidationError(f"{path.name}: columns 'location' and 'date': {raw['location'].iat[rows[0]]} on "
                                  f"{dates.iat[rows[0]].date()} appears twice (lines {rows[0] + 2} and {rows[1] + 2}); "
                                  f"counts are not summed, fix the file")
    frame = pd.DataFrame({"date": dates, "region": raw["location"], "province": "",
                          "confirmed": raw["total_cases"].replace("", np.nan),
                          "deaths": raw["total_deaths"].replace("", np.nan)})
    check_counts(frame, path, lambda i: i + 2)
    return finish(frame, str(path), sha256_of(path))
