"""``kit course grade``: run every student's notebook headless and record every check.

Layout: ``SUBMISSIONS/<student>/<lesson>.ipynb`` (a folder per student, notebooks named
like the lessons), or ``SUBMISSIONS/<student>.ipynb`` when one ``--lesson`` is graded.

For each lesson the grader first runs the course's own lesson with ``solve=True`` (the
*reference run*: it proves every exercise solvable here and records the solutions'
answers). Then each submission runs in a scratch folder of its own, in a child process
with a fresh kernel, under limits: wall time, CPU time, memory (address space) and the
size of any file it writes; no network (offline mode and a dead proxy; see SECURITY.md
for what that does and does not stop). Every submission gets the lesson's own
parameters, so everyone is graded on the same data, and ``solve=False``.

Every check the student's notebook ran is read from the record it wrote; a number or a
choice is checked again outside the student's kernel against the reference run, so a
student who rewrites the checker in their kernel still has to give the right number. A
submission that loops, floods its output, raises, deletes files or is not a notebook is
graded as failed with the reason; the others are not affected.

Results: ``grades.csv`` (one row per student, lesson and exercise) and ``grades.html``
beside it (points per student and lesson, pass rate per exercise, failed runs).
"""
from __future__ import annotations

import ast
import errno
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from kit.errors import ParameterError
from kit.files import atomic_path, atomic_write

DEFAULT_TIMEOUT_S = 600
DEFAULT_MEMORY_GB = 8.0
MAX_WRITE_MB = 64  # the largest file a submission's run may write (its executed notebook included)
KERNEL_START_S = 60  # on top of the time limit: a kernel starting on a busy machine
MAX_SUBMISSION_BYTES = 20 * 1024 * 1024  # a notebook larger than this is not read
RECORD = "exercise-record.json"
COLUMNS = ["student", "lesson", "exercise", "title", "status", "points", "answer", "message", "rechecked",
           "run_status", "run_seconds"]
_STUDENT = re.compile(r"^[\w.@+-][\w .@+-]{0,99}$")


@dataclass
class Submission:
    student: str
    lesson: str
    path: Path
    problem: str | None = None  # why it cannot be run at all


@dataclass
class Run:
    """What one notebook run left: the record of checks, how it ended, how long it took."""

    status: str  # "ok", or "failed: <reason>"
    seconds: float
    record: dict = field(default_factory=dict)


def find_submissions(folder: Path, lessons: list[str]) -> list[Submission]:
    """Submissions under ``folder`` for ``lessons`` (stems); odd files become named problems."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ParameterError(f"{folder}: no such folder of submissions")
    found = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_file() and entry.suffix == ".ipynb":
            if len(lessons) != 1:
                raise ParameterError(f"{entry}: a notebook directly in {folder} needs exactly one --lesson "
                                     f"(or put it in a folder per student: {folder}/<student>/<lesson>.ipynb)")
            found.append(Submission(entry.stem, lessons[0], entry))
        elif entry.is_dir() and not entry.is_symlink():
            for nb in sorted(entry.glob("*.ipynb")):
                if nb.stem in lessons:
                    found.append(Submission(entry.name, nb.stem, nb))
                elif not nb.name.startswith("."):
                    found.append(Submission(entry.name, nb.stem, nb, f"{nb.name} is not one of the lessons graded "
                                                                     f"({', '.join(lessons)})"))
    for sub in found:
        if not _STUDENT.match(sub.student):
            sub.problem = f"{sub.path}: the student's name {sub.student[:40]!r} has characters a grade sheet refuses"
        elif sub.path.is_symlink():
            sub.problem = f"{sub.path} is a symbolic link; submit the notebook itself"
        elif not sub.path.is_file():
            sub.problem = f"{sub.path} is not a file (a folder named like a notebook?)"
        elif sub.path.stat().st_size > MAX_SUBMISSION_BYTES:
            sub.problem = f"{sub.path} is larger than {MAX_SUBMISSION_BYTES // 2**20} MB"
    return found


def lesson_parameters(path: Path) -> dict:
    """The values of a lesson's parameters cell (papermill's view of it), as Python values."""
    import papermill

    out = {}
    for name, spec in papermill.inspect_notebook(str(path)).items():
        try:
            out[name] = ast.literal_eval(spec["default"])
        except (ValueError, SyntaxError):
            raise ParameterError(f"{path}: parameter {name} = {spec['default']} is not a plain value") from None
    return out


def _apply_limits(memory_gb: float, cpu_s: int) -> None:
    """In the worker, first thing: limits its kernel inherits (set here rather than in a
    ``preexec_fn``, which is unsafe while the grader's threads run)."""
    import resource
    import signal

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write over the limit fails; it does not kill
    memory = int(memory_gb * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 5))
    resource.setrlimit(resource.RLIMIT_FSIZE, (MAX_WRITE_MB * 2**20, MAX_WRITE_MB * 2**20))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _kill_tree(pid: int) -> None:
    """Stop a run and everything it started (the kernel runs in a session of its own)."""
    import psutil

    try:
        parent = psutil.Process(pid)
        procs = parent.children(recursive=True) + [parent]
    except psutil.NoSuchProcess:
        return
    for proc in procs:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(procs, timeout=10)


