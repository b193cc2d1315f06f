"""Image sets: the faces and images the mask classifier learns from and is scored on.

An :class:`ImageSet` is a table (``path, label, group, source, box``); loaders read
folder-per-class sets, subject folders and PASCAL-VOC scenes (hardened: odd fields are
skipped and counted); :func:`split` is the grouped, stratified split (source by source);
:func:`crop_box` is the one crop function training and serving share. Decoding the files
safely is the data layer's (:mod:`kit.data.images`). In the vision core because faces
(detector training), masks (training) and live (scene evaluation) all read them.
"""
from __future__ import annotations

import re
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from kit.data.classes import MASK_CLASSES
from kit.data.images import IMAGE_SUFFIXES, image_size, read_rgb
from kit.errors import DataError, ImageReadError, MissingInputError, ParameterError
from kit.mpl import plain
from kit.progress import show_progress

# Observations-style names: N.jpg, N-with-mask.jpg, N-incorrect.jpg all show subject N.
_SUBJECT_SUFFIX = re.compile(r"(-with-mask|-without-mask|-incorrect|-mask)$", re.IGNORECASE)
_PHOTO_NUMBER = re.compile(r"~\d+$")  # "12~3": the 4th photo of subject 12 (the synthetic sets)
_SOURCE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


def subject_of(path: str | Path) -> str:
    """The subject a file shows, by the observations naming rule (``12-with-mask.jpg`` → ``12``;
    the synthetic sets' further photos ``12~2-with-mask.jpg`` → ``12``)."""
    return _PHOTO_NUMBER.sub("", _SUBJECT_SUFFIX.sub("", Path(path).stem))


def expand_box(box, margin: float, width: int, height: int) -> tuple[int, int, int, int]:
    """A box enlarged by ``margin`` (a fraction of its width and height on each side), clipped."""
    x1, y1, x2, y2 = (float(v) for v in box)
    mx, my = (x2 - x1) * margin, (y2 - y1) * margin
    return (max(0, int(round(x1 - mx))), max(0, int(round(y1 - my))),
            min(int(width), int(round(x2 + mx))), min(int(height), int(round(y2 + my))))


def crop_box(image: np.ndarray, box, margin: float = 0.0) -> np.ndarray:
    """The crop of ``box`` (``x1, y1, x2, y2``; None: the whole image) enlarged by ``margin``.

    The one crop function of the kit: training, evaluation and the live detector all cut
    faces with it, so a model meets at run time the crops it was trained on.
    """
    if box is None:
        return image
    h, w = image.shape[:2]
    x1, y1, x2, y2 = expand_box(box, margin, w, h)
    if x2 - x1 < 1 or y2 - y1 < 1:
        raise DataError(f"box {tuple(box)} lies outside the {w}x{h} image")
    return image[y1:y2, x1:x2]


def resize_square(rgb: np.ndarray, size: int) -> np.ndarray:
    """Squash an RGB image to ``size`` x ``size`` (what training and the live detector both do)."""
    import cv2

    h, w = rgb.shape[:2]
    shrinking = h >= size and w >= size
    return cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)


FRAME_COLUMNS = ["path", "label", "group", "source", "box"]


