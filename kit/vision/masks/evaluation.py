"""Metrics of a mask classifier, computed one way everywhere.

Every scikit-learn metric is called with the true labels first (``metric(y_true,
y_pred)``): swapping them swaps precision and recall and transposes the confusion
matrix, which is exactly the mistake some published course reports made.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from kit.errors import DataError, ModelError

HUMAN_ERROR = 0.0  # people tell a masked face from a bare one essentially without error


@dataclass
class Evaluation:
    """Predictions on one labelled set and everything computed from them.

    Attributes
    ----------
    classes : tuple of str
    y_true, y_pred : ndarray of int
        Class indices into ``classes``.
    proba : ndarray (n, n_classes)
    paths : list of str
        The image of each row (for the gallery of mistakes).
    boxes : list
        The crop of each row for VOC sets (None for whole images).
    """

    classes: tuple
    y_true: np.ndarray
    y_pred: np.ndarray
    proba: np.ndarray
    paths: list = field(default_factory=list)
    boxes: list = field(default_factory=list)
    margin: float = 0.0
    note: str = ""

    def subset(self, rows) -> "Evaluation":
        """The same evaluation restricted to some rows (e.g. one source of a combined set)."""
        rows = np.asarray(rows, int)
        return Evaluation(self.classes, self.y_true[rows], self.y_pred[rows], self.proba[rows],
                          [self.paths[i] for i in rows] if self.paths else [],
                          [self.boxes[i] for i in rows] if self.boxes else [], self.margin, self.note)

    @property
    def accuracy(self) -> float:
        from sklearn.metrics import accuracy_score

        return float(accuracy_score(self.y_true, self.y_pred))

    @property
    def error(self) -> float:
        return 1.0 - self.accuracy

    def per_class(self) -> pd.DataFrame:
        """Precision, recall, F1 and support per class (rows), true labels first."""
        from sklearn.metrics import precision_recall_fscore_support

        labels = list(range(len(self.classes)))
        p, r, f, s = precision_recall_fscore_support(self.y_true, self.y_pred, labels=labels, zero_division=0)
        return pd.DataFrame({"precision": p, "recall": r, "f1": f, "support": s.astype(int)},
                            index=pd.Index(self.classes, name="class"))

    @property
    def macro_f1(self) -> float:
        return float(self.per_class()["f1"].mean())

    def report(self) -> pd.DataFrame:
        """The per-class table with macro and weighted averages, as in ``classification_report``."""
        table = self.per_class()
        support = table["support"].sum()
        weights = table["support"] / support if support else table["support"] * 0.0
        averages = pd.DataFrame({
            "precision": [table["precision"].mean(), (table["precision"] * weights).sum()],
            "recall": [table["recall"].mean(), (table["recall"] * weights).sum()],
            "f1": [table["f1"].mean(), (table["f1"] * weights).sum()],
            "support": [support, support],
        }, index=["macro avg", "weighted avg"])
        return pd.concat([table, averages]).round(4)

    def confusion(self) -> pd.DataFrame:
        """Counts with the true class in rows and the predicted class in columns."""
        from sklearn.metrics import confusion_matrix

        matrix = confusion_matrix(self.y_true, self.y_pred, labels=list(range(len(self.classes))))
        return pd.DataFrame(matrix, index=pd.Index(self.classes, name="true"),
                            columns=pd.Index(self.classes, name="predicted"))

    @property
    def roc_auc(self) -> float | None:
        """ROC-AUC of the second class's probability (two classes with both present), else None."""
        from sklearn.metrics import roc_auc_score

        if len(self.classes) != 2 or len(np.unique(self.y_true)) < 2:
            return None
        return float(roc_auc_score(self.y_true, self.proba[:, 1]))

    def mistakes(self) -> pd.DataFrame:
        """One row per misclassified image: path, true, predicted, probability of the prediction."""
        wrong = np.flatnonzero(self.y_true != self.y_pred)
        return pd.DataFrame({
            "path": [self.paths[i] for i in wrong] if self.paths else [None] * len(wrong),
            "true": [self.classes[self.y_true[i]] for i in wrong],
            "predicted": [self.classes[self.y_pred[i]] for i in wrong],
            "probability": [float(self.proba[i, self.y_pred[i]]) for i in wrong],
        }, index=wrong)

    def to_json(self) -> dict:
        """``{"accuracy", "macro_f1", "per_class": {class: {...}}, "confusion", "roc_auc"}``."""
        per_class = {name: {"precision": float(row.precision), "recall": float(row.recall), "f1": float(row.f1),
                            "support": int(row.support)} for name, row in self.per_class().iterrows()}
        out = {"accuracy": self.accuracy, "macro_f1": self.macro_f1, "per_class": per_class,
               "confusion": self.confusion().to_numpy().tolist(), "roc_auc": self.roc_auc,
               "classes": list(self.classes)}
        if self.note:
            out["note"] = self.note
        return out

    def plot_confusion(self, ax=None, title: str | None = None):
        """The confusion matrix as a heat map (true in rows, predicted in columns)."""
        import matplotlib.pyplot as plt

        matrix = self.confusion()
        if ax is None:
            _, ax = plt.subplots(figsize=(1.6 + 1.2 * len(self.classes), 1.2 + 1.1 * len(self.classes)))
        ax.imshow(matrix.to_numpy(), cmap="Blues")
        top = matrix.to_numpy().max() or 1
        for (i, j), value in np.ndenumerate(matrix.to_numpy()):
            ax.text(j, i, str(value), ha="center", va="center", color="white" if value > top / 2 else "black")
        ax.set_xticks(range(len(self.classes)), self.classes, rotation=20)
        ax.set_yticks(range(len(self.classes)), self.classes)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(title or f"accuracy {self.accuracy:.1%}")
        return ax

    def gallery(self, n: int = 12, size: int = 96):
        """A figure of up to ``n`` misclassified images with true and predicted labels."""
        import matplotlib.pyplot as plt

        from kit.data.images import read_rgb

        from ..imagesets import crop_box, resize_square

        wrong = self.mistakes().head(n)
        if wrong.empty:
            fig, ax = plt.subplots(figsize=(4, 1))
            ax.text(0.5, 0.5, "no misclassified images", ha="center", va="center")
            ax.axis("off")
            return fig
        cols = min(6, len(wrong))
        rows = (len(wrong) + cols - 1) // cols
        fig, axes = plt.subplots(rows, cols, figsize=(1.9 * cols, 2.2 * rows), squeeze=False)
        for ax in axes.ravel():
            ax.axis("off")
        for ax, (i, row) in zip(axes.ravel(), wrong.iterrows()):
            if row["path"]:
                box = self.boxes[i] if self.boxes and isinstance(self.boxes[i], tuple) else None
                ax.imshow(resize_square(crop_box(read_rgb(row["path"]), box, self.margin), size))
            ax.set_title(f"true {row['true']}\npred {row['predicted']} ({row['probability']:.0%})", fontsize=7)
        fig.suptitle(f"{len(self.mistakes())} misclassified of {len(self.y_true)}", fontsize=9)
        return fig


