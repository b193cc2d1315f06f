"""Forecasting like the COVID-19 Forecast Hubs: their file format, forecasts, scores, backtests.

* :func:`hub_forecast` — one forecast date, every region: 1–4 week ahead quantile
  forecasts of weekly incident cases and deaths in the hubs' CSV format
  (``forecast_date, target, target_end_date, location, type, quantile, value``).
* :func:`read_forecasts` — hub-format files (the kit's or anyone's), checked row by row.
* :func:`score_forecasts` — WIS and its parts, absolute error, coverage and relative WIS
  of every model against the truth (:class:`Scores`).
* :func:`hub_backtest` — every Monday of a window, every region, every model, scored;
  on Dask when a client is given.

Nothing after a forecast date can change its forecast: the data are cut at the date
before anything is computed.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from kit.blas import one_thread
from kit.errors import DataError, DataValidationError, MissingInputError, ParameterError
from kit.mpl import plain
from kit.progress import show_progress

from .hub_models import BASELINE, DEFAULT_MODEL, HORIZON, check_model_names, hub_model
from .models import SkipModel
from .weekly import (MIN_WEEKS, TARGETS, WeeklyCounts, check_forecast_date, check_targets, last_complete_week, mondays,
                     weekly_targets)
from .wis import COVERAGE_LEVELS, MEDIAN, QUANTILES, coverage_by_level, relative_wis, weighted_interval_score

COLUMNS = ["forecast_date", "target", "target_end_date", "location", "type", "quantile", "value"]
TARGET_PATTERN = re.compile(r"^([1-9][0-9]*) wk ahead inc (case|death)$")
PARTS = ("dispersion", "overprediction", "underprediction")


def target_name(horizon: int, target: str) -> str:
    """``1 wk ahead inc case``."""
    return f"{int(horizon)} wk ahead inc {target}"


def _quantile_text(q: float) -> str:
    return f"{q:g}"


@dataclass
class HubForecast:
    """Forecasts of one date in the hubs' format.

    Attributes
    ----------
    table : DataFrame
        The hubs' columns; per region and target one ``point`` row (the median) and 23
        ``quantile`` rows.
    skipped : DataFrame
        ``location, target, reason``: what could not be forecast, and why.
    model : str
    forecast_date : Timestamp
    """

    table: pd.DataFrame
    skipped: pd.DataFrame
    model: str
    forecast_date: pd.Timestamp

    def to_csv(self, path) -> Path:
        """Write the hub CSV atomically; the same forecasts always give the same bytes."""
        from kit.files import atomic_write

        return atomic_write(path, hub_csv_text(self.table))

    def show(self, rows: int = 8):
        """The first ``rows`` rows as a table for people (no index, values rounded)."""
        head = self.table.head(rows)
        return head.style.hide(axis="index").format({"value": "{:,.1f}", "quantile": "{:g}"}, na_rep="NA")

    def quantiles(self, location: str, target: str = "case") -> pd.DataFrame:
        """One region's forecast: rows = weeks ahead, columns = quantile levels."""
        rows = self.table[(self.table["location"] == location) & (self.table["type"] == "quantile")
                          & self.table["target"].str.endswith(f"inc {target}")]
        if rows.empty:
            raise DataError(f"no {target} forecast for {location!r} in this file")
        out = rows.assign(horizon=rows["target"].str.split(" ").str[0].astype(int)).pivot(
            index="horizon", columns="quantile", values="value")
        out.columns = out.columns.astype(float)
        return out

    def plot(self, weekly: dict, location: str, target: str = "case", ax=None, weeks: int = 16):
        """The last ``weeks`` of ``location``'s weekly counts and the forecast fan
        (50 % and 95 % intervals, the median)."""
        import matplotlib.dates as mdates
        import matplotlib.pyplot as plt
        from matplotlib.ticker import StrMethodFormatter

        ax = ax or plt.subplots(figsize=(8, 3.5))[1]
        history = weekly[target].values[location].dropna().iloc[-weeks:]
        q = self.quantiles(location, target)
        ends = [last_complete_week(self.forecast_date) + pd.Timedelta(weeks=int(h)) for h in q.index]
        ax.plot(history.index, history.to_numpy(), "k-o", ms=3, lw=1.5, label="observed")
        for level, alpha in ((95, 0.18), (50, 0.35)):
            lo, hi = (1 - level / 100) / 2, 1 - (1 - level / 100) / 2
            ax.fill_between(ends, q[round(lo, 3)], q[round(hi, 3)], color="C0", alpha=alpha, lw=0,
                            label=f"{level} % interval")
        ax.plot(ends, q[0.5], "C0-o", ms=3, label=f"median ({plain(self.model)})")
        ax.axvline(self.forecast_date, color="0.5", ls=":", lw=1)
        ax.set_title(f"{plain(location)}: weekly {TARGETS[target]}, forecast of {self.forecast_date.date()}")
        ax.legend(frameon=False, fontsize=8, loc="upper left")
        ax.xaxis.set_major_locator(mdates.AutoDateLocator(maxticks=7))
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(ax.xaxis.get_major_locator()))
        ax.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
        ax.grid(alpha=0.3)
        return ax


