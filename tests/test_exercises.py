"""The exercise layer: every check accepts its solution and rejects plausible wrong answers;
messages say why; hints, solutions and progress behave as the README says."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from kit.course import exercises
from kit.course.exercises import core, progress

from .browser import REPO


@pytest.fixture(autouse=True)
def own_progress(tmp_path, monkeypatch):
    monkeypatch.setenv("KIT_EXERCISE_PROGRESS", str(tmp_path / "progress.json"))
    monkeypatch.delenv("KIT_SOLUTIONS", raising=False)
    monkeypatch.delenv("KIT_GRADING_REFERENCE", raising=False)
    core.MODE.solve = False
    progress._hints_shown.clear()
    yield tmp_path / "progress.json"
    core.MODE.solve = False


def solve(exercise, namespace: dict):
    """Run the exercise's solution in ``namespace`` (as solve mode does) and return its answer."""
    exec(compile(exercise.solution_code, exercise.key, "exec"), namespace)  # noqa: S102 - the kit's own code
    return namespace[exercise.variable]


def assert_solution_right_and_wrong_rejected(exercise, namespace, wrong_answers):
    answer = solve(exercise, dict(namespace))
    feedback = exercise.check(answer)
    assert feedback.status == "right", (exercise.key, feedback)
    for wrong in wrong_answers:
        assert exercise.check(wrong).status != "right", (exercise.key, wrong)


# ---- the lessons' exercises, each made from a small version of what its lesson computes ----

@pytest.fixture(scope="module")
def outbreak():
    from kit import data

    return data.load_timeseries("synthetic")


@pytest.fixture(scope="module")
def counts(outbreak):
    from kit import eda

    return eda.national(outbreak, "Synthland")


def test_lesson_00(outbreak):
    from kit.course.exercises import welcome

    q = welcome.worst_day(outbreak, "Synthland")
    national = outbreak[outbreak["region"] == "Synthland"].groupby("date")["confirmed"].sum()
    assert_solution_right_and_wrong_rejected(q, {"outbreak": outbreak}, [national.max(), 1.0, "6154"])
    assert "cumulative total" in q.check(float(national.max())).message
    q = welcome.checksum()
    assert_solution_right_and_wrong_rejected(q, {}, ["use it", "ask"])
    assert q.check("maybe").status == "invalid" and "'next source'" in q.check("maybe").message
    q = welcome.new_per_day()
    assert_solution_right_and_wrong_rejected(q, {}, [lambda s: s.diff(), lambda s: s.diff().fillna(s)])
    assert "corrected downwards" in q.check(lambda s: s.diff().fillna(s)).message


def test_lesson_01(counts):
    from kit.course.exercises import covid_eda

    q = covid_eda.doubling_time(counts, "2020-03")
    right = solve(q, {"counts": counts})
    assert_solution_right_and_wrong_rejected(q, {"counts": counts}, [right / 7, right * 2, -right])
    assert q.check(right / 7).message == "your doubling time is in weeks, not days"
    assert "growth rate per day" in q.check(math.log(2) / right).message
    q = covid_eda.mortality(counts)
    pct = solve(q, {"counts": counts})
    assert_solution_right_and_wrong_rejected(q, {"counts": counts}, [pct / 100, pct * 2])
    assert q.check(pct / 100).message == "that is a fraction; the answer is in percent"
    assert "single number" in q.check(counts["deaths"]).message
    q = covid_eda.growth_factor()
    assert_solution_right_and_wrong_rejected(q, {}, [lambda new: new / new.shift(1), lambda new: new.pct_change()])


def test_doubling_time_is_none_without_growth_and_names_a_missing_month(counts):
    from kit.eda import doubling_time
    from kit.errors import ParameterError

    flat = pd.Series(5.0, index=pd.date_range("2020-03-01", periods=31))
    assert doubling_time(flat, "2020-03") is None
    with pytest.raises(ParameterError, match="no day of '2019-01'.*2020-02-01"):
        doubling_time(counts["confirmed"], "2019-01")
    doubled = pd.Series(2.0 ** (np.arange(31) / 3), index=pd.date_range("2020-03-01", periods=31))
    assert doubling_time(doubled, "2020-03") == pytest.approx(3.0)


