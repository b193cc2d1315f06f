"""A student's progress: which exercises passed, when, after how many tries.

Kept in one local JSON file, ``KIT_EXERCISE_PROGRESS`` or ``progress.json`` in the user's data
folder (``~/.local/share/kit`` on Linux), written atomically after every check. A
progress file that cannot be read (edited by hand, cut short) is kept aside as
``progress.json.unreadable`` and a new one started; one that cannot be written (a
read-only home) leaves the checks working and says so once.
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from kit.files import write_json

FORMAT = "kit-exercise-progress/1"
ANSWER_CHARS = 200  # what a record keeps of an answer's description
_hints_shown: dict[str, int] = {}
_warned = {"write": False}


def progress_path() -> Path:
    """``KIT_EXERCISE_PROGRESS``, or ``progress.json`` in the user's data folder."""
    env = os.environ.get("KIT_EXERCISE_PROGRESS")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("kit")) / "progress.json"


def load(path: Path | None = None) -> dict:
    """The progress record: ``{"format", "exercises": {key: {...}}}`` (empty when there is none)."""
    path = Path(path) if path is not None else progress_path()
    empty = {"format": FORMAT, "exercises": {}}
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return empty
    except (OSError, ValueError):
        return _set_aside(path, empty)
    if not isinstance(raw, dict) or raw.get("format") != FORMAT or not isinstance(raw.get("exercises"), dict):
        return _set_aside(path, empty)
    return raw


def _set_aside(path: Path, empty: dict) -> dict:
    try:
        os.replace(path, path.with_name(path.name + ".unreadable"))
        print(f"note: {path} could not be read; kept as {path.name}.unreadable, starting afresh", file=sys.stderr)
    except OSError:
        pass
    return empty


def record_check(exercise, status: str, message: str, answer: str, fields: dict) -> None:
    """Add one check of ``exercise`` to the progress file (``answer``: its description;
    ``fields``: what the grader may check again)."""
    if status == "unanswered":
        return
    path = progress_path()
    state = load(path)
    now = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    entry = state["exercises"].setdefault(exercise.key, {"attempts": 0, "first_passed": None})
    for stale in ("value", "rel_tol", "abs_tol"):  # an earlier answer's: only this check's may be re-checked
        entry.pop(stale, None)
    entry.update(lesson=_lesson_of(exercise.key), title=exercise.title, kind=exercise.kind, status=status,
                 message=message[:500], answer=answer[:ANSWER_CHARS], last_checked=now,
                 attempts=int(entry.get("attempts", 0)) + 1, **fields)
    if status == "right" and not entry.get("first_passed"):
        entry["first_passed"] = now
    try:
        write_json(path, state)
    except OSError as exc:
        if not _warned["write"]:
            _warned["write"] = True
            print(f"note: your progress could not be saved to {path} ({exc.strerror}); checks still work. "
                  f"Set KIT_EXERCISE_PROGRESS to a file you can write.", file=sys.stderr)


def _lesson_of(key: str) -> str:
    from .catalog import LESSONS

    number = key.split(".", 1)[0]
    return next((lesson for lesson in LESSONS if lesson.split("_", 1)[0] == number), number)


def next_hint(key: str, available: int) -> int:
    """How many hints of ``key`` to show now (one more each time, up to all of them)."""
    _hints_shown[key] = min(available, _hints_shown.get(key, 0) + 1)
    return _hints_shown[key]


def reset(path: Path | None = None) -> None:
    """Forget all progress (the file is removed)."""
    path = Path(path) if path is not None else progress_path()
    path.unlink(missing_ok=True)
    _hints_shown.clear()