def evaluate_predictions(y_true, proba, classes, paths=None, boxes=None, margin: float = 0.0,
                         note: str = "") -> Evaluation:
    """An :class:`Evaluation` from true class indices and predicted probabilities."""
    proba = np.asarray(proba, dtype=np.float64)
    y_true = np.asarray(y_true, dtype=int)
    if proba.ndim != 2 or proba.shape != (len(y_true), len(classes)):
        raise ModelError(f"probabilities of shape {proba.shape} do not fit {len(y_true)} labels "
                         f"and {len(classes)} classes")
    return Evaluation(tuple(classes), y_true, proba.argmax(axis=1), proba,
                      list(paths) if paths is not None else [], list(boxes) if boxes is not None else [],
                      float(margin), note)


def restrict_to(proba: np.ndarray, model_classes, data_classes) -> tuple[np.ndarray, tuple, str]:
    """Probabilities over the classes the data has (renormalised), for a model that knows more.

    A three-class model evaluated on a two-class set can only be scored over those two
    classes: the prediction is the argmax among them. Returns the restricted
    probabilities, their classes (the model's order) and a note saying so ("" when the
    classes are the same).

    Raises
    ------
    DataError
        When the data has classes the model does not know.
    """
    model_classes = tuple(model_classes)
    unknown = [c for c in data_classes if c not in model_classes]
    if unknown:
        raise DataError(f"the data has class(es) {', '.join(unknown)} that the model does not know "
                        f"(it knows {', '.join(model_classes)})")
    kept = tuple(c for c in model_classes if c in set(data_classes))
    if kept == model_classes:
        return proba, model_classes, ""
    columns = [model_classes.index(c) for c in kept]
    sub = np.asarray(proba, float)[:, columns]
    sub = sub / np.clip(sub.sum(axis=1, keepdims=True), 1e-12, None)
    left_out = [c for c in model_classes if c not in kept]
    note = (f"scored over the data's {len(kept)} class(es) {', '.join(kept)}: the model's "
            f"{', '.join(left_out)} output was left out and each prediction is the most likely of the rest")
    return sub, kept, note


