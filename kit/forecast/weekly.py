"""Weekly incident counts, the way the COVID-19 Forecast Hubs counted them.

The hubs forecast **incident** cases and deaths per epidemiological week (MMWR week:
Sunday to Saturday, labelled by its Saturday), 1 to 4 weeks ahead, from a **forecast
date** that is a Monday:

* a forecast made on Monday ``F`` uses only rows dated before ``F``;
* its last complete week ends on the Saturday before (``F - 2 days``);
* ``N wk ahead`` is the week ending ``N`` Saturdays after that one.

A week's incidence is the cumulative count on its Saturday minus the one on the
Saturday before, after the cumulative series has been made non-decreasing by
:func:`kit.data.repair_decreases` (a correction that lowered the total is counted and
reported, and weeks after it stay at zero until the count catches up, so no week is
negative). Days missing inside a week do not matter as long as both Saturdays are
there; a missing Saturday leaves its week, and the next, unknown.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from kit.errors import DataError, ParameterError
from kit.mpl import plain

# Hub target names -> the tidy schema's measures. Each fact once: every module asks here.
TARGETS = {"case": "confirmed", "death": "deaths"}
HORIZONS = (1, 2, 3, 4)  # weeks ahead the hubs asked for
MIN_WEEKS = 6  # complete weeks a region needs before it can be forecast
RECENT_DAYS = tuple(range(-6, 2))  # WeeklyCounts.recent_days: Sunday of the week (-6) .. Sunday after (+1)


def check_targets(targets) -> tuple[str, ...]:
    """Hub targets (``case``, ``death``) as a tuple, from a list or ``"case,death"``."""
    names = [t.strip() for t in targets.split(",")] if isinstance(targets, str) else list(targets)
    names = [t for t in names if t]
    unknown = [t for t in names if t not in TARGETS]
    if unknown or not names:
        raise ParameterError(f"targets are {' and '.join(TARGETS)}, got {', '.join(map(repr, unknown)) or 'none'}")
    return tuple(dict.fromkeys(names))


def check_forecast_date(date) -> pd.Timestamp:
    """A forecast date as a Monday (the hubs' submission day), else a clear error."""
    try:
        day = pd.Timestamp(date)
    except (ValueError, TypeError):
        raise ParameterError(f"forecast date must be a date like 2021-01-04, got {date!r}") from None
    if day is pd.NaT or pd.isna(day):
        raise ParameterError(f"forecast date must be a date like 2021-01-04, got {date!r}")
    day = day.normalize()
    if day.day_of_week != 0:
        monday = day - pd.Timedelta(days=day.day_of_week)
        raise ParameterError(f"forecast date {day.date()} is a {day.day_name()}; forecasts are made on Mondays "
                             f"(e.g. {monday.date()} or {(monday + pd.Timedelta(weeks=1)).date()})")
    return day


def last_complete_week(forecast_date) -> pd.Timestamp:
    """The Saturday that ends the last complete week before a forecast date."""
    return check_forecast_date(forecast_date) - pd.Timedelta(days=2)


def target_end_date(forecast_date, horizon: int) -> pd.Timestamp:
    """The Saturday that ends the ``horizon`` wk ahead target of a forecast date."""
    return last_complete_week(forecast_date) + pd.Timedelta(weeks=int(horizon))


def mondays(start, end) -> list[pd.Timestamp]:
    """Every Monday from ``start`` to ``end`` (both included; each must be a Monday)."""
    first, last = check_forecast_date(start), check_forecast_date(end)
    if last < first:
        raise ParameterError(f"the window ends ({last.date()}) before it starts ({first.date()})")
    return list(pd.date_range(first, last, freq="W-MON"))


@dataclass
class WeeklyCounts:
    """Incident counts per epidemiological week and region.

    Attributes
    ----------
    values : DataFrame
        Index: the Saturdays that end the weeks (``week``), one column per region; NaN
        where a Saturday of the week is missing in the source.
    measure : str
        ``confirmed`` or ``deaths``.
    corrections : DataFrame
        ``region, date, previous, value, drop``: every day the cumulative count went
        down (a correction by the source), before repair.
    source : str
        Where the counts came from.
    before : Timestamp or None
        Rows on or after this date were not used (the forecast date).
    seven_day : DataFrame
        Index: every day, one column per region: the count of the 7 days that end on
        that day (NaN where either end is missing). The weeks' counts are its Saturdays;
        the days in between, and the Sunday before a forecast date, say where the
        count went during and after the last week, with no weekday pattern
        (:meth:`recent_days`).
    """

    values: pd.DataFrame
    measure: str
    corrections: pd.DataFrame
    source: str = ""
    before: pd.Timestamp | None = None
    repair: str = "cummax"
    seven_day: pd.DataFrame | None = None

    @property
    def regions(self) -> list[str]:
        return list(self.values.columns)

    def history(self, region: str, last_week: pd.Timestamp | None = None) -> pd.Series:
        """The unbroken run of complete weeks of ``region`` that ends with ``last_week``
        (default: the last week in the data).

        Raises
        ------
        DataError
            When that week is missing (named), or fewer than ``MIN_WEEKS`` weeks end
            there; the message says which week broke the run.
        """
        if region not in self.values.columns:
            raise DataError(f"no region {region!r} in the weekly {self.measure} counts")
        column = self.values[region]
        last_week = column.index[-1] if last_week is None else pd.Timestamp(last_week)
        if last_week not in column.index:
            end = column.index[-1].date() if len(column) else "nothing"
            raise DataError(f"{region}: no complete week ends on {last_week.date()} in the {self.measure} counts "
                            f"(the data's last complete week ends {end})")
        column = column.loc[:last_week]
        missing = np.flatnonzero(column.isna().to_numpy())
        start = missing[-1] + 1 if len(missing) else 0
        run = column.iloc[start:]
        if len(run) < MIN_WEEKS:
            if len(missing) and missing[-1] == len(column) - 1:
                why = f"the week ending {last_week.date()} has missing days (no count on one of its Saturdays)"
            elif len(missing):
                why = (f"only {len(run)} complete week(s) since the week ending "
                       f"{column.index[missing[-1]].date()}, which has missing days")
            else:
                why = f"only {len(run)} complete week(s) of data"
            raise DataError(f"{region}: cannot forecast {self.measure}: {why}; at least {MIN_WEEKS} are needed")
        run = run.astype(float)
        run.name = region
        return run

    def recent_days(self, region: str, last_week: pd.Timestamp | None = None) -> pd.DataFrame:
        """For each week up to ``last_week``: the 7-day counts ending on each day from
        the Sunday that starts the week to the Sunday after it (columns
        :data:`RECENT_DAYS`, days after the week's Saturday; column 0 is the week's
        count). NaN where a count is unknown: a missing day, or the Sunday after the
        last week when the data ends on its Saturday. Nothing on or after ``before``
        is in it, so a forecast date's Sunday is the newest day a model can see."""
        index = self.values.loc[:last_week].index if last_week is not None else self.values.index
        if self.seven_day is None or region not in self.seven_day.columns:
            return pd.DataFrame(np.nan, index=index, columns=list(RECENT_DAYS))
        days = self.seven_day[region].to_numpy(float)
        first = self.seven_day.index[0]
        # the daily index is unbroken, so a day's row is its distance from the first day
        rows = (index - first).days.to_numpy()[:, None] + np.asarray(RECENT_DAYS)[None, :]
        inside = (rows >= 0) & (rows < len(days))
        values = np.full(rows.shape, np.nan)
        values[inside] = days[rows[inside]]
        frame = pd.DataFrame(values, index=index, columns=list(RECENT_DAYS))
        frame.columns.name = "days_after_saturday"
        return frame

    def corrections_of(self, region: str) -> pd.DataFrame:
        return self.corrections[self.corrections["region"] == region]


def weekly_counts(frame: pd.DataFrame, measure: str, *, before=None, repair: str = "cummax",
                  level: str = "region") -> WeeklyCounts:
    """Weekly incident counts of one measure from a tidy frame (any loader's output).

    Parameters
    ----------
    frame : DataFrame
        The tidy schema (``date, region, province, confirmed, deaths, ...``), cumulative.
    measure : {"confirmed", "deaths"}
    before : date, optional
        A forecast date: rows dated on or after it are dropped first, so nothing later
        can change what a forecast sees.
    repair : {"cummax", "isotonic"}
        How :func:`kit.data.repair_decreases` makes each cumulative series
        non-decreasing. ``cummax`` (default) uses only the past; ``isotonic`` spreads a
        correction over the days before it.
    level : {"region", "province"}
        Sum provinces into their region (the hubs forecast countries), or keep each
        province as its own series named ``region / province``.

    Returns
    -------
    WeeklyCounts
    """
    from kit.data.tidy import MEASURES, repair_decreases

    if measure not in MEASURES:
        raise ParameterError(f"measure must be one of {', '.join(MEASURES)}, got {measure!r}")
    if level not in ("region", "province"):
        raise ParameterError(f"level must be 'region' or 'province', got {level!r}")
    source = str(frame.attrs.get("source", ""))
    if measure not in frame.columns or frame[measure].isna().all():
        raise DataError(f"{source or 'the data'} has no {measure} counts")
    rows = frame[["date", "region", "province", measure]].dropna(subset=[measure])
    if before is not None:
        cut = pd.Timestamp(before)
        rows = rows[rows["date"] < cut]
        if rows.empty:
            raise DataError(f"{source or 'the data'}: no {measure} counts before {cut.date()} "
                            f"(the data starts {frame['date'].min().date()})")
    if level == "region":
        rows = rows.groupby(["region", "date"], as_index=False, sort=True)[measure].sum()
        rows["province"] = ""
    else:
        rows = rows.assign(region=np.where(rows["province"] != "", rows["region"] + " / " + rows["province"],
                                           rows["region"]), province="")
    rows = rows.sort_values(["region", "date"], ignore_index=True)
    repaired = repair_decreases(rows, method=repair, measures=(measure,))
    found = repaired.attrs["repaired"]
    corrections = found[["region", "date", "previous", "value", "drop"]].reset_index(drop=True)
    cumulative = repaired.pivot(index="date", columns="region", values=measure)
    days = pd.date_range(cumulative.index.min(), cumulative.index.max(), freq="D")
    cumulative = cumulative.reindex(days)
    saturdays = cumulative.index[cumulative.index.day_of_week == 5]
    at_saturdays = cumulative.loc[saturdays]
    values = at_saturdays.diff().iloc[1:]  # the first Saturday has no week before it
    values.index.name = "week"
    values.columns.name = None
    seven_day = cumulative.diff(7)
    seven_day.columns.name = None
    return WeeklyCounts(values=values, measure=measure, corrections=corrections, source=source,
                        before=None if before is None else pd.Timestamp(before), repair=repair,
                        seven_day=seven_day)


def weekly_targets(frame: pd.DataFrame, targets=("case", "death"), *, before=None, repair: str = "cummax",
                   level: str = "region") -> dict[str, WeeklyCounts]:
    """:func:`weekly_counts` for each hub target (``case``, ``death``) the frame has."""
    targets = check_targets(targets)
    return {t: weekly_counts(frame, TARGETS[t], before=before, repair=repair, level=level) for t in targets}


def plot_weekly(frame: pd.DataFrame, weekly: dict[str, WeeklyCounts], region: str, measure_target: str = "case",
                ax=None):
    """The cumulative count a source reports against the weekly incident count the hubs
    forecast, for one region (its corrections marked)."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import StrMethodFormatter

    counts = weekly[measure_target]
    if region not in counts.values.columns:
        raise DataError(f"no region {region!r} in the weekly {counts.measure} counts")
    measure = counts.measure
    rows = frame[frame["region"] == region] if " / " not in region else frame[
        (frame["region"] + " / " + frame["province"]) == region]
    cumulative = rows.groupby("date")[measure].sum()
    if ax is None:
        fig, ax = plt.subplots(1, 2, figsize=(12, 3.6), constrained_layout=True)
    left, right = ax
    left.plot(cumulative.index, cumulative.to_numpy(), color="0.3", lw=1.5)
    left.set_title(f"{plain(region)}: cumulative {measure}, as reported")
    fixes = counts.corrections_of(region)
    if len(fixes):
        left.scatter(fixes["date"], fixes["value"], color="#e6550d", s=18, zorder=3,
                     label=f"{len(fixes)} correction(s): the total went down")
        left.legend(frameon=False, fontsize=8)
    series = counts.values[region]
    right.bar(series.index, series.to_numpy(), width=6, color="#3182bd")
    right.set_title(f"{plain(region)}: new {measure} per week (Sunday to Saturday)")
    for a in (left, right):
        a.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
        a.grid(alpha=0.3)
    return ax
