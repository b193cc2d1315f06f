"""Exercises of lesson 04: leakage, reading the test result, a grouped split by hand."""
from __future__ import annotations

import numpy as np

from .core import ChoiceExercise, Exercise, NumberExercise, _error, describe, exercise_key

LESSON = "04_transfer_learning"
EXERCISES = {
    "leakage_reason": "Why does the random split look better?",
    "wrong_faces": "How many test faces did the best model get wrong?",
    "grouped_split": "grouped_split(groups, test_share, seed) by hand",
}


def leakage_reason(leakage=None) -> ChoiceExercise:
    """Why the random split's accuracy is higher than the grouped split's."""
    measured = ""
    if leakage is not None and len(leakage) == 2:
        acc = dict(zip(leakage["split"], leakage["test_accuracy"]))
        measured = " Here: " + ", ".join(f"{k} {v:.1%}" for k, v in acc.items()) + "."
    return ChoiceExercise(
        exercise_key(LESSON, "leakage_reason"), "Why the random split's test accuracy is higher", "leakage_reason",
        solution='leakage_reason = "same people"',
        options={
            "same people": "A random split puts pictures of the same subject or scene on both sides, so the "
                           "model is tested on faces it has already seen (leakage); the grouped split keeps every "
                           "subject on one side, as new visitors will be." + measured,
            "more data": "No: both splits train on the same share of the pictures (70 %); only which pictures go "
                         "where differs.",
            "different model": "No: the same backbone, settings and seed train both; only the split changes.",
            "chance": "No: the gap comes back with every seed, because the random split's test faces have twins "
                      "in training.",
        },
        right="same people",
        hints=["The observation set holds each subject twice: once with and once without a pasted mask.",
               "What does a random split do with two pictures of the same person?"],
        explanation="Whenever the same face, scene or patient can appear twice, split by group (scikit-learn's "
                    "GroupShuffleSplit; the kit's split does it by default).")


def wrong_faces(evaluation) -> NumberExercise:
    """How many test faces the best model classified wrongly."""
    y_true, y_pred = np.asarray(evaluation.y_true), np.asarray(evaluation.y_pred)
    wrong = int((y_true != y_pred).sum())
    return NumberExercise(
        exercise_key(LESSON, "wrong_faces"), "Test faces the best model got wrong", "wrong_faces",
        solution='''
import numpy as np
confusion = best.test.confusion()
wrong_faces = int(confusion.to_numpy().sum() - np.trace(confusion.to_numpy()))''',
        expected=wrong, unit="faces", rel_tol=0, abs_tol=0, reproducible=False,
        mistakes=[(lambda v, e: v == len(y_true) - e, "that is the number it got right"),
                  (lambda v, e: 0 < v < 1, "that is the error rate; count the faces")],
        hints=["`best.test.confusion()` is the confusion matrix: rows are the true classes, columns the predicted.",
               "The diagonal holds the faces classified rightly; everything off it is wrong."],
        explanation="With few test faces, a handful of errors moves the accuracy by whole percents: read the "
                    "counts, not only the rate.")


def _positions(part, n: int) -> np.ndarray:
    values = np.asarray(part)
    if values.ndim != 1 or (len(values) and not np.issubdtype(values.dtype, np.integer)):
        raise TypeError(f"expected positions (whole numbers), got {describe(part)}")
    if len(values) and (values.min() < 0 or values.max() >= n):
        raise TypeError(f"positions must lie between 0 and {n - 1}")
    return values


class GroupedSplitExercise(Exercise):
    """The answer splits positions so that no group is on both sides; judged by its properties."""

    kind = "function"
    CASES = (
        ("ten pictures of seven subjects, 30 % test", (["a", "a", "b", "c", "c", "c", "d", "e", "f", "g"], 0.3, 0)),
        ("twelve pictures of six numbered scenes, half test", (np.repeat([3, 1, 4, 5, 9, 2], 2), 0.5, 1)),
        ("two subjects, 50 % test", (["x", "y", "x", "y"], 0.5, 0)),
    )

    def _judge(self, answer):
        if not callable(answer):
            return "invalid", f"{describe(answer)} is not a function; define `def grouped_split(groups, test_share, seed):`"
        for label, (groups, share, seed) in self.CASES:
            groups = np.asarray(groups)
            try:
                first = answer(groups, share, seed)
                again = answer(groups, share, seed)
                train, test = (_positions(p, len(groups)) for p in first)
            except Exception as exc:  # noqa: BLE001 - the student's function
                return "raised", f"on {label} your function raised {_error(exc)} (it returns (train, test) positions)"
            n_groups = len(set(groups.tolist()))
            everything = np.sort(np.concatenate([train, test]))
            if not np.array_equal(everything, np.arange(len(groups))):
                return "wrong", f"on {label} not every picture is used exactly once (train and test together)"
            shared = set(groups[train].tolist()) & set(groups[test].tolist())
            if shared:
                return "wrong", f"on {label} group(s) {sorted(map(str, shared))} are in train and test: that leaks"
            wanted = share * n_groups
            if not len(test) or not len(train) or abs(len(set(groups[test].tolist())) - wanted) > 1:
                return "wrong", (f"on {label} the test part holds {len(set(groups[test].tolist()))} of {n_groups} "
                                 f"groups; {share:.0%} of the groups is about {wanted:.1f}")
            if not all(np.array_equal(np.sort(_positions(a, len(groups))), np.sort(_positions(b, len(groups))))
                       for a, b in zip(first, again)):
                return "wrong", f"on {label} two calls with the same seed gave different splits: seed your shuffle"
        return "right", f"no group on both sides, every picture once, seeded, on all {len(self.CASES)} inputs"


def grouped_split() -> GroupedSplitExercise:
    """Write grouped_split(groups, test_share, seed) -> (train positions, test positions)."""
    return GroupedSplitExercise(
        exercise_key(LESSON, "grouped_split"), "grouped_split(groups, test_share, seed)", "grouped_split",
        solution='''
import numpy as np
def grouped_split(groups, test_share, seed):
    groups = np.asarray(groups)
    names = np.unique(groups)
    np.random.default_rng(seed).shuffle(names)
    n_test = max(1, round(test_share * len(names)))
    in_test = np.isin(groups, names[:n_test])
    return np.flatnonzero(~in_test), np.flatnonzero(in_test)''',
        hints=["Split the *groups* (subjects, scenes), not the pictures: shuffle the distinct group names with a "
               "seeded generator (`np.random.default_rng(seed)`).",
               "Put the first `round(test_share * number of groups)` of them in test; a picture goes where its "
               "group went (`np.isin`). Return the positions: `np.flatnonzero(mask)`."],
        explanation="scikit-learn's GroupShuffleSplit does the same; the kit's split also stratifies by class.")