def hub_csv_text(table: pd.DataFrame) -> str:
    """The hub CSV of a forecast table: fixed column order, row order and number format."""
    order = {t: i for i, t in enumerate(TARGETS)}
    rows = table.assign(
        _kind=table["target"].str.rsplit(" ", n=1).str[-1].map(order),
        _h=table["target"].str.split(" ").str[0].astype(int),
        _type=(table["type"] != "point").astype(int),
        _q=pd.to_numeric(table["quantile"], errors="coerce").fillna(-1.0))
    rows = rows.sort_values(["forecast_date", "location", "_kind", "_h", "_type", "_q"], kind="mergesort")
    lines = [",".join(COLUMNS)]
    for r in rows.itertuples(index=False):
        quantile = "NA" if r.type == "point" else _quantile_text(float(r.quantile))
        lines.append(",".join([r.forecast_date, r.target, r.target_end_date, _csv_field(r.location), r.type,
                               quantile, f"{float(r.value):.2f}"]))
    return "\n".join(lines) + "\n"


def _csv_field(text: str) -> str:
    text = str(text)
    if any(c in text for c in ',"\n\r'):
        return '"' + text.replace('"', '""') + '"'
    return text


def _rows(date: pd.Timestamp, location: str, target: str, quantiles: np.ndarray) -> list[dict]:
    rows = []
    last = last_complete_week(date)
    for h, values in enumerate(quantiles, start=1):
        base = {"forecast_date": date.date().isoformat(), "target": target_name(h, target),
                "target_end_date": (last + pd.Timedelta(weeks=h)).date().isoformat(), "location": location}
        rows.append({**base, "type": "point", "quantile": np.nan, "value": float(values[MEDIAN])})
        rows.extend({**base, "type": "quantile", "quantile": q, "value": float(v)} for q, v in zip(QUANTILES, values))
    return rows


# The 32 countries the European COVID-19 Forecast Hub forecast (its locations, as JHU names them)
EUROPEAN_HUB = ("Austria", "Belgium", "Bulgaria", "Croatia", "Cyprus", "Czechia", "Denmark", "Estonia", "Finland",
                "France", "Germany", "Greece", "Hungary", "Iceland", "Ireland", "Italy", "Latvia", "Liechtenstein",
                "Lithuania", "Luxembourg", "Malta", "Netherlands", "Norway", "Poland", "Portugal", "Romania",
                "Slovakia", "Slovenia", "Spain", "Sweden", "Switzerland", "United Kingdom")
REGION_SETS = {"european_hub": EUROPEAN_HUB}


def check_regions(regions, available) -> list[str]:
    """``"all"``, a named set (``"european_hub"``: :data:`EUROPEAN_HUB`), ``"A,B"`` or a list,
    resolved against the data's regions (case forgiven)."""
    from kit.data.tidy import resolve_name

    available = list(available)
    if regions is None or (isinstance(regions, str) and regions.strip() == "all"):
        return sorted(available)
    if isinstance(regions, str) and regions.strip() in REGION_SETS:
        regions = list(REGION_SETS[regions.strip()])
    names = [r.strip() for r in regions.split(",")] if isinstance(regions, str) else list(regions)
    return list(dict.fromkeys(resolve_name(name, available) for name in names))


def _check_date_in_data(date: pd.Timestamp, weekly: dict[str, WeeklyCounts], frame: pd.DataFrame) -> None:
    last = last_complete_week(date)
    end = frame["date"].max()
    if last > end:
        raise ParameterError(f"forecast date {date.date()} needs the week ending {last.date()}, but the data end "
                             f"on {end.date()}; the last forecast date it allows is "
                             f"{(end - pd.Timedelta(days=(end.day_of_week - 5) % 7) + pd.Timedelta(days=2)).date()}")
    weeks = max((len(w.values.loc[:last]) for w in weekly.values() if not isinstance(w, _Missing)), default=0)
    if weeks < MIN_WEEKS:
        start = frame["date"].min()
        raise ParameterError(f"forecast date {date.date()} leaves {weeks} complete week(s) of data (it starts on "
                             f"{start.date()}); at least {MIN_WEEKS} are needed")


def _forecast_region(models: dict, histories: dict, covariates: dict, location: str, date) -> tuple[list, list]:
    """Every target of one region: hub rows, and (location, target, reason) for what was skipped."""
    rows, skipped = [], []
    for target, model in models.items():
        history = histories.get(target)
        if isinstance(history, str):
            skipped.append((location, target, history))
            continue
        if model is None:
            skipped.append((location, target, "the model does not forecast this target"))
            continue
        try:
            if (history == 0).all():
                raise SkipModel(f"all {len(history)} weeks are zero: nothing to learn from")
            quantiles = model.fit(history, covariates).predict_quantiles(HORIZON).to_numpy()
        except SkipModel as exc:
            skipped.append((location, target, str(exc)))
            continue
        rows.extend(_rows(date, location, target, quantiles))
    return rows, skipped


