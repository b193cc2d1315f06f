"""The comparator over many real series: sequential against Dask on 2 workers, one run.

Reads the JHU layout from ``../shared/data/covid`` (or ``--data DIR``), takes the
``--series`` largest country/province series of confirmed cases, runs the full
comparator (all models, single hold-out of the last 10 %) sequentially and on a
local Dask cluster of ``--workers`` workers, checks both give the same table, and
prints both times, the ratio and the per-model fit time table.

    python benchmarks/forecast_many_series.py [--series 200] [--workers 2] [--models all]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "covid"))
    parser.add_argument("--series", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--models", default="all")
    parser.add_argument("--holdout", type=float, default=0.1)
    args = parser.parse_args()

    from dask.distributed import Client, LocalCluster

    from kit.data import load_jhu, repair_decreases
    from kit.forecast import compare_many

    path = Path(args.data) / "time_series_covid19_confirmed_global.csv"
    if not path.exists():
        raise SystemExit(f"{path} not found: this benchmark needs the real JHU data (../shared/data/covid)")
    frame = repair_decreases(load_jhu(confirmed=path))
    finals = frame.groupby(["region", "province"])["confirmed"].max().sort_values(ascending=False)
    keys = list(finals.index[: args.series])
    series = {}
    for region, province in keys:
        sub = frame[(frame["region"] == region) & (frame["province"] == province)]
        series[f"{region}/{province}" if province else region] = sub.set_index("date")["confirmed"].astype(float)
    print(f"{len(series)} series of {len(next(iter(series.values())))} days, models={args.models}, "
          f"hold-out {args.holdout:.0%}")

    t0 = time.perf_counter()
    sequential = compare_many(series, args.models, holdout=args.holdout)
    t_seq = time.perf_counter() - t0

    with LocalCluster(n_workers=args.workers, threads_per_worker=1, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        client.submit(lambda: __import__("kit.forecast").forecast).result()  # warm the workers' imports
        t0 = time.perf_counter()
        parallel = compare_many(series, args.models, holdout=args.holdout, client=client)
        t_par = time.perf_counter() - t0

    cols = ["series", "model", "mae", "rmse", "status"]
    same = sequential[cols].reset_index(drop=True).equals(parallel[cols].reset_index(drop=True))
    print(f"\nsequential: {t_seq:8.1f} s")
    print(f"dask, {args.workers} workers: {t_par:8.1f} s")
    print(f"ratio: {t_seq / t_par:.2f}x   (same tables: {same})")

    ok = sequential[sequential["status"] == "ok"]
    fit = ok.groupby("model")["fit_seconds"].agg(["mean", "sum", "count"])
    fit["share_%"] = fit["sum"] / fit["sum"].sum() * 100
    print("\nper-model fit time (sequential run):")
    print(fit.sort_values("sum", ascending=False).round(3).to_string())
    from kit.forecast import SLOW_MODELS

    top = fit["share_%"].idxmax()
    print(f"\nlargest share of the fit time: {top} ({fit.loc[top, 'share_%']:.0f} %)")
    slow_here = [m for m in SLOW_MODELS if m in fit.index]
    if slow_here:
        share = fit.loc[slow_here, "share_%"].sum()
        print(f"{', '.join(slow_here)}: {share:.0f} % of the fit time; they are opt-in "
              f"(the comparator's default model set leaves them out, models='all' adds them)")
    wins = ok.loc[ok.groupby("series")["rmse"].idxmin(), "model"].value_counts()
    print("\nbest model per series (count):")
    print(wins.to_string())


if __name__ == "__main__":
    main()
