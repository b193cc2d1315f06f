"""The exercise layer: a question a student answers in a lesson and checks on the spot.

An exercise is made where the lesson has computed what it is about, so the right
answer is the one for the region, country or data the student chose; it is never a
number written into the lesson. Three kinds:

* :class:`NumberExercise` — a number, checked within a stated tolerance; typical
  mistakes (weeks for days, a fraction for a percent) are recognised and named;
* :class:`ChoiceExercise` — one of a few options, each with its own explanation;
* :class:`FunctionExercise` — a function (or class) the student writes, run on several
  inputs, edge cases included, and compared with the kit's own answer.

``q.check(answer)`` says right, wrong and why, the wrong type, or which input made a
function raise; ``q.hint()`` reveals the hints one by one; ``q.solution()`` shows the
solution (unless the instructor hid them, ``KIT_SOLUTIONS=hidden``). An answer left as
``...`` is "not answered yet", never an error. In solve mode (the lesson's ``solve``
parameter, the ``solved`` profile) an unanswered exercise is filled by running its
solution in the notebook, which proves every exercise solvable with the lesson's data.
Every check is written to the progress file (:mod:`kit.course.exercises.progress`).
"""
from __future__ import annotations

import html
import math
import os
import re
import sys
from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import progress

UNANSWERED = ...  # what an answer cell holds until the student writes something
STATUSES = ("right", "wrong", "invalid", "raised", "unanswered")
_SYMBOL = {"right": "✓ Right", "wrong": "✗ Not yet", "invalid": "✗ Not an answer of the right kind",
           "raised": "✗ Your code raised an error", "unanswered": "… Not answered yet"}
_COLOUR = {"right": "#1a7f37", "wrong": "#b35900", "invalid": "#b35900", "raised": "#b42318",
           "unanswered": "#57606a"}


class _Mode:
    """What :func:`begin` set for the lesson running in this kernel."""

    solve = False
    lesson = ""


MODE = _Mode()


def solutions_hidden() -> bool:
    """True when the instructor hid the solutions (``KIT_SOLUTIONS=hidden``)."""
    return os.environ.get("KIT_SOLUTIONS", "").strip().lower() in ("hidden", "hide", "off", "0", "no")


@dataclass(frozen=True)
class Feedback:
    """The outcome of one check: shown as a coloured line in a notebook and in reports."""

    exercise: str
    title: str
    status: str
    message: str

    @property
    def passed(self) -> bool:
        return self.status == "right"

    def __repr__(self) -> str:
        return f"{_SYMBOL[self.status]} — {self.title}: {self.message}"

    def _repr_html_(self) -> str:
        colour = _COLOUR[self.status]
        # `code` in a message is shown as code, after escaping (a student's answer is text, never markup)
        message = re.sub(r"`([^`<>]+)`", r"<code>\1</code>", html.escape(self.message))
        return (f'<div class="kit-feedback kit-feedback-{self.status}" style="border-left:4px solid {colour};'
                f'padding:4px 10px;margin:4px 0"><b style="color:{colour}">{html.escape(_SYMBOL[self.status])}'
                f'</b> — {html.escape(self.title)}: {message}</div>')


@dataclass(frozen=True)
class Shown:
    """A hint or a solution as Markdown (rendered in JupyterLab, plain text elsewhere)."""

    text: str

    def __repr__(self) -> str:
        return self.text

    def _repr_markdown_(self) -> str:
        return self.text