def _histories(weekly: dict[str, WeeklyCounts], location: str, last: pd.Timestamp) -> tuple[dict, dict]:
    histories, covariates = {}, {}
    for target, counts in weekly.items():
        try:
            histories[target] = counts.history(location, last)
        except DataError as exc:
            histories[target] = str(exc).split(": ", 1)[-1]
        if location in counts.values.columns:
            covariates[target] = counts.values[location].loc[:last]
            covariates[f"{target}_7d"] = counts.recent_days(location, last)
    return histories, covariates


def _model_for(name: str, target: str):
    try:
        return hub_model(name, target)
    except SkipModel:
        return None


def hub_forecast(frame: pd.DataFrame, forecast_date, *, regions="all", targets=("case", "death"),
                 model: str = DEFAULT_MODEL, repair: str = "cummax", level: str = "region",
                 progress: bool = True) -> HubForecast:
    """Quantile forecasts of weekly incidence for one forecast date, in the hubs' format.

    Parameters
    ----------
    frame : DataFrame
        Cumulative counts in the tidy schema (any loader: tidy CSV, JHU, OWID, synthetic).
    forecast_date : date
        A Monday; only rows dated before it are used.
    regions : "all", "A,B" or list
        Regions to forecast (every region of the data by default).
    targets : "case", "death" or both
    model : str
        A name of :func:`kit.forecast.hub_models.hub_model` (default: the ensemble).
    repair : {"cummax", "isotonic"}
        How corrections (days the cumulative count went down) are handled
        (:func:`kit.forecast.weekly.weekly_counts`).
    level : {"region", "province"}
        Forecast regions (provinces summed) or each province.

    Returns
    -------
    HubForecast
        Regions that cannot be forecast are in ``skipped`` with the reason.
    """
    from tqdm.auto import tqdm

    date = check_forecast_date(forecast_date)
    targets = check_targets(targets)
    check_model_names([model])
    needed = tuple(dict.fromkeys([*targets, *(t for t in ("case",) if "death" in targets)]))
    weekly = _weekly_for(frame, needed, date, repair, level)
    _check_date_in_data(date, weekly, frame)
    locations = check_regions(regions, sorted(set().union(*(w.regions for w in weekly.values()))))
    last = last_complete_week(date)
    rows, skipped = [], []
    with one_thread():
        for location in tqdm(locations, desc=f"forecasts of {date.date()}", unit="region",
                             disable=not show_progress(progress), leave=False):
            histories, covariates = _histories(weekly, location, last)
            models = {t: _model_for(model, t) for t in targets}
            r, s = _forecast_region(models, {t: histories[t] for t in targets}, covariates, location, date)
            rows.extend(r)
            skipped.extend(s)
    table = pd.DataFrame(rows, columns=COLUMNS)
    return HubForecast(table, pd.DataFrame(skipped, columns=["location", "target", "reason"]), model, date)


def _weekly_for(frame, targets, date, repair, level) -> dict[str, WeeklyCounts]:
    available = [t for t in targets if TARGETS[t] in frame.columns and frame[TARGETS[t]].notna().any()]
    missing = [t for t in targets if t not in available]
    if missing and len(available) == 0:
        raise DataError(f"{frame.attrs.get('source', 'the data')} has no {' or '.join(TARGETS[t] for t in missing)} "
                        f"counts")
    weekly = weekly_targets(frame, available, before=date, repair=repair, level=level)
    for t in missing:  # e.g. a deaths-only file asked for cases too: every region skipped, with the reason
        weekly[t] = None
    return {t: w for t, w in weekly.items() if w is not None} | {t: _Missing(t, frame) for t in missing}


class _Missing(WeeklyCounts):
    """A target the source lacks: every history is a skip reason."""

    def __init__(self, target, frame):
        super().__init__(values=pd.DataFrame(), measure=TARGETS[target], corrections=pd.DataFrame())
        self._why = f"{frame.attrs.get('source', 'the data')} has no {TARGETS[target]} counts"

    def history(self, region, last_week=None):
        raise DataError(f"{region}: {self._why}")


# ---------------------------------------------------------------- reading hub files


def model_name_of(path: Path) -> str:
    """The model of a hub file: ``2021-03-08-EuroCOVIDhub-ensemble.csv`` → ``EuroCOVIDhub-ensemble``
    (the hubs' naming), else the file name without ``.csv``."""
    match = re.match(r"^\d{4}-\d{2}-\d{2}-(.+)\.csv$", path.name)
    return match.group(1) if match else path.stem


