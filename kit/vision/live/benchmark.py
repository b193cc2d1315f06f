"""Our pipeline against the seed-style one on the same frames, in one run.

The seed notebooks run the res10 SSD on a 300x300 blob on every frame, then call Keras
``model.predict`` on each face at 224 px. Both pipelines here process **every** frame
(``"mode": "every_frame"``): each frame arrives as JPEG bytes, as from a camera or a
browser, and is decoded, detected, cropped and classified. The time of each stage is
measured, and how often the two agree (faces found by both, same label).

``stream=True`` adds the separate stream mode of a video or camera (detect every few
frames and follow the faces in between with the tracker): it is reported as its own
block, never mixed into the every-frame figures, and refused on a folder of unrelated
images.
"""
from __future__ import annotations

import time

import numpy as np

from kit.errors import InputError, ParameterError
from kit.progress import show_progress

from ..faces.boxes import MATCH_IOU, match_boxes
from ..faces.detectors import LIVE_MIN_FACE, SSDDetector
from .pipeline import Face, FrameResult, MaskDetector, crop
from .streams import is_stream, iter_frames, percentiles

STAGES = ("decode_ms", "detect_ms", "crop_ms", "classify_ms")


class ReferencePipeline:
    """The seed notebooks' pipeline, as they ran it: SSD 300x300 every frame + the reference
    classifier's Keras ``model.predict`` on each face at 224 px."""

    def __init__(self):
        from kit.data import fetch

        from ..masks.classifier import REFERENCE_CLASSES, build_reference_keras

        self.detector = SSDDetector()
        self.model = build_reference_keras(fetch("mask_classifier_reference", progress=False))
        self.classes = REFERENCE_CLASSES

    def process(self, frame) -> FrameResult:
        import cv2

        from ..preprocessing import preprocess

        t0 = time.perf_counter()
        dets = self.detector.detect(frame)
        t1 = time.perf_counter()
        faces, crop_s, classify_s = [], 0.0, 0.0
        for d in dets:
            c0 = time.perf_counter()
            face = cv2.resize(crop(frame, d.box), (224, 224))[None]
            c1 = time.perf_counter()
            p = self.model.predict(preprocess(face, "mobilenet_v2"), verbose=0)[0]
            classify_s += time.perf_counter() - c1
            crop_s += c1 - c0
            k = int(np.argmax(p))
            faces.append(Face(d.box, self.classes[k], float(p[k]), d.score))
        return FrameResult(faces, {"detect_ms": (t1 - t0) * 1000, "crop_ms": crop_s * 1000,
                                   "classify_ms": classify_s * 1000, "total_ms": (time.perf_counter() - t0) * 1000})


def live_pipeline(classifier="default") -> MaskDetector:
    """The kit's real-time pipeline: the default detector sized for people in front of a
    camera (faces of at least ``LIVE_MIN_FACE`` px) and the default classifier."""
    return MaskDetector(min_face=LIVE_MIN_FACE, classifier=classifier)


def agreement(ours: list[FrameResult], seed: list[FrameResult], min_iou: float = MATCH_IOU) -> dict:
    """How often the two pipelines see the same faces with the same labels."""
    matched = same_label = seed_faces = our_faces = 0
    for a, b in zip(ours, seed):
        our_faces += len(a.faces)
        seed_faces += len(b.faces)
        pairs = match_boxes([f.box for f in b.faces], [f.box for f in a.faces], min_iou)
        matched += len(pairs)
        same_label += sum(b.faces[i].label == a.faces[j].label for i, j, _ in pairs)
    return {"seed_faces": seed_faces, "kit_faces": our_faces, "faces_found_by_both": matched,
            "recall_vs_seed": round(matched / seed_faces, 4) if seed_faces else None,
            "label_agreement": round(same_label / matched, 4) if matched else None}


def _timed(process, encoded: list[bytes]):
    """Every frame decoded from JPEG and processed; per-frame ms and per-stage means."""
    import cv2

    results, ms, stages = [], [], {k: [] for k in STAGES}
    start = time.perf_counter()
    for data in encoded:
        t = time.perf_counter()
        frame = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        decoded = time.perf_counter()
        result = process(frame)
        ms.append((time.perf_counter() - t) * 1000)
        stages["decode_ms"].append((decoded - t) * 1000)
        for k in STAGES[1:]:
            stages[k].append(result.timings.get(k, 0.0))
        results.append(result)
    wall = time.perf_counter() - start
    return results, {"fps": round(len(encoded) / wall, 2), "ms_per_frame": percentiles(ms),
                     "stages_ms": {k: round(float(np.mean(v)), 2) for k, v in stages.items()}}


def benchmark(source, max_frames: int | None = 300, stream: bool = False, classifier="default",
              progress: bool = True) -> dict:
    """Time the kit's real-time pipeline and the seed-style one on the same frames, every frame.

    Returns
    -------
    dict
        ``{"mode": "every_frame", "fps", "ratio", "kit": {"fps", "ms_per_frame", "stages_ms"},
        "seed": {...}, "frames", "faces", "agreement", "settings"}`` (``fps`` is ours,
        ``ratio`` ours / seed), plus ``"stream"`` with the same fields when asked for.
    """
    import cv2
    from tqdm.auto import tqdm

    if stream and not is_stream(source):
        raise ParameterError(f"{source}: stream mode follows faces from one frame to the next, so it needs a "
                             f"video or a camera, not a folder of separate images")
    frames = [f for _, f in tqdm(iter_frames(source, max_frames), desc="reading frames", disable=not show_progress(progress))]
    if not frames:
        raise InputError(f"{source}: no frames")
    encoded = [cv2.imencode(".jpg", f, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes() for f in frames]
    ours = live_pipeline(classifier)
    seed = ReferencePipeline()
    ours.process(frames[0])  # warm up both (interpreters, graph tracing)
    seed.process(frames[0])
    kit_results, kit_stats = _timed(ours.process, encoded)
    seed_results, seed_stats = _timed(seed.process, encoded)
    out = {"mode": "every_frame", "fps": kit_stats["fps"], "ratio": round(kit_stats["fps"] / seed_stats["fps"], 2),
           "kit": kit_stats, "seed": seed_stats, "frames": len(frames),
           "faces": sum(len(r.faces) for r in kit_results),
           "agreement": agreement(kit_results, seed_results),
           "settings": {"kit": f"{ours.detector.name} (faces >= {LIVE_MIN_FACE:g} px) + {ours.classifier.name} "
                               f"classifier (TFLite, {ours.classifier.size} px, all faces in one call), every frame",
                        "seed": "SSD 300x300 + Keras model.predict per face at 224 px, every frame"}}
    if stream:
        from .tracking import StreamPipeline

        streamed = StreamPipeline(ours)
        stream_results, stream_stats = _timed(streamed.process, encoded)
        out["stream"] = {**stream_stats, "ratio": round(stream_stats["fps"] / seed_stats["fps"], 2),
                         "faces": sum(len(r.faces) for r in stream_results),
                         "agreement_with_every_frame": agreement(stream_results, kit_results),
                         "settings": streamed.describe()}
    return out
