"""Frames in, statistics out: images, folders, videos and cameras through the pipeline.

:func:`run_detection` reads any input, processes every frame, optionally writes the
annotated image, folder or video, and returns a :class:`DetectionReport` with the counts
per label, the mask-compliance share over time, FPS and latency percentiles.

Bad input never ends in a bare traceback: an unreadable image in a folder is skipped
and named; a video that ends early, a corrupt container or a camera that disappears
stops the run with a warning that names the source and the frame, and the statistics of
the frames that were read are kept.
"""
from __future__ import annotations

import re
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from kit.data.images import IMAGE_SUFFIXES, read_bgr
from kit.errors import ImageReadError, InputError, MissingInputError, ParameterError
from kit.limits import check_pixels
from kit.mpl import plain
from kit.progress import show_progress

from ..masks.labels import COLOURS_HEX, is_compliant

VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".mjpeg", ".mjpg", ".y4m"})
WRITABLE_VIDEO = {".mp4": "mp4v", ".avi": "MJPG"}
WRITABLE_IMAGE = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})


def _natural_key(path: Path):
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", path.name)]


def is_stream(source) -> bool:
    """True for a video file or a camera (frames that follow each other in time)."""
    text = str(source)
    return text.startswith("camera:") or Path(text).suffix.lower() in VIDEO_SUFFIXES


MAX_CAMERA_INDEX = 63  # OpenCV crashes (SIGSEGV) on negative indices; no machine has more cameras


def camera_index(text: str) -> int:
    """The N of ``camera:N``, checked before OpenCV sees it: a whole number from 0 to
    :data:`MAX_CAMERA_INDEX` (``camera:-1`` makes OpenCV crash the process)."""
    value = text.split(":", 1)[1].strip()
    if not value.isdigit() or len(value) > 3 or int(value) > MAX_CAMERA_INDEX:
        raise InputError(f"{text}: a camera is camera:N with N a whole number from 0 to {MAX_CAMERA_INDEX} "
                         f"(camera:0 is the first)")
    return int(value)


def check_source(source) -> None:
    """Refuse a source that cannot be read as frames, before models are loaded: a camera
    name out of range, a missing path, or something that is not a regular file or folder
    (``/dev/zero`` would be read for ever)."""
    text = str(source)
    if text.startswith("camera:"):
        camera_index(text)
        return
    path = Path(text)
    if not path.exists():
        raise MissingInputError(f"{path}: no such file or folder")
    if not (path.is_file() or path.is_dir()):
        raise InputError(f"{path}: not a regular file or folder (a device or a pipe cannot be read as frames)")


def iter_frames(source: str | Path, max_frames: int | None = None):
    """Yield ``(name, frame_bgr)`` from an image, a folder of images (in name order), a video
    file or ``camera:N``.

    Images are decoded with their size checked first (``KIT_MAX_PIXELS``) and truncated
    files refused; unreadable images in a folder are skipped with a warning naming them.
    """
    text = str(source)
    if text.startswith("camera:"):
        import cv2

        index = camera_index(text)
        cap = cv2.VideoCapture(index)
        if not cap.isOpened():
            raise InputError(f"{text}: no camera at index {index} on this machine")
        yield from _iter_capture(cap, text, max_frames, live=True)
        return
    check_source(source)
    path = Path(source)
    if path.is_dir():
        files = sorted((p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()),
                       key=_natural_key)
        if not files:
            raise InputError(f"{path}: no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in this folder")
        count = 0
        for p in files:
            try:
                frame = read_bgr(p)
            except ImageReadError as exc:
                warnings.warn(f"{p.name}: not a readable image, skipped ({exc})", UserWarning, stacklevel=2)
                continue
            yield p.name, frame
            count += 1
            if max_frames and count >= max_frames:
                return
        if count == 0:
            raise InputError(f"{path}: none of its {len(files)} image(s) could be read")
        return
    if path.suffix.lower() in IMAGE_SUFFIXES:
        try:
            yield path.name, read_bgr(path)
        except ImageReadError as exc:
            raise InputError(f"{path.name}: not a readable image ({exc})") from None
        return
    import cv2

    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise InputError(f"{path.name}: OpenCV cannot open it as a video (corrupt, or not a video format)")
    yield from _iter_capture(cap, path.name, max_frames, live=False)


