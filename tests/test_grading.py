"""Solutions proved in CI, and `kit course grade` on thirty generated submissions: right,
wrong, unanswered, raising, looping, flooding, deleting, forging, broken."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pandas as pd
import pytest

from kit.course.grading import KERNEL_START_S, MAX_WRITE_MB

from .browser import REPO

LESSON = "00_welcome"
TIMEOUT = 30


@pytest.fixture(autouse=True)
def own_progress(tmp_path, monkeypatch):
    monkeypatch.setenv("KIT_EXERCISE_PROGRESS", str(tmp_path / "progress.json"))


def test_the_solved_profile_fills_and_passes_every_exercise_of_every_lesson(tmp_path):
    """What CI proves: each exercise is solvable with its lesson's own data (the quick profile
    without solutions runs under nbval and says "not answered yet")."""
    from kit.course.exercises import catalog
    from kit.course.runner import plan, run_course

    records = run_course(plan("solved", None, tmp_path / "build"))
    assert [r["status"] for r in records] == ["ok"] * len(records), [r["error"] for r in records]
    for record in records:
        nb = json.loads((tmp_path / "build" / f"{record['lesson']}.ipynb").read_text())
        said = [json.dumps(c.get("outputs", [])) for c in nb["cells"] if "exercise" in c["metadata"].get("tags", [])]
        expected = (catalog()["lesson"] == record["lesson"]).sum()
        assert len(said) == expected and all("\\u2713 Right" in s or "✓ Right" in s for s in said), record["lesson"]


def _answer(nb: dict, marker: str, code: str) -> None:
    """Replace the student's part (the line or function holding ``marker``) of an exercise cell."""
    for cell in nb["cells"]:
        source = "".join(cell["source"])
        if "exercise" in cell["metadata"].get("tags", []) and marker in source:
            _student, _, checks = source.partition("\n\nq") if source.startswith("def ") else source.partition("\nq")
            cell["source"] = code + "\n" + "q" + checks
            return
    raise AssertionError(f"no exercise cell with {marker!r}")


def _prepend(nb: dict, code: str) -> None:
    at = next(i for i, c in enumerate(nb["cells"]) if "parameters" in c["metadata"].get("tags", [])) + 1
    nb["cells"].insert(at, {"cell_type": "code", "execution_count": None, "id": f"x{len(nb['cells'])}",
                            "metadata": {}, "outputs": [], "source": code})


RIGHT = {"checksum_answer": 'checksum_answer = "next source"',
         "worst_day_cases": 'national = outbreak[outbreak["region"] == "Synthland"].groupby("date")["confirmed"].sum()\n'
                            "worst_day_cases = national.diff().max()",
         "new_per_day": "def new_per_day(cumulative):\n    return cumulative.diff().fillna(cumulative).clip(lower=0)"}
WRONG = {"checksum_answer": 'checksum_answer = "use it"',
         "worst_day_cases": 'worst_day_cases = outbreak[outbreak["region"] == "Synthland"]["confirmed"].max()',
         "new_per_day": "def new_per_day(cumulative):\n    return cumulative.diff()"}


def _submissions(folder, lesson_nb: dict) -> dict:
    """Thirty students; returns student -> what their grade must show."""
    expect = {}

    def write(student, edit=None, raw=None, name=LESSON):
        (folder / student).mkdir(parents=True)
        if raw is not None:
            (folder / student / f"{name}.ipynb").write_text(raw)
        else:
            nb = json.loads(json.dumps(lesson_nb))
            if edit:
                edit(nb)
            (folder / student / f"{name}.ipynb").write_text(json.dumps(nb))

    def answers(chosen):
        def edit(nb):
            for var, code in chosen.items():
                _answer(nb, f"{var}", code)
        return edit

    for i in range(6):
        write(f"right{i}", answers(RIGHT))
        expect[f"right{i}"] = {"right": 3}
        write(f"wrong{i}", answers(WRONG))
        expect[f"wrong{i}"] = {"wrong": 3}
        write(f"blank{i}")
        expect[f"blank{i}"] = {"not answered": 3}
    for i in range(3):
        write(f"raises{i}", answers({**RIGHT, "new_per_day": "def new_per_day(cumulative):\n    return 1 / 0"}))
        expect[f"raises{i}"] = {"right": 2, "raised": 1}
    for i in range(2):
        write(f"loops{i}", answers({**RIGHT, "new_per_day": "def new_per_day(cumulative):\n    while True:\n"
                                                             "        pass"}))
        expect[f"loops{i}"] = {"run": "time limit"}
        write(f"floods{i}", lambda nb: _prepend(nb, f"print('x' * {(MAX_WRITE_MB + 8) * 2**20})"))
        expect[f"floods{i}"] = {"run": "larger than"}
    write("deletes", lambda nb: (answers(RIGHT)(nb), _prepend(
        nb, "import os, shutil\nfor f in os.listdir('.'): os.remove(f)\nshutil.rmtree('..', ignore_errors=True)")))
    expect["deletes"] = {"right": 3}
    write("imports", lambda nb: (answers(RIGHT)(nb), _prepend(nb, "import a_module_nobody_has")))
    expect["imports"] = {"right": 3, "run": "ModuleNotFoundError"}
    write("forger", lambda nb: (answers({**RIGHT, "worst_day_cases": "worst_day_cases = 5"})(nb), _prepend(
        nb, "from kit.course.exercises import core\ncore.NumberExercise._judge = lambda self, a: ('right', 'sure')")))
    expect["forger"] = {"right": 2, "wrong": 1}  # the number is checked again outside the kernel
    write("garbage", raw="this is not a notebook {")
    expect["garbage"] = {"run": "not a notebook"}
    write("other", name="99_not_a_lesson")
    expect["other"] = {"not run": 1}
    assert len(expect) == 30
    return expect