@dataclass
class ImageSet:
    """An image set as a table: ``path, label, group, source, box``.

    Attributes
    ----------
    frame : DataFrame
        One row per face (VOC, detector crops) or image; ``box`` None means the whole image.
    classes : tuple
        Sorted class names; label indices refer to this order.
    skipped : DataFrame
        ``path, reason`` of every file or annotation that could not be used.
    notes : Counter
        Repairs that were made and counted (``clipped boxes``, ``rescaled annotations``, ...).
    margin : float
        The crop margin :meth:`pixels` uses when none is given.
    empty_scenes : tuple of str
        Images of scenes whose annotation names no face (VOC): they have no row in
        ``frame`` but are scenes all the same: a detection there is a false positive.
    """

    frame: pd.DataFrame
    classes: tuple
    skipped: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["path", "reason"]))
    name: str = ""
    notes: Counter = field(default_factory=Counter)
    margin: float = 0.0
    empty_scenes: tuple = ()
    _pixels: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self):
        for column in FRAME_COLUMNS:
            if column not in self.frame:
                self.frame[column] = None if column == "box" else (self.name or "images") if column == "source" \
                    else self.frame["path"] if column == "group" else None
        self.frame = self.frame[FRAME_COLUMNS + [c for c in self.frame.columns if c not in FRAME_COLUMNS]]

    def __len__(self):
        return len(self.frame)

    @property
    def y(self) -> np.ndarray:
        return self.frame["label"].map({c: i for i, c in enumerate(self.classes)}).to_numpy()

    def counts(self) -> pd.Series:
        return self.frame["label"].value_counts().reindex(self.classes, fill_value=0)

    def summary(self) -> pd.DataFrame:
        """Rows per source and class, with the number of groups (scenes or subjects)."""
        table = self.frame.pivot_table(index="source", columns="label", values="path", aggfunc="count",
                                       fill_value=0).reindex(columns=list(self.classes), fill_value=0)
        table["groups"] = self.frame.groupby("source")["group"].nunique()
        return table

    def with_frame(self, frame: pd.DataFrame, **changes) -> "ImageSet":
        """A new set with another table (e.g. other boxes); decoded pixels are not shared."""
        values = {"frame": frame.reset_index(drop=True), "classes": self.classes, "skipped": self.skipped,
                  "name": self.name, "notes": Counter(self.notes), "margin": self.margin}
        values.update(changes)
        return ImageSet(**values)

    def pixels(self, size: int, margin: float | None = None, progress: bool = True) -> np.ndarray:
        """Every crop (box enlarged by ``margin``) or image as RGB uint8, ``size`` x ``size``.

        Decoded once per size and margin and kept, so comparing backbones of the same
        input size reads the files once. Rows follow :attr:`frame`.

        Raises
        ------
        ImageReadError
            Naming the file, if one became unreadable since the set was loaded.
        """
        margin = self.margin if margin is None else float(margin)
        key = (int(size), round(margin, 4))
        if key not in self._pixels:
            self._pixels[key] = _decode_resized(self.frame, int(size), margin, self.name, progress)
        return self._pixels[key]

    def show(self, per_class: int = 5, size: int = 96, seed: int = 0):
        """A figure with ``per_class`` random crops of each class."""
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
                ax.imshow(_decode_resized(self.frame.iloc[[i]], size, self.margin, self.name, progress=False)[0])
                ax.set_title(f"{label}\n{plain(Path(self.frame['path'].iloc[i]).name)}", fontsize=7)
        fig.suptitle(f"{plain(self.name)}: {len(self)} images", fontsize=9)
        return fig


def _decode_resized(frame: pd.DataFrame, size: int, margin: float, name: str, progress: bool) -> np.ndarray:
    from tqdm.auto import tqdm

    out = np.empty((len(frame), size, size, 3), np.uint8)
    last_path, rgb = None, None
    for i, (path, box) in enumerate(tqdm(zip(frame["path"], frame["box"]), total=len(frame), unit="img",
                                         desc=f"reading {name or 'images'} at {size}px",
                                         disable=not show_progress(progress) or len(frame) < 200, leave=False)):
        if path != last_path:  # rows of one scene are consecutive: decode the scene once
            rgb, last_path = read_rgb(path), path
        try:
            crop = crop_box(rgb, box if isinstance(box, tuple) else None, margin)
        except DataError as exc:
            raise ImageReadError(f"{Path(path).name}: {exc}") from None
        out[i] = resize_square(crop, size)
    return out


def _image_files(folder: Path) -> list[Path]:
    return sorted(f for f in folder.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES
                  and not f.name.startswith("."))


def _checked_rows(files, check: bool, progress: bool, desc: str, make_row):
    """Rows for readable files and ``(path, reason)`` for the others."""
    from tqdm.auto import tqdm

    rows, skipped = [], []
    for path, meta in tqdm(files, desc=desc, unit="img", disable=not show_progress(check and progress) or len(files) < 200,
                           leave=False):
        if check:
            try:
                read_rgb(path)  # a full decode: truncated files fail here, not in training
            except ImageReadError as exc:
                skipped.append({"path": str(path), "reason": str(exc)})
                continue
        rows.append(make_row(path, meta))
    return rows, skipped


