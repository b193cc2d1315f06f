"""The tidy schema every loader returns, its validation, and selecting one series.

Schema: ``date, region, province, confirmed, deaths, recovered`` — cumulative counts,
one row per date and place, sorted; ``recovered`` (and any measure a source lacks) may
be missing. ``frame.attrs`` carries ``source``, ``sha256`` and ``measures``.
"""
from __future__ import annotations

import difflib
import re
from pathlib import Path

import numpy as np
import pandas as pd

from kit.errors import DataError, DataValidationError, ParameterError  # noqa: F401 (re-exported)
from kit.files import sha256_of

COLUMNS = ["date", "region", "province", "confirmed", "deaths", "recovered"]
MEASURES = ("confirmed", "deaths", "recovered")

# Header aliases of tidy CSVs seen in the wild (datahub's countries-aggregated.csv among them).
ALIASES = {
    "date": "date", "region": "region", "country": "region", "country/region": "region",
    "country_region": "region", "location": "region", "province": "province",
    "province/state": "province", "province_state": "province", "state": "province",
    "confirmed": "confirmed", "cases": "confirmed", "deaths": "deaths", "recovered": "recovered",
}


def read_csv_checked(path: str | Path, *, rows_needed: bool = True, **options) -> pd.DataFrame:
    """``pandas.read_csv`` with the faults of real files turned into messages naming the file:
    empty, not UTF-8, or (``rows_needed``) a header without rows."""
    path = Path(path)
    try:
        frame = pd.read_csv(path, encoding="utf-8", **options)
    except pd.errors.EmptyDataError:
        raise DataValidationError(f"{path.name}: the file is empty (no header, no rows)") from None
    except UnicodeDecodeError as exc:
        raise DataValidationError(f"{path.name}: not UTF-8 text (byte {exc.object[exc.start]:#04x} at position "
                                  f"{exc.start}); save it as UTF-8 (e.g. from a spreadsheet: CSV UTF-8)") from None
    except pd.errors.ParserError as exc:
        raise DataValidationError(f"{path.name}: not a CSV pandas can read ({str(exc).splitlines()[0]})") from None
    if rows_needed and options.get("nrows") != 0 and frame.empty:
        raise DataValidationError(f"{path.name}: has a header ({', '.join(map(str, frame.columns[:6]))}) "
                                  f"but no rows")
    return frame


_ISO = re.compile(r"^\s*\d{4}-\d{1,2}-\d{1,2}(\s|T|$)")
_SLASH = re.compile(r"^\s*(\d{1,2})/(\d{1,2})/(\d{2}|\d{4})\s*$")


def parse_dates(values: pd.Series, path: Path, column: str = "date", line_of=None) -> pd.Series:
    """Dates in one unambiguous format per file, else an error naming two example lines.

    ISO dates (``2020-03-01``) and slashed dates are accepted; slashed dates are month
    first (``3/1/20``, as JHU writes them) unless some day is above 12 in the first field,
    then day first for the whole file. A file mixing forms, or with slashed dates that
    fit neither order, is refused rather than parsed one guess per row.
    """
    line_of = line_of or (lambda i: i + 2)
    text = values.astype(str)
    iso = text.str.match(_ISO)
    slash = text.str.extract(_SLASH)
    is_slash = slash[0].notna()
    if iso.any() and is_slash.any():
        i, j = iso.idxmax(), is_slash.idxmax()
        raise DataValidationError(f"{path.name}: column {column!r} mixes date forms: line {line_of(i)} has "
                                  f"{text[i]!r}, line {line_of(j)} has {text[j]!r}; use one form")
    if is_slash.any():
        first, second = slash[0].astype(float), slash[1].astype(float)
        day_first = (first > 12).any()
        if day_first and (second > 12).any():
            i, j = (first > 12).idxmax(), (second > 12).idxmax()
            raise DataValidationError(f"{path.name}: column {column!r}: line {line_of(i)} ({text[i]!r}) can only be "
                                      f"day first, line {line_of(j)} ({text[j]!r}) only month first")
        parsed = pd.to_datetime(text, errors="coerce", dayfirst=bool(day_first), format="mixed")
    else:
        parsed = pd.to_datetime(text, errors="coerce", format="mixed")
    if parsed.isna().any():
        i = parsed.isna().idxmax()
        raise DataValidationError(f"{path.name}: column {column!r}, line {line_of(i)}: cannot parse "
                                  f"{text[i]!r} as a date")
    return parsed