def _iter_capture(cap, name: str, max_frames, live: bool):
    import cv2

    index = 0
    width, height = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    expected = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0) if not live else 0
    try:
        if width and height:
            check_pixels(width, height, f"{name} (its frame size)")
        while True:
            ok, frame = cap.read()
            if not ok or frame is None:
                break
            check_pixels(frame.shape[1], frame.shape[0], f"{name}#{index}")
            yield f"{name}#{index}", frame
            index += 1
            if max_frames and index >= max_frames:
                return
    except ImageReadError as exc:
        raise InputError(str(exc)) from None
    finally:
        cap.release()
    if index == 0:
        raise InputError(f"{name}: no frame could be read (an empty, corrupt or unsupported video)")
    if live:
        warnings.warn(f"{name}: the camera stopped sending frames after frame {index - 1}; "
                      f"statistics cover the {index} frame(s) read", UserWarning, stacklevel=2)
    elif expected and index < expected - 1:
        warnings.warn(f"{name}: reading stopped at frame {index} of {expected} (the file may be truncated or "
                      f"corrupt); statistics cover the {index} frame(s) read", UserWarning, stacklevel=2)


@dataclass
class DetectionReport:
    """Everything a run saw. ``per_frame`` follows the CLI's JSON contract."""

    frames: int
    faces: int
    by_label: dict
    compliance: float | None
    fps: float
    ms_per_frame: dict
    per_frame: list
    timings: pd.DataFrame = field(repr=False)
    timeline: pd.DataFrame = field(repr=False)
    people: list | None = None
    people_stats: dict | None = None

    def to_json(self) -> dict:
        out = {"frames": self.frames, "faces": self.faces, "by_label": self.by_label,
               "compliance": self.compliance, "fps": round(self.fps, 2), "ms_per_frame": self.ms_per_frame,
               "per_frame": self.per_frame}
        if self.people is not None:
            out["people"] = self.people
            out["people_stats"] = self.people_stats
        return out

    def plot(self, ax=None, window: int = 15):
        """Faces per label and the mask-compliance share over the frames."""
        import matplotlib.pyplot as plt

        ax = ax or plt.subplots(figsize=(9, 3.5))[1]
        t = self.timeline
        for label, colour in COLOURS_HEX.items():
            if label in t and t[label].any():
                ax.plot(t.index, t[label], color=colour, lw=1, alpha=0.8, label=label)
        if self.people is not None and "people" in t:
            ax.plot(t.index, t["people"], color="0.35", lw=1, ls="--", label="people in view")
        ax.set_xlabel("frame")
        ax.set_ylabel("faces" if self.people is None else "faces / people")
        twin = ax.twinx()
        if "compliance" in t:
            twin.plot(t.index, t["compliance"].rolling(window, min_periods=1).mean() * 100, color="black", lw=2,
                      label=f"compliance % ({window}-frame mean)")
        twin.set_ylim(0, 105)
        twin.set_ylabel("mask compliance %")
        ax.legend(loc="upper left", frameon=False, fontsize=8)
        twin.legend(loc="upper right", frameon=False, fontsize=8)
        title = f"{self.frames} frames, {self.faces} faces"
        if self.people_stats:
            title += (f", {self.people_stats['people']} people ({self.people_stats['compliant_people']} compliant, "
                      f"{self.people_stats['incorrect_masks']} incorrect)")
        ax.set_title(f"{title}, {self.fps:.1f} frames/s")
        return ax


def percentiles(ms) -> dict:
    ms = np.asarray(ms, float)
    return {"p50": round(float(np.percentile(ms, 50)), 2), "p95": round(float(np.percentile(ms, 95)), 2)} \
        if len(ms) else {"p50": None, "p95": None}


def summarise(names: list, results: list, wall_seconds: float, labels) -> DetectionReport:
    """Counts, compliance (a mask worn incorrectly is not compliant), FPS and latency of a
    list of :class:`~kit.vision.live.pipeline.FrameResult`."""
    per_frame, rows = [], []
    by_label = {label: 0 for label in labels}
    for name, result in zip(names, results):
        per_frame.append({"source": name, "detections": [f.to_json() for f in result.faces]})
        counts = {label: sum(f.label == label for f in result.faces) for label in labels}
        for label, n in counts.items():
            by_label[label] += n
        total = sum(counts.values())
        compliant = sum(n for label, n in counts.items() if is_compliant(label))
        tracked = {f.track for f in result.faces if f.track is not None}
        rows.append({**counts, "faces": total, "compliance": compliant / total if total else np.nan,
                     "people": len(tracked), **result.timings, "detected": result.detected})
    faces = sum(by_label.values())
    compliant = sum(n for label, n in by_label.items() if is_compliant(label))
    frame = pd.DataFrame(rows)
    total_ms = frame["total_ms"] if len(frame) and "total_ms" in frame else pd.Series(dtype=float)
    return DetectionReport(
        frames=len(results), faces=faces, by_label=by_label,
        compliance=round(compliant / faces, 4) if faces else None,
        fps=len(results) / wall_seconds if wall_seconds > 0 else 0.0,
        ms_per_frame=percentiles(total_ms), per_frame=per_frame,
        timings=frame[[c for c in frame.columns if c.endswith("_ms")]] if len(frame) else frame,
        timeline=frame,
    )


