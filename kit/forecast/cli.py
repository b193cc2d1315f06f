"""``kit forecast compare``, ``kit forecast hub``, ``kit forecast score``, ``kit forecast hub-backtest``."""
from __future__ import annotations

from kit.errors import UsageError
from kit.files import write_json
from kit.mpl import plain


def cmd_compare(args) -> int:
    import matplotlib

    matplotlib.use("Agg")
    from kit.data import load_timeseries, select_series
    from kit.files import refuse_overwriting_inputs
    from kit.forecast import as_target, compare

    refuse_overwriting_inputs([args.source], {"--json": args.json, "--plot": args.plot})
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
        ax = result.plot(title=f"{plain(region)}: {args.target} forecasts")
        ax.figure.savefig(args.plot, dpi=110, bbox_inches="tight")
    return 0


def _levels(text: str) -> tuple:
    try:
        return tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise UsageError(f"--level expects percentages separated by commas, e.g. 80,95; got {text!r}") from None


def register(sub) -> None:
    from kit.arguments import date, whole
    from kit.data.tidy import MEASURES
    from kit.forecast.evaluate import TRANSFORMS
    from kit.forecast.models import ARIMA_ENGINES, ENGINE_ALIASES

    forecast = sub.add_parser("forecast", help="statistical forecasting").add_subparsers(dest="action", required=True)
    p = forecast.add_parser("compare", help="compare forecasters on one series (hold-out or rolling origin)")
    p.add_argument("--source", required=True, help="'synthetic', a registry name (jhu_global, ...) or a CSV")
    p.add_argument("--format", choices=["jhu", "owid", "tidy"], help="layout of a CSV (detected by default)")
    p.add_argument("--region", required=True)
    p.add_argument("--province")
    p.add_argument("--target", default="confirmed", choices=[m for m in MEASURES if m != "recovered"])
    p.add_argument("--holdout", type=float, help="test on the last FRACTION of the series (default 0.1)")
    p.add_argument("--train-end", type=date, help="test on the days after this date")
    p.add_argument("--horizon", type=whole(1, 3650), help="days to forecast: per fold with --folds, after --train-end, or alone: test on the last DAYS")
    p.add_argument("--folds", type=whole(0, 1000), help="rolling-origin backtest with this many origins")
    p.add_argument("--level", default="80,95", help="prediction-interval levels in %% (default 80,95)")
    p.add_argument("--transform", default=TRANSFORMS[0], choices=list(TRANSFORMS),
                   help="forecast the cumulative counts or daily: the 7-day mean of new counts")
    p.add_argument("--models", default="default", help="default (every model), all, or m1,m2 "
                   "(naive, drift, linear, svr, holt, ar, ma, arima, auto_arima, prophet)")
    p.add_argument("--engine", default=ARIMA_ENGINES[0], choices=[*ARIMA_ENGINES, *ENGINE_ALIASES],
                   help="the ARIMA family: the kit's fast fits (kit) or the seed notebooks' statsmodels and "
                        "pmdarima (statsmodels; 'seed' is its earlier name)")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--workers", type=whole(1, 256), help="fit models in parallel on a local Dask cluster")
    group.add_argument("--scheduler", help="... or on this Dask scheduler")
    p.add_argument("--json", metavar="OUT")
    p.add_argument("--plot", metavar="OUT.png")
    p.set_defaults(func=cmd_compare)
    _register_hub(forecast)


def _load_sources(sources: list, format: str | None):
    from kit.data import load_timeseries
    from kit.forecast.weekly import TARGETS

    return load_timeseries(sources if len(sources) > 1 else sources[0], format=format,
                           measures=tuple(TARGETS.values()))


def _client(args):
    if not (getattr(args, "workers", None) or getattr(args, "scheduler", None)):
        return None
    from dask.distributed import Client, LocalCluster

    return Client(args.scheduler) if args.scheduler else Client(
        LocalCluster(n_workers=args.workers, threads_per_worker=1, dashboard_address=None))