def test_grading_thirty_submissions(tmp_path):
    lesson_nb = json.loads((REPO / "lessons" / f"{LESSON}.ipynb").read_text())
    folder = tmp_path / "submissions"
    expect = _submissions(folder, lesson_nb)
    keep = folder / "right0" / f"{LESSON}.ipynb"
    before = keep.read_bytes()
    out = tmp_path / "grades" / "grades.csv"
    done = subprocess.run([sys.executable, "-m", "kit", "course", "grade", str(folder), "--lesson", "00",
                           "--timeout", str(TIMEOUT), "--workers", "2", "--out", str(out)],
                          check=False, capture_output=True, text=True, timeout=1800, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    table = pd.read_csv(out, keep_default_na=False)
    assert set(table["student"]) == set(expect) and len(table) == 29 * 3 + 1
    for student, wanted in expect.items():
        rows = table[table["student"] == student]
        counts = rows["status"].value_counts().to_dict()
        for status, n in wanted.items():
            if status == "run":
                assert n in rows["run_status"].iloc[0], (student, rows["run_status"].iloc[0])
            else:
                assert counts.get(status, 0) == n, (student, counts, rows["message"].tolist())
        assert (rows["run_seconds"] <= TIMEOUT + KERNEL_START_S + 30).all()  # bounded, looping or not
    forged = table[(table["student"] == "forger") & (table["exercise"] == "00.worst_day")].iloc[0]
    assert "DISAGREES" in forged["rechecked"]
    assert keep.read_bytes() == before  # submissions are run from copies
    assert "garbage" in out.with_suffix(".html").read_text() and "Pass rate" in out.with_suffix(".html").read_text()


def test_grading_refuses_what_it_cannot_grade(tmp_path):
    from kit.course.grading import find_submissions, grade
    from kit.errors import ParameterError

    with pytest.raises(ParameterError, match="no such folder"):
        grade(tmp_path / "nothing", ["00"], out=tmp_path / "g.csv", progress=False)
    (tmp_path / "subs").mkdir()
    (tmp_path / "subs" / "alice.ipynb").write_text("{}")
    with pytest.raises(ParameterError, match="exactly one --lesson"):
        find_submissions(tmp_path / "subs", ["00_welcome", "01_covid_eda"])
    with pytest.raises(ParameterError, match="name the file \\*.csv"):
        grade(tmp_path / "subs", ["00"], out=tmp_path / "g.xlsx", progress=False)
    (tmp_path / "subs" / "=cmd|calc").mkdir()
    shutil.copy(REPO / "lessons" / f"{LESSON}.ipynb", tmp_path / "subs" / "=cmd|calc" / f"{LESSON}.ipynb")
    (tmp_path / "subs" / "bob" / f"{LESSON}.ipynb").mkdir(parents=True)  # a folder named like a notebook
    subs = {s.student: s for s in find_submissions(tmp_path / "subs", [LESSON])}
    assert "characters" in subs["=cmd|calc"].problem and subs["alice"].problem is None
    assert "is not a file" in subs["bob"].problem


def test_csv_cells_never_start_a_formula():
    from kit.course.grading import _csv_safe

    assert _csv_safe("=HYPERLINK(1)") == "'=HYPERLINK(1)" and _csv_safe("-2") == "'-2" and _csv_safe(3) == 3
