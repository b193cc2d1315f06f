"""Transfer learning for mask classification: one protocol, any backbone.

The protocol is the default, not an option: faces are cropped the way the live
detector will crop them (detector boxes plus the model's margin); a stratified and
grouped train / validation / test split with a fixed seed, done source by source;
early stopping and checkpoint selection on validation only; the test set used once, at
the end; class weights for imbalanced classes (3 % of the VOC faces wear the mask
incorrectly), applied to the validation loss too, so that checkpoint selection does
not undo them by preferring the majority class; each backbone's own preprocessing
applied exactly once.

Phase 1 trains a head on a frozen base. By default the base runs once per image (and
per augmented copy) and the head trains on the cached features; ``feature_cache=False``
is the slow path of the seed notebooks. Phase 2 (``fine_tune``) unfreezes the last K
layers of the base with BatchNormalization kept in inference mode, at a low learning
rate that decays along a cosine, with augmented batches.

Determinism: the split, the augmentation draws, the copies each epoch sees and the
initial weights all follow ``seed``; TensorFlow on CPU may still differ in the last bits
between runs (multi-threaded reductions), which can move an accuracy by one image.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import numpy as np
import pandas as pd

from kit.errors import DataError, KitError, ParameterError
from kit.progress import show_progress

from ..cards import ModelCard
from ..imagesets import ImageSet, split
from ..splits import held_out_groups
from .backbones import build_backbone, get_backbone, resolve_weights
from .evaluation import Evaluation, error_analysis, evaluate_predictions
from .features import compiled_augmenter, feature_extractor, lite_worthwhile
from .predictor import Predictor, network_inputs


@dataclass(frozen=True)
class Head:
    """The classification head: AveragePooling ``pool`` x ``pool`` → Flatten → Dense
    ``dense`` ReLU → Dropout ``dropout`` → Dense softmax (the course's head).

    ``pool`` is clipped to the feature map (a 4 x 4 map from a 128 px MobileNetV2 is
    pooled 4 x 4); ``pool=0`` skips pooling.
    """

    pool: int = 7
    dense: int = 128
    dropout: float = 0.5

    def pooling(self, feature_shape):
        import keras

        if not self.pool:
            return None
        size = (min(self.pool, feature_shape[0]), min(self.pool, feature_shape[1]))
        return keras.layers.AveragePooling2D(pool_size=size, name="head_pool")

    def trainable(self, pooled_shape, n_classes: int, seed: int = 0):
        import keras
        from keras import layers

        inputs = keras.Input(pooled_shape, name="pooled_features")
        x = layers.Flatten(name="head_flatten")(inputs)
        x = layers.Dense(self.dense, activation="relu", name="head_dense",
                         kernel_initializer=keras.initializers.GlorotUniform(seed))(x)
        x = layers.Dropout(self.dropout, seed=seed, name="head_dropout")(x)
        out = layers.Dense(n_classes, activation="softmax", name="head_softmax",
                           kernel_initializer=keras.initializers.GlorotUniform(seed + 1))(x)
        return keras.Model(inputs, out, name="head")


CROPS = ("detector", "as given")
FINE_TUNE_MIN_IMAGES = 1000  # below this many training images, fine-tuning overfits more than it helps
CLASS_WEIGHTING = ("balanced", "sqrt", "none")


@dataclass(frozen=True)
class TrainConfig:
    """Every setting of :func:`train`, with the defaults the kit's measurements chose.

    Attributes
    ----------
    backbone : str
        A key of :data:`kit.vision.masks.backbones.BACKBONES`.
    weights : "default", "imagenet", "none" or path
        See :func:`kit.vision.masks.backbones.resolve_weights`.
    img_size : int, optional
        Input side; default the backbone's own (224, or 299 for InceptionV3 and Xception).
    crops : {"detector", "as given"}
        ``detector``: crop every face the way the live detector does
        (:func:`kit.vision.masks.crops.detector_crops`); ``as given``: the set's own boxes.
    margin : float
        Fraction of a box added on each side before cropping; recorded in the model card
        so the live detector crops the same way.
    epochs, batch_size, learning_rate, patience :
        Phase 1 (Adam); early stopping on validation loss restores the best epoch.
    fine_tune : int or None
        Phase 2: unfreeze the last K layers of the base (BatchNormalization stays frozen
        and in inference mode) and train for ``fine_tune_epochs`` at ``fine_tune_lr``,
        decaying along a cosine. 0: no phase 2. None (default): every layer when the
        training part has at least :data:`FINE_TUNE_MIN_IMAGES` images, else none. On the
        real VOC + RWMFD + observations faces a frozen MobileNetV2 reached 85 % on the
        held-out VOC faces; fine-tuning every layer reached 94 % (with the decision bias).
    feature_cache : bool
        Fast path: the frozen base runs once per image and augmented copy. False: the
        seed notebooks' slow path (augmented batches through the base every epoch).
    augment, augment_copies :
        Rotation, zoom, shifts, flip, brightness and contrast on raw pixels; on the fast
        path each training image gets ``augment_copies`` augmented copies and every
        epoch draws one of them or the original.
    class_weighting : {"balanced", "sqrt", "none"}
        Loss weights per class against imbalance (``sqrt``: the square root of balanced).
    incorrect_wear : int
        Generated pictures of masks worn wrong per pair of the same face with and without
        a pasted mask in the training part (the observations set;
        :mod:`kit.vision.masks.incorrect_wear`): the mask moved below the nose or under
        the chin. 0 (default): none. They join the training part only.
    calibrate : bool
        With class weights, choose a decision bias on the validation set
        (:func:`calibrate_decision`) and store it in the model card.
    head : Head
    fractions : (train, validation, test)
    grouped : bool
        Keep each group (scene, subject) on one side of the split. Turning it off exists
        for the leakage demonstration; results then overstate accuracy.
    held_out : bool
        The recorded held-out scenes and subjects (:mod:`kit.vision.splits`) are the test
        part of their source, so no run ever trains on them (default).
    seed : int
    quantize : None or "float16"
        Weights of the exported TFLite file.
    """

    backbone: str = "mobilenet_v2"
    weights: str = "default"
    img_size: int | None = None
    crops: str = "detector"
    margin: float = 0.2
    epochs: int = 20
    batch_size: int = 32
    learning_rate: float = 1e-3
    patience: int = 5
    fine_tune: int | None = None
    fine_tune_epochs: int = 12
    fine_tune_lr: float = 1e-4
    feature_cache: bool = True
    augment: bool = True
    augment_copies: int = 1
    class_weighting: str = "balanced"
    incorrect_wear: int = 0
    calibrate: bool = True
    head: Head = field(default_factory=Head)
    fractions: tuple = (0.70, 0.15, 0.15)
    grouped: bool = True
    held_out: bool = True
    seed: int = 0
    quantize: str | None = None

    def check(self) -> "TrainConfig":
        """Refuse settings outside their range, naming the setting."""
        get_backbone(self.backbone)
        positive = {"epochs": self.epochs, "batch_size": self.batch_size, "patience": self.patience,
                    "fine_tune_epochs": self.fine_tune_epochs}
        for name, value in positive.items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ParameterError(f"{name} must be a whole number >= 1, got {value!r}")
        for name in ("learning_rate", "fine_tune_lr"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0 < value < 1:
                raise ParameterError(f"{name} must be a number in (0, 1), got {value!r}")
        if self.fine_tune is not None and (not isinstance(self.fine_tune, int) or isinstance(self.fine_tune, bool)
                                           or self.fine_tune < 0):
            raise ParameterError(f"fine_tune must be a number of layers >= 0 (or None: automatic), "
                                 f"got {self.fine_tune!r}")
        if self.img_size is not None and not 16 <= int(self.img_size) <= 1024:
            raise ParameterError(f"img_size must be between 16 and 1024 pixels, got {self.img_size!r}")
        if not 0.0 <= float(self.margin) <= 1.0:
            raise ParameterError(f"margin must be a fraction of the box in 0..1, got {self.margin!r}")
        if self.crops not in CROPS:
            raise ParameterError(f"crops must be one of {', '.join(CROPS)}, got {self.crops!r}")
        if self.class_weighting not in CLASS_WEIGHTING:
            raise ParameterError(f"class_weighting must be one of {', '.join(CLASS_WEIGHTING)}, "
                                 f"got {self.class_weighting!r}")
        if self.quantize not in (None, "float16"):
            raise ParameterError(f"quantize must be None or 'float16', got {self.quantize!r}")
        for name in ("augment_copies", "incorrect_wear"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value <= 8:
                raise ParameterError(f"{name} must be a whole number 0..8, got {value!r}")
        return self

    def to_json(self) -> dict:
        out = asdict(self)
        out["fractions"] = list(self.fractions)
        return out


@dataclass
class TrainingResult:
    """What :func:`train` returns.

    Attributes
    ----------
    test : Evaluation
        The test set, evaluated once with the selected model.
    train_eval, val_eval : Evaluation
        The same model on the (un-augmented) training and validation images.
    history : DataFrame
        ``epoch, phase, loss, accuracy, val_loss, val_accuracy`` per epoch.
    card : ModelCard
        What the exported model's ``model.json`` says.
    images : ImageSet
        The set as trained (with the boxes it was cropped with).
    split : dict
        ``{"train", "val", "test"}``: the groups of each part.
    model_dir : Path or None
        Where :func:`kit.vision.masks.export.export` wrote the model, when ``out`` was given.
    """

    backbone: str
    weights: str
    classes: tuple
    n_train: int
    n_val: int
    n_test: int
    test: Evaluation
    train_eval: Evaluation
    val_eval: Evaluation
    history: pd.DataFrame
    train_seconds: float
    epochs_run: int
    params: int
    inference_ms: float
    feature_images_per_second: float | None
    config: TrainConfig
    card: ModelCard
    images: ImageSet = field(repr=False, default=None)
    split: dict = field(repr=False, default_factory=dict)
    model: object = field(repr=False, default=None)
    model_dir: Path | None = None
    dataset: str = ""
    grouped: bool = True
    groups_shared: int = 0
    extractor_engine: str | None = None
    calibration: pd.DataFrame | None = field(repr=False, default=None)

    @property
    def settings(self) -> dict:
        """The configuration as a plain dict (with the input size actually used)."""
        return {**self.config.to_json(), "img_size": self.card.input_size, "preprocess": self.card.preprocess,
                "extractor": self.extractor_engine}

    def to_json(self) -> dict:
        """The ``kit vision train --json`` contract (plus settings, timings and the card)."""
        return {
            "backbone": self.backbone, "weights": self.weights, "classes": list(self.classes),
            "dataset": self.dataset, "n_train": self.n_train, "n_val": self.n_val, "n_test": self.n_test,
            "test": self.test.to_json(), "train_seconds": round(self.train_seconds, 2),
            "epochs_run": self.epochs_run, "params": self.params, "inference_ms": round(self.inference_ms, 3),
            "feature_images_per_second": self.feature_images_per_second,
            "train_error": self.train_eval.error, "val_error": self.val_eval.error,
            "grouped": self.grouped, "groups_shared_train_test": self.groups_shared,
            "settings": self.settings, "model_dir": str(self.model_dir) if self.model_dir else None,
            "per_source": self.per_source().to_dict(orient="records"),
        }

    def per_source(self) -> pd.DataFrame:
        """Test accuracy and per-class recall for each source of a combined set."""
        if self.images is None or not self.test.paths:
            return pd.DataFrame()
        frame = self.images.frame.iloc[self.split.get("test_rows", [])]
        rows = []
        for source, idx in frame.groupby("source").indices.items():
            ev = self.test.subset(idx)
            row = {"source": source, "n": len(idx), "accuracy": ev.accuracy}
            row.update({f"recall {c}": r for c, r in ev.per_class()["recall"].items()
                        if ev.per_class().loc[c, "support"] > 0})
            rows.append(row)
        return pd.DataFrame(rows)

    def error_analysis(self) -> tuple[pd.DataFrame, str]:
        """Train / validation / test error against a 0 % human level, with the bias/variance reading."""
        return error_analysis(self.train_eval.error, self.val_eval.error, self.test.error)

    def summary(self) -> pd.Series:
        return pd.Series({"backbone": self.backbone, "weights": self.weights, "test_accuracy": self.test.accuracy,
                          "macro_f1": self.test.macro_f1, "roc_auc": self.test.roc_auc, "params": self.params,
                          "train_seconds": round(self.train_seconds, 1), "inference_ms": round(self.inference_ms, 2),
                          "epochs_run": self.epochs_run})

    def plot_curves(self, axes=None):
        """Loss and accuracy per epoch, training against validation (phase 2 shaded)."""
        import matplotlib.pyplot as plt

        if axes is None:
            _, axes = plt.subplots(1, 2, figsize=(10, 3.4))
        h = self.history
        for ax, metric in zip(axes, ("loss", "accuracy")):
            ax.plot(h["epoch"], h[metric], marker=".", label="train")
            ax.plot(h["epoch"], h[f"val_{metric}"], marker=".", label="validation")
            tuned = h[h["phase"] == "fine-tune"]
            if len(tuned):
                ax.axvspan(tuned["epoch"].min() - 0.5, tuned["epoch"].max() + 0.5, color="0.9", label="fine-tune")
            ax.set_xlabel("epoch")
            ax.set_title(f"{self.backbone}: {metric}")
            ax.legend(frameon=False)
        return axes


def _epoch_bar(total: int, desc: str, progress: bool):
    """A Keras callback that advances one tqdm bar per epoch with the latest metrics."""
    import keras
    from tqdm.auto import tqdm

    class EpochBar(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.bar = tqdm(total=total, desc=desc, unit="epoch", disable=not show_progress(progress), leave=False)

        def on_epoch_end(self, epoch, logs=None):
            shown = ("loss", "val_loss", "val_accuracy")
            self.bar.set_postfix({k: f"{v:.3f}" for k, v in (logs or {}).items() if k in shown})
            self.bar.update(1)

        def on_train_end(self, logs=None):
            self.bar.close()

    return EpochBar()


def _batches(n: int, batch_size: int, make, seed: int, shuffle: bool):
    """A Keras PyDataset of ``make(indices, epoch_rng) -> (x, y, w)`` over shuffled batches."""
    import keras

    class Batches(keras.utils.PyDataset):
        def __init__(self):
            super().__init__(workers=1, use_multiprocessing=False)
            self.rng = np.random.default_rng(seed)
            self.order = self.rng.permutation(n) if shuffle else np.arange(n)

        def __len__(self):
            return (n + batch_size - 1) // batch_size

        def __getitem__(self, i):
            return make(np.sort(self.order[i * batch_size:(i + 1) * batch_size]), self.rng)

        def on_epoch_end(self):
            if shuffle:
                self.order = self.rng.permutation(n)

    return Batches()


def class_weights(y: np.ndarray, n_classes: int, tolerance: float = 0.1, method: str = "balanced"):
    """Class weights (``n / (k * count)``, or its square root) when the largest class outnumbers
    the smallest by more than ``tolerance``; None for balanced sets or ``method="none"``."""
    counts = np.bincount(y, minlength=n_classes).astype(float)
    if counts.min() == 0:
        raise DataError(f"a class has no training images (counts {counts.astype(int).tolist()})")
    if method == "none" or counts.max() / counts.min() <= 1 + tolerance:
        return None
    weights = len(y) / (n_classes * counts)
    return np.sqrt(weights) if method == "sqrt" else weights


def calibrate_decision(proba, y, priors, classes, min_recall: float = 0.5, steps: int = 21):
    """A decision bias that gives back part of the class frequencies balanced weights took away.

    A model trained with balanced class weights behaves as if every class were equally
    common, so it over-predicts rare classes (on the VOC faces, a few percent wear the mask
    incorrectly but a balanced model calls many correctly masked faces "incorrect"). Adding
    ``alpha * log(prior)`` to each class's log-probability moves the decision from the
    balanced prior (alpha 0) towards the real one (alpha 1). ``alpha`` is chosen on the
    validation set: the best accuracy while every class keeps a recall of at least
    ``min_recall`` (or what it had at alpha 0, if that was less).

    Returns
    -------
    bias : dict
        Class name -> number, for the model card (empty when no correction helps).
    table : DataFrame
        ``alpha, accuracy`` and the recall of every class, per candidate.
    """
    proba = np.asarray(proba, float)
    y = np.asarray(y, int)
    log_prior = np.log(np.clip(np.asarray(priors, float) / np.sum(priors), 1e-6, None))
    log_prior -= log_prior.mean()
    rows = []
    for alpha in np.linspace(0.0, 1.0, steps):
        pred = np.argmax(np.log(np.clip(proba, 1e-12, None)) + alpha * log_prior, axis=1)
        recalls = {c: float((pred[y == k] == k).mean()) if (y == k).any() else np.nan for k, c in enumerate(classes)}
        rows.append({"alpha": round(float(alpha), 3), "accuracy": float((pred == y).mean()), **recalls})
    table = pd.DataFrame(rows)
    floor = {c: min(min_recall, table[c].iloc[0]) for c in classes if not np.isnan(table[c].iloc[0])}
    ok = table[np.all([table[c] >= f - 1e-9 for c, f in floor.items()], axis=0)]
    best = ok.sort_values(["accuracy", "alpha"], ascending=[False, True]).iloc[0] if len(ok) else table.iloc[0]
    alpha = float(best["alpha"])
    bias = {c: round(alpha * float(v), 4) for c, v in zip(classes, log_prior)} if alpha > 0 else {}
    return bias, table


def _check_images(images: ImageSet, fractions) -> None:
    if not isinstance(images, ImageSet):
        raise ParameterError("images must be an ImageSet (kit.data.images.open_image_set)")
    if len(images.classes) < 2:
        raise DataError(f"{images.name or 'image set'}: training needs at least two classes, got "
                        f"{list(images.classes)}; add a source with the other class(es)")
    counts = images.counts()
    groups = images.frame.groupby("label")["group"].nunique().reindex(images.classes, fill_value=0)
    need = int(np.ceil(1 / min(fractions))) + 1
    few = groups[groups < need]
    if len(few):
        have = "; ".join(f"{label}: {n} subject(s)" for label, n in few.items())
        raise DataError(f"{images.name or 'image set'} ({counts.sum()} images) is too small to split: {have}; "
                        f"a {'/'.join(f'{f:.0%}' for f in fractions)} split needs at least {need} per class")


def _compile(model, learning_rate, steps_per_execution: int = 1):
    import keras

    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"], steps_per_execution=steps_per_execution)


def _history_frame(history, phase: str, offset: int) -> pd.DataFrame:
    h = pd.DataFrame(history.history)
    h.insert(0, "epoch", np.arange(1, len(h) + 1) + offset)
    h.insert(1, "phase", phase)
    return h[["epoch", "phase", "loss", "accuracy", "val_loss", "val_accuracy"]]


def _inference_ms(predictor: Predictor, pixels, n: int = 16) -> float:
    """Milliseconds per image for a batch of ``n`` through the whole model (warm), preprocessing included."""
    batch = pixels[:n] if len(pixels) >= n else np.resize(pixels, (n,) + pixels.shape[1:])
    predictor(batch)
    start = time.perf_counter()
    predictor(batch)
    return (time.perf_counter() - start) * 1000 / n


def _extractor_key(backbone: str, size: int, head: Head, weights_path: Path) -> str:
    """Names the converted extractor: backbone, input size, pooling and the exact weights."""
    from kit.files import sha256_of

    return f"{backbone}-{size}px-pool{head.pool}-{sha256_of(Path(weights_path))[:16]}"


@dataclass
class _Run:
    """What the phases of one training run share."""

    images: ImageSet
    config: TrainConfig
    size: int
    preprocess: str
    pixels: np.ndarray
    y: np.ndarray
    sample_w: np.ndarray
    parts: tuple
    progress: bool
    augment: object = None


def _train_head_on_cached_features(run: _Run, base, pooling, weights_path, features):
    """Phase 1 on the fast path: the frozen base runs once per image (and augmented copy),
    the head trains on the features. Returns the extractor, the un-augmented features of
    every image, the trained head and its history."""
    import keras

    cfg = run.config
    train_idx, val_idx, _ = run.parts
    key = _extractor_key(cfg.backbone, run.size, cfg.head, weights_path)
    n_copies = cfg.augment_copies if run.augment is not None else 0
    n_extract = len(run.images) + n_copies * len(train_idx)
    extractor = feature_extractor(base, pooling, run.size, run.preprocess, batch_size=max(cfg.batch_size, 32),
                                  lite_key=key if lite_worthwhile(key, n_extract) else None, progress=run.progress)
    shared_key = (key, id(run.images.frame), round(cfg.margin, 4))
    if features is not None and shared_key in features:
        clean = features[shared_key]
    else:
        clean = extractor(run.pixels, desc=f"{cfg.backbone} features", progress=run.progress)
        if features is not None:
            features[shared_key] = clean
    copies = [clean[train_idx]]
    for c in range(n_copies):
        copies.append(extractor(run.pixels[train_idx], run.augment, desc=f"augmented copy {c + 1}/{n_copies}",
                                progress=run.progress))
    copies = np.stack(copies)  # (copies, n_train, ...)
    y_train, w_train = run.y[train_idx], run.sample_w[train_idx]

    def feature_batch(rows, rng):  # each image as one of its copies, drawn anew every epoch
        pick = rng.integers(0, len(copies), size=len(rows))
        return copies[pick, rows], y_train[rows], w_train[rows]

    head_model = cfg.head.trainable(clean.shape[1:], len(run.images.classes), cfg.seed)
    _compile(head_model, cfg.learning_rate, steps_per_execution=8)  # tiny steps: per-step overhead dominates
    stop = keras.callbacks.EarlyStopping("val_loss", patience=cfg.patience, restore_best_weights=True)
    h = head_model.fit(_batches(len(train_idx), cfg.batch_size, feature_batch, cfg.seed, True),
                       validation_data=(clean[val_idx], run.y[val_idx], run.sample_w[val_idx]), epochs=cfg.epochs,
                       verbose=0,
                       callbacks=[stop, _epoch_bar(cfg.epochs, f"{cfg.backbone} head", run.progress)])
    return extractor, clean, head_model, _history_frame(h, "frozen base (cached features)", 0)


def _fit_pixels(run: _Run, model, n_epochs: int, lr, phase: str, histories: list, seed_offset: int) -> None:
    """Train ``model`` on augmented pixel batches, early stopping on the validation loss."""
    import keras

    cfg = run.config
    train_idx, val_idx, _ = run.parts
    def pixel_batch(rows, rng):
        chosen = train_idx[rows]
        return network_inputs(run.pixels[chosen], run.preprocess, run.augment), run.y[chosen], run.sample_w[chosen]

    _compile(model, lr)
    stop = keras.callbacks.EarlyStopping("val_loss", patience=cfg.patience, restore_best_weights=True)
    h = model.fit(_batches(len(train_idx), cfg.batch_size, pixel_batch, cfg.seed + seed_offset, True),
                  validation_data=(network_inputs(run.pixels[val_idx], run.preprocess), run.y[val_idx],
                                   run.sample_w[val_idx]), epochs=n_epochs,
                  verbose=0, callbacks=[stop, _epoch_bar(n_epochs, f"{cfg.backbone} {phase}", run.progress)])
    histories.append(_history_frame(h, phase, sum(len(f) for f in histories)))


def _unfreeze_last(base, k: int) -> None:
    """Let the last ``k`` layers of ``base`` train; BatchNormalization stays frozen."""
    import keras

    base.trainable = True
    for layer in base.layers[:-k]:
        layer.trainable = False
    for layer in base.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False


def _sources_of(images: ImageSet) -> list[dict]:
    """The data a model was trained on: per source, rows per class, groups and a fingerprint
    of its files (sha256 over the sorted ``name:size`` list)."""
    import hashlib

    out = []
    for source, frame in images.frame.groupby("source", sort=True):
        paths = sorted(set(frame["path"]))
        listing = "\n".join(f"{Path(p).name}:{Path(p).stat().st_size if Path(p).exists() else -1}" for p in paths)
        out.append({"source": source, "rows": frame["label"].value_counts().to_dict(), "files": len(paths),
                    "groups": int(frame["group"].nunique()),
                    "files_sha256": hashlib.sha256(listing.encode()).hexdigest(),
                    "crops": frame["crop_from"].value_counts().to_dict() if "crop_from" in frame else {}})
    return out


def _licenses(spec, images: ImageSet, given: dict | None) -> dict:
    """Licenses for the model card: the backbone's weights and data sources known to the
    registry, then what the caller says (for folders the registry does not know)."""
    from kit.data.registry import load_registry

    registry = load_registry()
    out = {"kit": "MIT (covid-course-kit)"}
    if spec.weights_entry and spec.weights_entry in registry.entries:
        out[f"backbone weights ({spec.weights_entry})"] = registry[spec.weights_entry].license
    for source in sorted(set(images.frame["source"])):
        if source in registry.entries:
            out[f"data: {source}"] = registry[source].license
    for source, text in (given or {}).items():
        out[f"data: {source}" if not source.startswith(("data", "kit", "backbone")) else source] = text
    return out


def train(images: ImageSet, backbone: str | None = None, *, config: TrainConfig | None = None,
          out: str | Path | None = None, features: dict | None = None, progress: bool = True,
          command: str = "", licenses: dict | None = None, **settings) -> TrainingResult:
    """Train a mask classifier on an image set under the course's protocol.

    Parameters
    ----------
    images : ImageSet
        From :func:`kit.data.images.open_image_set` (folders, VOC scenes, registry
        entries), or several combined with :func:`kit.data.images.combine`.
    backbone : str, optional
        Shorthand for ``settings["backbone"]``.
    config : TrainConfig, optional
        All settings at once; ``**settings`` (any :class:`TrainConfig` field) override it.
    out : path, optional
        Export the model there (``model.keras``, ``model.tflite``, ``model.json``,
        ``result.json``, ``history.csv``).
    features : dict, optional
        A dict shared between calls to reuse the un-augmented features of the same images
        and backbone (the leakage demonstration trains twice on them).
    command : str
        The command line that started the run, recorded in the model card.
    licenses : dict, optional
        ``{source: license}`` for data sources the registry does not know (folders).

    Returns
    -------
    TrainingResult
    """
    from kit.files import check_replaceable

    from ..cards import is_kit_model_folder
    from ..runtime import import_tensorflow

    if out is not None:  # before hours of training, not after
        check_replaceable(out, owned=is_kit_model_folder)
    import_tensorflow()
    import keras

    known = {f.name for f in fields(TrainConfig)}
    unknown = sorted(set(settings) - known)
    if unknown:
        raise ParameterError(f"unknown training setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    if backbone is not None:
        settings["backbone"] = backbone
    cfg = replace(config or TrainConfig(), **settings)
    cfg = replace(cfg, backbone=get_backbone(cfg.backbone).name).check()
    spec = get_backbone(cfg.backbone)
    _check_images(images, cfg.fractions)
    size = int(cfg.img_size or spec.input_size)
    if size < spec.min_size:
        raise ParameterError(f"{spec.title} needs images of at least {spec.min_size} px, got {size}")
    weights_path = resolve_weights(spec, cfg.weights, progress)
    weights_label = "random init" if weights_path is None else (
        "imagenet" if str(cfg.weights).lower() in ("default", "imagenet") else str(weights_path))
    if cfg.crops == "detector":
        from .crops import detector_crops

        images = detector_crops(images, progress=progress)
        _check_images(images, cfg.fractions)
    keras.utils.set_random_seed(cfg.seed)

    train_idx, val_idx, test_idx = split(images, cfg.fractions, seed=cfg.seed, grouped=cfg.grouped,
                                         held_out=held_out_groups if cfg.held_out else None)
    if cfg.incorrect_wear:
        from .incorrect_wear import add_incorrect_wear

        images, train_idx = add_incorrect_wear(images, train_idx, per_pair=cfg.incorrect_wear, seed=cfg.seed,
                                               crops=cfg.crops, progress=progress)
    groups = images.frame["group"].to_numpy()
    shared = len(set(groups[train_idx]) & set(groups[test_idx]))
    y = images.y
    n_classes = len(images.classes)
    per_class = class_weights(y[train_idx], n_classes, method=cfg.class_weighting)
    sample_w = (per_class[y] if per_class is not None else np.ones(len(y))).astype(np.float32)
    pixels = images.pixels(size, cfg.margin, progress=progress)
    run = _Run(images, cfg, size, spec.preprocess, pixels, y, sample_w, (train_idx, val_idx, test_idx), progress)

    started = time.perf_counter()
    base = build_backbone(spec, size, weights_path if weights_path is not None else "none", progress)
    frozen = weights_path is not None  # pretrained weights stay frozen in phase 1; random ones train
    pooling = cfg.head.pooling(base.output_shape[1:3])
    run.augment = compiled_augmenter(cfg.seed, {"brightness": 0.2, "contrast": 0.2}) if cfg.augment else None
    fast = cfg.feature_cache and frozen
    extractor, clean, best_head = None, None, None
    histories = []

    if fast:
        base.trainable = False
        extractor, clean, best_head, h = _train_head_on_cached_features(run, base, pooling, weights_path, features)
        histories.append(h)
    else:
        base.trainable = not frozen

    inputs = keras.Input((size, size, 3), name="preprocessed_pixels")
    x = base(inputs, training=False) if frozen else base(inputs)
    if pooling is not None:
        x = pooling(x)
    if best_head is None:
        best_head = cfg.head.trainable(tuple(x.shape[1:]), n_classes, cfg.seed)
    model = keras.Model(inputs, best_head(x), name=f"{spec.name}_mask_classifier")

    if not fast:
        _fit_pixels(run, model, cfg.epochs, cfg.learning_rate, "frozen base" if frozen else "from scratch",
                    histories, 0)
    layers = cfg.fine_tune if cfg.fine_tune is not None else (
        len(base.layers) if len(train_idx) >= FINE_TUNE_MIN_IMAGES else 0)
    tuned = layers > 0 and frozen
    if tuned:
        _unfreeze_last(base, layers)
        steps = cfg.fine_tune_epochs * -(-len(train_idx) // cfg.batch_size)
        schedule = keras.optimizers.schedules.CosineDecay(cfg.fine_tune_lr, decay_steps=max(1, steps), alpha=0.05)
        _fit_pixels(run, model, cfg.fine_tune_epochs, schedule, "fine-tune", histories, len(histories))
    train_seconds = time.perf_counter() - started

    predictor = Predictor.from_keras(model, size, spec.preprocess, batch_size=64)
    if fast and not tuned:  # the model is the cached base + the head: reuse the features
        proba = {name: np.asarray(best_head.predict(clean[idx], batch_size=256, verbose=0))
                 for name, idx in (("train", train_idx), ("val", val_idx), ("test", test_idx))}
    else:
        proba = {name: predictor(pixels[idx], desc=f"evaluating {name}", progress=progress)
                 for name, idx in (("train", train_idx), ("val", val_idx), ("test", test_idx))}
    bias, calibration = {}, None
    if per_class is not None and cfg.calibrate:  # chosen on validation, applied to every part the same way
        bias, calibration = calibrate_decision(proba["val"], y[val_idx], np.bincount(y[train_idx], minlength=n_classes),
                                               images.classes)
    decide = ModelCard(classes=tuple(images.classes), input_size=size, preprocess=spec.preprocess,
                       decision_bias=bias).decide
    proba = {name: decide(p) for name, p in proba.items()}
    frame = images.frame

    def evaluation(name, idx):
        return evaluate_predictions(y[idx], proba[name], images.classes, frame["path"].iloc[idx].tolist(),
                                    frame["box"].iloc[idx].tolist(), margin=cfg.margin)

    history = pd.concat(histories, ignore_index=True)
    test = evaluation("test", test_idx)
    from kit import __version__

    card = ModelCard(
        classes=tuple(images.classes), input_size=size, preprocess=spec.preprocess, crop_margin=float(cfg.margin),
        crops="detector boxes" if cfg.crops == "detector" else "annotated boxes", decision_bias=bias,
        source="trained with kit",
        backbone=spec.name, weights=weights_label, trained_on=_sources_of(images),
        metrics={"split": "test", "n": len(test_idx), **test.to_json()}, command=command, kit_version=__version__,
        licenses=_licenses(spec, images, licenses),
        extra={"settings": cfg.to_json(), "split": {"test": sorted(set(groups[test_idx]))}},
    )
    result = TrainingResult(
        backbone=spec.name, weights=weights_label, classes=images.classes, n_train=len(train_idx),
        n_val=len(val_idx), n_test=len(test_idx), test=test,
        train_eval=evaluation("train", train_idx), val_eval=evaluation("val", val_idx), history=history,
        train_seconds=train_seconds, epochs_run=len(history), params=int(model.count_params()),
        inference_ms=_inference_ms(predictor, pixels[test_idx]),
        feature_images_per_second=extractor.images_per_second if extractor and extractor.images_seen else None,
        config=replace(cfg, fine_tune=layers if tuned else 0), card=card, images=images,
        split={"train": sorted(set(groups[train_idx])), "val": sorted(set(groups[val_idx])),
               "test": sorted(set(groups[test_idx])), "test_rows": test_idx.tolist()},
        model=model, dataset=images.name, grouped=cfg.grouped, groups_shared=shared,
        extractor_engine=extractor.engine if extractor else None, calibration=calibration,
    )
    if out is not None:
        from .export import export

        result.model_dir = export(result, out, quantize=cfg.quantize)
    return result


def compare_backbones(images: ImageSet, backbones, progress: bool = True, **settings) -> tuple[pd.DataFrame, dict]:
    """Train every backbone (a list of names, or one name) under the same split and settings.

    A backbone that cannot run (weights unavailable, image too small) gets a row with its
    ``status`` instead of stopping the comparison.

    Returns
    -------
    table : DataFrame
        ``backbone, weights, test_accuracy, macro_f1, roc_auc, params, train_seconds,
        inference_ms, epochs_run, status``, best first.
    results : dict
        ``{backbone: TrainingResult}`` of the ones that ran.
    """
    from tqdm.auto import tqdm

    if isinstance(backbones, str):  # one name, e.g. from `kit course run -p backbones=vgg19`
        backbones = [backbones]
    rows, results = [], {}
    for name in tqdm(list(backbones), desc="backbones", unit="backbone", disable=not show_progress(progress)):
        try:
            result = train(images, name, progress=progress, **settings)
        except KitError as exc:
            rows.append({"backbone": get_backbone(name).name, "status": str(exc).splitlines()[0]})
            continue
        results[result.backbone] = result
        rows.append({**result.summary().to_dict(), "status": "ok"})
    table = pd.DataFrame(rows, columns=["backbone", "weights", "test_accuracy", "macro_f1", "roc_auc", "params",
                                        "train_seconds", "inference_ms", "epochs_run", "status"])
    table = table.sort_values(["test_accuracy", "macro_f1"], ascending=False, na_position="last")
    return table.reset_index(drop=True), results


def best_result(table: pd.DataFrame, results: dict) -> TrainingResult:
    """The best backbone of a :func:`compare_backbones` run (the table is sorted best first).

    Raises
    ------
    KitError
        When no backbone could run, listing why each one failed.
    """
    ran = table.loc[table["status"] == "ok", "backbone"]
    if ran.empty:
        reasons = "; ".join(f"{row.backbone}: {row.status}" for row in table.itertuples())
        raise DataError(f"no backbone could be trained ({reasons})")
    return results[ran.iloc[0]]


def leakage_demo(images: ImageSet, backbone: str = "mobilenet_v2", progress: bool = True, **settings) -> pd.DataFrame:
    """The same model trained on a random split and on a grouped split.

    On a set where one subject appears in several images (the observations set pastes
    masks on its own unmasked faces), the random split tests on faces seen in training
    and reports a better accuracy than the model deserves. Both runs share the
    un-augmented features.
    """
    shared_features: dict = {}
    rows = []
    for grouped in (False, True):
        result = train(images, backbone, grouped=grouped, features=shared_features, progress=progress, **settings)
        rows.append({"split": "grouped by subject" if grouped else "random (leaky)",
                     "test_accuracy": result.test.accuracy, "macro_f1": result.test.macro_f1,
                     "test_subjects_also_in_train": result.groups_shared, "n_test": result.n_test})
    return pd.DataFrame(rows)