def evaluate_model(model, images, progress: bool = True) -> Evaluation:
    """Evaluate a trained model on a whole image set (another data set: cross-dataset).

    The faces are cropped as the model's card says it was trained (detector boxes plus
    its margin). When the data has fewer classes than the model (a three-class model on a
    with/without-mask folder set), predictions are restricted to the data's classes and
    the evaluation says so in ``note``.

    Parameters
    ----------
    model : "default", "reference", path or TrainingResult
        A named model, a model folder written by ``kit vision train``, or a result of
        :func:`kit.vision.masks.training.train` still in memory.
    images : ImageSet
    """
    from .classifier import load_predictor
    from .predictor import Predictor

    if hasattr(model, "card") and hasattr(model, "model"):
        card = model.card
        predictor = Predictor.from_keras(model.model, card.input_size, card.preprocess, batch_size=64)
    else:
        predictor, card, _ = load_predictor(model)
    unknown = [c for c in images.classes if c not in card.classes]
    if unknown:
        raise DataError(f"{images.name or 'image set'} has class(es) {', '.join(unknown)} that the model "
                        f"does not know (it knows {', '.join(card.classes)})")
    if card.crops == "detector boxes":
        from .crops import detector_crops

        images = detector_crops(images, progress=progress)
    pixels = images.pixels(card.input_size, card.crop_margin, progress=progress)
    proba = card.decide(predictor(pixels, desc=f"evaluating on {images.name}", progress=progress))
    proba, classes, note = restrict_to(proba, card.classes, images.classes)
    y = images.frame["label"].map({c: i for i, c in enumerate(classes)}).to_numpy()
    return evaluate_predictions(y, proba, classes, images.frame["path"].tolist(), images.frame["box"].tolist(),
                                card.crop_margin, note)


def error_analysis(train_error: float, val_error: float, test_error: float,
                   human_error: float = HUMAN_ERROR) -> tuple[pd.DataFrame, str]:
    """Train / validation / test error against human level, and what they say.

    Returns
    -------
    table : DataFrame
        ``error`` per set plus the avoidable bias (train - human), the variance
        (validation - train) and the validation-to-test gap.
    reading : str
        Which of bias and variance to work on first.
    """
    bias = train_error - human_error
    variance = val_error - train_error
    gap = test_error - val_error
    table = pd.DataFrame({"error": [human_error, train_error, val_error, test_error, bias, variance, gap]},
                         index=["human level", "train", "validation", "test", "avoidable bias (train - human)",
                                "variance (validation - train)", "validation → test gap"]).round(4)
    threshold = 0.02
    if bias < threshold and variance < threshold:
        reading = "Bias and variance are both small: the model fits and generalises."
    elif bias >= variance:
        reading = (f"High bias ({bias:.1%} avoidable): the model underfits. Train longer, fine-tune more "
                   f"layers or use a larger backbone.")
    else:
        reading = (f"High variance ({variance:.1%} between train and validation): the model overfits. "
                   f"More data, more augmentation or a smaller head.")
    if abs(gap) >= max(threshold, 2 * variance if variance > 0 else threshold):
        reading += f" The test error differs from validation by {gap:+.1%}: small sets are noisy."
    return table, reading
