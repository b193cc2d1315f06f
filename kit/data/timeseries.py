"""One entry point for COVID time series: a registry name, ``synthetic`` or a CSV path."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from kit.errors import DataError, FetchError, MissingInputError

from . import synthetic
from .jhu import detect_layout, load_jhu
from .owid import load_owid
from .tidy import MEASURES, read_tidy_csv

# Registry entries that belong together.
JHU_SETS = {
    "jhu_global": ("global", {"confirmed": "jhu_confirmed_global", "deaths": "jhu_deaths_global",
                              "recovered": "jhu_recovered_global"}),
    "jhu_us": ("us", {"confirmed": "jhu_confirmed_us", "deaths": "jhu_deaths_us"}),
}


def _measure_from_name(name: str) -> str | None:
    for m in MEASURES:
        if m in name.lower():
            return m
    return None


def load_timeseries(source: str | Path = "synthetic", *, format: str | None = None,
                    measures: tuple = MEASURES, level: str = "state",
                    fallback: str | None = None) -> pd.DataFrame:
    """Load cumulative COVID counts in the tidy schema.

    Parameters
    ----------
    source : str, path, or a list of them
        Several sources are merged measure by measure (:func:`combine_measures`: e.g.
        JHU's confirmed file and its deaths file). One source: ``synthetic`` (offline, :func:`kit.data.synthetic.shipped_outbreak`: the course's default
        synthetic outbreak, made by :func:`kit.epi.outbreak`), a registry set
        ``jhu_global`` / ``jhu_us``, a registry entry (``jhu_deaths_global``, ``owid_covid``, ...)
        or a CSV file in the JHU, OWID or tidy layout.
    format : {"jhu", "owid", "tidy"}, optional
        Force the layout of a CSV instead of detecting it from the header.
    measures : tuple
        Which measures to fetch for a registry set (fewer files to download).
    level : {"state", "county"}
        JHU US only.
    fallback : str, optional
        Load this source instead (e.g. ``"synthetic"``) when ``source`` cannot be fetched
        (offline, no ``KIT_MIRROR``); ``frame.attrs["fallback_reason"]`` says why. Other
        errors (a broken file) are raised as usual.

    Returns
    -------
    DataFrame
        ``date, region, province, confirmed, deaths, recovered``.
    """
    if isinstance(source, (list, tuple)):
        if not source:
            raise DataError("no source given")
        if len(source) == 1:
            return load_timeseries(source[0], format=format, measures=measures, level=level, fallback=fallback)
        return combine_measures([load_timeseries(s, format=format, measures=measures, level=level, fallback=fallback)
                                 for s in source])
    if fallback is not None:
        try:
            return load_timeseries(source, format=format, measures=measures, level=level)
        except FetchError as exc:
            frame = load_timeseries(fallback, measures=measures)
            frame.attrs["fallback_reason"] = f"{source} could not be fetched ({exc}); using {fallback}"
            return frame
    from .fetch import fetch
    from .registry import load_registry

    name = str(source)
    if name == "synthetic":
        return synthetic.shipped_outbreak()
    if name in JHU_SETS:
        layout, entries = JHU_SETS[name]
        paths = {m: fetch(e) for m, e in entries.items() if m in measures}
        return load_jhu(**paths, layout=layout, level=level)
    path = Path(name)
    if path.exists() and not path.is_file():
        raise DataError(f"{path}: not a regular file (a folder, a device or a pipe cannot be read as a table); "
                        f"give a CSV file")
    if not path.exists():
        registry = load_registry()
        if name not in registry.entries and not path.suffix:
            registry[name]  # raises with close names
        if name in registry.entries:
            path = fetch(name)
        else:
            raise MissingInputError(f"{name}: no such file, and not a registry entry or 'synthetic'")
    layout = detect_layout(path) if format is None else {"jhu": None, "owid": "owid", "tidy": "tidy"}[format]
    if layout is None:
        layout = detect_layout(path)
        if not layout.startswith("jhu"):
            raise DataError(f"{path.name} does not have the JHU layout (Province/State, Country/Region, m/d/yy...)")
    if layout in ("jhu_global", "jhu_us"):
        measure = _measure_from_name(path.name) or _measure_from_name(name)
        if measure is None:
            raise DataError(f"{path.name}: cannot tell whether it holds confirmed, deaths or recovered; "
                             f"rename it like JHU's files (time_series_covid19_deaths_global.csv)")
        return load_jhu(**{measure: path}, layout="global" if layout == "jhu_global" else "us", level=level)
    if layout == "owid":
        return load_owid(path)
    return read_tidy_csv(path)


def combine_measures(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Tidy frames that hold different measures of the same places, merged into one.

    Raises
    ------
    DataError
        When two frames hold the same measure (which one to trust is the user's call).
    """
    from .tidy import MEASURES, finish

    owner: dict[str, str] = {}
    merged = None
    for frame in frames:
        source = str(frame.attrs.get("source", "a source"))
        held = [m for m in MEASURES if m in frame.columns and frame[m].notna().any()]
        for m in held:
            if m in owner:
                raise DataError(f"both {owner[m]} and {source} hold {m} counts; give each measure once")
            owner[m] = source
        part = frame[["date", "region", "province", *held]]
        merged = part if merged is None else merged.merge(part, on=["date", "region", "province"], how="outer")
    sha = {m: frames[[str(f.attrs.get("source", "")) for f in frames].index(owner[m])].attrs.get("sha256")
           for m in owner}
    out = finish(merged, " + ".join(dict.fromkeys(owner.values())), sha,
                 synthetic=all(f.attrs.get("synthetic", False) for f in frames))
    return out
