"""Frames in, statistics out: images, folders, videos and cameras through the pipeline.

``run_detection`` reads any input, processes every frame, optionally writes the
annotated image or video, and returns a :class:`DetectionReport` with the counts per
label, the mask-compliance share over time, FPS and latency percentiles.
"""
from __future__ import annotations

import re
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".mjpeg", ".mjpg", ".y4m"}


class InputError(ValueError):
    """An input that cannot be read; the message names it."""


def _natural_key(path: Path):
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", path.name)]


def iter_frames(source: str | Path, max_frames: int | None = None):
    """Yield ``(name, frame_bgr)`` from an image, a folder of images (in name order),
    a video file or ``camera:N``. Unreadable images in a folder are skipped with a warning."""
    import cv2

    text = str(source)
    count = 0
    if text.startswith("camera:"):
        try:
            index = int(text.split(":", 1)[1])
        except ValueError:
            raise InputError(f"{text}: a camera is camera:N with N a number") from None
        cap = cv2.VideoCapture(index)
        if not cap.isOpened():
            raise InputError(f"{text}: no camera at index {index} on this machine")
        yield from _iter_capture(cap, text, max_frames)
        return
    path = Path(source)
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    if path.is_dir():
        files = sorted((p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES), key=_natural_key)
        if not files:
            raise InputError(f"{path}: no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in this folder")
        for p in files:
            frame = cv2.imread(str(p), cv2.IMREAD_COLOR)
            if frame is None:
                warnings.warn(f"{p.name}: not a readable image, skipped", UserWarning, stacklevel=2)
                continue
            yield p.name, frame
            count += 1
            if max_frames and count >= max_frames:
                return
        return
    if path.suffix.lower() in IMAGE_SUFFIXES:
        frame = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if frame is None:
            raise InputError(f"{path.name}: not a readable image (corrupt or unsupported)")
        yield path.name, frame
        return
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise InputError(f"{path.name}: OpenCV cannot open it as a video")
    yield from _iter_capture(cap, path.name, max_frames)


def _iter_capture(cap, name: str, max_frames):
    index = 0
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            yield f"{name}#{index}", frame
            index += 1
            if max_frames and index >= max_frames:
                break
    finally:
        cap.release()
    if index == 0:
        raise InputError(f"{name}: no frame could be read")


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

    def to_json(self) -> dict:
        return {"frames": self.frames, "faces": self.faces, "by_label": self.by_label,
                "compliance": self.compliance, "fps": round(self.fps, 2), "ms_per_frame": self.ms_per_frame,
                "per_frame": self.per_frame}

    def plot(self, ax=None, window: int = 15):
        """Faces per label and the mask-compliance share over the frames."""
        import matplotlib.pyplot as plt

        ax = ax or plt.subplots(figsize=(9, 3.5))[1]
        t = self.timeline
        for label, colour in (("with_mask", "#2ca02c"), ("without_mask", "#d62728"),
                              ("mask_weared_incorrect", "#ffbf00")):
            if label in t and t[label].any():
                ax.plot(t.index, t[label], color=colour, lw=1, alpha=0.7, label=label)
        ax.set_xlabel("frame")
        ax.set_ylabel("faces")
        twin = ax.twinx()
        twin.plot(t.index, t["compliance"].rolling(window, min_periods=1).mean() * 100, color="black", lw=2,
                  label=f"compliance % ({window}-frame mean)")
        twin.set_ylim(0, 105)
        twin.set_ylabel("mask compliance %")
        ax.legend(loc="upper left", frameon=False, fontsize=8)
        twin.legend(loc="upper right", frameon=False, fontsize=8)
        ax.set_title(f"{self.frames} frames, {self.faces} faces, {self.fps:.1f} frames/s")
        return ax


def percentiles(ms) -> dict:
    ms = np.asarray(ms, float)
    return {"p50": round(float(np.percentile(ms, 50)), 2), "p95": round(float(np.percentile(ms, 95)), 2)} \
        if len(ms) else {"p50": None, "p95": None}