def read_forecasts(paths) -> pd.DataFrame:
    """Read hub-format forecast files (files, or folders of ``*.csv``) into one table.

    Every file is checked: the columns, dates, targets (``N wk ahead inc case|death``),
    target end dates, types, quantile levels (all 23 per forecast), values (numbers,
    not negative, not decreasing as the level rises) and duplicates; the first problem
    is an error naming the file and line.

    Returns
    -------
    DataFrame
        ``model, forecast_date, location, target, horizon, kind, target_end_date`` and one
        column per quantile level (``q0.01`` ... ``q0.99``): one row per forecast.
    """
    files = []
    for item in ([paths] if isinstance(paths, (str, Path)) else list(paths)):
        item = Path(item)
        if item.is_dir():
            found = sorted(item.rglob("*.csv"))
            if not found:
                raise MissingInputError(f"{item}: no .csv forecast files in this folder")
            files.extend(found)
        elif item.exists():
            files.append(item)
        else:
            raise MissingInputError(f"{item}: no such file or folder")
    if not files:
        raise MissingInputError("no forecast files given")
    frames = [_read_hub_file(f) for f in files]
    out = pd.concat(frames, ignore_index=True)
    dup = out.duplicated(["model", "forecast_date", "location", "target"])
    if dup.any():
        r = out[dup].iloc[0]
        raise DataValidationError(f"{r['file']}: model {r['model']} has two forecasts of {r['target']} for "
                                  f"{r['location']} made on {r['forecast_date'].date()} (also in another file)")
    return out.drop(columns="file")


def _read_hub_file(path: Path) -> pd.DataFrame:
    from kit.data.tidy import read_csv_checked

    raw = read_csv_checked(path, dtype=str, keep_default_na=False)
    raw.columns = [c.strip() for c in raw.columns]
    missing = [c for c in COLUMNS if c not in raw.columns]
    if missing:
        raise DataValidationError(f"{path.name}: not a hub forecast file: missing column(s) {', '.join(missing)} "
                                  f"(a hub file has {', '.join(COLUMNS)})")
    line = lambda i: i + 2  # noqa: E731 - the header is line 1
    model = model_name_of(path)
    dates = {}
    for column in ("forecast_date", "target_end_date"):
        parsed = pd.to_datetime(raw[column].str.strip(), format="%Y-%m-%d", errors="coerce")
        if parsed.isna().any():
            i = int(np.flatnonzero(parsed.isna().to_numpy())[0])
            raise DataValidationError(f"{path.name}: line {line(i)}: {column} {raw[column][i]!r} is not a "
                                      f"YYYY-MM-DD date")
        dates[column] = parsed
    targets = raw["target"].str.strip().str.extract(TARGET_PATTERN)
    if targets[0].isna().any():
        i = int(np.flatnonzero(targets[0].isna().to_numpy())[0])
        raise DataValidationError(f"{path.name}: line {line(i)}: unknown target {raw['target'][i]!r} (the hubs' "
                                  f"targets are like '1 wk ahead inc case' and '4 wk ahead inc death')")
    horizon = targets[0].astype(int)
    kinds = raw["type"].str.strip().str.lower()
    bad = ~kinds.isin(["quantile", "point"])
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataValidationError(f"{path.name}: line {line(i)}: type {raw['type'][i]!r} is neither 'quantile' "
                                  f"nor 'point'")
    values = pd.to_numeric(raw["value"].str.strip(), errors="coerce")
    bad = values.isna() | ~np.isfinite(values.fillna(0))
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataValidationError(f"{path.name}: line {line(i)}: value {raw['value'][i]!r} is not a finite number")
    if (values < 0).any():
        i = int(np.flatnonzero((values < 0).to_numpy())[0])
        raise DataValidationError(f"{path.name}: line {line(i)}: negative value {values[i]:g} for a count")
    levels = pd.to_numeric(raw["quantile"].str.strip(), errors="coerce").round(4)
    is_q = kinds == "quantile"
    bad = is_q & ~levels.isin(QUANTILES)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataValidationError(f"{path.name}: line {line(i)}: quantile {raw['quantile'][i]!r} is not one of the "
                                  f"hub's 23 levels ({', '.join(map(_quantile_text, QUANTILES))})")
    expected_end = dates["forecast_date"] - pd.Timedelta(days=2) + pd.to_timedelta(horizon * 7, unit="D")
    bad = dates["forecast_date"].dt.day_of_week.isin([0]) & (dates["target_end_date"] != expected_end)
    bad |= ~dates["forecast_date"].dt.day_of_week.isin([0])
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        if dates["forecast_date"][i].day_of_week != 0:
            why = f"forecast_date {raw['forecast_date'][i]} is a {dates['forecast_date'][i].day_name()}, not a Monday"
        else:
            why = (f"target_end_date {raw['target_end_date'][i]} does not match {raw['target'][i]!r} from "
                   f"{raw['forecast_date'][i]} (expected {expected_end[i].date()})")
        raise DataValidationError(f"{path.name}: line {line(i)}: {why}")
    table = pd.DataFrame({"model": model, "file": path.name, "forecast_date": dates["forecast_date"],
                          "location": raw["location"].str.strip(), "target": raw["target"].str.strip(),
                          "horizon": horizon, "kind": targets[1], "target_end_date": dates["target_end_date"],
                          "type": kinds, "quantile": levels, "value": values, "line": raw.index + 2})
    keys = ["forecast_date", "location", "target"]
    q = table[is_q.to_numpy()]
    dup = q.duplicated([*keys, "quantile"])
    if dup.any():
        r = q[dup].iloc[0]
        raise DataValidationError(f"{path.name}: line {r['line']}: duplicate row: quantile {r['quantile']:g} of "
                                  f"{r['target']} for {r['location']} appears twice")
    points = table[~is_q.to_numpy()]
    dup = points.duplicated(keys)
    if dup.any():
        r = points[dup].iloc[0]
        raise DataValidationError(f"{path.name}: line {r['line']}: duplicate row: a second point forecast of "
                                  f"{r['target']} for {r['location']}")
    if q.empty:
        raise DataValidationError(f"{path.name}: no quantile rows; scoring needs the 23 quantiles of each forecast")
    wide = q.pivot(index=keys, columns="quantile", values="value")
    wide = wide.reindex(columns=list(QUANTILES))
    incomplete = wide.isna().any(axis=1)
    if incomplete.any():
        key = wide.index[int(np.flatnonzero(incomplete.to_numpy())[0])]
        absent = [_quantile_text(c) for c in wide.columns[wide.loc[key].isna().to_numpy()]]
        raise DataValidationError(f"{path.name}: {key[2]} for {key[1]} made on {key[0].date()} lacks quantile(s) "
                                  f"{', '.join(absent)}; each forecast needs all 23")
    values = wide.to_numpy()
    crossing = (np.diff(values, axis=1) < -1e-9 * np.maximum(1.0, np.abs(values[:, 1:]))).any(axis=1)
    if crossing.any():
        k = int(np.flatnonzero(crossing)[0])
        key = wide.index[k]
        j = int(np.flatnonzero(np.diff(values[k]) < 0)[0])
        rows = q.set_index([*keys, "quantile"])["line"]
        raise DataValidationError(f"{path.name}: line {rows[(*key, QUANTILES[j + 1])]}: crossing quantiles in "
                                  f"{key[2]} for {key[1]}: the {_quantile_text(QUANTILES[j + 1])} quantile "
                                  f"({values[k, j + 1]:g}) is below the {_quantile_text(QUANTILES[j])} one "
                                  f"({values[k, j]:g})")
    wide.columns = [f"q{_quantile_text(c)}" for c in wide.columns]
    meta = table.drop_duplicates(keys).set_index(keys)[["model", "file", "horizon", "kind", "target_end_date"]]
    return meta.join(wide, how="inner").reset_index()[
        ["model", "file", "forecast_date", "location", "target", "horizon", "kind", "target_end_date",
         *wide.columns]]


