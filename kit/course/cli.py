"""``kit course run``, ``kit serve`` and ``kit app export``: the course and its Voila apps."""
from __future__ import annotations

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
    width = max(len(j.stem) for j in jobs)

    def started(job):
        print(f"  {job.stem:<{width}}  running ...", file=sys.stderr, flush=True)

    def finished(record):
        stem = Path(record["notebook"]).stem if record.get("notebook") else record["lesson"]
        print(f"  {stem:<{width}}  {record['status']} in {record['seconds']:.1f} s", file=sys.stderr, flush=True)

    records = run_course(jobs, workers=args.workers, scheduler=args.scheduler, on_start=started, on_finish=finished)
    print(summary_table(records))
    print(f"\nSummary: {Path(args.out) / 'summary.json'}")
    failed = [r for r in records if r["status"] != "ok"]
    if failed:
        print(f"{len(failed)} of {len(records)} lesson run(s) failed; their partial notebooks are in {args.out}/",
              file=sys.stderr)
    return 1 if failed else 0


def cmd_course_grade(args) -> int:
    from .grading import grade

    table = grade(args.submissions, args.lesson, out=args.out, timeout=args.timeout, memory_gb=args.memory,
                  workers=args.workers, lessons_dir=args.lessons_dir)
    runs = table.drop_duplicates(["student", "lesson"])
    failed = runs["run_status"].str.startswith("failed").sum()
    print(f"{table['student'].nunique()} student(s), {len(runs)} notebook(s), {len(table)} exercise rows: "
          f"{int(table['points'].sum())} right; {failed} run(s) failed (reasons in the CSV).")
    print(f"Grades: {args.out} and {Path(args.out).with_suffix('.html')}")
    return 0


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
    from .serve import free_port, run_voila

    port = free_port(args.ip, args.port)
    if port != args.port:
        print(f"kit: port {args.port} is in use; serving on {port}", file=sys.stderr)
    cmd, env = voila_command(target, port, args.ip, args.token, allow_remote=args.allow_remote or None,
                             cull_idle=args.cull_idle, preheat=args.preheat)
    if args.ip not in LOOPBACK:
        if not args.token:
            warnings.warn(f"serving on {args.ip}: anyone who can reach this machine can open the apps and run the "
                          f"mask detector's kernel; pass --token SECRET to require it in the URL "
                          f"(?token=SECRET)", UserWarning, stacklevel=2)
    host = f"[{args.ip}]" if ":" in args.ip else args.ip
    query = f"?token={args.token}" if args.token else ""
    print(f"serving {target} at http://{host}:{port}/{query} (Ctrl-C stops it and its kernels)", file=sys.stderr)
    return run_voila(cmd, env)


STATIC_APPS = ("mask_detector",)


def cmd_app_export(args) -> int:
    from kit.errors import ParameterError
    from widgets.page_inference import export_static_app

    if args.app not in STATIC_APPS:
        raise ParameterError(f"{args.app!r} has no static version; apps that do: {', '.join(STATIC_APPS)}")
    out = export_static_app(args.out, classifier=args.classifier)
    size = sum(p.stat().st_size for p in out.iterdir() if p.is_file())
    print(f"wrote {out}/ ({size / 1e6:.1f} MB: the page, its pipeline, ONNX Runtime's WebAssembly and both networks)")
    print(f"serve it with any static web server, e.g. python -m http.server -d {out} 8000, and open "
          f"http://127.0.0.1:8000/ (a camera needs https:// or this machine's own address)")
    return 0