def describe(answer, limit: int = 80) -> str:
    """A short, safe description of an answer for messages and records."""
    if callable(answer):
        return f"{getattr(answer, '__name__', type(answer).__name__)} (a {'class' if isinstance(answer, type) else 'function'})"
    if isinstance(answer, pd.Series) and len(answer) <= 10:
        return "[" + ", ".join(f"{v:g}" if isinstance(v, (int, float, np.number)) else repr(v)
                               for v in answer.tolist()) + "]"
    if isinstance(answer, np.ndarray) and answer.ndim == 1 and len(answer) <= 10:
        return describe(pd.Series(answer), limit)
    if isinstance(answer, (pd.Series, pd.DataFrame)):
        return f"a {type(answer).__name__} of {len(answer)} rows"
    text = repr(answer)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _error(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    text = text if len(text) <= 200 else text[:199] + "…"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


_EMPTY_BODY = (lambda: None).__code__.co_code  # what `def f(...): ...` compiles to


def is_unanswered(answer) -> bool:
    """``...``, a function whose body is only ``...`` (or ``pass``), or a class that adds nothing:
    what the lesson's answer cells hold before the student writes anything."""
    if answer is UNANSWERED:
        return True
    code = getattr(answer, "__code__", None)
    if code is not None:
        return code.co_code == _EMPTY_BODY
    if isinstance(answer, type):
        own = [v for k, v in vars(answer).items() if not k.startswith("__")]
        return all(callable(v) and is_unanswered(v) for v in own)
    return False


class Exercise:
    """One exercise of a lesson; a subclass says how an answer is judged.

    Parameters
    ----------
    key : str
        ``NN.name``: the lesson's number and the exercise's name (its row in the catalog).
    title : str
    variable : str
        The name the student assigns the answer to (and the solution fills).
    solution : str
        Python that assigns ``variable`` from the lesson's own variables.
    hints : sequence of str
        Revealed in order by :meth:`hint`.
    explanation : str
        Said with the solution: why it is the answer.
    """

    kind = "exercise"

    def __init__(self, key: str, title: str, variable: str, solution: str, hints=(), explanation: str = ""):
        self.key, self.title, self.variable = key, title, variable
        self.solution_code = solution.strip("\n")
        self.hints = tuple(hints)
        self.explanation = explanation

    def __repr__(self) -> str:
        return (f"Exercise {self.key} — {self.title}. Assign your answer to `{self.variable}`, then "
                f".check({self.variable}); .hint() for a hint, .solution() for the solution.")

    def check(self, answer=UNANSWERED) -> Feedback:
        """Judge ``answer`` and record the outcome in the progress file."""
        filled = False
        if is_unanswered(answer) and MODE.solve:
            answer, filled = self._solve(sys._getframe(1).f_globals), True
        if is_unanswered(answer):
            status, message = "unanswered", self.unanswered_message()
        else:
            try:
                status, message = self._judge(answer)
            except Exception as exc:  # a student's function or object misbehaving: the message, no traceback  # noqa: BLE001
                status, message = "raised", f"checking your answer raised {_error(exc)}"
        if filled:
            message = "filled in by the solution (solve mode): " + message
        # the solution's work is not the student's progress; only the grader's reference run records it
        if not filled or os.environ.get("KIT_GRADING_REFERENCE") == "1":
            progress.record_check(self, status, message, describe(answer, progress.ANSWER_CHARS),
                                  self.record_fields(answer))
        return Feedback(self.key, self.title, status, message)

    def unanswered_message(self) -> str:
        return (f"write your answer in place of the `...` of `{self.variable}` and run the cell again; "
                f"`.hint()` helps")

    def _solve(self, namespace: dict):
        exec(compile(self.solution_code, f"<solution of {self.key}>", "exec"), namespace)  # noqa: S102 - the kit's own code
        return namespace.get(self.variable, UNANSWERED)

    def _judge(self, answer) -> tuple[str, str]:
        raise NotImplementedError

    def record_fields(self, answer) -> dict:
        """What the grader may re-check outside the student's kernel (see :mod:`..grading`)."""
        return {}

    def hint(self) -> Shown:
        """The next hint (all of them once revealed)."""
        if not self.hints:
            return Shown("No hint for this one: read the exercise again, and the cell above it.")
        shown = progress.next_hint(self.key, len(self.hints))
        lines = [f"**Hint {i + 1} of {len(self.hints)}.** {h}" for i, h in enumerate(self.hints[:shown])]
        return Shown("\n\n".join(lines))

    def solution(self) -> Shown:
        """The solution, unless the instructor hid the solutions."""
        if solutions_hidden():
            return Shown("Your instructor has hidden the solutions of this course (`KIT_SOLUTIONS=hidden`).")
        text = f"**Solution of {self.key}.**\n\n```python\n{self.solution_code}\n```"
        return Shown(text + (f"\n\n{self.explanation}" if self.explanation else ""))


def _as_number(answer) -> float:
    """A plain number from ``answer``, or ValueError saying what it is instead."""
    if isinstance(answer, (bool, np.bool_)):
        raise ValueError(f"{answer} is a truth value; the answer is a number")
    if isinstance(answer, str):
        raise ValueError(f"{describe(answer)} is text; write the number without quotes")
    if isinstance(answer, (pd.Series, pd.DataFrame, np.ndarray, list, tuple)):
        size = len(answer) if hasattr(answer, "__len__") else "?"
        raise ValueError(f"that is {describe(answer)} ({size} values); the answer is a single number "
                         f"(pick one with .iloc[...] or .loc[...])")
    if isinstance(answer, (pd.Timestamp, pd.Timedelta)):
        raise ValueError(f"{describe(answer)} is a date or duration; the answer is a plain number")
    try:
        value = float(answer)
    except (TypeError, ValueError):
        raise ValueError(f"{describe(answer)} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{value} is not a finite number")
    return value


class NumberExercise(Exercise):
    """A number, right within ``rel_tol`` (relative) or ``abs_tol`` (absolute) of ``expected``.

    ``expected=None`` means "there is no such number" and the right answer is ``None``.
    ``mistakes`` are ``(test, message)`` pairs: ``test(answer, expected)`` true names the
    mistake ("your doubling time is in weeks, not days"). ``reproducible=False`` marks a
    number that differs from run to run (a timing, a model trained on many threads): the
    grader cannot compare it with its own run.
    """

    kind = "number"

    def __init__(self, key, title, variable, solution, expected, unit: str = "", rel_tol: float = 0.01,
                 abs_tol: float = 0.0, mistakes=(), hints=(), explanation: str = "", reproducible: bool = True):
        super().__init__(key, title, variable, solution, hints, explanation)
        self.reproducible = reproducible
        self.expected = None if expected is None else float(expected)
        self.unit, self.rel_tol, self.abs_tol = unit, float(rel_tol), float(abs_tol)
        self.mistakes = tuple(mistakes)

    def tolerance_text(self) -> str:
        parts = ([f"{self.rel_tol:.0%}" if self.rel_tol >= 0.01 else f"{self.rel_tol:g} relative"]
                 if self.rel_tol else []) + ([f"±{self.abs_tol:g}"] if self.abs_tol else [])
        return " or ".join(parts)

    def is_close(self, value: float, expected: float, slack: float = 1.0) -> bool:
        return math.isclose(value, expected, rel_tol=self.rel_tol * slack, abs_tol=self.abs_tol * slack)

    def _judge(self, answer):
        unit = f" {self.unit}" if self.unit else ""
        if self.expected is None:
            if answer is None:
                return "right", "there is none: right"
            return "wrong", "with these parameters there is no such number: the answer is None"
        if answer is None:
            return "wrong", "there is an answer with these parameters; None is not it"
        try:
            value = _as_number(answer)
        except ValueError as exc:
            return "invalid", str(exc)
        if self.is_close(value, self.expected):
            within = self.tolerance_text()
            return "right", f"{value:,.4g}{unit}" + (f" (within {within} of the lesson's own figure)" if within
                                                     else ", the lesson's own figure")
        for test, message in self.mistakes:
            if test(value, self.expected):
                return "wrong", message
        direction = "too high" if value > self.expected else "too low"
        within = f" (it should be within {self.tolerance_text()})" if self.tolerance_text() else ""
        return "wrong", f"{value:,.4g}{unit} is {direction}{within}; `.hint()` helps"

    def record_fields(self, answer) -> dict:
        if not self.reproducible:
            return {}
        try:
            value = None if answer is None else _as_number(answer)
        except ValueError:
            return {}
        return {"value": value, "rel_tol": self.rel_tol, "abs_tol": self.abs_tol}


class ChoiceExercise(Exercise):
    """One of ``options`` (option -> its explanation); ``right`` is the right option, or
    several equally right ones (a tie in the lesson's own results)."""

    kind = "choice"

    def __init__(self, key, title, variable, solution, options: dict, right, hints=(), explanation: str = ""):
        super().__init__(key, title, variable, solution, hints, explanation)
        self.options = {str(k): str(v) for k, v in options.items()}
        rights = [str(right)] if isinstance(right, (str, int, float)) else [str(r) for r in right]
        missing = [r for r in rights if r not in self.options]
        if not rights or missing:
            raise ValueError(f"{key}: the right option(s) {missing or rights!r} are not among the options")
        self.right = frozenset(rights)

    def unanswered_message(self) -> str:
        return super().unanswered_message() + ". The options: " + ", ".join(repr(k) for k in self.options)

    def _match(self, answer):
        if isinstance(answer, (int, float, np.number)) and not isinstance(answer, (bool, np.bool_)):
            answer = f"{float(answer):g}"  # options that are numbers may be given as numbers
        if not isinstance(answer, (str, np.str_)):
            return None
        wanted = str(answer).strip().lower()
        return next((k for k in self.options if k.lower() == wanted), None)

    def _judge(self, answer):
        chosen = self._match(answer)
        if chosen is None:
            return "invalid", (f"{describe(answer)} is not one of the options: "
                               + ", ".join(repr(k) for k in self.options))
        if chosen in self.right:
            return "right", f"{chosen!r}: {self.options[chosen]}"
        return "wrong", f"{chosen!r}: {self.options[chosen]}"

    def record_fields(self, answer) -> dict:
        chosen = self._match(answer)
        return {} if chosen is None else {"value": chosen}


def same(got, expected, rel_tol: float = 1e-6) -> bool:
    """Equal enough: numbers within ``rel_tol`` (NaN equals NaN), pandas objects and arrays
    element by element, sequences item by item."""
    if isinstance(expected, (pd.Series, pd.DataFrame)):
        if not isinstance(got, type(expected)) or got.shape != expected.shape:
            return False
        return bool(np.allclose(np.asarray(got, float), np.asarray(expected, float), rtol=rel_tol, equal_nan=True))
    if isinstance(expected, np.ndarray):
        got = np.asarray(got)
        return got.shape == expected.shape and bool(np.allclose(got.astype(float), expected, rtol=rel_tol,
                                                                 equal_nan=True))
    if isinstance(expected, (list, tuple)):
        return (isinstance(got, (list, tuple, np.ndarray)) and len(got) == len(expected)
                and all(same(g, e, rel_tol) for g, e in zip(got, expected)))
    if isinstance(expected, (int, float, np.number)) and not isinstance(expected, bool):
        try:
            g = float(got)
        except (TypeError, ValueError):
            return False
        return (math.isnan(g) and math.isnan(expected)) or math.isclose(g, float(expected), rel_tol=rel_tol,
                                                                        abs_tol=1e-12)
    try:
        return bool(got == expected)
    except (TypeError, ValueError):  # an array compared with a scalar or text, say
        return False


class FunctionExercise(Exercise):
    """A function the student writes, run on ``cases`` and compared with ``reference``.

    ``cases`` are ``(label, args)`` pairs: the label names the input in messages ("a
    series that goes down"). ``compare(got, expected)`` decides equality (:func:`same`);
    ``call(answer, *args)`` says how an answer is used (default: called with the args; a
    class can be instantiated, fitted and asked instead).
    """

    kind = "function"

    def __init__(self, key, title, variable, solution, reference, cases, compare=same, call=None, hints=(),
                 explanation: str = ""):
        super().__init__(key, title, variable, solution, hints, explanation)
        self.reference, self.cases, self.compare = reference, list(cases), compare
        self.call = call or (lambda answer, *args: answer(*args))

    def _judge(self, answer):
        if not callable(answer):
            return "invalid", f"{describe(answer)} is not a function; define one with `def {self.variable}(...):`"
        for label, args in self.cases:
            expected = self.reference(*args)
            try:
                got = self.call(answer, *args)
            except Exception as exc:  # noqa: BLE001 - the student's code: report which input broke it
                return "raised", f"on {label} your function raised {_error(exc)}"
            if not self.compare(got, expected):
                return "wrong", f"on {label} it returned {describe(got)}; expected {describe(expected)}"
        return "right", f"it agrees with the kit on all {len(self.cases)} inputs, edge cases included"


def exercise_key(lesson: str, name: str) -> str:
    """``01_covid_eda``, ``doubling_time`` -> ``01.doubling_time`` (the catalog's key)."""
    return f"{lesson.split('_', 1)[0]}.{name}"
