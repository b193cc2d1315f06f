"""Faces followed from frame to frame: one id per person, one label per person.

Detections are associated with tracks by box overlap (IoU) with a constant-velocity
Kalman filter per track, using norfair (tryolabs' detector-agnostic SORT-style tracker).
The original ``norfair`` release pins NumPy < 2, so the kit depends on
``norfair-enough``, its maintained fork (pure Python, BSD-3, installs as ``norfair``).

A person hidden behind another for a while (two people crossing) is found again: a new
track that starts where a recently lost person should be by now (their recent velocity),
at a similar size, continues that person (:data:`REID_FRAMES`, :data:`REID_DISTANCE`). The
overlap alone cannot do it: while a face is being covered its box shrinks from one side,
the Kalman filter learns that edge's motion, and the predicted box collapses.

A person's label is smoothed over the track: the class probabilities of its faces are
averaged with exponential weights, and the shown label changes only when another class
leads clearly (hysteresis), so a face does not flicker between Mask and No Mask. At the
end a person gets the class with the largest summed probability and the share of its
frames that agreed (``label_share``).

:class:`StreamPipeline` is the stream mode of a video or camera: detector and classifier
run on every ``detect_every``-th frame, and the faces are carried by the tracker in
between. It is a separate, named mode: the every-frame figures never include it.
"""
from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from kit.errors import MissingDependency, ParameterError

from ..masks.labels import INCORRECT, is_compliant
from .pipeline import Face, FrameResult


@dataclass
class Person:
    """One tracked person: when they were seen and what their faces were labelled."""

    id: int
    first_frame: int
    last_frame: int
    classes: tuple
    prob_sum: np.ndarray
    frames: int = 0
    frame_labels: dict = field(default_factory=dict)

    @property
    def label(self) -> str:
        return self.classes[int(np.argmax(self.prob_sum))]

    @property
    def label_share(self) -> float:
        return self.frame_labels.get(self.label, 0) / self.frames if self.frames else 0.0

    def to_json(self) -> dict:
        return {"id": self.id, "first_frame": self.first_frame, "last_frame": self.last_frame,
                "label": self.label, "label_share": round(self.label_share, 4), "frames": self.frames}


REID_FRAMES = 30      # a lost person can be found again this many frames later
REID_DISTANCE = 1.0   # ... within this many face sizes of where their motion puts them
REID_HISTORY = 15     # observations their recent velocity is measured over


def _centre_and_size(box) -> tuple[float, float, float]:
    """A face box's centre (x, y) and size (the square root of its area)."""
    x1, y1, x2, y2 = box
    return (x1 + x2) / 2, (y1 + y2) / 2, float(np.sqrt(max(1, (x2 - x1) * (y2 - y1))))


