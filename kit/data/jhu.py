"""Loaders for the JHU CSSE time-series layouts (global and US), into the tidy schema.

Both layouts are wide: identifier columns, then one column per day named ``m/d/yy``
holding cumulative counts. Global rows are countries or provinces; US rows are
counties (aggregated to states by default).
"""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from kit.errors import ParameterError
from kit.files import sha256_of

from .tidy import DataValidationError, finish, read_csv_checked

GLOBAL_ID = ("Province/State", "Country/Region", "Lat", "Long")
US_ID = ("UID", "iso2", "iso3", "code3", "FIPS", "Admin2", "Province_State", "Country_Region",
         "Lat", "Long_", "Combined_Key")


def _parse_date_columns(path: Path, columns: list[str]) -> list[pd.Timestamp]:
    dates = []
    for col in columns:
        try:
            dates.append(pd.Timestamp(datetime.strptime(col.strip(), "%m/%d/%y")))
        except ValueError:
            raise DataValidationError(f"{path.name}: column {col!r} is neither an identifier column "
                                      f"nor a date in m/d/yy form") from None
    if not dates:
        raise DataValidationError(f"{path.name}: no date columns (m/d/yy) after the identifier columns")
    seen = {}
    for col, date in zip(columns, dates):
        if date in seen:
            raise DataValidationError(f"{path.name}: columns {seen[date]!r} and {col!r} are the same date "
                                      f"({date.date()}); counts are not summed, fix the header")
        seen[date] = col
    return dates


def detect_layout(path: str | Path) -> str:
    """``"jhu_global"``, ``"jhu_us"``, ``"owid"`` or ``"tidy"`` from a CSV's header."""
    header = read_csv_checked(path, nrows=0).columns
    if {"Province/State", "Country/Region"} <= set(header):
        return "jhu_global"
    if {"Province_State", "Country_Region", "Admin2"} <= set(header):
        return "jhu_us"
    if {"iso_code", "location", "total_cases"} <= set(header):
        return "owid"
    return "tidy"


def _read_wide(path: Path, id_columns: tuple, required: tuple, measure: str, optional: tuple = ()):
    raw = read_csv_checked(path, dtype=str, keep_default_na=False)
    missing = [c for c in required if c not in raw.columns]
    if missing:
        raise DataValidationError(f"{path.name}: missing column(s) {', '.join(missing)} for the JHU "
                                  f"layout (found: {', '.join(raw.columns[:8])}...)")
    ids = [c for c in raw.columns if c in id_columns or c in optional]
    date_cols = [c for c in raw.columns if c not in ids]
    dates = _parse_date_columns(path, date_cols)
    values = raw[date_cols].replace("", np.nan)
    numeric = values.apply(pd.to_numeric, errors="coerce")
    bad = numeric.isna() & values.notna()
    if bad.to_numpy().any():
        r, c = np.argwhere(bad.to_numpy())[0]
        raise DataValidationError(f"{path.name}: line {r + 2}, column {date_cols[c]!r}: "
                                  f"{values.iat[r, c]!r} is not a number")
    for bad, what in ((numeric < 0, "negative count"), (np.isinf(numeric), "infinite count")):
        if bad.to_numpy().any():
            r, c = np.argwhere(bad.to_numpy())[0]
            raise DataValidationError(f"{path.name}: line {r + 2}, column {date_cols[c]!r}: {what} "
                                      f"{values.iat[r, c]}")
    numeric.columns = dates
    return raw[ids], numeric


def read_jhu_global(path: str | Path, measure: str) -> pd.DataFrame:
    """One JHU global file (confirmed, deaths or recovered) as long rows."""
    path = Path(path)
    ids, numeric = _read_wide(path, GLOBAL_ID, ("Province/State", "Country/Region"), measure)
    wide = pd.concat([ids[["Country/Region", "Province/State"]].rename(
        columns={"Country/Region": "region", "Province/State": "province"}), numeric], axis=1)
    dup = wide.duplicated(["region", "province"])
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        raise DataValidationError(f"{path.name}: line {i + 2}: {wide['region'].iat[i]} "
                                  f"{wide['province'].iat[i]!r} appears twice")
    long = wide.melt(id_vars=["region", "province"], var_name="date", value_name=measure)
    long["date"] = pd.to_datetime(long["date"])
    return long


def read_jhu_us(path: str | Path, measure: str, level: str = "state") -> pd.DataFrame:
    """One JHU US file as long rows, counties summed to states unless ``level="county"``."""
    path = Path(path)
    ids, numeric = _read_wide(path, US_ID, ("Admin2", "Province_State", "Country_Region"), measure,
                              optional=("Population",))
    if level not in ("state", "county"):
        raise ParameterError(f"level must be 'state' or 'county', got {level!r}")
    keys = pd.DataFrame({"region": ids["Country_Region"], "province": ids["Province_State"]})
    if level == "county":
        keys["province"] = ids["Admin2"].where(ids["Admin2"] != "", "(unassigned)") + ", " + ids["Province_State"]
    wide = pd.concat([keys, numeric], axis=1).groupby(["region", "province"], as_index=False).sum(min_count=1)
    long = wide.melt(id_vars=["region", "province"], var_name="date", value_name=measure)
    long["date"] = pd.to_datetime(long["date"])
    return long


def load_jhu(confirmed=None, deaths=None, recovered=None, *, layout: str = "global",
             level: str = "state") -> pd.DataFrame:
    """Merge JHU files (any subset of the three measures) into the tidy schema.

    Parameters
    ----------
    confirmed, deaths, recovered : path, optional
    layout : {"global", "us"}
    level : {"state", "county"}
        US only.

    Returns
    -------
    DataFrame
        Tidy schema; measures not given are missing (NaN). ``attrs["sha256"]`` maps each
        measure to its file's hash.
    """
    files = {k: Path(v) for k, v in (("confirmed", confirmed), ("deaths", deaths),
                                      ("recovered", recovered)) if v is not None}
    if not files:
        raise ParameterError("give at least one of confirmed, deaths, recovered")
    merged = None
    for measure, path in files.items():
        part = read_jhu_global(path, measure) if layout == "global" else read_jhu_us(path, measure, level)
        merged = part if merged is None else merged.merge(part, on=["region", "province", "date"], how="outer")
    source = ", ".join(str(p) for p in files.values())
    return finish(merged, source, {m: sha256_of(p) for m, p in files.items()})