def check_output(out: str | Path | None, source) -> Path | None:
    """Refuse an output path the run could not write, before any frame is processed.

    An image input writes an image (``.jpg``, ``.png``, ...); other inputs write a video
    (``.mp4``, ``.avi``), an image per frame into a folder (no suffix), or a single image
    only for a single frame.
    """
    if out is None:
        return None
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix and suffix not in WRITABLE_IMAGE and suffix not in WRITABLE_VIDEO:
        raise ParameterError(f"--out {out}: cannot write {suffix!r} files; use an image "
                             f"({', '.join(sorted(WRITABLE_IMAGE))}), a video ({', '.join(WRITABLE_VIDEO)}) or a folder")
    single = Path(str(source)).suffix.lower() in IMAGE_SUFFIXES
    if single and suffix in WRITABLE_VIDEO:
        raise ParameterError(f"--out {out}: the input is one image; write an image (.jpg, .png)")
    parent = out if suffix == "" else out.parent
    probe = parent
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    import os

    if not os.access(probe, os.W_OK):
        raise ParameterError(f"--out {out}: {probe} is not writable")
    return out


class _Writer:
    """Writes annotated frames to an image, a folder or a video, and says if it could not."""

    def __init__(self, out: Path, single: bool):
        self.out, self.single, self.video, self.size, self.written = out, single, None, None, 0

    def write(self, name: str, index: int, drawn: np.ndarray) -> None:
        import cv2

        suffix = self.out.suffix.lower()
        if suffix in WRITABLE_IMAGE or self.single:
            self.out.parent.mkdir(parents=True, exist_ok=True)
            self._imwrite(self.out, drawn)
        elif suffix == "":
            self.out.mkdir(parents=True, exist_ok=True)
            self._imwrite(self.out / f"{Path(name.split('#')[0]).stem}_{index:05d}.jpg", drawn)
        else:
            if self.video is None:
                self.out.parent.mkdir(parents=True, exist_ok=True)
                self.size = (drawn.shape[1] // 2 * 2, drawn.shape[0] // 2 * 2)
                fourcc = cv2.VideoWriter_fourcc(*WRITABLE_VIDEO[suffix])
                self.video = cv2.VideoWriter(str(self.out), fourcc, 15.0, self.size)
                if not self.video.isOpened():
                    raise InputError(f"{self.out}: OpenCV cannot write this video (codec or path)")
            if (drawn.shape[1], drawn.shape[0]) != self.size:  # frames of a folder may differ in size
                drawn = cv2.resize(drawn, self.size)
            self.video.write(drawn)
        self.written += 1

    def _imwrite(self, path: Path, image) -> None:
        import cv2

        from kit.files import atomic_path

        with atomic_path(path) as tmp:
            ok, data = cv2.imencode(path.suffix or ".jpg", image)
            if not ok:
                raise InputError(f"{path}: OpenCV could not encode the annotated image")
            tmp.write_bytes(data.tobytes())

    def close(self) -> None:
        if self.video is not None:
            self.video.release()


def run_detection(source, pipeline, out: str | Path | None = None, max_frames: int | None = None,
                  progress: bool = True) -> DetectionReport:
    """Process every frame of ``source`` with ``pipeline`` (a :class:`~kit.vision.live.pipeline.MaskDetector`).

    Parameters
    ----------
    out : path, optional
        Annotated output: an image for a single image input, else a video (``.mp4``/``.avi``)
        or a folder (annotated images). Checked before the first frame.
    """
    from tqdm.auto import tqdm

    from .pipeline import annotate

    out_path = check_output(out, source)
    pipeline.reset()
    names, results = [], []
    single = Path(str(source)).suffix.lower() in IMAGE_SUFFIXES
    writer = _Writer(out_path, single) if out_path else None
    start = time.perf_counter()
    try:
        for name, frame in tqdm(iter_frames(source, max_frames), desc="frames", unit="frame",
                                disable=not show_progress(progress), total=max_frames):
            result = pipeline.process(frame)
            names.append(name)
            results.append(result)
            if writer is not None:
                writer.write(name, len(results), annotate(frame, result))
    finally:
        if writer is not None:
            writer.close()
    wall = time.perf_counter() - start
    report = summarise(names, results, wall, pipeline.classes)
    tracker = getattr(pipeline, "tracker", None)
    if tracker is not None:
        from .tracking import people_statistics

        report.people = tracker.people_table()
        report.people_stats = people_statistics(report.people, report.frames)
    return report


def compare_detectors(frame, names=("centerface", "centerface_wider", "ssd", "haar", "mtcnn"), classifier="default", truth=None):
    """Every detector on one frame: a table (faces, detect and classify ms, and with ``truth``
    boxes the faces found) and the annotated frames.

    Returns
    -------
    (DataFrame, dict of name -> annotated BGR frame)
    """
    from kit.errors import MissingDependency

    from ..faces.boxes import match_boxes
    from ..masks.classifier import MaskClassifier
    from .pipeline import MaskDetector, annotate

    shared = MaskClassifier(classifier) if isinstance(classifier, str) else classifier
    rows, pictures = [], {}
    for name in names:
        try:
            pipeline = MaskDetector(name, shared)
            result = pipeline.process(frame)
        except MissingDependency as exc:
            rows.append({"detector": name, "faces": None, "status": str(exc)})
            continue
        row = {"detector": name, "faces": len(result.faces)}
        if truth is not None:
            matched = match_boxes(truth, [f.box for f in result.faces])
            row["annotated faces found"] = f"{len(matched)} of {len(truth)}"
        row.update({"labels": ", ".join(f"{n} {lab}" for lab, n in
                                        pd.Series([f.label for f in result.faces]).value_counts().items()),
                    "detect ms": round(result.timings["detect_ms"], 1),
                    "classify ms": round(result.timings["classify_ms"], 1),
                    "how it looked": _how_it_looked(pipeline.detector, frame.shape), "status": "ok"})
        rows.append(row)
        pictures[name] = annotate(frame, result)
    return pd.DataFrame(rows), pictures


def _how_it_looked(detector, shape) -> str:
    """What a detector did with the picture, in words: why one takes 2 s and another 80 ms."""
    passes = getattr(detector, "passes_", None)
    h, w = shape[:2]
    if not passes:
        return "one look at the picture as it is (or shrunk)"
    first = f"the picture ×{passes[0]:.1f} ({w * passes[0]:,.0f}×{h * passes[0]:,.0f} px) so that faces of " \
            f"{getattr(detector, 'min_face', 0):.0f} px become ones it can see" if passes[0] > 1.05 else \
        "one look at the picture"
    if len(passes) > 1:
        first += f", then a closer second look ×{passes[1]:.1f} at a crowd of tiny faces"
    return first


def timing_breakdown(reports: dict) -> pd.DataFrame:
    """Mean milliseconds per step and frames per second of several runs, one column each."""
    table = pd.DataFrame({name: r.timings.mean() for name, r in reports.items()}).round(1)
    table.index = [str(step).removesuffix("_ms") for step in table.index]
    table.loc["frames per second"] = [round(r.fps, 1) for r in reports.values()]
    table.index.name = "step (mean ms)"
    return table


def show_frames(pictures: dict, width: float = 6.5, columns: int = 2):
    """Annotated frames in a grid of ``columns``, each ``width`` inches wide: large enough to
    read the boxes and labels (matplotlib)."""
    import math

    import matplotlib.pyplot as plt

    items = list(pictures.items())
    rows = max(1, math.ceil(len(items) / columns))
    first = items[0][1] if items else np.zeros((3, 4, 3))
    aspect = first.shape[0] / max(first.shape[1], 1)
    fig, axes = plt.subplots(rows, columns, figsize=(width * columns, width * aspect * rows + 0.4 * rows),
                             squeeze=False, constrained_layout=True)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, (name, picture) in zip(axes.ravel(), items):
        ax.imshow(picture[:, :, ::-1])
        ax.set_title(plain(name))
    return fig