def _box_distances(faces: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """1 - IoU of faces (rows) and tracks' predicted boxes (columns), both ``(n, 4)``. A
    prediction whose corners crossed (a face that shrank while being covered) matches
    nothing; norfair's own IoU would log a warning for it on every frame."""
    from ..faces.boxes import iou_matrix

    predicted = np.asarray(predicted, float)
    collapsed = (predicted[:, 2] <= predicted[:, 0]) | (predicted[:, 3] <= predicted[:, 1])
    distances = 1.0 - iou_matrix(np.asarray(faces, float), np.where(collapsed[:, None], 0.0, predicted))
    distances[:, collapsed] = 1.0
    return distances


def _norfair():
    try:
        import norfair
    except ImportError:
        raise MissingDependency("tracking needs norfair: pip install norfair-enough "
                                "(a dependency of the kit; reinstall with pip install -e .)") from None
    return norfair


class FaceTracker:
    """Give faces a stable id per person and a smoothed label.

    Parameters
    ----------
    classes : tuple of str
        The classifier's classes (the order of its probabilities).
    min_iou : float
        A face continues a track when its box overlaps the track's predicted box by at
        least this much.
    max_missing : int
        Frames a track survives without a matching face (a person turning away briefly).
    smoothing : float
        Weight of the newest face in the label average (0..1).
    hysteresis : float
        How far another class must lead the shown label's average before the label changes.
    """

    def __init__(self, classes, min_iou: float = 0.25, max_missing: int = 15, smoothing: float = 0.15,
                 hysteresis: float = 0.2):
        if not 0 < min_iou < 1 or not 0 < smoothing <= 1 or max_missing < 1:
            raise ParameterError("min_iou and smoothing must be in (0, 1], max_missing >= 1")
        norfair = _norfair()
        self.classes = tuple(classes)
        self.smoothing, self.hysteresis = float(smoothing), float(hysteresis)
        self._tracker = norfair.Tracker(distance_function="iou", distance_threshold=1.0 - min_iou,
                                        hit_counter_max=max_missing, initialization_delay=0)
        # norfair's constructor takes a vectorized distance only by name; ours replaces "iou".
        self._tracker.distance_function = norfair.distances.VectorizedDistance(_box_distances)
        self._person_of: dict[int, int] = {}      # norfair track id -> person id (re-identified tracks)
        self._track_of: dict[int, int] = {}       # person id -> the norfair track that follows them now
        self._recent: dict[int, deque] = {}       # person id -> recent (frame, centre x, centre y, size)
        self._Detection = norfair.Detection
        self.frame_index = -1
        self.people: dict[int, Person] = {}
        self._smoothed: dict[int, np.ndarray] = {}
        self._shown: dict[int, int] = {}

    def update(self, faces: list[Face], probs=None, detected: bool = True, period: int = 1) -> list[Face]:
        """Advance one frame.

        Parameters
        ----------
        faces : list of Face
            This frame's classified faces (ignored when ``detected`` is False).
        probs : array (n_faces, n_classes), optional
            Their class probabilities (default: one-hot of each face's label).
        detected : bool
            False for a frame the detector skipped: the tracks move by their velocity.
        period : int
            Frames since the last detected frame (the stream mode's ``detect_every``), so
            that skipped frames do not count as frames in which a person went unseen.

        Returns
        -------
        list of Face
            One face per live track, with its ``track`` id and smoothed label.
        """
        self.frame_index += 1
        if not detected:
            tracked = self._tracker.update(detections=None)
            return [self._face_of(obj, None) for obj in tracked if self._following(obj.id)]
        if probs is None:
            probs = np.zeros((len(faces), len(self.classes)), np.float32)
            for i, f in enumerate(faces):
                probs[i, self.classes.index(f.label)] = f.prob
        detections = [self._Detection(points=np.array([f.box[:2], f.box[2:]], float),
                                      scores=np.array([f.score, f.score]),
                                      data=(self.frame_index, f, np.asarray(p, float)))
                      for f, p in zip(faces, probs)]
        tracked = self._tracker.update(detections=detections, period=period)
        continued = [obj for obj in tracked if obj.last_detection is not None and obj.last_detection.data is not None
                     and obj.last_detection.data[0] == self.frame_index]
        # Tracks that go on first, so that a new track is never given a person seen in this frame.
        continued.sort(key=lambda obj: obj.id not in self._person_of)
        seen, out = set(), []
        for obj in continued:
            _, face, p = obj.last_detection.data
            if obj.id not in self._person_of:
                self._person_of[obj.id] = self._reidentify(face, seen)
            person = self._person_of[obj.id]
            if self._track_of.get(person, obj.id) != obj.id and person in seen:
                continue  # the old track of a re-identified person, briefly alive beside the new one
            self._track_of[person] = obj.id
            seen.add(person)
            self._observe(person, face, p)
            out.append(self._face_of(obj, face))
        return out

    def _following(self, track: int) -> bool:
        """Whether a norfair track is the one that follows its person now."""
        person = self._person_of.get(track)
        return person is not None and self._track_of.get(person) == track

    def _reidentify(self, face: Face, seen: set) -> int:
        """The person a new track continues: the recently lost person nearest to where their
        recent motion puts them now (within :data:`REID_DISTANCE` face sizes, a size within
        a factor 2), or a new person (the next id)."""
        cx, cy, size = _centre_and_size(face.box)
        centre = np.array([cx, cy])
        best, best_distance = None, REID_DISTANCE
        for person, recent in self._recent.items():
            last = recent[-1]
            gap = self.frame_index - last[0]
            if person in seen or not 1 <= gap <= REID_FRAMES or not 0.5 <= size / last[3] <= 2.0:
                continue
            first = recent[0]
            velocity = (np.array(last[1:3]) - first[1:3]) / max(1, last[0] - first[0])
            distance = float(np.linalg.norm(centre - (np.array(last[1:3]) + velocity * gap))) / last[3]
            if distance <= best_distance:
                best, best_distance = person, distance
        return best if best is not None else max(self.people, default=0) + 1

    def _observe(self, track: int, face: Face, p: np.ndarray) -> None:
        self._recent.setdefault(track, deque(maxlen=REID_HISTORY)).append((self.frame_index, *_centre_and_size(face.box)))
        if track not in self.people:
            self.people[track] = Person(track, self.frame_index, self.frame_index, self.classes,
                                        np.zeros(len(self.classes)))
            self._smoothed[track] = p.copy()
            self._shown[track] = int(np.argmax(p))
        person = self.people[track]
        person.last_frame = self.frame_index
        person.frames += 1
        person.prob_sum += p
        person.frame_labels[face.label] = person.frame_labels.get(face.label, 0) + 1
        avg = self._smoothed[track] = (1 - self.smoothing) * self._smoothed[track] + self.smoothing * p
        best = int(np.argmax(avg))
        if best != self._shown[track] and avg[best] - avg[self._shown[track]] > self.hysteresis:
            self._shown[track] = best

    def _face_of(self, obj, face: Face | None) -> Face:
        person = self._person_of[obj.id]
        shown = self._shown[person]
        box = tuple(int(round(v)) for v in np.asarray(obj.estimate, float).ravel()) if face is None else face.box
        score = face.score if face is not None else float(obj.last_detection.data[1].score)
        return Face(box, self.classes[shown], float(self._smoothed[person][shown]), score, track=person)

    def people_table(self, min_frames: int = 1) -> list[dict]:
        """Every person seen in at least ``min_frames`` frames, as the JSON contract's dicts."""
        return [p.to_json() for p in sorted(self.people.values(), key=lambda p: p.id) if p.frames >= min_frames]


def people_statistics(people: list[dict], frames: int) -> dict:
    """People seen, how many of them complied (a mask worn incorrectly does not), and how
    many wore the mask incorrectly."""
    labels = [p["label"] for p in people]
    compliant = sum(is_compliant(label) for label in labels)
    by_label = {}
    for label in labels:
        by_label[label] = by_label.get(label, 0) + 1
    return {"people": len(people), "people_by_label": by_label,
            "compliant_people": compliant, "people_compliance": round(compliant / len(people), 4) if people else None,
            "incorrect_masks": by_label.get(INCORRECT, 0), "frames": frames}


class StreamPipeline:
    """Stream mode: detect and classify every ``detect_every``-th frame, track in between.

    Parameters
    ----------
    pipeline : MaskDetector
    detect_every : int
        1 tracks every detected frame (labels smoothed, nothing carried over).
    """

    def __init__(self, pipeline, detect_every: int = 2, **tracker_options):
        if int(detect_every) < 1:
            raise ParameterError(f"detect_every must be >= 1, got {detect_every!r}")
        self.pipeline = pipeline
        self.detect_every = int(detect_every)
        self.tracker_options = tracker_options
        self.reset()

    def reset(self) -> None:
        self.tracker = FaceTracker(self.pipeline.classes, **self.tracker_options)
        self._count = 0

    @property
    def classes(self) -> tuple:
        return self.pipeline.classes

    def describe(self) -> str:
        every = "every frame" if self.detect_every == 1 else f"every {self.detect_every} frames"
        return f"detect and classify {every}, faces tracked in between (IoU + Kalman, norfair)"

    def process(self, frame) -> FrameResult:
        t0 = time.perf_counter()
        fresh = self._count % self.detect_every == 0
        self._count += 1
        if not fresh:
            faces = self.tracker.update([], detected=False)
            return FrameResult(faces, {"detect_ms": 0.0, "crop_ms": 0.0, "classify_ms": 0.0,
                                       "track_ms": (time.perf_counter() - t0) * 1000,
                                       "total_ms": (time.perf_counter() - t0) * 1000}, detected=False)
        result = self.pipeline.process(frame)
        t1 = time.perf_counter()
        faces = self.tracker.update(result.faces, period=self.detect_every)
        timings = dict(result.timings)
        timings["track_ms"] = (time.perf_counter() - t1) * 1000
        timings["total_ms"] = (time.perf_counter() - t0) * 1000
        return FrameResult(faces, timings, detected=True)
