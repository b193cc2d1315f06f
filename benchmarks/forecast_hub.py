"""A forecast-hub backtest on the real JHU data: relative WIS, coverage, wall time.

Reads JHU's global confirmed and deaths files from ``../shared/data/covid`` (or
``--data DIR``), keeps the data up to ``--data-end`` (2021-02-28: everything after it is
for checking, never for choosing), and forecasts every Monday from ``--from`` to ``--to``
(default 2020-09-14 to 2021-02-01: 21 weeks, the last 4-week target ends 2021-02-27)
for

* ``--regions europe`` (default): the 32 countries of the European COVID-19 Forecast Hub;
* ``--regions deaths``: every country with at least ``--min-deaths`` deaths before the
  first forecast date (decided on data before the window only);
* or ``A,B,...``.

Three parts, in one run:

1. every model of the kit (``--models``, default all: the hub baseline, the kit's own
   weekly models, the ensemble, and the ten forecasters of the daily lessons on weekly
   counts with their own intervals — the seed notebooks' models among them), scored as
   the hubs did: relative WIS against the baseline, the WIS parts, coverage of the
   50 % and 95 % intervals, per target and per week ahead;
2. the speed target: the ensemble's backtest over these regions, both targets, first
   sequentially, then on a local Dask cluster of ``--workers`` workers (the same
   forecasts, checked), with the ratio;
3. ``kit forecast hub`` for the last date, every region: its wall time.

    python benchmarks/forecast_hub.py [--regions europe|deaths|A,B] [--models all] [--workers 2]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from kit.forecast.hub import EUROPEAN_HUB as EUROPE  # the one list of the hub's countries


def load(data: Path, end: str):
    from kit.data import load_timeseries

    files = [data / f"time_series_covid19_{m}_global.csv" for m in ("confirmed", "deaths")]
    for f in files:
        if not f.exists():
            raise SystemExit(f"{f} not found: this benchmark needs the real JHU data (../shared/data/covid)")
    frame = load_timeseries([str(f) for f in files])
    cut = frame[frame["date"] <= end].reset_index(drop=True)
    cut.attrs = dict(frame.attrs)
    return cut


def choose_regions(frame, spec: str, start: str, min_deaths: int) -> list[str]:
    import pandas as pd

    if spec == "europe":
        return list(EUROPE)
    if spec == "deaths":
        before = frame[frame["date"] < pd.Timestamp(start)]
        totals = before.groupby(["region", "date"])["deaths"].sum().groupby(level="region").max()
        return sorted(totals[totals >= min_deaths].index)
    return [r.strip() for r in spec.split(",") if r.strip()]


def main(argv=None) -> None:
    import pandas as pd

    from kit.forecast.hub import hub_backtest, hub_forecast

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data" / "covid")
    p.add_argument("--data-end", default="2021-02-28")
    p.add_argument("--from", dest="start", default="2020-09-14")
    p.add_argument("--to", dest="end", default="2021-02-01")
    p.add_argument("--regions", default="europe")
    p.add_argument("--min-deaths", type=int, default=1000)
    p.add_argument("--models", default="all")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--skip-models", action="store_true", help="only the timing parts")
    args = p.parse_args(argv)

    frame = load(args.data, args.data_end)
    regions = choose_regions(frame, args.regions, args.start, args.min_deaths)
    print(f"data up to {args.data_end}; forecast dates {args.start} .. {args.end}; {len(regions)} regions")
    pd.set_option("display.width", 220)
    pd.set_option("display.max_columns", 30)

    if not args.skip_models:
        started = time.perf_counter()
        every = hub_backtest(frame, args.start, args.end, models=args.models, regions=regions, progress=True)
        print(f"\n1. every model ({time.perf_counter() - started:.0f} s)")
        print(every.scores.text())
        print("\nrelative WIS by week ahead")
        by_h = every.scores.by_horizon.pivot_table(index=["target", "model"], columns="horizon",
                                                   values="relative_wis")
        print(by_h.round(3).to_string())
        if len(every.skipped):
            counts = every.skipped[~every.skipped["reason"].str.contains("does not forecast")]
            if len(counts):
                print("\nforecasts not made (model: count): " +
                      ", ".join(f"{m}: {n}" for m, n in counts.groupby("model").size().items()))

    print("\n2. the ensemble's backtest, both targets")
    started = time.perf_counter()
    sequential = hub_backtest(frame, args.start, args.end, models="ensemble", regions=regions, progress=False)
    seq_s = time.perf_counter() - started
    from dask.distributed import Client, LocalCluster

    with Client(LocalCluster(n_workers=args.workers, threads_per_worker=1, dashboard_address=None)) as client:
        client.submit(sum, [1]).result()  # workers up before the clock starts
        started = time.perf_counter()
        parallel = hub_backtest(frame, args.start, args.end, models="ensemble", regions=regions, client=client,
                                progress=False)
        dask_s = time.perf_counter() - started
    same = sequential.forecasts.drop(columns=[]).equals(parallel.forecasts)
    print(f"{len(sequential.dates)} weeks x {len(regions)} regions x 2 targets: sequential {seq_s:.1f} s, "
          f"Dask {args.workers} workers {dask_s:.1f} s ({seq_s / dask_s:.2f}x); same forecasts: {same}")
    print(sequential.scores.text())

    print("\n3. kit forecast hub, one date")
    started = time.perf_counter()
    one = hub_forecast(frame, args.end, regions=regions, progress=False)
    print(f"{args.end}: {one.table.groupby(['location', 'target']).ngroups} forecasts of {len(regions)} regions "
          f"in {time.perf_counter() - started:.2f} s")


if __name__ == "__main__":
    main()