def _print_skipped(skipped, limit: int = 20) -> None:
    import sys

    for row in skipped.head(limit).itertuples(index=False):
        print(f"kit: skipped {row.location} ({row.target}): {row.reason}", file=sys.stderr)
    if len(skipped) > limit:
        print(f"kit: ... and {len(skipped) - limit} more skipped", file=sys.stderr)


def cmd_hub(args) -> int:
    from kit.files import refuse_overwriting_inputs
    from kit.forecast.hub import hub_forecast

    refuse_overwriting_inputs(args.source, {"--out": args.out})
    frame = _load_sources(args.source, args.format)
    result = hub_forecast(frame, args.forecast_date, regions=args.regions, targets=args.targets, model=args.model,
                          repair=args.repair, level=args.level)
    if result.table.empty:
        _print_skipped(result.skipped)
        raise UsageError("nothing could be forecast; see the reasons above")
    path = result.to_csv(args.out)
    n = result.table.groupby(["location", "target"]).ngroups
    print(f"{path}: {n} forecasts ({result.table['location'].nunique()} regions) by {result.model} "
          f"for {result.forecast_date.date()}")
    _print_skipped(result.skipped)
    return 0


def cmd_score(args) -> int:
    import matplotlib

    matplotlib.use("Agg")
    from kit.files import refuse_overwriting_inputs
    from kit.forecast.hub import read_forecasts, score_forecasts, with_kit_baseline
    from kit.forecast.weekly import weekly_targets

    refuse_overwriting_inputs([*args.forecasts, *args.truth], {"--json": args.json, "--plot": args.plot})
    forecasts = read_forecasts(args.forecasts)
    frame = _load_sources(args.truth, args.format)
    kinds = tuple(sorted(forecasts["kind"].unique()))
    forecasts = with_kit_baseline(forecasts, frame, args.baseline, level=args.level)
    truth = weekly_targets(frame, tuple(k for k in ("case", "death") if k in kinds), level=args.level)
    scores = score_forecasts(forecasts, truth, args.baseline)
    print(scores.text())
    if len(scores.skipped):
        reasons = scores.skipped["reason"].value_counts()
        print(f"not scored: {len(scores.skipped)} forecast(s): " + "; ".join(f"{n} {r}" for r, n in reasons.items()))
    if args.json:
        write_json(args.json, scores.to_json())
    if args.plot:
        fig = scores.plot()
        fig.savefig(args.plot, dpi=110, bbox_inches="tight")
    return 0


def cmd_hub_backtest(args) -> int:
    import matplotlib

    matplotlib.use("Agg")
    from kit.files import refuse_overwriting_inputs
    from kit.forecast.hub import hub_backtest

    refuse_overwriting_inputs(args.source, {"--json": args.json, "--plot": args.plot, "--out": args.out})
    frame = _load_sources(args.source, args.format)
    client = _client(args)
    try:
        result = hub_backtest(frame, args.start, args.end, models=args.models, regions=args.regions,
                              targets=args.targets, repair=args.repair, level=args.level, client=client)
    finally:
        if client is not None:
            client.close()
    print(result.scores.text())
    print(f"{len(result.dates)} forecast dates ({result.dates[0].date()} to {result.dates[-1].date()}), "
          f"{result.forecasts['location'].nunique()} regions, {result.seconds:.1f} s")
    if len(result.skipped):
        reasons = result.skipped.groupby("model").size()
        print("not forecast: " + ", ".join(f"{m} {n}" for m, n in reasons.items()) + " (see --json)")
    if args.json:
        write_json(args.json, {**result.scores.to_json(), "dates": [d.date().isoformat() for d in result.dates],
                               "seconds": result.seconds,
                               "skipped": result.skipped.astype(str).to_dict(orient="records")})
    if args.plot:
        result.scores.plot().savefig(args.plot, dpi=110, bbox_inches="tight")
    if args.out:
        from pathlib import Path

        from kit.files import atomic_write
        from kit.forecast.hub import hub_csv_text

        for (model, date), part in result.forecasts.groupby(["model", "forecast_date"]):
            table = result.hub_table(model, date)
            atomic_write(Path(args.out) / model / f"{date.date()}-kit-{model}.csv", hub_csv_text(table))
        print(f"hub files: {args.out}/<model>/<date>-kit-<model>.csv")
    return 0