def load_image_folder(root: str | Path, classes=None, groups: str | None = "subject", label: str | None = None,
                      check: bool = True, progress: bool = True) -> ImageSet:
    """A folder-per-class set (``root/with_mask/*.jpg``, ``root/without_mask/*.jpg``, ...),
    or, with ``label``, a folder of subject folders that all show one class.

    Parameters
    ----------
    classes : sequence of str, optional
        Sub-folders to use (default: every sub-folder holding images).
    groups : {"subject", None}
        ``subject``: files showing the same subject share a group (observations naming:
        ``12.jpg`` and ``12-with-mask.jpg``); ``None``: every file is its own group.
    label : str, optional
        Every image shows this class; each sub-folder is one subject (its group), and
        images directly in ``root`` are subjects of their own (the RWMFD layout).
    check : bool
        Decode every file once and skip (and report) those that fail.
    progress : bool
        A progress bar over the check of large sets.
    """
    root = Path(root)
    if not root.is_dir():
        raise MissingInputError(f"{root}: no such folder")
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if label is not None:
        files = [(f, f.stem) for f in _image_files(root)] + [(f, folder.name) for folder in folders
                                                            for f in _image_files(folder)]
        if not files:
            raise DataError(f"{root}: no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in it or its sub-folders")
        rows, skipped = _checked_rows(files, check, progress, f"checking {root.name}",
                                      lambda p, subject: {"path": str(p), "label": label, "group": subject})
        present = (label,)
    else:
        if classes is not None:
            missing = [c for c in classes if not (root / c).is_dir()]
            if missing:
                raise DataError(f"{root}: no class folder(s) {', '.join(missing)} "
                                f"(found {', '.join(p.name for p in folders) or 'none'})")
            folders = [root / c for c in classes]
        files = [(f, folder.name) for folder in folders for f in _image_files(folder)]
        rows, skipped = _checked_rows(files, check, progress, f"checking {root.name}", lambda p, cls: {
            "path": str(p), "label": cls, "group": subject_of(p) if groups == "subject" else str(p)})
        present = tuple(sorted({r["label"] for r in rows}))
        if not present:
            found = ", ".join(f"{p.name}/ ({len(_image_files(p))} images)" for p in folders) or "no sub-folders"
            raise DataError(f"{root}: a folder-per-class set needs readable images in its class folders; found "
                            f"{found}. For a folder whose images all show one class, give that class "
                            f"(label='with_mask', or --data with_mask={root})")
    frame = pd.DataFrame(rows, columns=["path", "label", "group"])
    if skipped:
        warnings.warn(f"{root.name}: skipped {len(skipped)} unreadable file(s), e.g. {skipped[0]['reason']}",
                      UserWarning, stacklevel=2)
    return ImageSet(frame.assign(source=root.name, box=None), present,
                    pd.DataFrame(skipped, columns=["path", "reason"]), root.name)


