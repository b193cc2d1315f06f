"""Incorrectly worn masks made from faces the training set already has.

Real photos of masks worn wrong are rare (97 of the 3,038 VOC faces, all from one source),
and a classifier that has seen so few calls a mask under the nose "Mask". The
observations set holds pairs of the same photo with and without a pasted mask: the mask's
pixels are exactly where the two differ, and the face under the mask is known. Moving the
mask down and laying it over the bare face gives the same person with the nose out (the
mask moved by about a third of its height) or the mask under the chin (about two thirds),
with no hole to fill and no other face involved.

The same masks are then laid on *other* bare faces (the VOC scenes' and the unpaired
portraits'): cut out with their place relative to the face detector's box on their own
face, scaled to the new face's box and moved down the same way (:func:`paste_mask`), so the
generated incorrect wear is not all on the few hundred observation subjects.

:func:`add_incorrect_wear` does both for the *training* part of a split only, so
validation and test figures stay on real faces, and each generated picture keeps its
subject's group. The pictures are written to ``KIT_CACHE/derived/incorrect_wear`` (never
beside the user's data), named by a hash of their inputs and settings, and reused.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from kit.data.images import image_size, read_rgb
from kit.errors import ImageReadError, ParameterError
from kit.files import atomic_write
from kit.progress import show_progress

from ..imagesets import ImageSet

INCORRECT = "mask_weared_incorrect"
# How far the mask moves down, as a fraction of its own height: each kind a range drawn from.
WEAR_SHIFTS = {"nose out": (0.30, 0.42), "under the chin": (0.62, 0.78)}
MIN_FACE = 24  # px: a face smaller than this gets no pasted mask (nothing of the mask's shape would show)
MASK_AREA = (0.02, 0.5)  # a difference region outside this share of the picture is not a pasted mask
_DIFFERENCE = 60  # summed absolute RGB difference that counts as "changed" (JPEG noise stays below)
_VERSION = "1"  # bump when the recipe changes, so cached pictures are made again


def mask_region(with_mask: np.ndarray, without_mask: np.ndarray) -> np.ndarray | None:
    """Where the pasted mask lies: the largest connected region in which the two pictures
    differ, its notches closed and holes filled. None when the pictures do not have the
    same shape or the region is not mask-sized (:data:`MASK_AREA`)."""
    import cv2

    if with_mask.shape != without_mask.shape:
        return None
    changed = (np.abs(with_mask.astype(np.int16) - without_mask.astype(np.int16)).sum(axis=2) > _DIFFERENCE)
    changed = cv2.morphologyEx(changed.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    changed = cv2.morphologyEx(changed, cv2.MORPH_CLOSE, np.ones((9, 9), np.uint8))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(changed)
    if count < 2:
        return None
    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    region = (labels == largest).astype(np.uint8)
    size = max(3, int(0.15 * stats[largest, cv2.CC_STAT_WIDTH])) | 1  # closes the notches along its edge
    region = cv2.morphologyEx(region, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size)))
    contours, _ = cv2.findContours(region, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    filled = np.zeros_like(region)
    cv2.drawContours(filled, contours, -1, 1, thickness=-1)
    share = filled.mean()
    if not MASK_AREA[0] <= share <= MASK_AREA[1]:
        return None
    return filled.astype(bool)


def move_mask(with_mask: np.ndarray, without_mask: np.ndarray, region: np.ndarray, shift: float) -> np.ndarray:
    """The bare face with the mask's pixels laid over it ``shift`` of the mask's height lower."""
    if not 0 <= shift <= 1:
        raise ParameterError(f"shift must be a fraction of the mask's height in 0..1, got {shift!r}")
    ys, xs = np.nonzero(region)
    dy = round(shift * (ys.max() - ys.min() + 1))
    out = without_mask.copy()
    inside = ys + dy < out.shape[0]
    out[ys[inside] + dy, xs[inside]] = with_mask[ys[inside], xs[inside]]
    return out


PAIR_COLUMNS = ["group", "source", "with_mask", "without_mask", "face_box"]


def mask_pairs(frame: pd.DataFrame) -> pd.DataFrame:
    """``group, source, with_mask, without_mask, face_box``: the groups of ``frame`` with
    exactly one picture with a mask and one without (the observations set's pairs), and
    the face box of the picture without (None: the whole picture)."""
    rows = []
    for (source, group), part in frame.groupby(["source", "group"], sort=True):
        labels = part["label"].tolist()
        if sorted(labels) == ["with_mask", "without_mask"]:
            paths = dict(zip(part["label"], part["path"]))
            box = part.loc[part["label"] == "without_mask", "box"].iloc[0]
            rows.append({"group": group, "source": source, "with_mask": paths["with_mask"],
                         "without_mask": paths["without_mask"], "face_box": box})
    return pd.DataFrame(rows, columns=PAIR_COLUMNS)


def cut_mask(with_mask: np.ndarray, region: np.ndarray, face_box) -> dict:
    """The mask as a cut-out: its pixels, its opacity (edges softened by a pixel) and its
    place relative to the face box (``left, top, width, height`` in box widths and heights)."""
    import cv2

    ys, xs = np.nonzero(region)
    y1, y2, x1, x2 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    fx1, fy1, fx2, fy2 = (float(v) for v in face_box)
    fw, fh = max(fx2 - fx1, 1.0), max(fy2 - fy1, 1.0)
    alpha = cv2.GaussianBlur(region[y1:y2, x1:x2].astype(np.float32), (3, 3), 0)
    return {"pixels": with_mask[y1:y2, x1:x2].copy(), "alpha": alpha,
            "left": (x1 - fx1) / fw, "top": (y1 - fy1) / fh, "width": (x2 - x1) / fw, "height": (y2 - y1) / fh}


def paste_mask(bare: np.ndarray, face_box, cutout: dict, shift: float) -> np.ndarray:
    """``bare`` with the cut-out mask laid on the face in ``face_box`` where it sat on its own
    face, then ``shift`` of its height lower."""
    import cv2

    if not 0 <= shift <= 1:
        raise ParameterError(f"shift must be a fraction of the mask's height in 0..1, got {shift!r}")
    fx1, fy1, fx2, fy2 = (float(v) for v in face_box)
    fw, fh = fx2 - fx1, fy2 - fy1
    w, h = max(2, round(cutout["width"] * fw)), max(2, round(cutout["height"] * fh))
    x = round(fx1 + cutout["left"] * fw)
    y = round(fy1 + (cutout["top"] + shift * cutout["height"]) * fh)
    pixels = cv2.resize(cutout["pixels"], (w, h), interpolation=cv2.INTER_AREA)
    alpha = cv2.resize(cutout["alpha"], (w, h), interpolation=cv2.INTER_LINEAR)[..., None]
    out = bare.copy()
    H, W = out.shape[:2]
    ox1, oy1, ox2, oy2 = max(x, 0), max(y, 0), min(x + w, W), min(y + h, H)
    if ox2 <= ox1 or oy2 <= oy1:
        return out
    part = (slice(oy1 - y, oy2 - y), slice(ox1 - x, ox2 - x))
    blend = alpha[part] * pixels[part] + (1 - alpha[part]) * out[oy1:oy2, ox1:ox2]
    out[oy1:oy2, ox1:ox2] = np.clip(np.rint(blend), 0, 255).astype(np.uint8)
    return out


def _folder(kind: str, files, settings: str) -> Path:
    from kit.data import cache_dir

    digest = hashlib.sha256(f"{_VERSION}|{kind}|{settings}|{sorted(WEAR_SHIFTS.items())}".encode())
    for p, extra in files:
        stat = Path(p).stat()
        digest.update(f"{Path(p).resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{extra}\n".encode())
    return cache_dir() / "derived" / "incorrect_wear" / f"{kind}-{digest.hexdigest()[:16]}"


def _check_count(per_pair) -> None:
    if isinstance(per_pair, bool) or not isinstance(per_pair, (int, np.integer)) or not 1 <= per_pair <= 8:
        raise ParameterError(f"per_pair must be a whole number 1..8, got {per_pair!r}")


def _plan(name: str, count: int, seed: int) -> list[tuple[str, float]]:
    """``count`` (kind, shift) draws, the kinds in turn, seeded by ``seed`` and the picture's name."""
    rng = np.random.default_rng([seed, int(name, 16) % 2**32])
    kinds = list(WEAR_SHIFTS)
    return [(kinds[k % len(kinds)], float(rng.uniform(*WEAR_SHIFTS[kinds[k % len(kinds)]]))) for k in range(count)]


def _write_jpeg(target: Path, rgb: np.ndarray) -> None:
    import cv2

    _, data = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
    atomic_write(target, data.tobytes())


def _read_pair(pair, skipped: dict):
    """(with, without, region) of a pair, or None with the reason counted."""
    try:
        masked, bare = read_rgb(pair.with_mask), read_rgb(pair.without_mask)
    except ImageReadError:
        skipped["unreadable"] = skipped.get("unreadable", 0) + 1
        return None
    region = mask_region(masked, bare)
    if region is None:
        why = "different sizes" if masked.shape != bare.shape else "no mask-sized difference"
        skipped[why] = skipped.get(why, 0) + 1
        return None
    return masked, bare, region


def generate_incorrect_wear(pairs: pd.DataFrame, per_pair: int = 2, seed: int = 0,
                            progress: bool = True) -> tuple[pd.DataFrame, dict]:
    """Pictures of masks worn wrong, ``per_pair`` per pair: the pair's own mask moved down
    (the kinds of :data:`WEAR_SHIFTS` in turn, each shift drawn from its range by a
    generator seeded with ``seed`` and the group).

    Returns
    -------
    rows : DataFrame
        ``path, group, source, kind, shift`` of the pictures made (or found in the cache).
    skipped : dict
        Reason -> number of pairs that gave nothing (unreadable, different sizes, no
        mask-sized difference).
    """
    from tqdm.auto import tqdm

    _check_count(per_pair)
    folder = _folder("moved", [(p, "") for p in [*pairs["with_mask"], *pairs["without_mask"]]], f"{per_pair}|{seed}")
    rows, skipped = [], {}
    for pair in tqdm(pairs.itertuples(index=False), total=len(pairs), desc="moving masks down",
                     disable=not show_progress(progress)):
        name = hashlib.sha256(f"{pair.source}|{pair.group}".encode()).hexdigest()[:16]
        targets = [folder / f"{name}-{k}.jpg" for k in range(per_pair)]
        plan = _plan(name, per_pair, seed)
        if not all(t.is_file() for t in targets):
            read = _read_pair(pair, skipped)
            if read is None:
                continue
            for target, (_, shift) in zip(targets, plan):
                _write_jpeg(target, move_mask(*read, shift))
        for target, (kind, shift) in zip(targets, plan):
            rows.append({"path": str(target), "group": pair.group, "source": pair.source, "kind": kind,
                         "shift": round(shift, 3)})
    return pd.DataFrame(rows, columns=["path", "group", "source", "kind", "shift"]), skipped


def paste_incorrect_wear(pairs: pd.DataFrame, faces: pd.DataFrame, per_face: int = 2, seed: int = 0,
                         progress: bool = True) -> pd.DataFrame:
    """The pairs' masks laid on other bare faces, worn wrong: ``per_face`` pictures per row
    of ``faces`` (``path, box, group, source``), each with a mask drawn from the pairs that
    have a face box, placed as on its own face and moved down (:func:`paste_mask`).
    A picture is the face's surroundings (its box enlarged by its size on each side).

    Returns
    -------
    DataFrame
        ``path, box, group, source, kind, shift``: ``box`` is the face in the new picture.
    """
    from tqdm.auto import tqdm

    from ..imagesets import expand_box

    _check_count(per_face)
    columns = ["path", "box", "group", "source", "kind", "shift"]
    pairs = pairs[pairs["face_box"].notna()]
    if pairs.empty or faces.empty:
        return pd.DataFrame(columns=columns)
    files = [(p, b) for p, b in zip(pairs["with_mask"], pairs["face_box"])] + \
            [(p, "") for p in pairs["without_mask"]] + [(p, b) for p, b in zip(faces["path"], faces["box"])]
    folder = _folder("pasted", files, f"{per_face}|{seed}")
    cutouts = None  # cut only when a picture must be made
    rows = []
    for face in tqdm(faces.itertuples(index=False), total=len(faces), desc="laying masks on other faces",
                     disable=not show_progress(progress)):
        name = hashlib.sha256(f"{face.source}|{face.group}|{face.path}|{tuple(face.box)}".encode()).hexdigest()[:16]
        targets = [folder / f"{name}-{k}.jpg" for k in range(per_face)]
        plan = _plan(name, per_face, seed)
        picks = np.random.default_rng([seed + 1, int(name, 16) % 2**32]).integers(0, len(pairs), per_face)
        try:
            size = image_size(face.path)
        except ImageReadError:
            continue
        x1, y1, x2, y2 = expand_box(face.box, 1.0, *size)
        box = tuple(float(v) for v in np.subtract(face.box, (x1, y1, x1, y1)))
        if not all(t.is_file() for t in targets):
            if cutouts is None:
                cutouts = _cutouts(pairs)
            if not cutouts:
                return pd.DataFrame(columns=columns)
            try:
                bare = read_rgb(face.path)[y1:y2, x1:x2]
            except ImageReadError:
                continue
            for target, (_, shift), pick in zip(targets, plan, picks):
                _write_jpeg(target, paste_mask(bare, box, cutouts[pick % len(cutouts)], shift))
        for target, (kind, shift) in zip(targets, plan):
            rows.append({"path": str(target), "box": box, "group": face.group, "source": face.source, "kind": kind,
                         "shift": round(shift, 3)})
    return pd.DataFrame(rows, columns=columns)


def _cutouts(pairs: pd.DataFrame) -> list[dict]:
    out, skipped = [], {}
    for pair in pairs.itertuples(index=False):
        read = _read_pair(pair, skipped)
        if read is not None:
            out.append(cut_mask(read[0], read[2], pair.face_box))
    return out


def add_incorrect_wear(images: ImageSet, train_idx: np.ndarray, per_pair: int = 2, seed: int = 0,
                       crops: str = "detector", progress: bool = True) -> tuple[ImageSet, np.ndarray]:
    """The image set with generated incorrectly worn masks added to its training part.

    Two kinds, ``per_pair`` pictures each: every pair of the same face with and without a
    pasted mask (both pictures in ``train_idx``) with its mask moved down
    (:func:`generate_incorrect_wear`), and every other bare training face the detector
    found (at least :data:`MIN_FACE` pixels high) with one of those masks laid on it, worn
    wrong (:func:`paste_incorrect_wear`). The new rows join the training part only:
    validation and test stay real. Each keeps its face's group (subject or scene) and gets
    the source ``<source>_incorrect_wear``, so the model card lists it apart. With
    ``crops="detector"`` the moved-mask pictures are cropped as the live detector frames
    them; the pasted ones keep the detector box of the face they were laid on.

    Returns
    -------
    (images, train_idx) : the larger set and the training rows, old and new
    """
    if INCORRECT not in images.classes:
        raise ParameterError(f"generated incorrect wear needs a training set that has the class {INCORRECT!r} "
                             f"(e.g. the VOC scenes); this one has {', '.join(images.classes)}")
    train_idx = np.asarray(train_idx, int)
    frame = images.frame
    training = frame.iloc[train_idx]
    pairs = mask_pairs(training)
    moved, skipped = generate_incorrect_wear(pairs, per_pair=per_pair, seed=seed, progress=progress)
    paired = set(pairs["with_mask"]) | set(pairs["without_mask"])
    bare = training[(training["label"] == "without_mask") & training["box"].notna() & ~training["path"].isin(paired)]
    if "crop_from" in bare:
        bare = bare[bare["crop_from"] == "detector"]
    bare = bare[np.array([b[3] - b[1] >= MIN_FACE for b in bare["box"]], bool)]
    pasted = paste_incorrect_wear(pairs, bare[["path", "box", "group", "source"]], per_face=per_pair, seed=seed,
                                  progress=progress)
    notes = type(images.notes)(images.notes)
    notes.update({f"incorrect wear: pairs skipped ({why})": n for why, n in skipped.items()})
    parts = []
    if len(moved):
        new = ImageSet(moved.assign(label=INCORRECT, box=None)[["path", "label", "group", "source", "box"]],
                       images.classes, name="incorrect_wear")
        if crops == "detector":
            from .crops import detector_crops

            new = detector_crops(new, progress=progress)
        parts.append(new.frame)
    if len(pasted):
        extra = {"crop_from": "detector"} if "crop_from" in frame else {}
        parts.append(pasted.assign(label=INCORRECT, **extra)[["path", "label", "group", "source", "box",
                                                              *extra]])
    if not parts:
        return images.with_frame(frame, notes=notes), train_idx
    added = pd.concat(parts, ignore_index=True)
    added["source"] = added["source"] + "_incorrect_wear"
    notes["incorrect wear: masks moved down"] = len(moved)
    notes["incorrect wear: masks laid on other faces"] = len(pasted)
    combined = pd.concat([frame, added], ignore_index=True)
    new_rows = np.arange(len(frame), len(combined))
    return images.with_frame(combined, notes=notes), np.sort(np.concatenate([train_idx, new_rows]))