def check_counts(frame: pd.DataFrame, path: Path, line_of=None) -> None:
    """Counts must be numeric and non-negative; name the first offending cell.

    ``line_of(index_label)`` maps a row to its line in the file (1-based, header = 1).
    """
    for col in MEASURES:
        if col not in frame.columns:
            continue
        raw = frame[col]
        values = pd.to_numeric(raw, errors="coerce")
        bad = values.isna() & raw.notna() & (raw.astype(str).str.strip() != "")
        if bad.any():
            i = bad.idxmax()
            where = f"line {line_of(i)}" if line_of else f"row {i}"
            raise DataValidationError(f"{path.name}: column {col!r}, {where}: {raw[i]!r} is not a number")
        neg = values < 0
        if neg.any():
            i = neg.idxmax()
            where = f"line {line_of(i)}" if line_of else f"row {i}"
            raise DataValidationError(f"{path.name}: column {col!r}, {where}: negative count {values[i]:g}")
        infinite = np.isinf(values)
        if infinite.any():
            i = infinite.idxmax()
            where = f"line {line_of(i)}" if line_of else f"row {i}"
            raise DataValidationError(f"{path.name}: column {col!r}, {where}: {raw[i]!r} is not a finite count")
        frame[col] = values


def finish(frame: pd.DataFrame, source: str, sha256: str | dict, synthetic: bool = False) -> pd.DataFrame:
    """Put a frame into the schema's column order and sort; record provenance in attrs."""
    for col in COLUMNS:
        if col not in frame.columns:
            frame[col] = np.nan
    frame["province"] = frame["province"].fillna("").astype(str)
    frame["region"] = frame["region"].astype(str)
    frame = frame[COLUMNS].sort_values(["region", "province", "date"], ignore_index=True)
    frame.attrs.update({"source": source, "sha256": sha256, "synthetic": synthetic,
                        "measures": [m for m in MEASURES if frame[m].notna().any()]})
    return frame


def read_tidy_csv(path: str | Path) -> pd.DataFrame:
    """Read a tidy CSV (``date, region, province, confirmed, deaths, recovered`` or known aliases).

    Raises
    ------
    DataValidationError
        Missing columns, unparseable dates, non-numeric or negative counts, duplicated
        rows — each naming the file, the column and the line.
    """
    path = Path(path)
    raw = read_csv_checked(path, dtype=str, keep_default_na=False)
    renamed = {c: ALIASES[c.strip().lower()] for c in raw.columns if c.strip().lower() in ALIASES}
    frame = raw.rename(columns=renamed)
    missing = [c for c in ("date", "region") if c not in frame.columns]
    if missing or not any(m in frame.columns for m in MEASURES):
        raise DataValidationError(
            f"{path.name}: not a tidy COVID table; missing column(s) "
            f"{', '.join(missing) or 'confirmed/deaths/recovered'} (found: {', '.join(raw.columns)})")
    line = lambda i: i + 2  # noqa: E731 - header is line 1
    frame["date"] = parse_dates(frame["date"], path, "date", line)
    for col in MEASURES:
        if col in frame.columns:
            frame[col] = frame[col].replace("", np.nan)
    check_counts(frame, path, line)
    if "province" not in frame.columns:
        frame["province"] = ""
    dup = frame.duplicated(["date", "region", "province"])
    if dup.any():
        i = dup.idxmax()
        raise DataValidationError(f"{path.name}: line {line(i)}: {frame['region'][i]} "
                                  f"{frame['province'][i]} {frame['date'][i].date()} appears twice")
    return finish(frame, str(path), sha256_of(path))


def date_window(frame: pd.DataFrame, start=None, end=None) -> pd.DataFrame:
    """Rows between two dates (inclusive; ``None`` leaves that side open), attrs kept."""
    out = frame
    if start is not None:
        out = out[out["date"] >= pd.Timestamp(start)]
    if end is not None:
        out = out[out["date"] <= pd.Timestamp(end)]
    if out.empty:
        raise DataError(f"no rows between {start or 'the start'} and {end or 'the end'} "
                         f"(the data spans {frame['date'].min().date()} to {frame['date'].max().date()})")
    out = out.reset_index(drop=True)
    out.attrs = dict(frame.attrs)
    return out


def resolve_region(frame: pd.DataFrame, region: str) -> str:
    """The frame's spelling of ``region`` (case is forgiven).

    Raises
    ------
    DataError
        For a region the frame lacks, with up to three close names.
    """
    return resolve_name(region, frame["region"].unique(), f"in {frame.attrs.get('source', 'the data')}")


def resolve_name(name: str, available, where: str = "in the data", what: str = "region") -> str:
    """``name`` as spelled among ``available`` (case is forgiven), else a DataError with
    up to three close names."""
    if not isinstance(name, str):
        raise ParameterError(f"{what} must be a name, got {name!r}")
    names = sorted(available)
    if name in names:
        return name
    lower = {r.lower(): r for r in names}
    if name.lower() in lower:
        return lower[name.lower()]
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise DataError(f"no {what} {name!r} {where}.{hint}")


