"""Image sets for the mask lessons: folder-per-class sets, PASCAL-VOC scenes cut into
face crops, subject groups, and the grouped, stratified train/validation/test split.

Files are read defensively: grayscale, RGBA, CMYK and EXIF-rotated images are turned
into upright RGB; unreadable or truncated files are skipped and reported by name.
"""
from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif", ".tif", ".tiff"}
VOC_CLASSES = ("with_mask", "without_mask", "mask_weared_incorrect")
# Observations-style names: N.jpg, N-with-mask.jpg, N-incorrect.jpg all show subject N.
_SUBJECT_SUFFIX = re.compile(r"(-with-mask|-without-mask|-incorrect|-mask)$", re.IGNORECASE)


class ImageReadError(ValueError):
    """An image file that cannot be decoded; the message names it and says why."""


def read_rgb(path: str | Path) -> np.ndarray:
    """Decode an image into an upright RGB uint8 array.

    Grayscale, palette, RGBA/LA (composited on white), CMYK and 16-bit images are
    converted; EXIF orientation is applied.

    Raises
    ------
    ImageReadError
        For unreadable, truncated or empty files.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    try:
        with Image.open(path) as img:
            img.load()  # forces a full decode, so truncated files fail here
            img = ImageOps.exif_transpose(img)
            if img.mode in ("RGBA", "LA") or (img.mode == "P" and "transparency" in img.info):
                rgba = img.convert("RGBA")
                background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                img = Image.alpha_composite(background, rgba)
            if img.mode == "I;16" or img.mode == "I":
                arr = np.asarray(img, dtype=np.float64)
                span = arr.max() - arr.min() or 1.0
                img = Image.fromarray(((arr - arr.min()) / span * 255).astype(np.uint8))
            rgb = np.asarray(img.convert("RGB"))
    except UnidentifiedImageError:
        raise ImageReadError(f"{path.name}: not an image format Pillow knows") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageReadError(f"{path.name}: cannot be decoded ({exc})") from None
    if rgb.size == 0:
        raise ImageReadError(f"{path.name}: empty image")
    return rgb


def subject_of(path: str | Path) -> str:
    """The subject a file shows, by the observations naming rule (``12-with-mask.jpg`` → ``12``)."""
    return _SUBJECT_SUFFIX.sub("", Path(path).stem)


@dataclass
class ImageSet:
    """An image set as a table: ``path, label, group`` (+ ``box`` for VOC crops).

    Attributes
    ----------
    frame : DataFrame
    classes : tuple
        Sorted class names; label indices refer to this order.
    skipped : DataFrame
        ``path, reason`` of every file that could not be used.
    """

    frame: pd.DataFrame
    classes: tuple
    skipped: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["path", "reason"]))
    name: str = ""

    def __len__(self):
        return len(self.frame)

    @property
    def y(self) -> np.ndarray:
        return self.frame["label"].map({c: i for i, c in enumerate(self.classes)}).to_numpy()

    def counts(self) -> pd.Series:
        return self.frame["label"].value_counts().reindex(self.classes, fill_value=0)


def load_image_folder(root: str | Path, classes=None, groups: str | None = "subject",
                      check: bool = True) -> ImageSet:
    """A folder-per-class set (``root/with_mask/*.jpg``, ``root/without_mask/*.jpg``, ...).

    Parameters
    ----------
    classes : sequence of str, optional
        Sub-folders to use (default: every sub-folder holding images).
    groups : {"subject", None}
        ``subject``: files showing the same subject share a group (observations naming);
        ``None``: every file is its own group.
    check : bool
        Decode every file once and skip (and report) those that fail.
    """
    from tqdm.auto import tqdm

    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such folder")
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if classes is not None:
        missing = [c for c in classes if not (root / c).is_dir()]
        if missing:
            raise ValueError(f"{root}: no class folder(s) {', '.join(missing)} "
                             f"(found {', '.join(p.name for p in folders) or 'none'})")
        folders = [root / c for c in classes]
    rows, skipped = [], []
    files = [(f, folder.name) for folder in folders for f in sorted(folder.iterdir())
             if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES]
    for path, label in tqdm(files, desc=f"checking {root.name}", unit="img", disable=not check or len(files) < 200):
        if check:
            try:
                read_rgb(path)
            except ImageReadError as exc:
                skipped.append({"path": str(path), "reason": str(exc)})
                continue
        rows.append({"path": str(path), "label": label,
                     "group": f"{subject_of(path)}" if groups == "subject" else str(path)})
    frame = pd.DataFrame(rows, columns=["path", "label", "group"])
    present = tuple(sorted(frame["label"].unique()))
    if len(present) < 2:
        raise ValueError(f"{root}: need images in at least two class folders, found {present or 'none'}")
    if skipped:
        warnings.warn(f"{root.name}: skipped {len(skipped)} unreadable file(s), e.g. {skipped[0]['reason']}",
                      UserWarning, stacklevel=2)
    return ImageSet(frame, present, pd.DataFrame(skipped, columns=["path", "reason"]), root.name)


def parse_voc(xml_path: str | Path) -> dict:
    """One PASCAL-VOC annotation: ``{"filename", "width", "height", "objects": [{"label", "box"}]}``.

    Boxes are clipped to the image; a single object and a list of objects both work.
    Parsed with defusedxml (annotation files come from outside).
    """
    from defusedxml import ElementTree

    xml_path = Path(xml_path)
    try:
        root = ElementTree.parse(xml_path).getroot()
    except ElementTree.ParseError as exc:
        raise ValueError(f"{xml_path.name}: not valid XML ({exc})") from None
    size = root.find("size")
    try:
        width, height = int(size.findtext("width")), int(size.findtext("height"))
    except (AttributeError, TypeError, ValueError):
        raise ValueError(f"{xml_path.name}: missing or bad <size><width>/<height>") from None
    objects = []
    for i, obj in enumerate(root.findall("object")):
        box = obj.find("bndbox")
        try:
            x1, y1, x2, y2 = (float(box.findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax"))
        except (AttributeError, TypeError, ValueError):
            raise ValueError(f"{xml_path.name}: object {i} has no numeric <bndbox>") from None
        x1, x2 = sorted((max(0.0, min(width, x1)), max(0.0, min(width, x2))))
        y1, y2 = sorted((max(0.0, min(height, y1)), max(0.0, min(height, y2))))
        if x2 - x1 < 1 or y2 - y1 < 1:
            continue  # a box outside the image or of zero size
        objects.append({"label": (obj.findtext("name") or "").strip(), "box": (int(x1), int(y1), int(x2), int(y2))})
    return {"filename": root.findtext("filename") or "", "width": width, "height": height, "objects": objects}


def load_voc(root: str | Path, margin: float = 0.0, classes=VOC_CLASSES) -> ImageSet:
    """Face crops from PASCAL-VOC scenes (``root/images/*.png`` + ``root/annotations/*.xml``).

    One row per box (``box`` holds the crop, enlarged by ``margin`` and clipped); all
    faces of one scene share a group, so a split never puts a scene on both sides.
    """
    root = Path(root)
    ann_dir, img_dir = root / "annotations", root / "images"
    if not ann_dir.is_dir() or not img_dir.is_dir():
        raise FileNotFoundError(f"{root}: a VOC set needs images/ and annotations/ folders")
    rows, skipped = [], []
    for xml in sorted(ann_dir.glob("*.xml")):
        try:
            ann = parse_voc(xml)
        except ValueError as exc:
            skipped.append({"path": str(xml), "reason": str(exc)})
            continue
        image = img_dir / (ann["filename"] or xml.with_suffix(".png").name)
        if not image.exists():
            image = next((p for p in img_dir.glob(xml.stem + ".*")), image)
        if not image.exists():
            skipped.append({"path": str(xml), "reason": f"{xml.name}: image {image.name} not found"})
            continue
        for obj in ann["objects"]:
            if obj["label"] not in classes:
                skipped.append({"path": str(xml), "reason": f"{xml.name}: unknown label {obj['label']!r}"})
                continue
            x1, y1, x2, y2 = obj["box"]
            mx, my = int((x2 - x1) * margin), int((y2 - y1) * margin)
            box = (max(0, x1 - mx), max(0, y1 - my), min(ann["width"], x2 + mx), min(ann["height"], y2 + my))
            rows.append({"path": str(image), "label": obj["label"], "group": xml.stem, "box": box})
    frame = pd.DataFrame(rows, columns=["path", "label", "group", "box"])
    present = tuple(c for c in sorted(classes) if c in set(frame["label"]))
    return ImageSet(frame, present, pd.DataFrame(skipped, columns=["path", "reason"]), root.name)


def split(images: ImageSet, fractions=(0.70, 0.15, 0.15), seed: int = 0, grouped: bool = True):
    """Train / validation / test indices, stratified by label and (by default) grouped.

    With ``grouped`` a group (a subject, a scene) never appears in two parts — the
    observations set's masked images are its unmasked ones with a mask pasted on, so a
    random split would test on faces seen in training.

    Returns
    -------
    (train_idx, val_idx, test_idx) : tuple of ndarray
    """
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    if not np.isclose(sum(fractions), 1.0) or min(fractions) <= 0:
        raise ValueError(f"fractions must be three positive numbers summing to 1, got {fractions}")
    y = images.y
    groups = images.frame["group"].to_numpy() if grouped else np.arange(len(y))
    idx = np.arange(len(y))

    def carve(indices, share, salt):
        n_splits = max(2, int(round(1 / share)))
        splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed + salt) if grouped \
            else StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed + salt)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "least populated class" on tiny sets
            rest, part = next(splitter.split(indices, y[indices], groups[indices]))
        return indices[rest], indices[part]

    rest, test = carve(idx, fractions[2], 0)
    train, val = carve(rest, fractions[1] / (fractions[0] + fractions[1]), 1)
    return train, val, test