def test_lesson_02():
    from kit import epi
    from kit.course.exercises import seird

    scenario = epi.country_parameters("Italy")
    sim = epi.simulate("seird-icu", days=300, **scenario, r0_start=3.2, r0_end=0.9, x0=100)
    q = seird.first_day_over(sim)
    peak = epi.peak(sim)
    assert_solution_right_and_wrong_rejected(q, {"sim": sim}, [peak["day"], peak["first_day_over_capacity"] + 1, None])
    assert "day of the peak" in q.check(peak["day"]).message
    q = seird.latest_intervention(scenario, 3.2, 0.9, 100, 300)
    assert_solution_right_and_wrong_rejected(
        q, {"epi": epi, "scenario": scenario, "r0_start": 3.2, "r0_end": 0.9, "days": 300}, ["100", "none", 70])
    assert q.check(90).status == "right"  # the number itself is fine as well as "90"
    q = seird.herd_immunity(3.2)
    assert_solution_right_and_wrong_rejected(q, {}, [lambda r: 1 - 1 / r, lambda r: 1 / r])


def test_a_scenario_that_never_runs_out_of_beds_wants_none():
    from kit import epi
    from kit.course.exercises import seird

    sim = epi.simulate("seird-icu", days=200, **epi.country_parameters("Italy"), r0_start=3.2, r0_end=0.7, x0=40)
    q = seird.first_day_over(sim)
    assert q.check(None).status == "right" and q.check(12).status == "wrong"


@pytest.fixture(scope="module")
def backtests(outbreak):
    from kit import data
    from kit.forecast import compare

    y = data.select_series(data.repair_decreases(outbreak), "Synthland", "confirmed", None)
    return compare(y, "naive,drift,holt", horizon=14, folds=3), compare(y, "naive,drift,holt", holdout=0.1)


def test_lesson_03(backtests):
    from kit.course.exercises import forecasting

    backtest, single = backtests
    q = forecasting.backtest_winner(backtest, single)
    losers = [m for m in backtest.table["model"] if m != backtest.best]
    assert_solution_right_and_wrong_rejected(q, {"backtest": backtest}, losers)
    q = forecasting.honest_intervals(backtest)
    right = solve(q, {"backtest": backtest})
    assert_solution_right_and_wrong_rejected(q, {"backtest": backtest}, [right + 1, 3 - right + 10])
    q = forecasting.seasonal_naive()
    from kit.forecast.models import Forecaster

    class LastValue(Forecaster):
        min_points = 7
        native_intervals = False

        def _fit(self, y):
            pass

        def _predict(self, h, levels):
            return np.full(h, self.y_.iloc[-1]), {}

    class Stub(Forecaster):
        ...

    assert_solution_right_and_wrong_rejected(q, {}, [LastValue, len])
    assert q.check(len).status == "invalid" and "not a Forecaster" in q.check(len).message
    assert q.check(Stub).status == "unanswered"


def test_lesson_03b():
    from kit.course.exercises import forecast_hubs

    q = forecast_hubs.interval_score()
    assert_solution_right_and_wrong_rejected(q, {}, [lambda lo, up, y, a: up - lo,
                                                     lambda lo, up, y, a: (up - lo) + 1 / a * max(lo - y, y - up, 0)])
    table = pd.DataFrame({"model": ["baseline", "ensemble", "flat", "baseline", "ensemble", "flat"],
                          "target": ["inc case"] * 3 + ["inc death"] * 3,
                          "relative_wis": [1.0, 0.9, 0.7, 1.0, 0.6, 0.8],
                          "coverage_50": [0.3, 0.5, 0.4, 0.3, 0.55, 0.6], "coverage_95": [0.8, 0.9, 0.85, 0.7, 0.93, 0.9]})
    backtest = type("Backtest", (), {"scores": type("Scores", (), {"table": table})()})()
    q = forecast_hubs.best_on_deaths(table)
    assert_solution_right_and_wrong_rejected(q, {"backtest": backtest}, ["flat", "baseline"])
    assert "best on cases, not on deaths" in q.check("flat").message
    q = forecast_hubs.ensemble_coverage(table)
    assert_solution_right_and_wrong_rejected(q, {"backtest": backtest}, [93.0, 0.55, 0.95])
    assert q.check(93.0).message == "that is in percent; give the share (0 to 1)"


