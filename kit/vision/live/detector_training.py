"""Fine-tuning the CenterFace detector on annotated crowd scenes (PASCAL VOC).

CenterFace was trained on WIDER FACE; the course's scenes frame faces their own way
(small, often masked, boxes drawn by other annotators). Fine-tuning on the training scenes
teaches it both. The network is rebuilt in Keras (:mod:`kit.vision.faces.onnx_keras`), trained
on random crops of the scenes at the scales the detector serves them (enlarged with
:func:`~kit.vision.faces.detectors.enlarge_sharp`, as at run time), and written back into the
original ONNX file, so serving does not change.

Targets are CenterFace's (stride 4): a Gaussian heat map of face centres (penalty-reduced
focal loss, as in CenterNet), log sizes and sub-pixel offsets at each centre (L1). The
landmark head is left as it was. Batch normalisation keeps its statistics (batches of 8
crops are too small to re-estimate them).

Scenes are split by scene: the recorded held-out scenes (:mod:`kit.vision.splits`, the
same the classifier's protocol holds out, so that the whole pipeline is scored on scenes
neither model saw), a seeded validation share of the rest for choosing the checkpoint and
the score threshold, and the remainder for training.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from kit.errors import DataError, ParameterError
from kit.files import sha256_of_bytes, write_json
from kit.progress import show_progress

from ..faces.boxes import MATCH_IOU

STRIDE = 4
THRESHOLDS = (0.30, 0.35, 0.40, 0.45, 0.50)  # candidate score thresholds, chosen on validation scenes
MAX_FP_PER_IMAGE = 0.9                     # the budget is 1; a margin for unseen scenes


@dataclass
class DetectorTraining:
    """Everything :func:`train_centerface` produced (the card is written next to the model)."""

    model: Path
    card: dict
    history: pd.DataFrame = field(repr=False)


def gaussian_radius(height: float, width: float, min_overlap: float = 0.7) -> float:
    """CenterNet's radius: centres within it still give a box overlapping the true one by
    ``min_overlap`` (the smallest root of its three cases)."""
    a1, b1, c1 = 1, height + width, width * height * (1 - min_overlap) / (1 + min_overlap)
    r1 = (b1 + np.sqrt(b1 ** 2 - 4 * a1 * c1)) / 2
    a2, b2, c2 = 4, 2 * (height + width), (1 - min_overlap) * width * height
    r2 = (b2 + np.sqrt(b2 ** 2 - 4 * a2 * c2)) / 2
    a3, b3, c3 = 4 * min_overlap, -2 * min_overlap * (height + width), (min_overlap - 1) * width * height
    r3 = (b3 + np.sqrt(b3 ** 2 - 4 * a3 * c3)) / 2
    return float(min(r1, r2, r3))


def centerface_targets(boxes: np.ndarray, size: int) -> dict:
    """Training targets of one ``size`` x ``size`` crop for boxes ``(x1, y1, x2, y2)`` in its
    pixels: ``heat`` (h, w), ``centre`` mask, ``box`` log sizes (height, width in units of
    the stride) and ``offset`` (y, x) such that CenterFace's decoding,
    ``centre = (cell + offset + 0.5) * 4``, returns the box centre."""
    cells = size // STRIDE
    heat = np.zeros((cells, cells), np.float32)
    centre = np.zeros((cells, cells), np.float32)
    box = np.zeros((cells, cells, 2), np.float32)
    offset = np.zeros((cells, cells, 2), np.float32)
    yy, xx = np.mgrid[0:cells, 0:cells]
    for x1, y1, x2, y2 in np.asarray(boxes, float).reshape(-1, 4):
        w, h = (x2 - x1) / STRIDE, (y2 - y1) / STRIDE
        cx, cy = (x1 + x2) / 2 / STRIDE, (y1 + y2) / 2 / STRIDE
        ix, iy = int(np.floor(cx)), int(np.floor(cy))
        if w <= 0 or h <= 0 or not (0 <= ix < cells and 0 <= iy < cells):
            continue
        sigma = (2 * max(0.0, gaussian_radius(h, w)) + 1) / 6
        heat = np.maximum(heat, np.exp(-((xx - ix) ** 2 + (yy - iy) ** 2) / (2 * sigma ** 2)))
        centre[iy, ix] = 1.0
        box[iy, ix] = np.log(h), np.log(w)
        offset[iy, ix] = cy - iy - 0.5, cx - ix - 0.5
    return {"heat": heat.astype(np.float32), "centre": centre, "box": box, "offset": offset}


def random_crop(image_bgr: np.ndarray, boxes: np.ndarray, rng, size: int, scales=(0.75, 4.0),
                near_face: float = 0.7) -> tuple[np.ndarray, np.ndarray]:
    """A ``size`` x ``size`` RGB crop (float 0..255, as CenterFace takes it) of the scene
    scaled by a log-uniform factor in ``scales``, mostly placed near a face, randomly
    mirrored and lit; and the boxes in its pixels."""
    import cv2

    from ..faces.detectors import enlarge_sharp

    h, w = image_bgr.shape[:2]
    scale = float(np.exp(rng.uniform(np.log(scales[0]), np.log(scales[1]))))
    side = size / scale  # the crop's side in the scene's pixels
    if len(boxes) and rng.random() < near_face:
        x1, y1, x2, y2 = boxes[rng.integers(len(boxes))]
        cx, cy = (x1 + x2) / 2 + rng.uniform(-0.4, 0.4) * side, (y1 + y2) / 2 + rng.uniform(-0.4, 0.4) * side
    else:
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
    left = float(np.clip(cx - side / 2, 0, max(0.0, w - side)))
    top = float(np.clip(cy - side / 2, 0, max(0.0, h - side)))
    # The source window, a pixel wider so that resampling has its neighbours.
    sx1, sy1 = int(np.floor(left)), int(np.floor(top))
    sx2, sy2 = min(w, int(np.ceil(left + side)) + 1), min(h, int(np.ceil(top + side)) + 1)
    window = image_bgr[sy1:sy2, sx1:sx2]
    out_w, out_h = max(1, round((sx2 - sx1) * scale)), max(1, round((sy2 - sy1) * scale))
    if scale > 1:
        resized = enlarge_sharp(window, (out_w, out_h))
    else:
        resized = cv2.resize(window, (out_w, out_h), interpolation=cv2.INTER_AREA)
    crop = np.zeros((size, size, 3), np.float32)
    ch, cw = min(size, out_h), min(size, out_w)
    crop[:ch, :cw] = resized[:ch, :cw, ::-1]
    shifted = (np.asarray(boxes, float).reshape(-1, 4) - [sx1, sy1, sx1, sy1]) * scale
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
        shifted = np.column_stack([size - shifted[:, 2], shifted[:, 1], size - shifted[:, 0], shifted[:, 3]])
    crop = np.clip(crop * np.float32(rng.uniform(0.75, 1.25)) + np.float32(rng.uniform(-20, 20)), 0, 255)
    # Faces kept only where their centre lies in the crop's filled part.
    cx, cy = (shifted[:, 0] + shifted[:, 2]) / 2, (shifted[:, 1] + shifted[:, 3]) / 2
    inside = (cx >= 0) & (cy >= 0) & (cx < size) & (cy < size)
    return np.ascontiguousarray(crop, dtype=np.float32), shifted[inside]


def split_scenes(stems, held_out, val_fraction: float = 0.15, seed: int = 0) -> tuple[list, list, list]:
    """``(train, val, test)`` scene stems: ``test`` are the held-out ones present (bare stems
    or a model card's ``voc:stem`` groups; other sources' groups are ignored), ``val`` a
    seeded share of the rest."""
    stems = sorted(set(stems))
    held = {str(s).split(":", 1)[-1] for s in held_out if ":" not in str(s) or str(s).startswith("voc:")}
    test = [s for s in stems if s in held]
    rest = [s for s in stems if s not in held]
    order = np.random.default_rng(seed).permutation(len(rest))
    n_val = int(round(val_fraction * len(rest)))
    val = sorted(rest[i] for i in order[:n_val])
    train = sorted(rest[i] for i in order[n_val:])
    if not train or not val:
        raise DataError(f"too few scenes to fine-tune a detector: {len(rest)} outside the held-out ones")
    return train, val, test


def score_detector(detector, scenes: list[tuple[np.ndarray, np.ndarray]], iou: float = MATCH_IOU) -> dict:
    """Recall and false positives per image of a detector over ``(frame, boxes)`` scenes."""
    from ..faces.boxes import match_boxes

    found = faces = false_pos = 0
    for frame, truth in scenes:
        boxes = [d.box for d in detector.detect(frame)]
        hits = len(match_boxes(truth, boxes, iou)) if len(truth) else 0
        found, faces, false_pos = found + hits, faces + len(truth), false_pos + len(boxes) - hits
    return {"recall": found / max(faces, 1), "false_positives_per_image": false_pos / max(len(scenes), 1)}


def choose_threshold(detector_for, scenes, thresholds=THRESHOLDS, max_fp: float = MAX_FP_PER_IMAGE,
                     desc: str | None = None) -> dict:
    """The threshold with the highest recall whose false positives per image stay within
    ``max_fp`` (the highest threshold when none does), and the scores of every one;
    ``desc`` draws a progress bar over the thresholds."""
    from tqdm.auto import tqdm

    rows = {t: score_detector(detector_for(t), scenes)
            for t in tqdm(thresholds, desc=desc, unit="threshold", disable=not (desc and show_progress()), leave=False)}
    within = [t for t in thresholds if rows[t]["false_positives_per_image"] <= max_fp]
    best = max(within, key=lambda t: (rows[t]["recall"], t)) if within else max(thresholds)
    return {"threshold": best, **rows[best], "table": {str(t): rows[t] for t in thresholds}}


def train_centerface(scenes, out, held_out="recorded", steps: int = 3000, batch_size: int = 8, crop: int = 256,
                     learning_rate: float = 1e-4, val_fraction: float = 0.15, eval_every: int = 500,
                     seed: int = 0, base=None, command: str | None = None, progress: bool = True) -> DetectorTraining:
    """Fine-tune CenterFace on the scenes of a VOC folder; write ``out/centerface.onnx`` and
    ``out/model.json`` (the detector's card) and ``out/history.csv``.

    Parameters
    ----------
    scenes : path
        A PASCAL-VOC folder (``images/`` + ``annotations/``).
    held_out : "recorded" (default, also "default"), a list of scene stems, or None
        Scenes never trained on nor used for choosing: the recorded held-out scenes
        (:mod:`kit.vision.splits`), the ones given, or none.
    steps, batch_size, crop, learning_rate
        Adam with a cosine decay to zero over ``steps`` batches of ``crop``-pixel crops.
    eval_every : int
        Validation scenes are scored every so many steps; the best checkpoint is kept.
    """
    from tqdm.auto import tqdm

    from kit.data import fetch
    from kit.data.images import read_bgr
    from kit.files import atomic_folder, check_replaceable, sha256_of

    from ..cards import DETECTOR_FORMAT, is_kit_model_folder
    from ..imagesets import load_voc

    out = check_replaceable(out, owned=is_kit_model_folder)  # before the training, not after

    from ..faces.detectors import CenterFaceDetector, _dynamic_centerface
    from ..faces.onnx_keras import keras_from_onnx, onnx_with_weights
    from ..runtime import import_tensorflow

    for name, value, low, high in (("steps", steps, 1, 1_000_000), ("batch_size", batch_size, 1, 256),
                                   ("crop", crop, 64, 1024), ("eval_every", eval_every, 1, 1_000_000)):
        if not isinstance(value, (int, np.integer)) or not low <= value <= high:
            raise ParameterError(f"{name} must be a whole number in {low}..{high}, got {value!r}")
    if crop % 32:
        raise ParameterError(f"crop must be a multiple of 32 (the network's stride), got {crop}")
    if not 0 < float(learning_rate) < 1:
        raise ParameterError(f"learning_rate must be in (0, 1), got {learning_rate!r}")
    tf = import_tensorflow()
    out = Path(out)
    images = load_voc(scenes, progress=progress)
    by_scene = {Path(p).stem: (p, np.array([b for b in rows["box"]], float).reshape(-1, 4))
                for p, rows in images.frame.groupby("path", sort=True)}
    for path in images.empty_scenes:  # nobody in the picture: negatives, and false positives if found
        by_scene[Path(path).stem] = (path, np.zeros((0, 4)))
    if isinstance(held_out, (list, tuple, set)):
        held = list(held_out)
    elif held_out in ("default", "recorded", None):
        from ..splits import held_out_scenes

        held = held_out_scenes() if held_out is not None else []
    else:
        raise ParameterError(f"held_out must be 'recorded' (the scenes in kit/vision/held_out.json), a list of scene "
                             f"names or None, got {held_out!r}")
    train, val, test = split_scenes(by_scene, held, val_fraction, seed)
    loaded = {s: (read_bgr(by_scene[s][0]), by_scene[s][1])
              for s in tqdm(train + val, desc="reading scenes", unit="scene", disable=not show_progress(progress),
                            leave=False)}
    val_scenes = [loaded[s] for s in val]

    base_path = Path(base or fetch("centerface_face_detector", progress=progress))
    base_bytes = _dynamic_centerface(base_path)
    net, owners = keras_from_onnx(base_bytes, where=str(base_path))
    schedule = tf.keras.optimizers.schedules.CosineDecay(float(learning_rate), steps)
    optimizer = tf.keras.optimizers.Adam(schedule)
    trainable = [v for layer in net.layers if layer.name in owners and "batchnormalization" not in layer.name
                 for v in layer.trainable_variables]

    @tf.function(reduce_retracing=True)
    def train_step(x, heat, centre, box, offset):
        with tf.GradientTape() as tape:
            p_heat, p_box, p_offset, _ = net(x, training=False)
            p = tf.clip_by_value(p_heat[..., 0], 1e-4, 1 - 1e-4)
            n_pos = tf.maximum(tf.reduce_sum(centre), 1.0)
            focal = -(tf.reduce_sum(centre * tf.math.log(p) * (1 - p) ** 2)
                      + tf.reduce_sum((1 - centre) * (1 - heat) ** 4 * p ** 2 * tf.math.log(1 - p))) / n_pos
            mask = centre[..., None]
            box_l1 = tf.reduce_sum(mask * tf.abs(p_box - box)) / n_pos
            offset_l1 = tf.reduce_sum(mask * tf.abs(p_offset - offset)) / n_pos
            loss = focal + box_l1 + offset_l1
        grads = tape.gradient(loss, trainable)
        # The landmark head gets no gradient: it is left as it was.
        optimizer.apply_gradients([(g, v) for g, v in zip(grads, trainable) if g is not None])
        return loss, focal, box_l1, offset_l1

    def detector_with(model_bytes):
        return lambda t: CenterFaceDetector(threshold=t, model=model_bytes)

    rng = np.random.default_rng(seed)
    tf.keras.utils.set_random_seed(seed)
    baseline = choose_threshold(detector_with(base_bytes), val_scenes,
                                desc="scoring the released weights" if progress else None)
    best = {"step": 0, **baseline, "model": base_bytes}
    history, losses, started = [], [], time.perf_counter()
    bar = tqdm(range(1, steps + 1), desc="fine-tuning CenterFace", unit="step", disable=not show_progress(progress))
    for step in bar:
        batch = [random_crop(*loaded[train[rng.integers(len(train))]], rng, crop) for _ in range(batch_size)]
        targets = [centerface_targets(b, crop) for _, b in batch]
        x = np.stack([c for c, _ in batch])
        stacked = {k: np.stack([t[k] for t in targets]) for k in ("heat", "centre", "box", "offset")}
        losses.append([float(v) for v in train_step(x, stacked["heat"], stacked["centre"], stacked["box"],
                                                    stacked["offset"])])
        if step % eval_every == 0 or step == steps:
            model_bytes = onnx_with_weights(base_bytes, net, owners)
            chosen = choose_threshold(detector_with(model_bytes), val_scenes)
            mean = np.mean(losses, axis=0)
            history.append({"step": step, "loss": mean[0], "focal": mean[1], "box_l1": mean[2],
                            "offset_l1": mean[3], "val_recall": chosen["recall"],
                            "val_false_positives_per_image": chosen["false_positives_per_image"],
                            "threshold": chosen["threshold"], "seconds": time.perf_counter() - started})
            losses = []
            bar.set_postfix(val_recall=round(chosen["recall"], 3), fp=round(chosen["false_positives_per_image"], 2))
            if chosen["recall"] > best["recall"]:
                best = {"step": step, **chosen, "model": model_bytes}
    bar.close()
    history = pd.DataFrame(history)

    model_path = out / "centerface.onnx"
    card = {
        "format": DETECTOR_FORMAT,
        "detector": "centerface",
        "base": {"file": base_path.name, "sha256": sha256_of(base_path),
                 "validation": {k: baseline[k] for k in ("threshold", "recall", "false_positives_per_image")}},
        "threshold": best["threshold"],
        "validation": {"step": best["step"], "recall": round(best["recall"], 4),
                       "false_positives_per_image": round(best["false_positives_per_image"], 4),
                       "thresholds": best["table"]},
        "settings": {"steps": steps, "batch_size": batch_size, "crop": crop, "learning_rate": learning_rate,
                     "val_fraction": val_fraction, "eval_every": eval_every, "seed": seed,
                     "scales": [0.75, 4.0], "iou": MATCH_IOU, "max_false_positives_per_image": MAX_FP_PER_IMAGE},
        "split": {"train": train, "val": val, "test": test},
        "data": {"source": str(scenes), "annotations_sha256": _annotations_hash(by_scene)},
        "sha256": sha256_of_bytes(best["model"]),
        "command": command,
        "licenses": {"model": "MIT (CenterFace, Star-Clouds; fine-tuned by the kit)",
                     "data": "CC0 (andrewmvd face-mask-detection, Kaggle)"},
    }
    with atomic_folder(out, owned=is_kit_model_folder) as tmp:
        (tmp / model_path.name).write_bytes(best["model"])
        write_json(tmp / "model.json", card)
        history.to_csv(tmp / "history.csv", index=False)
        (tmp / "README.md").write_text(detector_card_markdown(card))
    return DetectorTraining(model_path, card, history)


def detector_card_markdown(card: dict) -> str:
    """The detector's card for people (``README.md``); ``model.json`` is what the kit reads."""
    base, val, settings = card["base"]["validation"], card["validation"], card["settings"]
    rows = "\n".join(f"| {t} | {row['recall']:.4f} | {row['false_positives_per_image']:.2f} |"
                     for t, row in val["thresholds"].items())
    split = card["split"]
    return f"""# Face detector: CenterFace fine-tuned on the course's crowd scenes

*Written from `model.json` by `kit detect train`; the JSON file is the card the kit reads.*

| | |
|---|---|
| network | CenterFace (MobileNetV2 + FPN, stride 4), started from `{card['base']['file']}` (sha256 `{card['base']['sha256'][:16]}…`) |
| input | RGB 0..255, any size (multiples of 32 after padding), as `kit.vision.faces.detectors.CenterFaceDetector` feeds it |
| score threshold | {card['threshold']} (highest validation recall within {settings['max_false_positives_per_image']} false positives per image) |
| training | {settings['steps']} batches of {settings['batch_size']} crops of {settings['crop']} px, scenes scaled {settings['scales'][0]}–{settings['scales'][1]}x, Adam {settings['learning_rate']:g} with cosine decay, seed {settings['seed']} |
| scenes | {len(split['train'])} train, {len(split['val'])} validation, {len(split['test'])} held out (the recorded held-out scenes, kit/vision/held_out.json: never seen) |
| file sha256 | `{card['sha256']}` |

## Reproduce

```bash
{card.get('command') or 'kit detect train --input VOC_DIR --out DIR'}
```

`kit detect --detector DIR` uses the folder; the kit's default is the one in
`kit/vision/models/centerface_voc`. TensorFlow on CPU is not bit-exact from run to run, so a
rerun gives a close, not an identical, model.

## Validation scenes (recall at IoU {MATCH_IOU}, false positives per image)

Released weights: recall {base['recall']:.4f} at threshold {base['threshold']} ({base['false_positives_per_image']:.2f} false positives per image).
Fine-tuned (step {val['step']}):

| threshold | recall | false positives per image |
|---|---|---|
{rows}

Held-out figures of the whole pipeline: `python benchmarks/mask_accuracy.py`.

## Licenses

- model: {card['licenses']['model']}
- data: {card['licenses']['data']}
"""


def _annotations_hash(by_scene: dict) -> str:
    """A hash of every scene's boxes (what the detector learned from), by scene name."""
    return sha256_of_bytes(*(stem.encode() + np.round(by_scene[stem][1], 1).tobytes() for stem in sorted(by_scene)))
