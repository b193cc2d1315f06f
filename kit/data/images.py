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
    _pixels: dict = field(default_factory=dict, repr=False, compare=False)

    def __len__(self):
        return len(self.frame)

    @property
    def y(self) -> np.ndarray:
        return self.frame["label"].map({c: i for i, c in enumerate(self.classes)}).to_numpy()

    def counts(self) -> pd.Series:
        return self.frame["label"].value_counts().reindex(self.classes, fill_value=0)

    def pixels(self, size: int, progress: bool = True) -> np.ndarray:
        """Every image (or VOC crop) as RGB uint8, resized to ``size`` x ``size``.

        Decoded once per size and kept, so comparing backbones of the same input size
        reads the files once. Rows follow :attr:`frame`.

        Raises
        ------
        ImageReadError
            Naming the file, if one became unreadable since the set was loaded.
        """
        if size not in self._pixels:
            self._pixels[size] = _decode_resized(self.frame, int(size), self.name, progress)
        return self._pixels[size]

    def show(self, per_class: int = 5, size: int = 96, seed: int = 0):
        """A figure with ``per_class`` random images of each class (crops for VOC sets)."""
        import matplotlib.pyplot as plt

        rng = np.random.default_rng(seed)
        fig, axes = plt.subplots(len(self.classes), per_class, figsize=(1.7 * per_class, 1.9 * len(self.classes)),
                                 squeeze=False)
        for row, label in zip(axes, self.classes):
            rows = np.flatnonzero(self.frame["label"].to_numpy() == label)
            chosen = rng.choice(rows, size=min(per_class, len(rows)), replace=False)
            for ax in row:
                ax.axis("off")
            for ax, i in zip(row, chosen):
                ax.imshow(_decode_resized(self.frame.iloc[[i]], size, self.name, progress=False)[0])
                ax.set_title(f"{label}\n{Path(self.frame['path'].iloc[i]).name}", fontsize=7)
        fig.suptitle(f"{self.name}: {len(self)} images", fontsize=9)
        return fig


def resize_square(rgb: np.ndarray, size: int) -> np.ndarray:
    """Squash an RGB image to ``size`` x ``size`` (what training and the live detector both do)."""
    import cv2

    return cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA)


def _decode_resized(frame: pd.DataFrame, size: int, name: str, progress: bool) -> np.ndarray:
    from tqdm.auto import tqdm

    out = np.empty((len(frame), size, size, 3), np.uint8)
    boxes = frame["box"] if "box" in frame else pd.Series([None] * len(frame))
    last_path, rgb = None, None
    for i, (path, box) in enumerate(tqdm(zip(frame["path"], boxes), total=len(frame), unit="img",
                                         desc=f"reading {name or 'images'} at {size}px",
                                         disable=not progress, leave=False)):
        if path != last_path:  # VOC rows of one scene are consecutive: decode the scene once
            rgb, last_path = read_rgb(path), path
        if isinstance(box, tuple):
            x1, y1, x2, y2 = box
            crop = rgb[y1:y2, x1:x2]
            if crop.size == 0:
                raise ImageReadError(f"{Path(path).name}: box {box} lies outside the "
                                     f"{rgb.shape[1]}x{rgb.shape[0]} image")
        else:
            crop = rgb
        out[i] = resize_square(crop, size)
    return out


def load_image_folder(root: str | Path, classes=None, groups: str | None = "subject",
                      check: bool = True, progress: bool = True) -> ImageSet:
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
    progress : bool
        A progress bar over the check of large sets.
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
    for path, label in tqdm(files, desc=f"checking {root.name}", unit="img", disable=not (check and progress) or len(files) < 200):
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


def find_image_root(folder: str | Path, pattern: str | None = None) -> tuple[Path, str]:
    """Where the images are inside an unpacked archive, and in which layout.

    Returns ``(root, "voc")`` for a folder with ``images/`` and ``annotations/``, or
    ``(root, "folders")`` for the shallowest folder holding two or more class folders
    named like the course's classes. ``pattern`` (a glob, from the registry entry's
    ``root``) picks the folder directly.
    """
    folder = Path(folder)
    if pattern:
        hits = sorted(p for p in folder.glob(pattern) if p.is_dir())
        if not hits:
            raise FileNotFoundError(f"{folder}: nothing matches the image root {pattern!r}")
        folder = hits[0]
    candidates = [folder] + sorted((p for p in folder.rglob("*") if p.is_dir()),
                                   key=lambda p: (len(p.relative_to(folder).parts), str(p)))
    for candidate in candidates:
        if len(candidate.relative_to(folder).parts) > 4:
            break
        if (candidate / "images").is_dir() and (candidate / "annotations").is_dir():
            return candidate, "voc"
        if sum((candidate / c).is_dir() for c in VOC_CLASSES) >= 2:
            return candidate, "folders"
    raise FileNotFoundError(f"{folder}: no class folders ({', '.join(VOC_CLASSES)}) and no "
                            f"images/ + annotations/ folders found in it; for other class names say "
                            f"format='folders' (--format folders) and its sub-folders are the classes")


def open_image_set(source: str | Path, format: str = "auto", margin: float = 0.1, progress: bool = True,
                   n_subjects: int = 60, size: int = 128) -> ImageSet:
    """An image set by name or path: the one obvious way lessons and the CLI load images.

    Parameters
    ----------
    source : str or path
        ``synthetic`` (generated faces, offline; ``n_subjects`` and ``size`` apply), a
        registry entry (``masks_observations``, ``masks_kaggle_7553``, ``masks_voc_853``)
        or a folder.
    format : {"auto", "folders", "voc"}
    margin : float
        Crop margin around VOC boxes (fraction of the box).
    """
    if format not in ("auto", "folders", "voc"):
        raise ValueError(f"format must be auto, folders or voc, got {format!r}")
    text = str(source)
    pattern = None
    if text == "synthetic":
        from .synthetic import face_images

        folder = face_images(n_subjects=n_subjects, size=size, seed=0)
    elif Path(text).expanduser().is_dir():
        folder = Path(text).expanduser()
    elif Path(text).expanduser().exists():
        raise ValueError(f"{text}: an image set is a folder (class folders, or images/ + annotations/)")
    else:
        from .fetch import fetch
        from .registry import RegistryError, load_registry

        try:
            entry = load_registry()[text]
        except RegistryError:
            raise FileNotFoundError(f"{text}: neither a folder nor a registry entry "
                                    f"(`kit data list` shows the image sets)") from None
        if entry.kind not in ("images", "annotations"):
            raise ValueError(f"registry entry {text!r} is {entry.kind}, not an image set")
        folder, pattern = fetch(text, progress=progress), entry.extra.get("root")
    if format != "auto" and pattern is None and Path(folder) == Path(text).expanduser():
        root, layout = Path(folder), format  # the user said what the folder is
    else:
        root, layout = find_image_root(folder, pattern)
    images = load_voc(root, margin=margin) if layout == "voc" else load_image_folder(root, progress=progress)
    images.name = root.name if Path(text).expanduser().is_dir() else text
    return images


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