def run_notebook(notebook: Path, parameters: dict, timeout: int, memory_gb: float, reference: bool = False) -> Run:
    """Run ``notebook`` in a scratch folder of its own, in a child process under limits."""
    start = time.perf_counter()
    scratch = Path(tempfile.mkdtemp(prefix="kit-grade-"))
    try:
        work = scratch / "work"
        work.mkdir()
        try:
            shutil.copyfile(notebook, work / "submission.ipynb")
        except OSError as exc:  # unreadable: this submission fails, the others go on
            return Run(f"failed: {notebook} cannot be read ({exc.strerror or exc})", time.perf_counter() - start)
        record = scratch / RECORD
        env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
        env.update({"KIT_OFFLINE": "1", "KIT_PROGRESS": "0", "KIT_EXERCISE_PROGRESS": str(record),
                    "HOME": str(work), "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1",
                    # a library that tries the network anyway meets a closed port at once
                    "http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9",
                    "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9"})
        env.pop("KIT_GRADING_REFERENCE", None)
        if reference:
            env["KIT_GRADING_REFERENCE"] = "1"
        if "KIT_CACHE" not in env:  # the course's models and data, where the instructor fetched them
            from kit.data import cache_dir

            env["KIT_CACHE"] = str(cache_dir())
        job = json.dumps({"notebook": str(work / "submission.ipynb"), "parameters": parameters, "timeout": timeout,
                          "out": str(work / "executed.ipynb"), "memory_gb": memory_gb,
                          "cpu_s": timeout + KERNEL_START_S})
        with open(scratch / "worker.log", "w+b") as log:  # read back through the handle: a run may delete it
            proc = subprocess.Popen([sys.executable, "-m", "kit.course.grading", "--worker", job], cwd=work, env=env,
                                    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True)
            try:
                code = proc.wait(timeout=timeout + KERNEL_START_S)
            except subprocess.TimeoutExpired:
                _kill_tree(proc.pid)
                code = None
            _kill_tree(proc.pid)  # a kernel left behind by a worker that died
            log.seek(0, os.SEEK_END)
            log.seek(max(0, log.tell() - 20_000))
            outcome = _worker_outcome(log.read().decode("utf-8", "replace"), code, timeout)
        return Run(outcome, time.perf_counter() - start, _read_record(record))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _worker_outcome(text: str, code, timeout: int) -> str:
    if code is None:
        return f"failed: stopped after the time limit ({timeout} s)"
    verdict = [line for line in text.splitlines() if line.startswith("KIT-GRADE: ")]
    if verdict:
        return verdict[-1][len("KIT-GRADE: "):]
    if code < 0:
        import signal

        name = signal.Signals(-code).name
        why = {"SIGXCPU": "its CPU time limit", "SIGKILL": "killed (out of memory?)"}.get(name, name)
        return f"failed: the run was stopped: {why}"
    return f"failed: the run ended with code {code}"


def _read_record(path: Path) -> dict:
    try:
        if path.stat().st_size > 2**20:
            return {}
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    exercises = data.get("exercises") if isinstance(data, dict) else None
    return exercises if isinstance(exercises, dict) else {}