def summarise(names: list, results: list, wall_seconds: float, labels) -> DetectionReport:
    """Counts, compliance, FPS and latency of a list of :class:`FrameResult`."""
    per_frame, rows = [], []
    by_label = {label: 0 for label in labels}
    for name, result in zip(names, results):
        per_frame.append({"source": name, "detections": [f.to_json() for f in result.faces]})
        counts = {label: sum(f.label == label for f in result.faces) for label in labels}
        for label, n in counts.items():
            by_label[label] += n
        total = sum(counts.values())
        rows.append({**counts, "faces": total,
                     "compliance": counts.get("with_mask", 0) / total if total else np.nan,
                     **result.timings, "detected": result.detected})
    faces = sum(by_label.values())
    frame = pd.DataFrame(rows)
    total_ms = frame["total_ms"] if len(frame) else pd.Series(dtype=float)
    return DetectionReport(
        frames=len(results), faces=faces, by_label=by_label,
        compliance=round(by_label.get("with_mask", 0) / faces, 4) if faces else None,
        fps=len(results) / wall_seconds if wall_seconds > 0 else 0.0,
        ms_per_frame=percentiles(total_ms), per_frame=per_frame,
        timings=frame[[c for c in frame.columns if c.endswith("_ms")]] if len(frame) else frame,
        timeline=frame,
    )


def run_detection(source, pipeline, out: str | Path | None = None, max_frames: int | None = None,
                  progress: bool = True) -> DetectionReport:
    """Process every frame of ``source`` with ``pipeline`` (a :class:`MaskDetector`).

    Parameters
    ----------
    out : path, optional
        Annotated output: an image for a single image input, else a video (``.mp4``/``.avi``)
        or a folder (annotated images).
    """
    import cv2
    from tqdm.auto import tqdm

    from .pipeline import annotate

    pipeline.reset()
    names, results = [], []
    writer, out_path = None, Path(out) if out else None
    single = Path(str(source)).suffix.lower() in IMAGE_SUFFIXES
    start = time.perf_counter()
    try:
        for name, frame in tqdm(iter_frames(source, max_frames), desc="frames", unit="frame",
                                disable=not progress, total=max_frames):
            result = pipeline.process(frame, stream=not single)
            names.append(name)
            results.append(result)
            if out_path is None:
                continue
            drawn = annotate(frame, result)
            if single or out_path.suffix.lower() in IMAGE_SUFFIXES:
                out_path.parent.mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(out_path), drawn)
            elif out_path.suffix == "":
                out_path.mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(out_path / f"{Path(name.split('#')[0]).stem}_{len(results):05d}.jpg"), drawn)
            else:
                if writer is None:
                    out_path.parent.mkdir(parents=True, exist_ok=True)
                    fourcc = cv2.VideoWriter_fourcc(*("mp4v" if out_path.suffix.lower() == ".mp4" else "MJPG"))
                    size = (drawn.shape[1], drawn.shape[0])
                    writer = cv2.VideoWriter(str(out_path), fourcc, 15.0, size)
                if (drawn.shape[1], drawn.shape[0]) != size:  # frames of a folder may differ in size
                    drawn = cv2.resize(drawn, size)
                writer.write(drawn)
    finally:
        if writer is not None:
            writer.release()
    wall = time.perf_counter() - start
    return summarise(names, results, wall, pipeline.classifier.classes)


def compare_detectors(frame, names=("ssd", "haar", "mtcnn"), classifier="reference"):
    """Every detector on one frame: a table (faces, detect and classify ms) and the annotated frames.

    Returns
    -------
    (DataFrame, dict of name -> annotated BGR frame)
    """
    from .classifier import MaskClassifier
    from .pipeline import MaskDetector, annotate

    shared = MaskClassifier(classifier) if isinstance(classifier, str) else classifier
    rows, pictures = [], {}
    for name in names:
        result = MaskDetector(name, shared).process(frame)
        rows.append({"detector": name, "faces": len(result.faces),
                     "labels": ", ".join(sorted(f.label for f in result.faces)),
                     "detect ms": round(result.timings["detect_ms"], 1),
                     "classify ms": round(result.timings["classify_ms"], 1)})
        pictures[name] = annotate(frame, result)
    return pd.DataFrame(rows), pictures


def timing_breakdown(reports: dict) -> pd.DataFrame:
    """Mean milliseconds per step and frames per second of several runs, one column each."""
    table = pd.DataFrame({name: r.timings.mean() for name, r in reports.items()}).round(1)
    table.loc["frames per second"] = [round(r.fps, 1) for r in reports.values()]
    return table


def show_frames(pictures: dict, width: float = 5.0):
    """Annotated frames side by side (matplotlib)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(pictures), figsize=(width * len(pictures), width * 0.8), squeeze=False)
    for ax, (name, picture) in zip(axes[0], pictures.items()):
        ax.imshow(picture[:, :, ::-1])
        ax.set_title(name)
        ax.axis("off")
    return fig
