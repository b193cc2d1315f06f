"""The lesson runner behind ``kit course run``.

Each lesson (and each point of a parameter grid) is executed with papermill into
``OUT/<lesson>.ipynb`` and exported to ``OUT/<lesson>.html``. A failing lesson does not
stop the others: its partial notebook is kept and its error names the cell. Every
executed notebook is stamped with the kit version, package versions and the sha256 of
each registry file it read. ``OUT/summary.json`` collects one record per run.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from kit.errors import ParameterError, ProfileError
from kit.files import write_json
from kit.progress import show_progress

from .environment import lesson_paths, lessons_dir, machine_summary, package_versions
from .offline import export_html, strip_widget_views
from .profiles import expand_grid, load_profiles, typed_value
from .record import format_number

DEFAULT_CELL_TIMEOUT_S = 3600


@dataclass
class LessonJob:
    """One notebook execution: a lesson under a profile with concrete parameters."""

    lesson: str
    path: str
    profile: str
    parameters: dict
    out_dir: str
    env: dict = field(default_factory=dict)
    suffix: str = ""
    cell_timeout: int = DEFAULT_CELL_TIMEOUT_S

    @property
    def stem(self) -> str:
        return self.lesson + self.suffix


def _suffix(params: dict, grid_keys: list[str]) -> str:
    """The file-name part of one grid point: readable, and collision-free: when making the
    values safe for a file name changed them (``a b``, ``a/b`` and ``a_b`` all read
    ``a_b``), a short hash of the exact values is added."""
    parts = [f"{k}-{params[k]}" for k in grid_keys if k in params]
    text = "--".join(parts)
    if not text:
        return ""
    safe = re.sub(r"[^A-Za-z0-9_.=-]+", "_", text)[:120]
    if safe != text:
        exact = json.dumps({k: params[k] for k in grid_keys if k in params}, sort_keys=True, default=str)
        safe += "-" + hashlib.sha256(exact.encode()).hexdigest()[:8]
    return "--" + safe


def select_lessons(names: list[str] | None, folder: Path) -> list[Path]:
    """Lessons matching ``names`` (``00_welcome``, just ``welcome``, or its number ``03b``), or all of them."""
    paths = lesson_paths(folder)
    if not paths:
        raise ProfileError(f"no lessons (NN_name.ipynb) found in {folder}")
    if not names:
        return paths
    chosen = []
    for name in names:
        hits = [p for p in paths if name in (p.stem, *p.stem.split("_", 1))]
        if not hits:
            raise ProfileError(f"no lesson named {name!r} in {folder}; lessons: "
                               + ", ".join(p.stem for p in paths))
        chosen += [h for h in hits if h not in chosen]
    return chosen


def plan(profile: str = "quick", lessons: list[str] | None = None, out_dir: str | Path = "build",
         overrides: dict[str, list] | None = None, folder: Path | None = None,
         cell_timeout: int = DEFAULT_CELL_TIMEOUT_S) -> list[LessonJob]:
    """Turn a profile, a lesson selection and ``-p`` overrides into jobs.

    An override applies to the lessons whose ``parameters`` cell declares it; a key
    that no selected lesson declares is an error (it would be silently ignored).
    """
    import papermill

    folder = Path(folder) if folder is not None else lessons_dir()
    profiles = load_profiles(folder / "profiles.yaml")
    if profile not in profiles:
        raise ProfileError(f"unknown profile {profile!r}; profiles in {folder / 'profiles.yaml'}: "
                           + ", ".join(profiles))
    prof = profiles[profile]
    known = {p.stem for p in select_lessons(None, folder)}
    stray = sorted(set(prof.lessons) - known)
    if stray:
        import difflib

        hints = [f"{k!r}" + (f" (did you mean {difflib.get_close_matches(k, known, n=1)[0]!r}?)"
                             if difflib.get_close_matches(k, known, n=1) else "") for k in stray]
        raise ProfileError(f"profile {profile!r} names lesson(s) that do not exist: {', '.join(hints)}")
    overrides = overrides or {}
    jobs, used = [], set()
    for path in select_lessons(lessons, folder):
        declared = papermill.inspect_notebook(str(path))
        base = prof.parameters_for(path.stem)
        unknown = sorted(set(base) - set(declared))
        if unknown:
            raise ProfileError(f"profile {profile!r} sets {unknown} for {path.stem}, whose parameters "
                               f"cell only declares {sorted(declared)}")
        grid = {k: [typed_value(v, declared[k].get("inferred_type_name"), k) for v in values]
                for k, values in overrides.items() if k in declared}
        used |= set(grid)
        for point in expand_grid(grid):
            params = {**base, **point}
            jobs.append(LessonJob(path.stem, str(path), profile, params, str(out_dir), dict(prof.env),
                                  _suffix(point, [k for k in grid if len(grid[k]) > 1]), cell_timeout))
    unused = sorted(set(overrides) - used)
    if unused:
        raise ProfileError(f"no selected lesson declares parameter(s) {unused}; check the "
                           f"parameters cell of the lessons you selected")
    return jobs


@contextlib.contextmanager
def _environment(values: dict):
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


_PLAIN = re.compile(r"[A-Za-z0-9 _.,:/=+-]")


def markdown_text(value) -> str:
    """Any text as Markdown that renders as exactly that text: every character outside a
    small plain set becomes an HTML character reference, so a value with backticks,
    brackets, pipes or tags (a ``-p`` value from anyone) cannot make a link, a code span,
    a table cell or an element in the report."""
    return "".join(c if _PLAIN.match(c) else f"&#{ord(c)};" for c in str(value))


def _describe_error(exc: BaseException) -> str:
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, PapermillExecutionError):
        count = f", execution count {exc.exec_count}" if exc.exec_count else ""
        first = (exc.source or "").strip().splitlines()
        where = f" `{first[0][:80]}`" if first else ""
        return f"cell {exc.cell_index}{count}{where}: {exc.ename}: {exc.evalue}"
    return f"{type(exc).__name__}: {exc}"


def _stamp(nb_path: Path, job: LessonJob, status: str, seconds: float, reads: list[dict],
           metrics: dict, error: str | None) -> None:
    """Write provenance into the executed notebook: metadata + a visible last cell."""
    import nbformat

    import kit

    nb = nbformat.read(nb_path, as_version=4)
    stamp = {
        "kit_version": kit.__version__, "lesson": job.lesson, "profile": job.profile,
        "parameters": job.parameters, "status": status, "seconds": round(seconds, 2),
        "packages": package_versions(), "machine": machine_summary(),
        "registry_reads": reads, "metrics": metrics, "error": error,
    }
    nb.metadata["kit"] = stamp
    if reads:
        files = "| registry file | sha256 | hash pinned |\n|---|---|---|\n" + "\n".join(
            f"| {markdown_text(r['name'])} | {markdown_text(r['sha256'])} | "
            f"{'yes' if r['verified'] else 'NO (unpinned)'} |" for r in reads)
    else:
        files = "Registry files read: none (this run read only generated or local data)."
    if job.parameters:
        params = "| parameter | value |\n|---|---|\n" + "\n".join(
            f"| {markdown_text(k)} | {markdown_text(json.dumps(v, default=str))} |" for k, v in job.parameters.items())
    else:
        params = "Parameters: the notebook's own (none overridden)."
    text = (f"### Provenance\nGenerated by the course kit {kit.__version__} with profile "
            f"{markdown_text(job.profile)} in {seconds:.1f} s; status **{status}**.\n\n"
            f"{params}\n\n{files}\n\n"
            f"Packages: " + ", ".join(f"{k} {v}" for k, v in stamp["packages"].items()))
    strip_widget_views(nb)  # reopened later without its kernel: a picture and a note, not a widget error
    cell = nbformat.v4.new_markdown_cell(text)
    cell.metadata["tags"] = ["kit-provenance"]
    nb.cells = [c for c in nb.cells if "kit-provenance" not in c.get("metadata", {}).get("tags", [])]
    nb.cells.append(cell)
    nbformat.write(nb, nb_path)


def check_out_dir(out_dir: str | Path) -> Path:
    """Create the output folder and make sure files can be written into it, before any lesson runs."""
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".kit-write-test-{os.getpid()}"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise ParameterError(f"--out {out}: cannot write there ({exc.strerror or exc}); choose another folder") from None
    return out


def run_lesson(job: LessonJob, cell_progress: bool = False) -> dict:
    """Execute one job; never raises for a lesson failure. Returns its summary record.

    ``cell_progress``: draw papermill's bar over the lesson's cells (in a terminal)."""
    import papermill

    from kit.data.provenance import read_log

    out_dir = Path(job.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    final_path = out_dir / f"{job.stem}.ipynb"
    html_path = out_dir / f"{job.stem}.html"
    # papermill writes as cells finish, through any link planted under the final name; it
    # writes a hidden file instead, which replaces the final name (a link included) at the end
    nb_path = out_dir / f".{job.stem}.{os.getpid()}.running.ipynb"
    with tempfile.TemporaryDirectory(prefix="kit-run-") as tmp:
        read_file, metrics_file = Path(tmp) / "reads.jsonl", Path(tmp) / "metrics.json"
        # nobody watches a headless kernel: no progress bar widgets in the notebook or report
        env = {"KIT_PROGRESS": "0", **job.env, "KIT_READ_LOG": str(read_file), "KIT_METRICS_FILE": str(metrics_file),
               "KIT_PROFILE": job.profile, "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
        start = time.perf_counter()
        error = None
        with _environment(env):
            try:
                papermill.execute_notebook(
                    job.path, str(nb_path), parameters=job.parameters, kernel_name="python3",
                    progress_bar=({"desc": job.stem, "unit": "cell", "leave": False} if cell_progress else False),
                    cwd=str(Path(job.path).parent),
                    execution_timeout=job.cell_timeout,
                    # The kernel's own log (its TCP notice, a reply it could not send after
                    # Ctrl-C) is noise here: what a lesson does wrong is in its cells' errors.
                    extra_arguments=["--IPKernelApp.log_level=CRITICAL"],
                )
            except Exception as exc:  # the lesson's failure is data for the summary
                error = _describe_error(exc)
        seconds = time.perf_counter() - start
        reads = read_log(read_file)
        metrics = json.loads(metrics_file.read_text()) if metrics_file.exists() else {}
    metrics, tables = _tables_beside(metrics, out_dir, job.stem)
    status = "ok" if error is None else "failed"
    if nb_path.exists():
        try:
            _stamp(nb_path, job, status, seconds, reads, metrics, error)
            os.replace(nb_path, final_path)
            export_html(final_path, html_path)
        except Exception as exc:  # a broken partial notebook must not hide the real error
            error = (error + "; " if error else "") + f"could not stamp/export: {type(exc).__name__}: {exc}"
            status = "failed"
        finally:
            nb_path.unlink(missing_ok=True)
    return {"lesson": job.lesson, "profile": job.profile, "parameters": job.parameters,
            "status": status, "seconds": round(seconds, 2), "metrics": metrics, "tables": tables, "error": error,
            "notebook": str(final_path), "html": str(html_path) if html_path.exists() else None,
            "registry_reads": reads}


def _tables_beside(metrics: dict, out_dir: Path, stem: str) -> tuple[dict, dict]:
    """Recorded tables (lists of rows) go to CSV files beside the notebook,
    ``<lesson>.<name>.csv``; ``summary.json`` keeps the numbers and the file names."""
    import pandas as pd

    from kit.files import atomic_path

    kept, tables = {}, {}
    for name, value in metrics.items():
        if isinstance(value, list) and value and all(isinstance(row, dict) for row in value):
            safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", str(name))[:80]
            path = out_dir / f"{stem}.{safe}.csv"
            with atomic_path(path) as tmp:
                pd.DataFrame(value).to_csv(tmp, index=False)
            tables[name] = path.name
        else:
            kept[name] = value
    return kept, tables


class _StopOnInterrupt:
    """Ctrl-C (or SIGTERM, SIGHUP) while lessons run one after another, handled at safe points.

    A KeyboardInterrupt raised wherever the main thread happens to be (starting a
    kernel, inside papermill's clean-up) left runs that hung for minutes, died without a
    word or printed a "Kernel died" traceback. Instead the first signal is noted and the
    running lesson's kernel is stopped (also one still starting: it is looked for until
    the run ends); the lesson then returns like a failed one, is recorded as
    interrupted, and the run stops with the rest marked interrupted, not pending. A
    second signal stops at once.
    """

    SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP")

    def __init__(self):
        self.requested = False
        self._previous = {}
        self._done = False

    def __enter__(self):
        import signal
        import threading

        if threading.current_thread() is threading.main_thread():
            for name in self.SIGNALS:
                if hasattr(signal, name):
                    self._previous[name] = signal.signal(getattr(signal, name), self._on_interrupt)
        return self

    def __exit__(self, *exc):
        import signal

        for name, previous in self._previous.items():
            signal.signal(getattr(signal, name), previous)
        self._done = True
        return False

    def _on_interrupt(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        import threading

        threading.Thread(target=self._stop_kernels, name="kit-stop-kernels", daemon=True).start()

    def _stop_kernels(self):
        try:
            import psutil  # a dependency of ipykernel
        except ImportError:
            return
        me = psutil.Process()
        while not self._done:
            for child in me.children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    if any("ipykernel" in part for part in child.cmdline()):
                        child.kill()
            time.sleep(0.2)


def _run_sequential(jobs, bar, cell_progress: bool = False, on_start=None):
    with _StopOnInterrupt() as stop:
        for job in jobs:
            if stop.requested:
                raise KeyboardInterrupt
            bar.set_postfix_str(job.stem)
            if on_start is not None:
                on_start(job)
            record = run_lesson(job, cell_progress=cell_progress)
            if stop.requested:
                yield {**record, "status": "interrupted", "error": "interrupted (Ctrl-C)"}
                raise KeyboardInterrupt
            yield record
            bar.update()


def _run_dask(jobs, bar, workers: int | None, scheduler: str | None):
    from dask.distributed import Client, LocalCluster, as_completed

    cluster = None
    if scheduler:
        client = Client(scheduler)
    else:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
    try:
        futures = [client.submit(run_lesson, job, pure=False, key=f"lesson-{i}-{job.stem}")
                   for i, job in enumerate(jobs)]
        for future in as_completed(futures):
            record = future.result()
            bar.set_postfix_str(record["lesson"])
            bar.update()
            yield record
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _job_key(job: LessonJob) -> tuple:
    return job.lesson, json.dumps(job.parameters, sort_keys=True, default=str)


def _record_key(record: dict) -> tuple:
    return record["lesson"], json.dumps(record["parameters"], sort_keys=True, default=str)


def run_course(jobs: list[LessonJob], workers: int | None = None, scheduler: str | None = None,
               progress: bool = True, on_start=None, on_finish=None) -> list[dict]:
    """Run jobs (sequentially, or on Dask with ``workers``/``scheduler``) and write ``summary.json``.

    ``on_start(job)`` and ``on_finish(record)`` are called as each lesson starts (sequential
    runs) and ends: the command line prints a line for each, so that a long run is never
    silent, in a terminal or a log. In a terminal a bar also moves over each lesson's cells.

    Returns
    -------
    list of dict
        ``{lesson, profile, parameters, status, seconds, metrics, error, ...}`` in job order.

    Raises
    ------
    ParameterError
        When another run is writing into the same folder (two runs would each leave a
        summary of their own lessons only).
    """
    from filelock import FileLock, Timeout

    if not jobs:
        return []
    out_dir = check_out_dir(jobs[0].out_dir)
    order = {_job_key(j): i for i, j in enumerate(jobs)}
    summary = out_dir / "summary.json"

    lock = FileLock(str(out_dir / ".kit-course.lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise ParameterError(f"--out {out_dir}: another kit course run is writing into this folder; wait for it "
                             f"to finish or choose another --out") from None
    try:
        return _run_locked(jobs, workers, scheduler, progress, on_start, on_finish, out_dir, order, summary)
    finally:
        lock.release()


def _run_locked(jobs, workers, scheduler, progress, on_start, on_finish, out_dir, order, summary) -> list[dict]:
    from tqdm.auto import tqdm

    records: list[dict] = []

    def write_summary(pending: str | None = None) -> None:
        """summary.json as it stands: finished runs, and the others as pending or interrupted."""
        done = {_record_key(r) for r in records}
        rows = records + [{"lesson": j.lesson, "profile": j.profile, "parameters": j.parameters,
                           "status": pending, "seconds": None, "metrics": {}, "tables": {}, "error": None,
                           "notebook": None, "html": None, "registry_reads": []}
                          for j in jobs if pending and _job_key(j) not in done]
        rows.sort(key=lambda r: order.get(_record_key(r), 0))
        write_json(summary, rows, indent=2)

    write_summary("pending")  # never a stale summary of an earlier run beside new notebooks
    try:
        with tqdm(total=len(jobs), desc="lessons", unit="lesson", disable=not show_progress(progress)) as bar:
            runs = (_run_dask(jobs, bar, workers, scheduler) if (workers or scheduler) else
                    _run_sequential(jobs, bar, cell_progress=show_progress(progress), on_start=on_start))
            for record in runs:
                records.append(record)
                write_summary("pending")
                if on_finish is not None:
                    on_finish(record)
    except KeyboardInterrupt:
        write_summary("interrupted")
        raise
    write_summary()
    records.sort(key=lambda r: order.get(_record_key(r), 0))
    return records


def summary_table(records: list[dict]) -> str:
    """The final terminal table: lesson, parameters, status, seconds, key metrics or error."""
    import pandas as pd

    def brief(metrics: dict) -> str:
        items = [f"{k}={format_number(v)}" if isinstance(v, float) else f"{k}={v}"
                 for k, v in metrics.items() if isinstance(v, (int, float, str)) and not isinstance(v, bool)]
        text = ", ".join(items)
        return text if len(text) <= 70 else text[:67] + "..."

    rows = [{"lesson": r["lesson"],
             "parameters": json.dumps(r["parameters"], default=str) if r["parameters"] else "",
             "status": r["status"], "seconds": r["seconds"],
             "metrics / error": r["error"] if r["error"] else brief(r["metrics"])} for r in records]
    with pd.option_context("display.max_colwidth", 90, "display.width", 200):
        return pd.DataFrame(rows).to_string(index=False)