def forecasts_from_table(table: pd.DataFrame, model: str) -> pd.DataFrame:
    """A :class:`HubForecast` table (or several concatenated) in :func:`read_forecasts`' shape."""
    q = table[table["type"] == "quantile"]
    keys = ["forecast_date", "location", "target", "target_end_date"]
    wide = q.pivot_table(index=keys, columns="quantile", values="value", aggfunc="first")
    wide = wide.reindex(columns=list(QUANTILES))
    wide.columns = [f"q{_quantile_text(c)}" for c in wide.columns]
    out = wide.reset_index()
    parsed = out["target"].str.extract(TARGET_PATTERN)
    out["forecast_date"] = pd.to_datetime(out["forecast_date"])
    out["target_end_date"] = pd.to_datetime(out["target_end_date"])
    out.insert(0, "model", model)
    out["horizon"] = parsed[0].astype(int)
    out["kind"] = parsed[1]
    return out


def with_kit_baseline(forecasts: pd.DataFrame, frame: pd.DataFrame, baseline: str = BASELINE,
                      level: str = "region") -> pd.DataFrame:
    """Forecasts plus the kit's hub baseline for the same dates, regions and targets, when
    ``baseline`` is the kit's baseline and no file of that name was given (relative WIS
    needs it). Each date's baseline sees only the data before that date."""
    if baseline in set(forecasts["model"]) or baseline != BASELINE:
        return forecasts
    made = []
    for date, part in forecasts.groupby("forecast_date"):
        regions = sorted(set(part["location"]) & set(frame["region"] if level == "region" else
                                                       frame["region"] + " / " + frame["province"]))
        if not regions:
            continue
        result = hub_forecast(frame, date, regions=regions, targets=tuple(sorted(part["kind"].unique())),
                              model=BASELINE, level=level, progress=False)
        if not result.table.empty:
            made.append(forecasts_from_table(result.table, BASELINE))
    return pd.concat([forecasts, *made], ignore_index=True)


# ---------------------------------------------------------------- scoring


