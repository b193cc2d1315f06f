"""``kit epi simulate`` and ``kit epi fit``."""
from __future__ import annotations

import sys

from kit.errors import UsageError
from kit.files import write_json
from kit.mpl import plain


def _params(items) -> dict:
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise UsageError(f"-p expects NAME=VALUE, got {item!r}")
        try:
            out[key.strip()] = float(value)
        except ValueError:
            raise UsageError(f"parameter {key.strip()!r} must be a number, got {value!r}") from None
    return out


def cmd_simulate(args) -> int:
    import matplotlib

    matplotlib.use("Agg")
    from kit import epi

    params = _params(args.param)
    if args.country:
        params = {**epi.country_parameters(args.country), **params}
    if "population" not in params:
        params["population"] = 1_000_000.0
        print("kit: population not given (-p population=N or --country); using 1,000,000", file=sys.stderr)
    if args.model != "seird-icu":
        params = {k: v for k, v in params.items() if k not in ("p_ic", "p_cd", "beds_per_100k")}
    if "x0" in params and "r0_end" not in params:
        print(f"kit: x0 given without r0_end: R0 stays at r0_start, so day {params['x0']:g} changes nothing; "
              f"pass -p r0_end=0.9 for an intervention that brings R0 below 1", file=sys.stderr)
    sim = epi.simulate(args.model, days=args.days, **params)
    key = "C" if "C" in sim.model.compartments else "I"
    peak = epi.peak(sim, key)
    text = f"{sim.model.name}: peak of {key} on day {peak['day']} at {peak['height']:,.0f}"
    if "over_capacity" in peak:
        text += f"; ICU beds {peak['beds_at_peak']:,.0f} ({'exceeded' if peak['over_capacity'] else 'enough'})"
    if "D" in sim.frame:
        text += f"; deaths after {args.days} days: {sim.frame['D'].iloc[-1]:,.0f}"
    print(text)
    if args.json:
        write_json(args.json, {"model": sim.model.name, "parameters": sim.parameters, "days": args.days,
                                "series": sim.series(), "peak": peak})
    if args.plot:
        from kit.epi.plots import plot_overview

        plot_overview(sim).savefig(args.plot, dpi=110)
    return 0


def cmd_fit(args) -> int:
    import matplotlib

    matplotlib.use("Agg")
    from kit.data import load_timeseries

    from .fit import fit_region

    frame = load_timeseries(args.source, measures=(args.target,))
    result = fit_region(frame, args.region, target=args.target, province=args.province, model=args.model,
                        start=args.start, end=args.end, lead_days=args.lead_days, fit_p_cd=args.fit_p_cd,
                        **_params(args.param))
    table = result.summary()
    print(table[table["fitted"] == "yes"].drop(columns="fitted").to_string())
    print(f"RMSE {result.rmse:.4g} on {result.n_points} daily points; model day 0 = {result.start.date()}")
    if args.json:
        write_json(args.json, {"region": result.region, **result.to_json()})
    if args.plot:
        from kit.epi.plots import plot_fit

        ax = plot_fit(result, result.band() if result.covariance is not None else None,
                      title=f"{plain(result.region)}: fit to daily {args.target}")
        ax.figure.savefig(args.plot, dpi=110, bbox_inches="tight")
    return 0


def register(sub) -> None:
    """Add ``kit epi ...`` to the main parser."""
    from kit.arguments import date, whole

    from .models import MODELS

    epi = sub.add_parser("epi", help="compartmental models").add_subparsers(dest="action", required=True)
    p = epi.add_parser("simulate", help="simulate SEIR / SEIRD / SEIRD-ICU")
    p.add_argument("--model", default="seird-icu", choices=list(MODELS))
    p.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE",
                   help="model parameter, e.g. -p r0_start=3.2 -p x0=60")
    p.add_argument("--country", help="take population, p_ic, p_cd and ICU beds from the demography table")
    p.add_argument("--days", type=whole(1, 3650), default=180)
    p.add_argument("--json", metavar="OUT", help="write {model, parameters, days, series, peak}")
    p.add_argument("--plot", metavar="OUT.png")
    p.set_defaults(func=cmd_simulate)

    p = epi.add_parser("fit", help="fit the model to deaths or confirmed cases")
    p.add_argument("--source", required=True, help="registry name (jhu_deaths_global...), 'synthetic' or a CSV")
    p.add_argument("--region", required=True)
    p.add_argument("--province")
    p.add_argument("--target", default="deaths", choices=["deaths", "confirmed"])
    p.add_argument("--model", default="seird-icu", choices=list(MODELS))
    p.add_argument("--start", type=date)
    p.add_argument("--end", type=date)
    p.add_argument("--lead-days", type=whole(0, 3650), default=30, help="model day 0 = this many days before the first count")
    p.add_argument("--fit-p-cd", action="store_true", help="also estimate p_CD")
    p.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE")
    p.add_argument("--json", metavar="OUT", help="write {parameters: {name: {value, stderr}}, rmse, n_points}")
    p.add_argument("--plot", metavar="OUT.png")
    p.set_defaults(func=cmd_fit)
