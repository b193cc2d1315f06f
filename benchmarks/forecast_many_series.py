"""The comparator over every country: sequential against Dask, one run, with intervals.

Reads the JHU layout from ``../shared/data/covid`` (or ``--data DIR``), sums each
country's provinces into one series of confirmed cases (``--series N``: the N largest;
default every country), and runs the comparator twice per series — a hold-out of the
last ``--horizon`` days and a rolling-origin backtest of ``--folds`` folds — first
sequentially, then on a local Dask cluster of ``--workers`` workers. It checks both
give the same table and prints both times and their ratio, the fit time per model, the
coverage of the 80 % and 95 % intervals per model across series (an honest 95 % band
holds about 95 % of the actual values), and which model wins how often.

    python benchmarks/forecast_many_series.py [--series 200] [--workers 2] [--models all]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path


def load_countries(data: Path, limit: int | None):
    from kit.data import load_jhu, repair_decreases

    path = data / "time_series_covid19_confirmed_global.csv"
    if not path.exists():
        raise SystemExit(f"{path} not found: this benchmark needs the real JHU data (../shared/data/covid)")
    frame = repair_decreases(load_jhu(confirmed=path))
    countries = frame.groupby(["region", "date"])["confirmed"].sum()
    finals = countries.groupby(level="region").max().sort_values(ascending=False)
    names = list(finals.index[:limit] if limit else finals.index)
    return {name: countries.loc[name].astype(float).rename(name) for name in names}


def run(series, models, horizon, folds, client=None):
    from kit.forecast import compare_many

    holdout = compare_many(series, models, horizon=horizon, client=client, progress=client is None)
    backtest = compare_many(series, models, horizon=horizon, folds=folds, client=client, progress=client is None)
    return holdout.assign(evaluation="hold-out"), backtest.assign(evaluation="backtest")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "covid"))
    parser.add_argument("--series", type=int, default=None, help="only the N largest countries (default: all)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--models", default="all")
    parser.add_argument("--horizon", type=int, default=14)
    parser.add_argument("--folds", type=int, default=4)
    args = parser.parse_args()

    import pandas as pd
    from dask.distributed import Client, LocalCluster

    series = load_countries(Path(args.data), args.series)
    print(f"{len(series)} countries, {len(next(iter(series.values())))} days each, models={args.models}, "
          f"hold-out of {args.horizon} days + {args.folds}-fold backtest")

    t0 = time.perf_counter()
    sequential = run(series, args.models, args.horizon, args.folds)
    t_seq = time.perf_counter() - t0
    with LocalCluster(n_workers=args.workers, threads_per_worker=1, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        client.submit(lambda: __import__("kit.forecast").forecast).result()  # warm the workers' imports
        t0 = time.perf_counter()
        parallel = run(series, args.models, args.horizon, args.folds, client)
        t_par = time.perf_counter() - t0

    import numpy as np

    # the same fits, but BLAS may sum in another order on a worker: equal to 1e-6
    same = all(a["status"].tolist() == b["status"].tolist() and a["series"].tolist() == b["series"].tolist()
               and np.allclose(a[["mae", "rmse"]].to_numpy(float), b[["mae", "rmse"]].to_numpy(float),
                               rtol=1e-6, equal_nan=True) for a, b in zip(sequential, parallel))
    print(f"\nsequential: {t_seq:8.1f} s")
    print(f"dask, {args.workers} workers: {t_par:8.1f} s")
    print(f"ratio: {t_seq / t_par:.2f}x   (same tables to 1e-6: {same})")

    table = pd.concat(sequential)
    ok = table[table["status"] == "ok"]
    fit = ok.groupby("model")["fit_seconds"].agg(["mean", "sum", "count"])
    fit["share_%"] = fit["sum"] / fit["sum"].sum() * 100
    print("\nfit time per model (sequential run; conformal models include their calibration refits):")
    print(fit.sort_values("sum", ascending=False).round(3).to_string())

    coverage = [c for c in ok.columns if c.startswith("coverage_")]
    print("\ninterval coverage per model, mean over countries (backtest | hold-out):")
    cover = ok.pivot_table(index="model", columns="evaluation", values=coverage, aggfunc="mean")
    print(cover.round(3).to_string())
    skipped = table[table["status"] != "ok"]
    if len(skipped):
        print(f"\n{len(skipped)} model runs skipped or failed, e.g.: {skipped['status'].iloc[0]}")
    backtest = ok[ok["evaluation"] == "backtest"]
    wins = backtest.loc[backtest.groupby("series")["rmse"].idxmin(), "model"].value_counts()
    print("\nbest model per country in the backtest (count):")
    print(wins.to_string())


if __name__ == "__main__":
    main()