@dataclass
class Scores:
    """Forecasts scored against the truth.

    Attributes
    ----------
    table : DataFrame
        One row per model and target: ``model, target, n, wis, dispersion,
        overprediction, underprediction, abs_error, relative_wis, coverage_50,
        coverage_95`` (means over the forecasts; relative WIS against ``baseline``),
        best first within each target.
    by_horizon : DataFrame
        The same per week ahead.
    coverage : DataFrame
        ``model, target, level, coverage`` for the 11 central intervals.
    per_forecast : DataFrame
        One row per scored forecast.
    skipped : DataFrame
        Forecasts that could not be scored, and why (truth not observed yet, unknown region).
    baseline : str
    """

    table: pd.DataFrame
    by_horizon: pd.DataFrame
    coverage: pd.DataFrame
    per_forecast: pd.DataFrame = field(repr=False)
    skipped: pd.DataFrame = field(repr=False)
    baseline: str = BASELINE

    def show(self):
        """The table for people: readable headers, rounded, no row numbers (a Styler)."""
        names = {"model": "model", "target": "target", "n": "forecasts", "wis": "WIS", "relative_wis": "relative WIS",
                 "dispersion": "dispersion", "overprediction": "over-prediction",
                 "underprediction": "under-prediction", "abs_error": "abs. error of median",
                 "coverage_50": "50 % coverage", "coverage_95": "95 % coverage"}
        out = self.table[list(names)].rename(columns=names)
        three = {c: "{:.3f}" for c in ("relative WIS", "50 % coverage", "95 % coverage")}
        one = {c: "{:,.1f}" for c in ("WIS", "dispersion", "over-prediction", "under-prediction",
                                       "abs. error of median")}
        return out.style.hide(axis="index").format({**three, **one}, na_rep="–")

    def text(self) -> str:
        """The table as plain text (the command line's)."""
        names = {"model": "model", "target": "target", "n": "forecasts", "wis": "WIS", "relative_wis": "rel. WIS",
                 "dispersion": "dispersion", "overprediction": "over", "underprediction": "under",
                 "abs_error": "abs. error", "coverage_50": "cov. 50%", "coverage_95": "cov. 95%"}
        out = self.table[list(names)].rename(columns=names).round(
            {"rel. WIS": 3, "cov. 50%": 3, "cov. 95%": 3, "WIS": 1, "dispersion": 1, "over": 1, "under": 1,
             "abs. error": 1})
        return out.to_string(index=False)

    def to_json(self) -> dict:
        rows = self.table.to_dict(orient="records")
        return {"baseline": self.baseline, "rows": rows,
                "by_horizon": self.by_horizon.to_dict(orient="records"),
                "coverage": self.coverage.to_dict(orient="records"),
                "skipped": len(self.skipped)}

    def plot(self, targets=None, models=None):
        """Mean WIS by week ahead with its three parts (one panel per target), and the
        coverage of every central interval against its nominal level."""
        import matplotlib.pyplot as plt

        targets = list(targets or self.table["target"].unique())
        models = list(models or self.table["model"].unique())
        colour = {m: f"C{i % 10}" for i, m in enumerate(models)}  # one colour per model in every panel
        fig, axes = plt.subplots(2, len(targets), figsize=(6.2 * len(targets), 7.5), squeeze=False,
                                 constrained_layout=True)
        colours = {"dispersion": "#9ecae1", "overprediction": "#fdae6b", "underprediction": "#e6550d"}
        for col, target in enumerate(targets):
            ax = axes[0, col]
            part = self.by_horizon[self.by_horizon["target"] == target]
            present = [m for m in models if m in set(part["model"])]
            horizons = sorted(part["horizon"].unique())
            width = 0.8 / max(len(present), 1)
            for i, model in enumerate(present):
                rows = part[part["model"] == model].set_index("horizon").reindex(horizons)
                x = np.arange(len(horizons)) + (i - (len(present) - 1) / 2) * width
                bottom = np.zeros(len(horizons))
                for p in PARTS:
                    ax.bar(x, rows[p].to_numpy(), width * 0.92, bottom=bottom, color=colours[p],
                           edgecolor="white", lw=0.5, label=p.replace("prediction", "-prediction") if i == 0 else None)
                    bottom += rows[p].fillna(0).to_numpy()
                for xi, top in zip(x, bottom):
                    ax.text(xi, top, plain(model), rotation=90, ha="center", va="bottom", fontsize=7)
            ax.set_xticks(np.arange(len(horizons)), [f"{h} wk" for h in horizons])
            ax.set_ylabel("mean WIS (lower is better)")
            ax.set_title(f"{target}: weighted interval score by week ahead")
            ax.margins(y=0.3)
            ax.legend(frameon=False, fontsize=8, loc="upper left", ncol=3)
            ax = axes[1, col]
            cov = self.coverage[self.coverage["target"] == target]
            ax.plot([0, 100], [0, 1], color="black", lw=1, ls=":", label="nominal")
            for model in present:
                rows = cov[cov["model"] == model].sort_values("level")
                ax.plot(rows["level"], rows["coverage"], marker="o", ms=3, lw=1.4, label=plain(model),
                        color=colour[model], ls="--" if model == self.baseline else "-")
            ax.set_xlabel("nominal level of the central interval (%)")
            ax.set_ylabel("share of outcomes inside")
            ax.set_xlim(0, 100)
            ax.set_ylim(0, 1.02)
            ax.set_title(f"{target}: coverage of the 11 intervals")
            ax.legend(frameon=False, fontsize=8, loc="upper left")
            ax.grid(alpha=0.3)
        return fig