def _register_hub(forecast) -> None:
    from kit.arguments import date, whole
    from kit.forecast.hub_models import DEFAULT_MODEL, HUB_MODELS

    def sources(p, name="--source", help_text="'synthetic', a registry name (jhu_global, ...) or a CSV; "
                                             "give it twice for JHU's separate confirmed and deaths files"):
        p.add_argument(name, required=True, action="append", help=help_text)
        p.add_argument("--format", choices=["jhu", "owid", "tidy"], help="layout of a CSV (detected by default)")
        p.add_argument("--level", default="region", choices=["region", "province"],
                       help="forecast regions (provinces summed; the hubs' countries) or each province")

    def common(p):
        p.add_argument("--regions", default="all",
                       help="all (default), european_hub (the European hub's 32 countries) or A,B: regions as the "
                            "source names them")
        p.add_argument("--targets", default="case,death", help="case, death or case,death (default)")
        p.add_argument("--repair", default="cummax", choices=["cummax", "isotonic"],
                       help="how days a cumulative count went down are handled (default cummax: uses only the past)")

    p = forecast.add_parser("hub", help="weekly quantile forecasts of one forecast date, in the hubs' CSV format")
    sources(p)
    common(p)
    p.add_argument("--forecast-date", type=date, required=True, help="a Monday; only data before it is used")
    p.add_argument("--model", default=DEFAULT_MODEL, choices=list(HUB_MODELS), metavar="NAME",
                   help=f"default {DEFAULT_MODEL}; one of {', '.join(HUB_MODELS)}")
    p.add_argument("--out", required=True, metavar="FILE.csv")
    p.set_defaults(func=cmd_hub)

    p = forecast.add_parser("score", help="score hub-format forecast files: WIS, coverage, relative WIS")
    p.add_argument("--forecasts", required=True, nargs="+", metavar="FILE_OR_DIR",
                   help="hub CSV files or folders of them (model = the file name after its date)")
    sources(p, "--truth", "the data to score against (as --source of kit forecast hub)")
    p.add_argument("--baseline", default="baseline",
                   help="the model relative WIS is scaled by (default: the hubs' baseline, made by the kit "
                        "for the same dates and regions when no file of that name is given)")
    p.add_argument("--json", metavar="OUT")
    p.add_argument("--plot", metavar="OUT.png")
    p.set_defaults(func=cmd_score)

    p = forecast.add_parser("hub-backtest", help="every Monday of a window, every region and model, scored")
    sources(p)
    common(p)
    p.add_argument("--from", dest="start", type=date, required=True, help="first forecast date (a Monday)")
    p.add_argument("--to", dest="end", type=date, required=True, help="last forecast date (a Monday)")
    p.add_argument("--models", default="all",
                   help=f"all (default: {', '.join(HUB_MODELS)}), default ({DEFAULT_MODEL}) or m1,m2; "
                        f"the baseline is always in")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--workers", type=whole(1, 256), help="regions in parallel on a local Dask cluster")
    group.add_argument("--scheduler", help="... or on this Dask scheduler")
    p.add_argument("--json", metavar="OUT")
    p.add_argument("--plot", metavar="OUT.png")
    p.add_argument("--out", metavar="DIR", help="also write every forecast as hub files: DIR/<model>/<date>-kit-<model>.csv")
    p.set_defaults(func=cmd_hub_backtest)