def parse_voc(xml_path: str | Path, image_size_wh: tuple[int, int] | None = None) -> dict:
    """One PASCAL-VOC annotation, checked and repaired where it is safe to.

    Parameters
    ----------
    xml_path : path
    image_size_wh : (width, height), optional
        The real size of the image. Boxes are given in the annotation's ``<size>``; when
        the image has another size they are rescaled to it. A missing or bad ``<size>``
        is then taken from the image.

    Returns
    -------
    dict
        ``{"filename", "width", "height", "objects": [{"label", "box"}], "notes": Counter,
        "problems": [str]}``: boxes are clipped to the image (counted as ``clipped
        boxes``); objects with a non-numeric box, or a box outside the image or of zero
        area, are left out and described in ``problems``.

    Raises
    ------
    DataError
        For a file that is not XML, not a VOC annotation, or has no usable size.
    """
    from defusedxml import ElementTree
    from defusedxml.common import DefusedXmlException

    from kit.limits import limit

    xml_path = Path(xml_path)
    most = int(limit("KIT_MAX_ANNOTATION_BYTES"))
    try:
        size_bytes = xml_path.stat().st_size
    except OSError as exc:
        raise DataError(f"{xml_path.name}: cannot be read ({exc.strerror or exc})") from None
    if size_bytes > most:  # before parsing: expat needs memory and time far beyond the file's size
        raise DataError(f"{xml_path.name}: {size_bytes:,} bytes is more than the limit of {most:,} for an annotation "
                        f"(KIT_MAX_ANNOTATION_BYTES); a VOC annotation is a few kilobytes")
    try:
        root = ElementTree.parse(xml_path).getroot()
    except ElementTree.ParseError as exc:
        raise DataError(f"{xml_path.name}: not valid XML ({exc})") from None
    except DefusedXmlException as exc:
        raise DataError(f"{xml_path.name}: refused ({type(exc).__name__}: entities or DTDs are not allowed)") from None
    if root.tag != "annotation":
        raise DataError(f"{xml_path.name}: not a PASCAL-VOC annotation (root element <{root.tag}>)")
    notes, problems = Counter(), []
    size = root.find("size")
    try:
        width, height = int(float(size.findtext("width"))), int(float(size.findtext("height")))
        if not (0 < width <= 1_000_000 and 0 < height <= 1_000_000):
            raise ValueError
    except (AttributeError, TypeError, ValueError, OverflowError):
        if image_size_wh is None:
            raise DataError(f"{xml_path.name}: missing or bad <size><width>/<height>") from None
        width, height = image_size_wh
        notes["annotations without a usable <size> (image size used)"] += 1
    sx = sy = 1.0
    if image_size_wh is not None and (width, height) != tuple(image_size_wh):
        sx, sy = image_size_wh[0] / width, image_size_wh[1] / height
        width, height = image_size_wh
        notes["annotations rescaled to their image's size"] += 1
    objects = []
    for i, obj in enumerate(root.findall("object")):
        box = obj.find("bndbox")
        try:
            x1, y1, x2, y2 = (float(box.findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax"))
            if not all(np.isfinite([x1, y1, x2, y2])):
                raise ValueError
        except (AttributeError, TypeError, ValueError, OverflowError):
            problems.append(f"{xml_path.name}: object {i} has no numeric <bndbox>; left out")
            continue
        x1, x2 = sorted((x1 * sx, x2 * sx))
        y1, y2 = sorted((y1 * sy, y2 * sy))
        cx1, cy1, cx2, cy2 = max(0.0, x1), max(0.0, y1), min(float(width), x2), min(float(height), y2)
        if cx2 - cx1 < 1 or cy2 - cy1 < 1:
            problems.append(f"{xml_path.name}: object {i} box ({x1:g}, {y1:g}, {x2:g}, {y2:g}) lies outside the "
                            f"{width}x{height} image or has no area; left out")
            continue
        if (cx1, cy1, cx2, cy2) != (x1, y1, x2, y2):
            notes["boxes clipped to the image"] += 1
        objects.append({"label": (obj.findtext("name") or "").strip(),
                        "box": (int(cx1), int(cy1), int(round(cx2)), int(round(cy2)))})
    return {"filename": root.findtext("filename") or "", "width": width, "height": height, "objects": objects,
            "notes": notes, "problems": problems}


def voc_pairs(root: Path) -> tuple[list[tuple[Path, Path]], list[dict]]:
    """``(annotation, image)`` pairs of a VOC folder, paired by file stem.

    The ``<filename>`` inside an annotation is never followed (it may say ``.png`` for a
    re-encoded ``.jpg``, or point outside the data set). Annotations without an image
    and images without an annotation are returned as skipped rows.
    """
    ann_dir, img_dir = root / "annotations", root / "images"
    images, skipped = {}, []
    for path in _image_files(img_dir):
        kept = images.setdefault(path.stem, path)
        if kept != path:  # a.jpg and a.png: one annotation, two pictures; the first is used, the other named
            skipped.append({"path": str(path), "reason": f"{path.name}: another image of scene {path.stem} "
                                                         f"({kept.name}) is used with {path.stem}.xml"})
    pairs = []
    annotated = set()
    for xml in sorted(p for p in ann_dir.glob("*.xml") if p.is_file()):
        annotated.add(xml.stem)
        if xml.stem in images:
            pairs.append((xml, images[xml.stem]))
        else:
            skipped.append({"path": str(xml), "reason": f"{xml.name}: no image {xml.stem}.* in {img_dir.name}/"})
    for stem, path in images.items():
        if stem not in annotated:
            skipped.append({"path": str(path), "reason": f"{path.name}: no annotation {stem}.xml"})
    return pairs, skipped


def load_voc(root: str | Path, margin: float = 0.0, classes=MASK_CLASSES, progress: bool = True,
             check: bool = True) -> ImageSet:
    """Faces from PASCAL-VOC scenes (``root/images/`` + ``root/annotations/*.xml``).

    One row per annotated box (the annotation's box; :meth:`ImageSet.pixels` enlarges it
    by ``margin``); all faces of one scene share a group, so a split never puts a scene on
    both sides. What cannot be used is skipped and listed in ``skipped`` with the file
    name; repairs are counted in ``notes``. With ``check`` every image is decoded once, so
    that a truncated file is skipped here, as everywhere, and never stops a training run
    halfway (the same rule as :func:`load_image_folder`).
    """
    from tqdm.auto import tqdm

    root = Path(root)
    if not (root / "annotations").is_dir() or not (root / "images").is_dir():
        raise MissingInputError(f"{root}: a VOC set needs images/ and annotations/ folders")
    pairs, skipped = voc_pairs(root)
    rows, notes, empty = [], Counter(), []
    for xml, image in tqdm(pairs, desc=f"reading {root.name} annotations", unit="file", leave=False,
                           disable=not show_progress(progress) or len(pairs) < 200):
        try:
            ann = parse_voc(xml, image_size(image))
            if check:
                read_rgb(image)  # a full decode: a truncated file fails here, not in training
        except (DataError, ImageReadError) as exc:
            skipped.append({"path": str(image if isinstance(exc, ImageReadError) else xml), "reason": str(exc)})
            notes["scenes skipped"] += 1
            continue
        notes.update(ann["notes"])
        skipped.extend({"path": str(xml), "reason": text} for text in ann["problems"])
        if not ann["objects"] and not ann["problems"]:
            empty.append(str(image))  # a scene with nobody in it: still a scene
        for obj in ann["objects"]:
            if obj["label"] not in classes:
                skipped.append({"path": str(xml), "reason": f"{xml.name}: unknown label {obj['label']!r}"})
                continue
            rows.append({"path": str(image), "label": obj["label"], "group": xml.stem, "box": obj["box"]})
    frame = pd.DataFrame(rows, columns=["path", "label", "group", "box"])
    present = tuple(c for c in sorted(classes) if c in set(frame["label"]))
    if not present:
        raise DataError(f"{root}: no usable annotated faces ({len(pairs)} annotation/image pairs, "
                        f"{len(skipped)} problem(s); first: {skipped[0]['reason'] if skipped else 'none'})")
    if empty:
        notes["scenes without faces"] += len(empty)
    return ImageSet(frame.assign(source=root.name), present, pd.DataFrame(skipped, columns=["path", "reason"]),
                    root.name, notes, margin, empty_scenes=tuple(empty))


def _root_by_pattern(folder: Path, pattern: str | None) -> Path:
    """The first folder matching the registry entry's ``root`` glob (``folder`` itself without one)."""
    if not pattern:
        return folder
    hits = sorted(p for p in folder.glob(pattern) if p.is_dir())
    if not hits:
        raise MissingInputError(f"{folder}: nothing matches the image root {pattern!r}")
    return hits[0]


def find_image_root(folder: str | Path, pattern: str | None = None) -> tuple[Path, str]:
    """Where the images are inside an unpacked archive, and in which layout.

    Returns ``(root, "voc")`` for a folder with ``images/`` and ``annotations/``, or
    ``(root, "folders")`` for the shallowest folder holding class folders named like the
    course's classes (one is enough: a set of masked close-ups to evaluate on). ``pattern`` (a glob, from the registry entry's
    ``root``) picks the folder directly.
    """
    folder = _root_by_pattern(Path(folder), pattern)
    candidates = [folder] + sorted((p for p in folder.rglob("*") if p.is_dir()),
                                   key=lambda p: (len(p.relative_to(folder).parts), str(p)))
    for candidate in candidates:
        if len(candidate.relative_to(folder).parts) > 4:
            break
        if (candidate / "images").is_dir() and (candidate / "annotations").is_dir():
            return candidate, "voc"
        if any((candidate / c).is_dir() for c in MASK_CLASSES):
            return candidate, "folders"
    raise MissingInputError(f"{folder}: no class folders ({', '.join(MASK_CLASSES)}) and no "
                            f"images/ + annotations/ folders found in it; for other class names say "
                            f"format='folders' (--format folders), and for a folder whose images all show "
                            f"one class give the class (label='with_mask', or --data with_mask=FOLDER)")


FORMATS = ("auto", "folders", "voc", "subjects")


def parse_source(spec: str) -> tuple[str, str | None]:
    """``"with_mask=path/to/rwmfd"`` → ``("path/to/rwmfd", "with_mask")``; plain specs have no label."""
    label, sep, rest = str(spec).partition("=")
    if sep and label in MASK_CLASSES:
        return rest, label
    return str(spec), None


def open_image_set(source: str | Path, format: str = "auto", margin: float = 0.0, label: str | None = None,
                   progress: bool = True, n_subjects: int = 60, size: int = 128) -> ImageSet:
    """An image set by name or path: the one obvious way lessons and the CLI load images.

    Parameters
    ----------
    source : str or path
        ``synthetic`` (generated faces, offline, several photos per subject, some masks
        hard to see; ``n_subjects`` and ``size`` apply), a
        registry entry (``masks_observations``, ``masks_rwmfd``, ``masks_voc_853``, ...)
        or a folder. ``LABEL=FOLDER`` (``with_mask=data/rwmfd``) says that every image of
        the folder shows that class, one sub-folder per subject.
    format : {"auto", "folders", "voc", "subjects"}
    margin : float
        The default crop margin around boxes (fraction of the box).
    label : str, optional
        For ``subjects`` folders: the class every image shows.
    """
    if format not in FORMATS:
        raise ParameterError(f"format must be one of {', '.join(FORMATS)}, got {format!r}")
    text, spec_label = parse_source(source)
    label = label or spec_label
    if label is not None and label not in MASK_CLASSES:
        raise ParameterError(f"label must be one of {', '.join(MASK_CLASSES)}, got {label!r}")
    pattern, entry_name = None, None
    if text == "synthetic":
        from kit.data.synthetic import face_images

        # several alike photos per person and masks that are sometimes hard to see: hard enough
        # for the lesson's points (a leaky split flatters, there are mistakes to look at)
        folder = face_images(n_subjects=n_subjects, size=size, seed=0, photos=4, difficulty=0.8)
    elif Path(text).expanduser().is_dir():
        folder = Path(text).expanduser()
    elif Path(text).expanduser().exists():
        raise DataError(f"{text}: an image set is a folder (class folders, subject folders, or "
                        f"images/ + annotations/)")
    else:
        from kit.data.fetch import fetch
        from kit.data.registry import load_registry

        registry = load_registry()
        if text not in registry.entries:
            raise MissingInputError(f"{text}: neither a folder nor a registry entry "
                                    f"(`kit data list` shows the image sets)")
        entry = registry[text]
        if entry.kind not in ("images", "annotations"):
            raise DataError(f"registry entry {text!r} is {entry.kind}, not an image set")
        folder, pattern, entry_name = fetch(text, progress=progress), entry.extra.get("root"), text
        label = label or entry.extra.get("label")
        if entry.extra.get("layout") == "subjects" and format == "auto":
            format = "subjects"
    if label is not None or format == "subjects":
        if label is None:
            raise ParameterError(f"{text}: a folder of subject folders needs the class its images show "
                                 f"(label='with_mask', or --data with_mask={text})")
        root = _root_by_pattern(Path(folder), pattern)
        images = load_image_folder(root, label=label, progress=progress)
    elif format != "auto" and pattern is None and entry_name is None and text != "synthetic":
        root = Path(folder)  # the user said what the folder is
        images = load_voc(root, margin, progress=progress) if format == "voc" else \
            load_image_folder(root, progress=progress)
    else:
        root, layout = find_image_root(folder, pattern)
        images = load_voc(root, margin, progress=progress) if layout == "voc" else \
            load_image_folder(root, progress=progress)
    images.name = entry_name or (root.name if Path(text).expanduser().is_dir() else text)
    images.margin = margin
    images.frame["source"] = _SOURCE_NAME.sub("_", images.name)
    return images


def open_image_sets(sources, format: str = "auto", progress: bool = True, **options) -> ImageSet:
    """One source (see :func:`open_image_set`) or several combined (:func:`combine`)."""
    if isinstance(sources, (str, Path)):
        return open_image_set(sources, format=format, progress=progress, **options)
    return combine([open_image_set(s, format=format, progress=progress, **options) for s in sources])


def combine(sets: list[ImageSet], name: str | None = None) -> ImageSet:
    """Several image sets as one: groups are prefixed with their source, so no scene or
    subject of one source is ever confused with another's, and each source is split on
    its own (:func:`split`)."""
    if not sets:
        raise ParameterError("combine needs at least one image set")
    if len(sets) == 1:
        return sets[0]
    names = [s.frame["source"].iloc[0] if len(s) else s.name for s in sets]
    if len(set(names)) != len(names):
        names = [f"{n}{i}" for i, n in enumerate(names)]
    frames = []
    for s, source in zip(sets, names):
        frames.append(s.frame.assign(source=source, group=source + ":" + s.frame["group"].astype(str)))
    frame = pd.concat(frames, ignore_index=True)
    classes = tuple(sorted(set(frame["label"])))
    skipped = pd.concat([s.skipped for s in sets if len(s.skipped)] or [sets[0].skipped], ignore_index=True)
    notes = sum((s.notes for s in sets), Counter())
    return ImageSet(frame, classes, skipped, name or "+".join(names), notes, sets[0].margin)


def split(images: ImageSet, fractions=(0.70, 0.15, 0.15), seed: int = 0, grouped: bool = True,
          held_out=None):
    """Train / validation / test indices, stratified by label and (by default) grouped.

    With ``grouped`` a group (a subject, a scene) never appears in two parts — the
    observations set's masked images are its unmasked ones with a mask pasted on, so a
    random split would test on faces seen in training. A set combining several sources
    is split source by source, so adding a source never moves another source's test
    scenes into training.

    ``held_out`` (a callable ``source -> groups``, e.g.
    :func:`kit.vision.splits.held_out_groups`) names groups that are the test part of
    their source whenever any of them is present: the recorded held-out scenes stay out of
    training in every run, whatever else is in the set. Sources without recorded groups are
    split at random (seeded) as before.

    Returns
    -------
    (train_idx, val_idx, test_idx) : tuple of ndarray
    """
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    if len(fractions) != 3 or not np.isclose(sum(fractions), 1.0) or min(fractions) <= 0:
        raise ParameterError(f"fractions must be three positive numbers summing to 1, got {fractions}")
    y = images.y
    groups = images.frame["group"].to_numpy() if grouped else np.arange(len(y))

    def carve(indices, share, salt):
        n_splits = max(2, int(round(1 / share)))
        splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed + salt) if grouped \
            else StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed + salt)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "least populated class" on tiny sets
            rest, part = next(splitter.split(indices, y[indices], groups[indices]))
        return indices[rest], indices[part]

    parts = ([], [], [])
    for source, rows in images.frame.groupby("source", sort=True).indices.items():
        rows = np.sort(rows)
        recorded = held_out(source) if (held_out is not None and grouped) else frozenset()
        # combine() prefixes groups with their source ("voc:scene"); the record names them bare
        bare = np.array([str(g).removeprefix(f"{source}:") for g in groups[rows]])
        forced = np.isin(bare, list(recorded)) if recorded else np.zeros(len(rows), bool)
        if forced.any():  # the recorded held-out groups are this source's test part
            test, rest = rows[forced], rows[~forced]
            if len(np.unique(groups[rest])) < 2:
                parts[0].append(rest)
                parts[2].append(test)
                continue
            train, val = carve(rest, fractions[1] / (fractions[0] + fractions[1]), 1)
            for bucket, chosen in zip(parts, (train, val, test)):
                bucket.append(chosen)
            continue
        if len(np.unique(groups[rows])) < 3:  # too few groups to split: all of it trains
            parts[0].append(rows)
            continue
        rest, test = carve(rows, fractions[2], 0)
        train, val = carve(rest, fractions[1] / (fractions[0] + fractions[1]), 1)
        for bucket, chosen in zip(parts, (train, val, test)):
            bucket.append(chosen)
    return tuple(np.sort(np.concatenate(p)).astype(int) if p else np.zeros(0, int) for p in parts)