def score_forecasts(forecasts: pd.DataFrame, truth: dict[str, WeeklyCounts], baseline: str = BASELINE) -> Scores:
    """Score forecasts (:func:`read_forecasts`' table) against weekly truth.

    Parameters
    ----------
    forecasts : DataFrame
        From :func:`read_forecasts` or :func:`forecasts_from_table`.
    truth : dict
        ``{"case": WeeklyCounts, "death": WeeklyCounts}`` from
        :func:`kit.forecast.weekly.weekly_targets` on the data as known later.
    baseline : str
        The model relative WIS is scaled by; it must be among the forecasts.

    Returns
    -------
    Scores
    """
    if forecasts.empty:
        raise DataError("no forecasts to score")
    models = sorted(forecasts["model"].unique())
    if baseline not in models:
        raise ParameterError(f"the baseline {baseline!r} is not among the forecasts' models ({', '.join(models)}); "
                             f"add its files or name another with --baseline")
    values = np.full(len(forecasts), np.nan)
    reasons = np.full(len(forecasts), "", dtype=object)
    for kind, part in forecasts.groupby("kind"):
        counts = truth.get(kind)
        if counts is None:
            reasons[part.index] = f"no truth for {TARGETS.get(kind, kind)}"
            continue
        for location, rows in part.groupby("location"):
            if location not in counts.values.columns:
                reasons[rows.index] = f"no region {location!r} in the truth data"
                continue
            column = counts.values[location]
            found = column.reindex(rows["target_end_date"]).to_numpy()
            values[rows.index] = found
            late = rows["target_end_date"] > column.index[-1]
            reasons[rows.index[late.to_numpy()]] = "not observed yet (the truth data end before this week)"
            gaps = np.isnan(found) & ~late.to_numpy()
            reasons[rows.index[gaps]] = "the truth has missing days in this week"
    scored = np.isfinite(values)
    skipped = forecasts.loc[~scored, ["model", "forecast_date", "location", "target"]].assign(reason=reasons[~scored])
    ok = forecasts[scored].reset_index(drop=True)
    if ok.empty:
        raise DataError("none of the forecasts could be scored: " + (skipped["reason"].iloc[0] if len(skipped) else ""))
    q = ok[[f"q{_quantile_text(c)}" for c in QUANTILES]].to_numpy(float)
    y = values[scored]
    parts = weighted_interval_score(y, q)
    per = ok[["model", "forecast_date", "location", "target", "horizon", "kind", "target_end_date"]].assign(
        truth=y, median=q[:, MEDIAN], **parts)
    per["target_group"] = "inc " + per["kind"]
    agg = {"n": ("wis", "size"), "wis": ("wis", "mean"), **{p: (p, "mean") for p in PARTS},
           "abs_error": ("abs_error", "mean"),
           **{f"coverage_{L}": (f"inside_{L}", "mean") for L in COVERAGE_LEVELS}}
    table = per.groupby(["model", "target_group"]).agg(**agg).reset_index().rename(columns={"target_group": "target"})
    rel = relative_wis(per.rename(columns={"target": "target_name"}).assign(target=per["target_group"]), baseline,
                       by=("target",), keys=("forecast_date", "location", "target_name"))
    table = table.merge(rel, on=["target", "model"], how="left")
    table = table.sort_values(["target", "relative_wis", "model"], ignore_index=True)
    by_h = per.groupby(["model", "target_group", "horizon"]).agg(**agg).reset_index().rename(
        columns={"target_group": "target"})
    rel_h = relative_wis(per.assign(target=per["target_group"]), baseline, by=("target", "horizon"),
                         keys=("forecast_date", "location"))
    by_h = by_h.merge(rel_h, on=["target", "horizon", "model"], how="left").sort_values(
        ["target", "horizon", "relative_wis"], ignore_index=True)
    coverage = []
    for (model, target), part in per.groupby(["model", "target_group"]):
        sel = q[part.index.to_numpy()]
        for level, share in coverage_by_level(part["truth"].to_numpy(), sel).items():
            coverage.append({"model": model, "target": target, "level": level, "coverage": share})
    order = ["model", "target", "n", "wis", *PARTS, "abs_error", "relative_wis",
             *[f"coverage_{L}" for L in COVERAGE_LEVELS]]
    return Scores(table[order], by_h[["model", "target", "horizon", *order[2:]]], pd.DataFrame(coverage), per,
                  skipped.reset_index(drop=True), baseline)


# ---------------------------------------------------------------- backtests


@dataclass
class Backtest:
    """Every forecast of a hub backtest and its scores.

    Attributes
    ----------
    forecasts : DataFrame
        :func:`read_forecasts`' shape: one row per model, date, region and target.
    scores : Scores
    skipped : DataFrame
        ``model, forecast_date, location, target, reason`` for forecasts not made.
    dates : list of Timestamp
    seconds : float
        Wall time of the forecasts.
    """

    forecasts: pd.DataFrame
    scores: Scores
    skipped: pd.DataFrame
    dates: list
    seconds: float

    def hub_table(self, model: str, date=None) -> pd.DataFrame:
        """One model's forecasts (one date, or all) back in the hubs' CSV columns."""
        part = self.forecasts[self.forecasts["model"] == model]
        if date is not None:
            part = part[part["forecast_date"] == check_forecast_date(date)]
        return _wide_to_hub(part)