def test_lesson_04():
    from kit.course.exercises import transfer_learning
    from kit.vision.masks.evaluation import Evaluation

    evaluation = Evaluation.__new__(Evaluation)
    evaluation.classes = ("with_mask", "without_mask", "mask_weared_incorrect")
    evaluation.y_true = np.array([0, 0, 1, 1, 2, 2, 0, 1])
    evaluation.y_pred = np.array([0, 1, 1, 1, 0, 2, 0, 0])
    best = type("Best", (), {"test": evaluation})()
    q = transfer_learning.wrong_faces(evaluation)
    assert_solution_right_and_wrong_rejected(q, {"best": best}, [5, 0.375, 2])
    assert q.check(5).message == "that is the number it got right"
    leakage = pd.DataFrame({"split": ["random (leaky)", "grouped by subject"], "test_accuracy": [0.99, 0.9]})
    q = transfer_learning.leakage_reason(leakage)
    assert_solution_right_and_wrong_rejected(q, {}, ["more data", "chance"])
    assert "99.0%" in q.check("same people").message
    q = transfer_learning.grouped_split()

    def leaky(groups, share, seed):
        order = np.random.default_rng(seed).permutation(len(groups))
        cut = round(share * len(groups))
        return order[cut:], order[:cut]

    def unseeded(groups, share, seed):
        names = np.unique(groups)
        np.random.default_rng().shuffle(names)
        test = np.isin(groups, names[:max(1, round(share * len(names)))])
        return np.flatnonzero(~test), np.flatnonzero(test)

    assert_solution_right_and_wrong_rejected(q, {}, [leaky, unseeded, lambda g, s, r: (np.arange(len(g)), [])])
    assert "that leaks" in q.check(leaky).message or "exactly once" in q.check(leaky).message


def test_lesson_05():
    from kit.course.exercises import realtime_detection

    report = type("Report", (), {"people_stats": {"people": 3}, "faces": 140, "ms_per_frame": {"p50": 36.9},
                                 "per_frame": [{"detections": [1, 2]}, {"detections": [1, 2, 3, 4]}]})()
    q = realtime_detection.people(report)
    assert_solution_right_and_wrong_rejected(q, {"every_frame": report}, [140, 4, 2])
    assert "faces found in every frame" in q.check(140).message
    q = realtime_detection.frames_per_second(report)
    assert_solution_right_and_wrong_rejected(q, {"every_frame": report}, [36.9, 1 / 36.9, 20])
    assert q.check(36.9).message == "that is milliseconds per frame, not frames per second"
    comparison = pd.DataFrame({"detector": ["centerface", "ssd", "mtcnn", "yunet"],
                               "annotated faces found": ["9 of 10", "3 of 10", "9 of 10", None],
                               "status": ["ok", "ok", "ok", "yunet needs opencv-contrib"]})
    q = realtime_detection.crowd_detector(comparison)
    assert_solution_right_and_wrong_rejected(q, {"comparison": comparison}, ["ssd", "yunet"])
    assert q.check("mtcnn").status == "right"  # a tie: both are right


# ---- the layer itself ----

def test_every_lesson_has_three_exercises_and_makes_each_of_them():
    table = exercises.catalog()
    assert set(table["lesson"]) == set(exercises.LESSONS)
    assert table.groupby("lesson").size().min() >= 3 and table["key"].is_unique
    for lesson in exercises.LESSONS:
        text = (REPO / "lessons" / f"{lesson}.ipynb").read_text(encoding="utf-8")
        assert f'exercises.begin(\\"{lesson}\\", solve=solve)' in text
        assert "solve = False" in text, f"{lesson}: no solve parameter"
        for key in table[table["lesson"] == lesson]["key"]:
            assert f"ex.{key.split('.', 1)[1]}(" in text, f"{lesson}: exercise {key} is never made"


def test_answers_of_the_wrong_kind_get_a_clear_message():
    q = core.NumberExercise("00.t", "t", "x", "x = 2", expected=2.0)
    assert q.check(...).status == "unanswered" and "`...` of `x`" in q.check(...).message
    for bad, words in [("2", "is text"), (True, "truth value"), (pd.Series([1, 2]), "single number"),
                       (float("nan"), "not a finite number"), (object(), "not a number"),
                       (pd.Timestamp("2020-01-01"), "date or duration")]:
        feedback = q.check(bad)
        assert feedback.status == "invalid" and words in feedback.message, (bad, feedback)
    assert q.check(np.float32(2.0)).status == "right" and q.check(None).status == "wrong"

    def boom(x):
        raise ZeroDivisionError("division by zero")

    f = core.FunctionExercise("00.f", "f", "f", "def f(x): return x", reference=lambda x: x, cases=[("one", (1,))])
    feedback = f.check(boom)
    assert feedback.status == "raised" and "on one your function raised ZeroDivisionError: division by zero" in \
        feedback.message
    assert "Traceback" not in repr(feedback) and "ZeroDivisionError" in feedback._repr_html_()

    def stub(x):
        ...

    assert f.check(stub).status == "unanswered"


