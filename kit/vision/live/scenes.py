"""Scene-level evaluation: the whole pipeline on annotated scenes, as a visitor meets it.

Each scene of a PASCAL-VOC folder goes through the face detector and the classifier;
detections are matched one-to-one to the annotated faces (Hungarian matching on IoU,
at least ``iou``). Reported:

* ``recall`` — annotated faces that were found;
* ``label_accuracy`` — found faces that got the right label;
* ``end_to_end`` — annotated faces found *and* labelled right (recall x label accuracy);
* ``false_positives_per_image`` — detections matching no annotated face. Crowd photos
  have faces nobody annotated, so part of these are real faces: look at them
  (:meth:`SceneEvaluation.show`) before tuning a threshold on this number;
* per class: ``n`` annotated faces, ``found`` (of them), ``label_accuracy`` (found faces of
  that class labelled right), ``recall`` (found and labelled that class),
  ``precision`` (detections labelled that class that are a face of that class) and
  ``ap50`` (PASCAL-VOC average precision at IoU 0.5, detections ranked by detector score
  x class probability, all-point interpolation);
* the confusion matrix of found faces (rows: annotated class, columns: predicted);
* ``fps`` — scenes per second through detector and classifier (decoding excluded).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from kit.data.images import read_bgr
from kit.errors import DataError, ImageReadError, ParameterError
from kit.progress import show_progress

from ..faces.boxes import MATCH_IOU, iou_matrix, match_boxes
from ..imagesets import ImageSet, load_voc


@dataclass
class SceneEvaluation:
    """What :func:`evaluate_scenes` measured; :meth:`to_json` is the CLI's JSON contract."""

    images: int
    faces: int
    recall: float
    label_accuracy: float | None
    end_to_end: float
    false_positives_per_image: float
    per_class: dict
    confusion: pd.DataFrame
    fps: float
    detector: str
    classifier: str
    iou: float
    scenes: list = field(repr=False, default_factory=list)
    skipped: pd.DataFrame = field(repr=False, default_factory=lambda: pd.DataFrame(columns=["path", "reason"]))
    notes: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        out = {"images": self.images, "faces": self.faces, "recall": _r(self.recall),
               "label_accuracy": _r(self.label_accuracy), "end_to_end": _r(self.end_to_end),
               "false_positives_per_image": _r(self.false_positives_per_image),
               "per_class": {c: {k: _r(v) for k, v in row.items()} for c, row in self.per_class.items()},
               "confusion": {"rows": list(self.confusion.index), "columns": list(self.confusion.columns),
                             "counts": self.confusion.to_numpy().tolist()},
               "fps": _r(self.fps), "detector": self.detector, "classifier": self.classifier, "iou": self.iou,
               "skipped": len(self.skipped), "notes": self.notes}
        return out

    def summary(self) -> pd.DataFrame:
        """The headline figures as a one-column table."""
        return pd.DataFrame({"value": [self.images, self.faces, self.recall, self.label_accuracy, self.end_to_end,
                                       self.false_positives_per_image, self.fps]},
                            index=["scenes", "annotated faces", "recall", "label accuracy (found faces)",
                                   "end to end", "false positives per image", "scenes per second"]).round(4)

    def class_table(self) -> pd.DataFrame:
        """Per class: annotated faces, recall, precision, AP@0.5."""
        return pd.DataFrame(self.per_class).T.round(4)

    def show(self, n: int = 4, worst: bool = True, width: float = 6.0):
        """Scenes with annotated faces (thin white) and the pipeline's labelled boxes; by
        default the scenes with the most mistakes."""
        import matplotlib.pyplot as plt

        from ..masks.labels import COLOURS_HEX, display_name

        scenes = sorted(self.scenes, key=lambda s: -(s["missed"] + s["wrong"] + s["false_positives"])) if worst \
            else self.scenes
        scenes = scenes[:n]
        if not scenes:
            fig, ax = plt.subplots(figsize=(4, 1))
            ax.text(0.5, 0.5, "no scenes", ha="center", va="center")
            ax.axis("off")
            return fig
        fig, axes = plt.subplots(1, len(scenes), figsize=(width * len(scenes), width * 0.75), squeeze=False)
        for ax, scene in zip(axes[0], scenes):
            ax.imshow(read_bgr(scene["path"])[:, :, ::-1])
            for x1, y1, x2, y2 in scene["truth"]:
                ax.add_patch(plt.Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, ec="white", lw=0.8, ls="--"))
            for face in scene["found"]:
                x1, y1, x2, y2 = face["box"]
                colour = COLOURS_HEX.get(face["label"], "#cccccc")
                ax.add_patch(plt.Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, ec=colour, lw=1.6))
                ax.text(x1, y1 - 2, display_name(face["label"]), color=colour, fontsize=6)
            ax.set_title(f"{Path(scene['path']).name}: {scene['missed']} missed, {scene['wrong']} mislabelled, "
                         f"{scene['false_positives']} unmatched", fontsize=8)
            ax.axis("off")
        return fig


    def mistakes(self, n: int = 6, size: float = 1.6):
        """The found faces that got a wrong label, per annotated class (rows), most sure first:
        each crop titled "annotated → said (probability)"."""
        import matplotlib.pyplot as plt

        from ..masks.labels import display_name

        wrong = {}
        for scene in self.scenes:
            for i, j in scene.get("matches", ()):
                face = scene["found"][j]
                if face["label"] != scene["labels"][i]:
                    wrong.setdefault(scene["labels"][i], []).append((scene["path"], face))
        if not wrong:
            fig, ax = plt.subplots(figsize=(4, 1))
            ax.text(0.5, 0.5, "no mislabelled faces", ha="center", va="center")
            ax.axis("off")
            return fig
        classes = sorted(wrong)
        fig, axes = plt.subplots(len(classes), n, figsize=(size * n, size * 1.25 * len(classes)), squeeze=False)
        for row, c in zip(axes, classes):
            picks = sorted(wrong[c], key=lambda item: -float(item[1].get("prob") or 0))[:n]
            for ax, (path, face) in zip(row, picks):
                x1, y1, x2, y2 = (int(round(v)) for v in face["box"])
                image = read_bgr(path)
                ax.imshow(image[max(0, y1):max(y1 + 1, y2), max(0, x1):max(x1 + 1, x2), ::-1])
                ax.set_title(f"{display_name(c)} → {display_name(face['label'])}"
                             + (f" ({face['prob']:.2f})" if face.get("prob") is not None else ""), fontsize=7)
            for ax in row:
                ax.axis("off")
            row[0].text(-0.1, 0.5, f"{display_name(c)}: {len(wrong[c])} wrong", transform=row[0].transAxes,
                        rotation=90, ha="right", va="center", fontsize=8)
        fig.suptitle("Found faces with a wrong label (annotated → said)", fontsize=9)
        return fig

    def unmatched(self, n: int = 24, columns: int = 8, size: float = 1.4, seed: int = 0):
        """Detections that match no annotated face (the false positives), drawn at random
        (seeded) with their surroundings: the box in red, titled with the detector's score
        and the box height in pixels. Looking at them tells a face nobody annotated from a
        box on a face that is framed too differently and from a detection of no face at all."""
        import matplotlib.pyplot as plt

        found = []
        for scene in self.scenes:
            matched = {j for _, j in scene.get("matches", ())}
            found += [(scene["path"], face) for j, face in enumerate(scene["found"]) if j not in matched]
        if not found:
            fig, ax = plt.subplots(figsize=(4, 1))
            ax.text(0.5, 0.5, "no unmatched detections", ha="center", va="center")
            ax.axis("off")
            return fig
        picks = [found[i] for i in sorted(np.random.default_rng(seed).permutation(len(found))[:n])]
        rows = -(-len(picks) // columns)
        fig, axes = plt.subplots(rows, columns, figsize=(size * columns, size * 1.15 * rows), squeeze=False)
        for ax, (path, face) in zip(axes.flat, picks):
            image = read_bgr(path)
            x1, y1, x2, y2 = (float(v) for v in face["box"])
            w, h = x2 - x1, y2 - y1
            cx1, cy1 = int(max(0, x1 - w / 2)), int(max(0, y1 - h / 2))
            cx2, cy2 = int(min(image.shape[1], x2 + w / 2)), int(min(image.shape[0], y2 + h / 2))
            ax.imshow(image[cy1:max(cy1 + 1, cy2), cx1:max(cx1 + 1, cx2), ::-1])
            ax.add_patch(plt.Rectangle((x1 - cx1, y1 - cy1), w, h, fill=False, ec="red", lw=1.0))
            ax.set_title(f"{face.get('score', float('nan')):.2f}, {h:.0f} px", fontsize=7)
        for ax in axes.flat:
            ax.axis("off")
        fig.suptitle(f"Detections matching no annotated face: {len(picks)} of {len(found)} (score, height)",
                     fontsize=9)
        return fig


def source_table(results: dict) -> pd.DataFrame:
    """One row per source (name -> :class:`SceneEvaluation`): the headline figures and each
    class's label accuracy on found faces, so a model's weak source shows at a glance."""
    rows = []
    for name, ev in results.items():
        row = {"source": name, "scenes": ev.images, "faces": ev.faces, "recall": ev.recall,
               "label accuracy": ev.label_accuracy, "end to end": ev.end_to_end,
               "false positives / image": ev.false_positives_per_image}
        for c, figures in ev.per_class.items():
            row[f"labels right: {c}"] = figures.get("label_accuracy")
        rows.append(row)
    return pd.DataFrame(rows).set_index("source").round(3)


def _r(value):
    return None if value is None or (isinstance(value, float) and not np.isfinite(value)) else round(float(value), 4)


def average_precision(scores, correct, n_truth: int) -> float | None:
    """PASCAL-VOC average precision (all-point interpolation) of ranked detections."""
    if n_truth == 0:
        return None
    order = np.argsort(-np.asarray(scores, float), kind="stable")
    tp = np.asarray(correct, float)[order]
    if len(tp) == 0:
        return 0.0
    cum_tp, cum_fp = np.cumsum(tp), np.cumsum(1 - tp)
    recall = cum_tp / n_truth
    precision = cum_tp / np.maximum(cum_tp + cum_fp, 1e-12)
    r = np.concatenate([[0.0], recall, [1.0]])
    p = np.concatenate([[0.0], precision, [0.0]])
    for i in range(len(p) - 2, -1, -1):
        p[i] = max(p[i], p[i + 1])
    steps = np.nonzero(r[1:] != r[:-1])[0]
    return float(np.sum((r[steps + 1] - r[steps]) * p[steps + 1]))


def _scenes_of(images: ImageSet) -> list[tuple[str, list, list]]:
    """``(path, boxes, labels)`` per scene of a VOC image set, in order of path; scenes whose
    annotation names no face are scenes too (no boxes: every detection there is a false
    positive)."""
    out = []
    for path, rows in images.frame.groupby("path", sort=False).indices.items():
        frame = images.frame.iloc[rows]
        out.append((path, list(frame["box"]), list(frame["label"])))
    out.extend((path, [], []) for path in getattr(images, "empty_scenes", ()))
    return sorted(out, key=lambda item: item[0])


def evaluate_scenes(scenes, detector="default", classifier="default", iou: float = MATCH_IOU, only=None,
                    max_images: int | None = None, progress: bool = True) -> SceneEvaluation:
    """Run detector and classifier on annotated scenes and score them (see the module).

    Parameters
    ----------
    scenes : path or ImageSet
        A PASCAL-VOC folder (``images/`` + ``annotations/``) or a VOC image set.
    detector : str or detector
        ``default`` (the kit's default for photos) or a name from
        :data:`kit.vision.faces.detectors.DETECTORS`, or a detector object.
    classifier : str or MaskClassifier
    iou : float
        Smallest overlap for a detection to count as an annotated face (0.3 suits faces of
        a few dozen pixels, where annotators and detectors frame faces differently).
    only : collection of str, optional
        Evaluate only these scenes (file stems), e.g. a model's held-out test scenes.
    max_images : int, optional
    """
    from tqdm.auto import tqdm

    from ..faces.detectors import DEFAULT_DETECTOR
    from ..masks.classifier import MaskClassifier
    from .pipeline import MaskDetector

    if not 0.05 <= float(iou) <= 0.95:
        raise ParameterError(f"iou must be between 0.05 and 0.95, got {iou!r}")
    images = scenes if isinstance(scenes, ImageSet) else load_voc(scenes, progress=progress)
    if "box" not in images.frame or images.frame["box"].isna().all():
        raise DataError(f"{images.name}: scene evaluation needs annotated boxes (a PASCAL-VOC folder)")
    items = _scenes_of(images)
    if only is not None:
        wanted = {str(s).split(":")[-1] for s in only}
        items = [s for s in items if Path(s[0]).stem in wanted]
        if not items:
            raise DataError(f"{images.name}: none of the {len(wanted)} requested scenes is in it")
    if max_images:
        items = items[:max_images]
    classifier = MaskClassifier(classifier) if isinstance(classifier, str) else classifier
    pipe = MaskDetector(DEFAULT_DETECTOR if detector == "default" else detector, classifier)
    model_classes = list(classifier.classes)
    data_classes = [c for c in images.classes]
    rows_classes = data_classes + [c for c in model_classes if c not in data_classes]
    confusion = pd.DataFrame(0, index=pd.Index(data_classes, name="annotated"),
                             columns=pd.Index(model_classes, name="predicted"))
    annotated = found = right = false_pos = 0
    n_class = {c: 0 for c in rows_classes}
    found_class = {c: 0 for c in rows_classes}
    hit_class = {c: 0 for c in rows_classes}
    said_class = {c: 0 for c in rows_classes}
    said_right = {c: 0 for c in rows_classes}
    ap_scores = {c: [] for c in rows_classes}
    ap_correct = {c: [] for c in rows_classes}
    seconds, done, skipped, detail = 0.0, 0, [], []
    for path, truth, labels in tqdm(items, desc="scenes", unit="scene", disable=not show_progress(progress), leave=False):
        try:
            frame = read_bgr(path)
        except ImageReadError as exc:
            skipped.append({"path": path, "reason": str(exc)})
            continue
        t0 = time.perf_counter()
        result = pipe.process(frame)
        seconds += time.perf_counter() - t0
        done += 1
        faces = result.faces
        pairs = match_boxes(truth, [f.box for f in faces], iou)
        matched_faces = {j for _, j, _ in pairs}
        annotated += len(truth)
        found += len(pairs)
        false_pos += len(faces) - len(pairs)
        for label in labels:
            n_class[label] += 1
        for f in faces:
            said_class[f.label] = said_class.get(f.label, 0) + 1
        wrong = 0
        for i, j, _ in pairs:
            found_class[labels[i]] += 1
            confusion.loc[labels[i], faces[j].label] += 1
            if faces[j].label == labels[i]:
                right += 1
                hit_class[labels[i]] += 1
                said_right[labels[i]] += 1
            else:
                wrong += 1
        # AP@0.5: per predicted class, greedy matching by confidence to faces of that class
        for c in model_classes:
            mine = [j for j, f in enumerate(faces) if f.label == c]
            if not mine:
                continue
            conf = [faces[j].score * faces[j].prob for j in mine]
            targets = [i for i, label in enumerate(labels) if label == c]
            taken = set()
            ious = iou_matrix([faces[j].box for j in mine], [truth[i] for i in targets]) if targets else None
            for k in np.argsort(-np.asarray(conf)):
                ok = False
                if targets:
                    order = np.argsort(-ious[k])
                    for t in order:
                        if ious[k, t] < 0.5:
                            break
                        if t not in taken:
                            taken.add(t)
                            ok = True
                            break
                ap_scores.setdefault(c, []).append(conf[k])
                ap_correct.setdefault(c, []).append(ok)
        detail.append({"path": path, "truth": truth, "labels": list(labels), "found": [f.to_json() for f in faces],
                       "matches": [(int(i), int(j)) for i, j, _ in pairs],
                       "missed": len(truth) - len(pairs), "wrong": wrong,
                       "false_positives": len(faces) - len(matched_faces)})
    if done == 0:
        raise DataError(f"{images.name}: no scene could be evaluated ({len(skipped)} unreadable)")
    per_class = {}
    for c in rows_classes:
        if n_class.get(c, 0) == 0 and c not in data_classes:
            continue
        per_class[c] = {"n": n_class.get(c, 0), "found": found_class.get(c, 0),
                        "label_accuracy": hit_class[c] / found_class[c] if found_class.get(c) else None,
                        "recall": hit_class[c] / n_class[c] if n_class.get(c) else None,
                        "precision": said_right[c] / said_class[c] if said_class.get(c) else None,
                        "ap50": average_precision(ap_scores.get(c, []), ap_correct.get(c, []), n_class.get(c, 0))
                        if c in model_classes else 0.0 if n_class.get(c) else None}
    notes = {k: v for k, v in images.notes.items()}
    return SceneEvaluation(
        images=done, faces=annotated, recall=found / annotated if annotated else float("nan"),
        label_accuracy=right / found if found else None, end_to_end=right / annotated if annotated else float("nan"),
        false_positives_per_image=false_pos / done, per_class=per_class, confusion=confusion,
        fps=done / seconds if seconds else float("nan"), detector=pipe.detector.name, classifier=classifier.name,
        iou=float(iou), scenes=detail,
        skipped=pd.concat([images.skipped, pd.DataFrame(skipped, columns=["path", "reason"])], ignore_index=True),
        notes=notes,
    )


def example_scene(source="demo", stem: str | None = None):
    """One scene to look at: a frame and its annotated faces ``[(box, label), ...]``.

    Parameters
    ----------
    source : "demo", a VOC folder or a registry entry
        ``demo``: a generated crowd of the sample portrait (offline).
    stem : str, optional
        The scene's file stem; default the scene with the most annotated faces.
    """
    if str(source) == "demo":
        from .demo import crowd_scene

        return crowd_scene()
    from ..imagesets import open_image_set

    images = open_image_set(source, format="voc" if Path(str(source)).is_dir() else "auto", progress=False)
    frame = images.frame
    if stem is None:
        stem = Path(frame["path"].value_counts().index[0]).stem
    rows = frame[frame["path"].map(lambda p: Path(p).stem) == stem]
    if rows.empty:
        raise DataError(f"{images.name}: no annotated scene {stem!r}")
    return read_bgr(rows["path"].iloc[0]), list(zip(rows["box"], rows["label"]))
