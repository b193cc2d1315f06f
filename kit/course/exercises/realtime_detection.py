"""Exercises of lesson 05: people in a video, frames per second, which detector to trust on a crowd."""
from __future__ import annotations

import math

from .core import ChoiceExercise, NumberExercise, exercise_key

LESSON = "05_realtime_detection"
EXERCISES = {
    "people": "How many people passed in the video?",
    "frames_per_second": "From milliseconds per frame to frames per second",
    "crowd_detector": "Which detector found the most faces in the crowd?",
}


def people(report) -> NumberExercise:
    """The number of different people the tracker saw in the every-frame run."""
    expected = report.people_stats["people"] if report.people_stats else None
    most_in_one_frame = max((len(f["detections"]) for f in report.per_frame), default=0)
    return NumberExercise(
        exercise_key(LESSON, "people"), "Different people seen in the video", "people_seen",
        solution='people_seen = every_frame.people_stats["people"]',
        expected=expected, unit="people", rel_tol=0, abs_tol=0,
        mistakes=[(lambda v, e: v == report.faces, "that counts the faces found in every frame (one person is found "
                                                   "in many frames); count people, the tracker's ids"),
                  (lambda v, e: v == most_in_one_frame and most_in_one_frame != e,
                   "that is the most faces in a single frame; people came and went")],
        hints=["The tracker gives each person an id: the table under the plot has one row per person.",
               "`every_frame.people` is that list; `every_frame.people_stats` sums it up."],
        explanation="Counting detections counts a person once per frame; a compliance display must count people.")


def frames_per_second(report) -> NumberExercise:
    """Frames per second at the median time per frame."""
    p50 = float(report.ms_per_frame["p50"])
    return NumberExercise(
        exercise_key(LESSON, "frames_per_second"),
        f"At its median of {p50:.1f} ms per frame, how many frames per second does the pipeline manage?",
        "frames_per_second",
        solution='frames_per_second = 1000 / every_frame.ms_per_frame["p50"]',
        expected=1000.0 / p50, unit="frames/s", rel_tol=0.02, reproducible=False,
        mistakes=[(lambda v, e: math.isclose(v, p50, rel_tol=0.02), "that is milliseconds per frame, not frames per second"),
                  (lambda v, e: math.isclose(v, 1 / p50, rel_tol=0.02),
                   "that is frames per millisecond; a second has 1000 of them")],
        hints=["`every_frame.ms_per_frame[\"p50\"]` is the median time one frame takes, in milliseconds.",
               "A second is 1000 ms: frames per second = 1000 / milliseconds per frame."],
        explanation="A camera delivers 30 frames per second: a pipeline slower than 33 ms per frame drops frames "
                    "or falls behind.")


def crowd_detector(comparison) -> ChoiceExercise:
    """The detector that found the most annotated faces on the crowd picture."""
    found = {}
    for row in comparison.to_dict("records"):
        text = row.get("annotated faces found")
        if row.get("status") == "ok" and isinstance(text, str) and " of " in text:
            found[str(row["detector"])] = int(text.split(" of ")[0])
    best = max(found.values())
    options = {name: f"found {n} of the annotated faces" + (" — the most" if n == best else "")
               for name, n in found.items()}
    winners = [name for name, n in found.items() if n == best]
    return ChoiceExercise(
        exercise_key(LESSON, "crowd_detector"), "The detector that found the most annotated faces in the crowd",
        "crowd_detector",
        solution='''
ok = comparison[comparison["status"] == "ok"]
found = ok["annotated faces found"].str.split(" of ").str[0].astype(int)
crowd_detector = ok.loc[found.idxmax(), "detector"]''',
        options=options, right=winners,
        hints=["The table under the pictures has a column *annotated faces found*, \"a of b\".",
               "Compare the first numbers; detectors that did not run (status) do not count."],
        explanation="Small faces decide a crowd: detectors built for faces in front of a webcam miss most of them.")
