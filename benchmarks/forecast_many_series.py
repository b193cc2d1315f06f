"""The comparator over every country: sequential against Dask, one run, with intervals.

Reads the JHU layout from ``../shared/data/covid`` (or ``--data DIR``), sums each
country's provinces into one series of confirmed cases (``--series N``: the N largest;
default every country), and evaluates every model on each series by a rolling-origin
backtest of ``--folds`` folds and a hold-out of the last ``--horizon`` days (the
backtest's last fold: same split, fitted once), first sequentially, then on a local
Dask cluster of ``--workers`` workers. It checks both give the same table and prints
both times and their ratio, the fit time per model, the
coverage of the 80 % and 95 % intervals per model across series (an honest 95 % band
holds about 95 % of the actual values), and which model wins how often.

Last, the seed-style baseline on a sample of ``--seed-sample`` countries (all of them would
take over an hour): the ARIMA family with statsmodels and pmdarima (``engine="statsmodels"``) and
the SVR solved by libsvm, against the kit's fits of the same models on the same folds;
it prints the fit time of both per model, their ratio, the mean RMSE of both and the
median over countries of the kit's RMSE over the seed's.

    python benchmarks/forecast_many_series.py [--series 200] [--workers 2] [--models all] [--seed-sample 4]
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
    """Both evaluations from one backtest: the hold-out of the last ``horizon`` days is its
    last fold (same split, same fits)."""
    from kit.forecast import compare_many

    table = compare_many(series, models, horizon=horizon, folds=folds, holdout_too=True, client=client,
                         progress=client is None)
    return table[table["evaluation"] == "hold-out"], table[table["evaluation"] != "hold-out"]


def seed_baseline(series: dict, horizon: int, folds: int):
    """Per-model fit time and RMSE: the seed notebooks' libraries against the kit's fits."""
    import numpy as np
    import pandas as pd

    from kit.forecast import compare
    from kit.forecast.models import PolynomialSVR

    class LibsvmSVR(PolynomialSVR):
        """The seed notebooks' SVR: scikit-learn's libsvm on the same scaled problem."""

        def _fit(self, y):
            from sklearn.svm import SVR

            n = len(y)
            self.t_scale_, lo, hi = float(n), float(y.min()), float(y.max())
            self.y_lo_, self.y_span_ = lo, (hi - lo) or 1.0
            self.model_ = SVR(kernel="poly", degree=self.degree, C=self.C, epsilon=self.epsilon, coef0=1.0,
                              gamma="scale").fit((np.arange(n) / n)[:, None], (y.to_numpy() - lo) / self.y_span_)

        def _predict(self, h, levels):
            n = len(self.y_)
            return self.model_.predict((np.arange(n, n + h) / self.t_scale_)[:, None]) * self.y_span_ + self.y_lo_, {}

    names = ["ar", "ma", "arima", "auto_arima"]
    rows = []
    for engine, svr in (("seed", LibsvmSVR()), ("kit", PolynomialSVR())):
        for key, y in series.items():
            table = compare(y, names + [svr], horizon=horizon, folds=folds, engine=engine, progress=False).table
            rows.append(table.assign(engine=engine, series=key))
    table = pd.concat(rows)
    table = table[table["model"].isin(names + ["svr"])]
    out = table.pivot_table(index="model", columns="engine", values=["fit_seconds", "rmse"], aggfunc="mean")
    out[("fit_seconds", "seed / kit")] = out[("fit_seconds", "seed")] / out[("fit_seconds", "kit")]
    # the mean RMSE is the largest country's: the median ratio says how each country fares
    per_series = table.pivot_table(index=["model", "series"], columns="engine", values="rmse")
    out[("rmse", "median kit / seed")] = (per_series["kit"] / per_series["seed"]).groupby(level="model").median()
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "covid"))
    parser.add_argument("--series", type=int, default=None, help="only the N largest countries (default: all)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--models", default="all")
    parser.add_argument("--horizon", type=int, default=14)
    parser.add_argument("--folds", type=int, default=4)
    parser.add_argument("--seed-sample", type=int, default=4, help="countries for the seed-style baseline (0: skip)")
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

    # the same fits, but a worker's BLAS runs one thread and sums in another order, and an
    # optimiser that stops on a tolerance may then stop one step earlier or later
    diff = [np.abs(a[["mae", "rmse"]].to_numpy(float) - b[["mae", "rmse"]].to_numpy(float))
            / np.maximum(np.abs(a[["mae", "rmse"]].to_numpy(float)), 1e-12) for a, b in zip(sequential, parallel)]
    rows = sum(len(a) for a in sequential)
    off = sum(int((np.nan_to_num(d) > 1e-6).any(axis=1).sum()) for d in diff)
    same = (f"{rows - off} of {rows} rows equal to 1e-6, the largest difference "
            f"{max(float(np.nanmax(d)) for d in diff):.1e} relative")
    print(f"\nsequential: {t_seq:8.1f} s")
    print(f"dask, {args.workers} workers: {t_par:8.1f} s")
    print(f"ratio: {t_seq / t_par:.2f}x   ({same})")

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

    if args.seed_sample:
        names = list(series)
        sample = {k: series[k] for k in names[:: max(1, len(names) // args.seed_sample)][:args.seed_sample]}
        print(f"\nseed-style baseline on {len(sample)} countries ({', '.join(sample)}), {args.folds}-fold "
              f"backtest: mean fit seconds and RMSE per model, seed libraries against the kit's fits")
        print(seed_baseline(sample, args.horizon, args.folds).round(3).to_string())


if __name__ == "__main__":
    main()