def register(sub) -> None:
    from kit.arguments import number, whole

    from .grading import DEFAULT_MEMORY_GB, DEFAULT_TIMEOUT_S
    from .runner import DEFAULT_CELL_TIMEOUT_S

    course = sub.add_parser("course", help="run the lessons").add_subparsers(dest="action", required=True)
    p = course.add_parser("run", help="execute lessons with papermill into notebooks, HTML and summary.json")
    p.add_argument("--profile", default="quick", help="quick (offline, default), solved (quick, exercises filled by their solutions) or full (real data)")
    p.add_argument("--lesson", action="append", metavar="NAME", help="run only this lesson (repeatable)")
    p.add_argument("--out", default="build", help="output folder (default: build)")
    p.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE",
                   help="override a parameter; KEY=a,b,c runs once per value")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--workers", type=whole(1, 256), metavar="N", help="run on a local Dask cluster of N workers")
    group.add_argument("--scheduler", metavar="ADDRESS", help="run on an existing Dask scheduler")
    p.add_argument("--lessons-dir", help="folder holding the lessons and profiles.yaml")
    p.add_argument("--cell-timeout", type=whole(1, 86_400), default=DEFAULT_CELL_TIMEOUT_S,
                   help=f"seconds one cell may run (default {DEFAULT_CELL_TIMEOUT_S})")
    p.set_defaults(func=cmd_course_run)

    p = course.add_parser("grade", help="run students' notebooks headless and grade every exercise (CSV + HTML)",
                          description="Run each submitted notebook (SUBMISSIONS/<student>/<lesson>.ipynb) in a "
                                      "fresh kernel under time, CPU, memory and file-size limits, offline, and "
                                      "record every exercise check. Students' code is untrusted: see SECURITY.md.")
    p.add_argument("submissions", help="folder of submissions: <student>/<lesson>.ipynb")
    p.add_argument("--lesson", action="append", metavar="NAME", help="grade only this lesson (repeatable)")
    p.add_argument("--out", default="grades.csv", help="the CSV to write (an HTML summary goes beside it)")
    p.add_argument("--timeout", type=whole(10, 86_400), default=DEFAULT_TIMEOUT_S, metavar="SECONDS",
                   help=f"time limit per notebook (default {DEFAULT_TIMEOUT_S})")
    p.add_argument("--memory", type=number(0.5, 1024), default=DEFAULT_MEMORY_GB, metavar="GB",
                   help=f"memory (address space) limit per notebook run (default {DEFAULT_MEMORY_GB:g})")
    p.add_argument("--workers", type=whole(1, 64), default=1, metavar="N", help="notebooks run at once (default 1)")
    p.add_argument("--lessons-dir", help="folder holding the lessons")
    p.set_defaults(func=cmd_course_grade)

    p = sub.add_parser("serve", help="serve the Voila apps (lessons/apps)",
                       description="Serve the Voila apps offline. On this machine: kit serve (then open "
                                   "http://127.0.0.1:8866/). To a room: kit serve --ip 0.0.0.0 --token SECRET, and "
                                   "give people http://THIS-MACHINE:8866/?token=SECRET. Kernels of closed pages are "
                                   "freed after two idle minutes (--cull-idle).")
    p.add_argument("app", nargs="?", help="one app notebook, e.g. mask_detector.ipynb (default: the app list)")
    p.add_argument("--apps", help="apps folder")
    p.add_argument("--port", type=whole(1, 65535), default=8866,
                   help="port (default 8866; the next free one if it is taken, and the address printed says so)")
    p.add_argument("--ip", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0: every network)")
    p.add_argument("--token", help="require this token in the URL (use it when --ip is not loopback)")
    p.add_argument("--cull-idle", type=whole(5, 86_400), default=120, metavar="SECONDS",
                   help="free a visitor's kernel this long after its page was closed (default 120)")
    p.add_argument("--preheat", type=whole(0, 64), default=0, metavar="N",
                   help="keep N kernels per app waiting with the app already run, so that arriving visitors' "
                        "pages appear at once (default 0: a kernel starts for each visitor)")
    p.add_argument("--allow-remote", action="store_true",
                   help="answer any Host name even on a loopback address (behind a proxy); by default only "
                        "loopback names are answered there, against DNS rebinding")
    p.set_defaults(func=cmd_serve)

    app = sub.add_parser("app", help="the apps without a kernel").add_subparsers(dest="action", required=True)
    p = app.add_parser("export", help="write an app as a static folder any web server can serve",
                       description="Write the live mask detector as a self-contained folder (HTML, the bundled "
                                   "pipeline, ONNX Runtime's WebAssembly, both networks): detection and labels run "
                                   "in the visitor's page, with no kernel and no network beyond the folder. Counting "
                                   "people needs the kernel (kit serve).")
    p.add_argument("app", help=f"the app ({', '.join(STATIC_APPS)})")
    p.add_argument("out", help="folder to write (replaced only if kit app export wrote it)")
    p.add_argument("--classifier", default="default", metavar="default|DIR",
                   help="the mask classifier (a model folder with model.onnx; default: the kit's)")
    p.set_defaults(func=cmd_app_export)
