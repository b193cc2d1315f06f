"""The ``kit`` command: data registry, course runner (and the lesson tools as they land).

Every subcommand prints a clear message and exits non-zero on bad input instead of
a traceback; ``KIT_DEBUG=1`` shows the traceback.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from pathlib import Path


class CliError(Exception):
    """A user-facing error: printed as ``kit: error: ...`` with exit code 2."""


def _cmd_data_list(args) -> int:
    from kit.data.catalog import catalog, catalog_table

    if args.json:
        print(json.dumps(catalog(), indent=2))
    else:
        import pandas as pd

        with pd.option_context("display.width", 200, "display.max_colwidth", 40):
            print(catalog_table().to_string(index=False))
    return 0


def _cmd_data_fetch(args) -> int:
    from kit.data import FetchError, fetch

    from kit.data import load_registry

    names = list(args.names)
    for kind in args.kind or []:
        names += [e.name for e in load_registry() if e.kind == kind and e.name not in names]
    if not names:
        raise CliError("name at least one entry, or a --kind (kit data list shows them)")
    failed = 0
    for name in names:
        try:
            print(fetch(name, offline=args.offline or None, progress=not args.quiet))
        except FetchError as exc:
            print(f"kit: error: {exc}", file=sys.stderr)
            failed += 1
    return 1 if failed else 0


def _cmd_course_run(args) -> int:
    from kit.course.profiles import parse_overrides
    from kit.course.runner import plan, run_course, summary_table

    folder = Path(args.lessons_dir) if args.lessons_dir else None
    jobs = plan(args.profile, args.lesson, args.out, parse_overrides(args.param), folder,
                cell_timeout=args.cell_timeout)
    print(f"Running {len(jobs)} lesson run(s), profile {args.profile!r}, into {args.out}/", file=sys.stderr)
    records = run_course(jobs, workers=args.workers, scheduler=args.scheduler)
    print(summary_table(records))
    print(f"\nSummary: {Path(args.out) / 'summary.json'}")
    failed = [r for r in records if r["status"] != "ok"]
    if failed:
        print(f"{len(failed)} of {len(records)} lesson run(s) failed; their partial notebooks are in {args.out}/",
              file=sys.stderr)
    return 1 if failed else 0


def build_parser() -> argparse.ArgumentParser:
    from kit.data.registry import KINDS

    parser = argparse.ArgumentParser(prog="kit", description="The COVID-19 course kit.")
    sub = parser.add_subparsers(dest="command", required=True)

    data = sub.add_parser("data", help="the data and model registry").add_subparsers(dest="action", required=True)
    p = data.add_parser("list", help="list registry entries (name, kind, size, license, cached)")
    p.add_argument("--json", action="store_true", help="print every field, sources included, as JSON")
    p.set_defaults(func=_cmd_data_list)
    p = data.add_parser("fetch", help="fetch entries into the cache and print their local paths")
    p.add_argument("names", nargs="*", metavar="NAME")
    p.add_argument("--kind", action="append", choices=list(KINDS),
                   help="also every entry of this kind (repeatable)")
    p.add_argument("--offline", action="store_true", help="use only KIT_MIRROR folders and the cache")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_data_fetch)

    course = sub.add_parser("course", help="run the lessons").add_subparsers(dest="action", required=True)
    p = course.add_parser("run", help="execute lessons with papermill into notebooks, HTML and summary.json")
    p.add_argument("--profile", default="quick", help="quick (offline, default) or full (real data)")
    p.add_argument("--lesson", action="append", metavar="NAME", help="run only this lesson (repeatable)")
    p.add_argument("--out", default="build", help="output folder (default: build)")
    p.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE",
                   help="override a parameter; KEY=a,b,c runs once per value")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--workers", type=int, metavar="N", help="run on a local Dask cluster of N workers")
    group.add_argument("--scheduler", metavar="ADDRESS", help="run on an existing Dask scheduler")
    p.add_argument("--lessons-dir", help="folder holding the lessons and profiles.yaml")
    p.add_argument("--cell-timeout", type=int, default=3600, help="seconds one cell may run (default 3600)")
    p.set_defaults(func=_cmd_course_run)

    from kit.epi import cli as epi_cli

    epi_cli.register(sub)
    from kit.forecast import cli as forecast_cli

    forecast_cli.register(sub)
    from kit.vision import cli as vision_cli

    vision_cli.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    warnings.simplefilter("default", UserWarning)
    warnings.showwarning = lambda message, category, *rest, **kw: print(
        f"kit: warning: {message}", file=sys.stderr)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("kit: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if os.environ.get("KIT_DEBUG"):
            raise
        from kit.course.profiles import ProfileError
        from kit.data import FetchError, RegistryError
        from kit.vision.backbones import WeightsUnavailable

        known = (CliError, ProfileError, FetchError, RegistryError, ValueError, FileNotFoundError, WeightsUnavailable)
        if isinstance(exc, known):
            print(f"kit: error: {exc}", file=sys.stderr)
            return 2
        print(f"kit: unexpected error: {type(exc).__name__}: {exc}\n(set KIT_DEBUG=1 for the traceback)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
