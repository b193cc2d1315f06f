"""``kit course run`` and ``kit serve``: the course and its Voila apps."""
from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

from kit.errors import MissingInputError


def cmd_course_run(args) -> int:
    from .profiles import parse_overrides
    from .runner import check_out_dir, plan, run_course, summary_table

    check_out_dir(args.out)
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


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def cmd_serve(args) -> int:
    from .environment import lessons_dir

    apps = Path(args.apps) if args.apps else lessons_dir() / "apps"
    if not apps.is_dir():
        raise MissingInputError(f"{apps}: no apps folder")
    target = apps / args.app if args.app else apps
    if not target.exists():
        raise MissingInputError(f"{target}: no such app (apps: {', '.join(p.name for p in apps.glob('*.ipynb'))})")
    from .offline import voila_command

    cmd, env = voila_command(target, args.port, args.ip, args.token)
    if args.ip not in LOOPBACK:
        if not args.token:
            warnings.warn(f"serving on {args.ip}: anyone who can reach this machine can open the apps and run the "
                          f"mask detector's kernel; pass --token SECRET to require it in the URL "
                          f"(?token=SECRET)", UserWarning, stacklevel=2)
    print("serving", target, "on", f"http://{args.ip}:{args.port}/", "(Ctrl-C stops)", file=sys.stderr)
    return subprocess.call(cmd, env={**os.environ, **env})


def register(sub) -> None:
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
    p.set_defaults(func=cmd_course_run)

    p = sub.add_parser("serve", help="serve the Voila apps (lessons/apps)")
    p.add_argument("app", nargs="?", help="one app notebook, e.g. mask_detector.ipynb (default: the app list)")
    p.add_argument("--apps", help="apps folder")
    p.add_argument("--port", type=int, default=8866)
    p.add_argument("--ip", default="127.0.0.1")
    p.add_argument("--token", help="require this token in the URL (use it when --ip is not loopback)")
    p.set_defaults(func=cmd_serve)