def test_hints_come_one_by_one_and_solutions_can_be_hidden(monkeypatch):
    q = core.NumberExercise("00.t", "t", "x", "x = 2", expected=2.0, hints=["first", "second"])
    first = repr(q.hint())
    assert "Hint 1 of 2" in first and "second" not in first
    both = repr(q.hint())
    assert "first" in both and "second" in both
    assert "second" in repr(q.hint())  # stays at all of them
    assert "x = 2" in q.solution()._repr_markdown_()
    monkeypatch.setenv("KIT_SOLUTIONS", "hidden")
    assert "x = 2" not in repr(q.solution()) and "hidden" in repr(q.solution())


def test_progress_is_kept_counted_and_survives_a_broken_file(own_progress):
    q = core.NumberExercise("01.doubling_time", "t", "x", "x = 2", expected=2.0)
    q.check(5)
    q.check(...)  # not an attempt
    q.check(2)
    q.check(7)  # a later wrong answer does not undo "done"
    entry = json.loads(own_progress.read_text())["exercises"]["01.doubling_time"]
    assert entry["attempts"] == 3 and entry["first_passed"] and entry["status"] == "wrong" and entry["value"] == 7
    q.check("seven")  # an answer of the wrong kind leaves no number behind for the grader to re-check
    assert "value" not in json.loads(own_progress.read_text())["exercises"]["01.doubling_time"]
    assert entry["lesson"] == "01_covid_eda"
    table = exercises.progress_table()
    assert int(table["done"].sum()) == 1 and len(table) >= 21
    own_progress.write_text("{ not json")
    assert exercises.progress_table()["done"].sum() == 0
    assert (own_progress.parent / "progress.json.unreadable").exists()


def test_an_unwritable_progress_file_leaves_checks_working(monkeypatch, tmp_path, capsys):
    blocked = tmp_path / "file"
    blocked.write_text("x")
    monkeypatch.setenv("KIT_EXERCISE_PROGRESS", str(blocked / "progress.json"))  # a folder that is a file
    q = core.NumberExercise("00.t", "t", "x", "x = 2", expected=2.0)
    assert q.check(2).status == "right"
    assert "could not be saved" in capsys.readouterr().err


def test_solve_mode_fills_unanswered_exercises_from_the_notebook_namespace(own_progress):
    q = core.NumberExercise("00.t", "t", "x", "x = y * 2", expected=4.0)
    core.MODE.solve = True
    y = 2  # noqa: F841 - read by the solution through the caller's globals
    namespace = {"y": 2, "q": q}
    exec("feedback = q.check(...)", namespace)  # noqa: S102
    assert namespace["feedback"].status == "right" and namespace["x"] == 4
    assert "filled in by the solution" in namespace["feedback"].message
    assert not own_progress.exists()  # the solution's work is not the student's progress
    exec("feedback = q.check(3)", namespace)  # noqa: S102 - an answer given is judged, solve mode or not
    assert namespace["feedback"].status == "wrong"


def test_progress_widget_counts_what_is_done(own_progress):
    from widgets.exercise_progress import ExerciseProgress

    widget = ExerciseProgress()
    total = len(exercises.catalog())
    assert widget.label.value.endswith(f"0 of {total} exercises done</b>")
    core.NumberExercise("02.first_day_over", "t", "x", "x = 2", expected=2.0).check(2)
    widget.refresh_button.click()
    assert f"1 of {total} exercises done" in widget.label.value and widget.bar.value == 1
    assert "1 of 3" in widget.static_html()


def test_feedback_shows_an_answer_as_text_never_as_markup():
    q = core.ChoiceExercise("00.c", "c", "x", 'x = "a"', options={"a": "right", "b": "wrong"}, right="a")
    shown = q.check("<img src=x onerror=alert(1)>")._repr_html_()
    assert "<img" not in shown and "&lt;img" in shown and "<code>" not in shown.split("—", 1)[0]