def select_series(frame: pd.DataFrame, region: str, measure: str = "deaths",
                  province: str | None = None) -> pd.Series:
    """One cumulative series, provinces summed unless ``province`` is given.

    Raises
    ------
    DataError
        For an unknown region or province (with close names), or a measure the source lacks.
    """
    if measure not in MEASURES:
        raise ParameterError(f"measure must be one of {', '.join(MEASURES)}, got {measure!r}")
    region = resolve_region(frame, region)
    sub = frame[frame["region"] == region]
    if province is not None:
        provinces = sorted(sub["province"].unique())
        if province not in provinces:
            close = difflib.get_close_matches(province, provinces, n=3, cutoff=0.5)
            hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise DataError(f"no province {province!r} in region {region!r}.{hint}")
        sub = sub[sub["province"] == province]
    if sub[measure].isna().all():
        raise DataError(f"{frame.attrs.get('source', 'the data')} has no {measure!r} counts for {region!r}")
    series = sub.groupby("date")[measure].sum(min_count=1)
    series.name = measure
    series.attrs = {"region": region, "province": province, "source": frame.attrs.get("source"),
                    "synthetic": frame.attrs.get("synthetic", False)}
    return series


def every_series(frame: pd.DataFrame, measure: str = "confirmed", level: str = "region") -> dict:
    """Every region's (or every province's) cumulative series, named ``region`` or
    ``region / province``, e.g. to compare forecasters over every country at once."""
    if level not in ("region", "province"):
        raise ParameterError(f"level must be 'region' or 'province', got {level!r}")
    if level == "region":
        return {region: select_series(frame, region, measure) for region in sorted(frame["region"].unique())}
    pairs = frame[["region", "province"]].drop_duplicates().sort_values(["region", "province"])
    return {f"{r} / {p}" if p else r: select_series(frame, r, measure, p) for r, p in pairs.itertuples(index=False)}


def find_decreases(frame: pd.DataFrame, measures=MEASURES) -> pd.DataFrame:
    """Days on which a cumulative count went down (corrections by the source).

    Returns
    -------
    DataFrame
        ``region, province, measure, date, previous, value, drop`` — one row per decrease.
    """
    rows = []
    for measure in measures:
        if measure not in frame or frame[measure].isna().all():
            continue
        prev = frame.groupby(["region", "province"], sort=False)[measure].shift(1)
        mask = frame[measure] < prev
        for i in np.flatnonzero(mask.to_numpy()):
            rows.append({"region": frame["region"].iat[i], "province": frame["province"].iat[i],
                         "measure": measure, "date": frame["date"].iat[i], "previous": prev.iat[i],
                         "value": frame[measure].iat[i], "drop": prev.iat[i] - frame[measure].iat[i]})
    return pd.DataFrame(rows, columns=["region", "province", "measure", "date", "previous", "value", "drop"])


def repair_decreases(frame: pd.DataFrame, method: str = "cummax", measures=MEASURES) -> pd.DataFrame:
    """Make every cumulative series non-decreasing, and say how.

    Parameters
    ----------
    method : {"cummax", "isotonic"}
        ``cummax`` carries the running maximum forward: a downward correction is treated
        as "no new cases until the count catches up" (never invents cases, delays them).
        ``isotonic`` replaces each series by its least-squares non-decreasing fit (sklearn's
        IsotonicRegression): the correction is spread over the days before it, which is
        closer to what a source's back-correction means.

    Returns
    -------
    DataFrame
        A repaired copy; ``attrs["repaired"]`` holds :func:`find_decreases` of the input.
    """
    if method not in ("cummax", "isotonic"):
        raise ParameterError(f"method must be 'cummax' or 'isotonic', got {method!r}")
    found = find_decreases(frame, measures)
    out = frame.copy()
    out.attrs = dict(frame.attrs)
    for measure in measures:
        if measure not in out or out[measure].isna().all():
            continue
        groups = out.groupby(["region", "province"], sort=False)[measure]
        if method == "cummax":
            out[measure] = groups.cummax()
        else:
            from sklearn.isotonic import IsotonicRegression

            def fit(values: pd.Series) -> pd.Series:
                ok = values.notna()
                if ok.sum() < 2:
                    return values
                fitted = values.astype(float)
                fitted[ok] = IsotonicRegression().fit_transform(np.arange(ok.sum()), values[ok].to_numpy(float))
                return fitted

            out[measure] = groups.transform(fit).astype(float)
    out.attrs["repaired"] = found
    out.attrs["repair_method"] = method
    return out