def _worker(job: dict) -> int:
    """In the child: read the notebook, run it with papermill, say how it ended (``KIT-GRADE:``)."""
    _apply_limits(float(job["memory_gb"]), int(job["cpu_s"]))
    import nbformat
    import papermill

    try:
        nb = nbformat.read(job["notebook"], as_version=4)
        nbformat.validate(nb)
    except Exception as exc:  # noqa: BLE001 - anything that is not a valid notebook
        print(f"KIT-GRADE: failed: not a notebook ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})",
              flush=True)
        return 0
    try:
        papermill.execute_notebook(job["notebook"], job["out"], parameters=job["parameters"], kernel_name="python3",
                                   progress_bar=False, execution_timeout=job["timeout"], allow_errors=True,
                                   extra_arguments=["--IPKernelApp.log_level=CRITICAL"])
    except papermill.PapermillExecutionError as exc:
        print(f"KIT-GRADE: ok, with an error in cell {exc.exec_count}: {exc.ename}: "
              f"{str(exc.evalue).splitlines()[0][:200] if exc.evalue else ''}", flush=True)
        return 0
    except Exception as exc:  # noqa: BLE001 - the reason is the grade's
        name = type(exc).__name__
        if name == "CellTimeoutError" or "timed out" in str(exc).lower():
            reason = f"a cell ran longer than the time limit ({job['timeout']} s)"
        elif name == "DeadKernelError":
            reason = "the kernel died (memory or CPU limit, or the code ended it)"
        elif isinstance(exc, OSError) and exc.errno == errno.EFBIG:
            reason = f"its output is larger than {MAX_WRITE_MB} MB"
        else:
            reason = f"{name}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
        print(f"KIT-GRADE: failed: {reason}", flush=True)
        return 0
    print("KIT-GRADE: ok", flush=True)
    return 0


def _recheck(entry: dict, reference: dict) -> tuple[str, str]:
    """(status, note) after comparing a recorded number or choice with the reference run's."""
    status = entry.get("status", "")
    if "value" not in entry or "value" not in reference:
        return status, ""
    mine, theirs = entry["value"], reference["value"]
    if entry.get("kind") == "number":
        if mine is None or theirs is None:
            agrees = mine is theirs
        else:
            slack = 2.0  # the solution's own answer may sit anywhere inside the tolerance
            tol = max(float(reference.get("abs_tol", 0)), float(reference.get("rel_tol", 0)) * abs(float(theirs)))
            agrees = abs(float(mine) - float(theirs)) <= slack * tol + 1e-9
        if status == "right" and not agrees:
            return "wrong", "DISAGREES with the reference run: graded wrong"
        return status, "agrees" if agrees else "differs"
    agrees = mine == theirs
    # a tie among options can make another choice right as well: flagged, not overruled
    return status, "agrees" if agrees else ("differs from the reference choice: review" if status == "right"
                                            else "differs")


def _csv_safe(value):
    """Text a spreadsheet will not run as a formula (``=``, ``+``, ``-``, ``@`` first)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def grade_rows(sub: Submission, run: Run | None, reference: Run, catalog: pd.DataFrame) -> list[dict]:
    """One row per exercise of the submission's lesson."""
    rows = []
    for item in catalog[catalog["lesson"] == sub.lesson].itertuples():
        entry = (run.record.get(item.key) if run else None) or {}
        if sub.problem:
            status, message, note = "not run", sub.problem, ""
        elif entry:
            status, note = _recheck(entry, reference.record.get(item.key) or {})
            message = str(entry.get("message", ""))
        else:
            ran = run is not None and run.status.startswith("ok")
            status = "not answered" if ran else "not run"
            message = "" if ran else (run.status if run else "")
            note = ""
        rows.append({"student": sub.student, "lesson": sub.lesson, "exercise": item.key, "title": item.title,
                     "status": status, "points": int(status == "right"),
                     "answer": str(entry.get("answer", ""))[:200], "message": message[:500], "rechecked": note,
                     "run_status": f"failed: {sub.problem}" if sub.problem else (run.status if run else ""),
                     "run_seconds": round(run.seconds, 1) if run else 0.0})
    return rows


