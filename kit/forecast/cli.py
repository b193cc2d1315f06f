"""``kit forecast compare``."""
from __future__ import annotations

from kit.errors import UsageError
from kit.files import write_json


def cmd_compare(args) -> int:
    import matplotlib

    matplotlib.use("Agg")
    from kit.data import load_timeseries, select_series
    from kit.forecast import as_target, compare

    levels = _levels(args.level)
    frame = load_timeseries(args.source, format=args.format, measures=(args.target,))
    y = as_target(select_series(frame, args.region, args.target, args.province), args.transform)
    client = None
    if args.workers or args.scheduler:
        from dask.distributed import Client, LocalCluster

        client = Client(args.scheduler) if args.scheduler else Client(
            LocalCluster(n_workers=args.workers, threads_per_worker=1, dashboard_address=None))
    try:
        result = compare(y, args.models, holdout=args.holdout, train_end=args.train_end,
                         horizon=args.horizon, folds=args.folds, level=levels, engine=args.engine,
                         client=client)
    finally:
        if client is not None:
            client.close()
    import pandas as pd

    with pd.option_context("display.width", 160, "display.max_colwidth", 60):
        print(result.table.round(3).to_string(index=False))
    print(f"best: {result.best}")
    region = y.attrs["region"] + (f" / {args.province}" if args.province else "")
    if args.json:
        write_json(args.json, {**result.to_json(region, args.target), "transform": args.transform})
    if args.plot:
        ax = result.plot(title=f"{region}: {args.target} forecasts")
        ax.figure.savefig(args.plot, dpi=110, bbox_inches="tight")
    return 0


def _levels(text: str) -> tuple:
    try:
        return tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise UsageError(f"--level expects percentages separated by commas, e.g. 80,95; got {text!r}") from None


def register(sub) -> None:
    forecast = sub.add_parser("forecast", help="statistical forecasting").add_subparsers(dest="action", required=True)
    p = forecast.add_parser("compare", help="compare forecasters on one series (hold-out or rolling origin)")
    p.add_argument("--source", required=True, help="'synthetic', a registry name (jhu_global, ...) or a CSV")
    p.add_argument("--format", choices=["jhu", "owid", "tidy"], help="layout of a CSV (detected by default)")
    p.add_argument("--region", required=True)
    p.add_argument("--province")
    p.add_argument("--target", default="confirmed", choices=["confirmed", "deaths"])
    p.add_argument("--holdout", type=float, help="test on the last FRACTION of the series (default 0.1)")
    p.add_argument("--train-end", help="test on the days after this date")
    p.add_argument("--horizon", type=int, help="days to forecast: per fold with --folds, after --train-end, or alone: test on the last DAYS")
    p.add_argument("--folds", type=int, help="rolling-origin backtest with this many origins")
    p.add_argument("--level", default="80,95", help="prediction-interval levels in %% (default 80,95)")
    p.add_argument("--transform", default="cumulative", choices=["cumulative", "daily"],
                   help="forecast the cumulative counts or daily: the 7-day mean of new counts")
    p.add_argument("--models", default="default", help="default (every model), all, or m1,m2 "
                   "(naive, drift, linear, svr, holt, ar, ma, arima, auto_arima, prophet)")
    p.add_argument("--engine", default="kit", choices=["kit", "seed"],
                   help="the ARIMA family: the kit's fast fits (kit) or the seed "
                        "notebooks' statsmodels and pmdarima (seed)")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--workers", type=int, help="fit models in parallel on a local Dask cluster")
    group.add_argument("--scheduler", help="... or on this Dask scheduler")
    p.add_argument("--json", metavar="OUT")
    p.add_argument("--plot", metavar="OUT.png")
    p.set_defaults(func=cmd_compare)