def _wide_to_hub(part: pd.DataFrame) -> pd.DataFrame:
    cols = [f"q{_quantile_text(c)}" for c in QUANTILES]
    rows = []
    for r in part.to_dict(orient="records"):
        q = np.array([r[c] for c in cols])
        date = pd.Timestamp(r["forecast_date"])
        one = _rows(date, r["location"], r["kind"], q[None, :])
        for row in one:
            row["target"] = target_name(r["horizon"], r["kind"])
            row["target_end_date"] = pd.Timestamp(r["target_end_date"]).date().isoformat()
        rows.extend(one)
    return pd.DataFrame(rows, columns=COLUMNS)


def _backtest_region(location: str, inputs: list, names: list, targets: tuple) -> tuple[list, list]:
    """All dates and models of one region (one task: the models' memories of past
    origins are shared from date to date)."""
    models = {(n, t): _model_for(n, t) for n in names for t in targets}
    rows, skipped = [], []
    with one_thread():
        for date, histories, covariates in inputs:
            for name in names:
                fitted = {t: models[(name, t)] for t in targets}
                r, s = _forecast_region(fitted, histories, covariates, location, date)
                rows.extend(_wide_rows(name, r))
                skipped.extend((name, date, *k) for k in s)
    return rows, skipped


def _wide_rows(model: str, rows: list[dict]) -> list[dict]:
    out, current = [], None
    for row in rows:
        if row["type"] == "point":
            horizon, kind = TARGET_PATTERN.match(row["target"]).groups()
            current = {"model": model, "forecast_date": pd.Timestamp(row["forecast_date"]), "location": row["location"],
                       "target": row["target"], "horizon": int(horizon), "kind": kind,
                       "target_end_date": pd.Timestamp(row["target_end_date"])}
            out.append(current)
        else:
            current[f"q{_quantile_text(row['quantile'])}"] = row["value"]
    return out


def hub_backtest(frame: pd.DataFrame, start, end, *, models="all", regions="all", targets=("case", "death"),
                 baseline: str = BASELINE, repair: str = "cummax", level: str = "region", client=None,
                 progress: bool = True) -> Backtest:
    """Forecast every Monday from ``start`` to ``end`` for every region and model, and score.

    Each date sees only the data before it (the frame is cut at the date); the truth is
    the whole frame. Regions run as separate tasks: in this process, or on Dask
    (``client``), each task forecasting all dates of its region.

    Parameters
    ----------
    models : "all", "default" or names
        :func:`kit.forecast.hub_models.check_model_names`; the baseline is always in.

    Returns
    -------
    Backtest
    """
    import time

    from tqdm.auto import tqdm

    dates = mondays(start, end)
    targets = check_targets(targets)
    names = check_model_names(models)
    if baseline not in names:
        names = [baseline, *names]
    needed = tuple(dict.fromkeys([*targets, *(("case",) if "death" in targets else ())]))
    truth = _weekly_for(frame, needed, None, repair, level)
    _check_date_in_data(dates[0], truth, frame)
    _check_date_in_data(dates[-1], truth, frame)
    locations = check_regions(regions, sorted(set().union(*(w.regions for w in truth.values()))))
    started = time.perf_counter()
    per_region = {loc: [] for loc in locations}
    for date in tqdm(dates, desc="weekly data per date", disable=not show_progress(progress), leave=False):
        weekly = _weekly_for(frame, needed, date, repair, level)
        last = last_complete_week(date)
        for loc in locations:
            histories, covariates = _histories(weekly, loc, last)
            per_region[loc].append((date, {t: histories[t] for t in targets}, covariates))
    results = []
    if client is not None:
        from dask.distributed import as_completed

        futures = [client.submit(_backtest_region, loc, per_region[loc], names, targets, pure=False)
                   for loc in locations]
        for fut in tqdm(as_completed(futures), total=len(futures), desc="regions", unit="region",
                        disable=not show_progress(progress)):
            results.append(fut.result())
    else:
        for loc in tqdm(locations, desc="regions", unit="region", disable=not show_progress(progress)):
            results.append(_backtest_region(loc, per_region[loc], names, targets))
    seconds = time.perf_counter() - started
    rows = [r for res in results for r in res[0]]
    skipped = pd.DataFrame([s for res in results for s in res[1]],
                           columns=["model", "forecast_date", "location", "target", "reason"])
    forecasts = pd.DataFrame(rows)
    if forecasts.empty:
        raise DataError("no region could be forecast in this window: " +
                        (skipped["reason"].iloc[0] if len(skipped) else "no data"))
    forecasts = forecasts.sort_values(["model", "forecast_date", "location", "kind", "horizon"], ignore_index=True)
    scores = score_forecasts(forecasts, {t: truth[t] for t in targets}, baseline)
    return Backtest(forecasts, scores, skipped, dates, seconds)