def grade(submissions, lessons=None, out="grades.csv", timeout: int = DEFAULT_TIMEOUT_S,
          memory_gb: float = DEFAULT_MEMORY_GB, workers: int = 1, lessons_dir=None, progress: bool = True):
    """Grade every submission (see the module); returns the table written to ``out``."""
    from tqdm.auto import tqdm

    from .environment import lessons_dir as default_lessons_dir
    from .exercises import LESSONS, catalog
    from .runner import select_lessons

    folder = Path(lessons_dir) if lessons_dir else default_lessons_dir()
    chosen = [p for p in select_lessons(lessons, folder) if p.stem in LESSONS]
    if not chosen:
        raise ParameterError("none of the selected lessons has exercises")
    out = Path(out)
    if out.suffix.lower() != ".csv":
        raise ParameterError(f"--out {out}: the grades are written as CSV; name the file *.csv")
    subs = find_submissions(Path(submissions), [p.stem for p in chosen])
    if not subs:
        raise ParameterError(f"{submissions}: no submissions for {', '.join(p.stem for p in chosen)} "
                             f"(expected <student>/<lesson>.ipynb)")
    items = catalog()
    rows, references = [], {}
    for path in chosen:
        if not any(s.lesson == path.stem for s in subs):
            continue
        params = lesson_parameters(path)
        if "solve" not in params:
            raise ParameterError(f"{path}: the lesson has no `solve` parameter; it cannot be graded")
        if progress:
            print(f"{path.stem}: reference run with the solutions ...", file=sys.stderr, flush=True)
        ref = run_notebook(path, {**params, "solve": True}, timeout, memory_gb, reference=True)
        missing = sorted(set(items[items["lesson"] == path.stem]["key"]) - {k for k, e in ref.record.items()
                                                                              if e.get("status") == "right"})
        if not ref.status.startswith("ok") or missing:
            raise ParameterError(f"{path.stem}: the reference run did not solve every exercise ({ref.status}; "
                                 f"unsolved: {', '.join(missing) or 'none'}); grading it would be unfair")
        references[path.stem] = (ref, params)
    for sub in subs:  # a notebook that is no graded lesson: one row saying so
        if sub.lesson not in references:
            rows.append({"student": sub.student, "lesson": sub.lesson, "exercise": "", "title": "",
                         "status": "not run", "points": 0, "answer": "", "message": sub.problem or "",
                         "rechecked": "", "run_status": f"failed: {sub.problem}", "run_seconds": 0.0})
    todo = [s for s in subs if s.lesson in references]
    bar = tqdm(total=len(todo), desc="grading", unit="notebook", disable=not progress)

    def one(sub: Submission) -> list[dict]:
        ref, params = references[sub.lesson]
        run = None if sub.problem else run_notebook(sub.path, {**params, "solve": False}, timeout, memory_gb)
        bar.update()
        return grade_rows(sub, run, ref, items)

    with ThreadPoolExecutor(max_workers=max(1, int(workers))) as pool:
        for result in pool.map(one, todo):
            rows += result
    bar.close()
    table = pd.DataFrame(rows, columns=COLUMNS)
    with atomic_path(out) as tmp:
        table.map(_csv_safe).to_csv(tmp, index=False)
    atomic_write(out.with_suffix(".html"), summary_html(table))
    return table


def summary_html(table: pd.DataFrame) -> str:
    """Points per student and lesson, the pass rate per exercise and the runs that failed."""
    e = html.escape
    points = table.pivot_table(index="student", columns="lesson", values="points", aggfunc="sum", fill_value=0)
    totals = table[table["exercise"] != ""].groupby("lesson")["exercise"].nunique()
    head = "".join(f"<th>{e(str(c))}</th>" for c in points.columns) + "<th>total</th>"
    most = int(sum(totals.get(c, 0) for c in points.columns))
    body = "".join("<tr><td>" + e(str(s)) + "</td>" + "".join(f"<td>{int(v)} / {int(totals.get(c, 0))}</td>"
                                                               for c, v in row.items())
                   + f"<td><b>{int(row.sum())} / {most}</b></td></tr>" for s, row in points.iterrows())
    rates = table.groupby(["exercise", "title"])["points"].mean().reset_index()
    rate_rows = "".join(f"<tr><td>{e(r.exercise)}</td><td>{e(r.title)}</td><td>{r.points:.0%}</td></tr>"
                        for r in rates.itertuples())
    failed = table[table["run_status"].str.startswith("failed")].drop_duplicates(["student", "lesson"])
    fail_rows = "".join(f"<tr><td>{e(r.student)}</td><td>{e(r.lesson)}</td><td>{e(r.run_status)}</td></tr>"
                        for r in failed.itertuples()) or "<tr><td colspan=3>none</td></tr>"
    style = ("<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:2em}"
             "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}</style>")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>Grades</title>{style}</head><body>"
            f"<h1>Grades</h1><p>{table['student'].nunique()} students, {len(table)} graded exercises.</p>"
            f"<h2>Points</h2><table><tr><th>student</th>{head}</tr>{body}</table>"
            f"<h2>Pass rate per exercise</h2><table><tr><th>exercise</th><th>title</th><th>passed</th></tr>"
            f"{rate_rows}</table><h2>Runs that failed</h2><table><tr><th>student</th><th>lesson</th>"
            f"<th>reason</th></tr>{fail_rows}</table></body></html>")


if __name__ == "__main__" and len(sys.argv) == 3 and sys.argv[1] == "--worker":
    sys.exit(_worker(json.loads(sys.argv[2])))
