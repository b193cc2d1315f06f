"""Transfer learning for mask classification: one protocol, any backbone.

The protocol is the default, not an option: a stratified (and, where the set declares
groups, grouped) train / validation / test split with a fixed seed; early stopping and
checkpoint selection on validation only; the test set used once, at the end; class
weights when classes are imbalanced; each backbone's own preprocessing applied once.

Phase 1 trains a head on a frozen base. By default the base runs once per image (and
per augmented copy) and the head trains on the cached features; ``feature_cache=False``
is the slow path of the seed notebooks (augmented batches through the frozen base every
epoch). Phase 2 (``fine_tune=K``) unfreezes the last K layers at a low learning rate,
with BatchNormalization kept in inference mode.

Determinism: the split, the augmentation draws, the copies each epoch sees and the
initial weights all follow ``seed``; TensorFlow on CPU may still differ in the last bits
between runs (multi-threaded reductions), which can move an accuracy by one image.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from kit.data.images import ImageSet, split

from .backbones import Backbone, build_backbone, get_backbone, resolve_weights
from .evaluation import Evaluation, error_analysis, evaluate_predictions
from .features import FeatureExtractor, compiled_augmenter, lite_worthwhile, network_inputs


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
    model_dir : Path or None
        Where :func:`kit.vision.export.export` wrote the model, when ``out`` was given.
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
    settings: dict
    model: object = field(repr=False, default=None)
    model_dir: Path | None = None
    dataset: str = ""
    grouped: bool = True
    groups_shared: int = 0

    def to_json(self) -> dict:
        """The ``kit vision train --json`` contract (plus settings and timings)."""
        return {
            "backbone": self.backbone, "weights": self.weights, "classes": list(self.classes),
            "dataset": self.dataset, "n_train": self.n_train, "n_val": self.n_val, "n_test": self.n_test,
            "test": self.test.to_json(), "train_seconds": round(self.train_seconds, 2),
            "epochs_run": self.epochs_run, "params": self.params, "inference_ms": round(self.inference_ms, 3),
            "feature_images_per_second": self.feature_images_per_second,
            "train_error": self.train_eval.error, "val_error": self.val_eval.error,
            "grouped": self.grouped, "groups_shared_train_test": self.groups_shared,
            "settings": self.settings, "model_dir": str(self.model_dir) if self.model_dir else None,
        }

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
            self.bar = tqdm(total=total, desc=desc, unit="epoch", disable=not progress, leave=False)

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


def class_weights(y: np.ndarray, n_classes: int, tolerance: float = 0.1) -> np.ndarray | None:
    """Balanced class weights (``n / (k * count)``) when the largest class outnumbers the
    smallest by more than ``tolerance``; None for balanced sets."""
    counts = np.bincount(y, minlength=n_classes).astype(float)
    if counts.min() == 0:
        raise ValueError(f"a class has no training images (counts {counts.astype(int).tolist()})")
    if counts.max() / counts.min() <= 1 + tolerance:
        return None
    return len(y) / (n_classes * counts)


def _check_images(images: ImageSet, fractions) -> None:
    if not isinstance(images, ImageSet):
        raise TypeError("images must be an ImageSet (kit.data.images.open_image_set)")
    counts = images.counts()
    if len(images.classes) < 2:
        raise ValueError(f"{images.name or 'image set'}: need at least two classes, got {list(images.classes)}")
    groups = images.frame.groupby("label")["group"].nunique().reindex(images.classes, fill_value=0)
    need = int(np.ceil(1 / min(fractions))) + 1
    few = groups[groups < need]
    if len(few):
        have = "; ".join(f"{label}: {n} subject(s)" for label, n in few.items())
        raise ValueError(f"{images.name or 'image set'} ({counts.sum()} images) is too small to split: {have}; "
                         f"a {'/'.join(f'{f:.0%}' for f in fractions)} split needs at least {need} per class")


def _compile(model, learning_rate: float, steps_per_execution: int = 1):
    import keras

    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"], steps_per_execution=steps_per_execution)


def _history_frame(history, phase: str, offset: int) -> pd.DataFrame:
    h = pd.DataFrame(history.history)
    h.insert(0, "epoch", np.arange(1, len(h) + 1) + offset)
    h.insert(1, "phase", phase)
    return h[["epoch", "phase", "loss", "accuracy", "val_loss", "val_accuracy"]]


def _predict(model, pixels, preprocess_name, batch_size: int = 64, desc: str = "predicting",
             progress: bool = True) -> np.ndarray:
    from tqdm.auto import tqdm

    out = []
    for lo in tqdm(range(0, len(pixels), batch_size), desc=desc, unit="batch", disable=not progress, leave=False):
        out.append(np.asarray(model(network_inputs(pixels[lo:lo + batch_size], preprocess_name), training=False)))
    return np.concatenate(out) if out else np.zeros((0, model.output_shape[-1]), np.float32)


def _inference_ms(model, pixels, preprocess_name, n: int = 16) -> float:
    """Milliseconds per image for a batch of ``n`` through the whole model (warm), preprocessing included."""
    batch = pixels[:n] if len(pixels) >= n else np.resize(pixels, (n,) + pixels.shape[1:])
    model(network_inputs(batch, preprocess_name), training=False)
    start = time.perf_counter()
    model(network_inputs(batch, preprocess_name), training=False)
    return (time.perf_counter() - start) * 1000 / n


def _extractor_key(spec: Backbone, size: int, head: Head, weights_path: Path) -> str:
    """Names the converted extractor: backbone, input size, pooling and the exact weights."""
    from kit.data.fetch import file_sha256

    return f"{spec.name}-{size}px-pool{head.pool}-{file_sha256(Path(weights_path))[:16]}"


def _train_head_on_cached_features(images, spec, size, head, base, pooling, weights_path, pixels, parts, sample_w,
                                   augment, augment_copies, epochs, batch_size, learning_rate, patience, seed,
                                   features, progress):
    """Phase 1 on the fast path: the frozen base runs once per image (and augmented copy),
    the head trains on the features. Returns the extractor, the un-augmented features of
    every image, the trained head and its history."""
    import keras

    train_idx, val_idx = parts
    y = images.y
    key = _extractor_key(spec, size, head, weights_path)
    n_copies = augment_copies if augment is not None else 0
    n_extract = len(images) + n_copies * len(train_idx)
    extractor = FeatureExtractor(base, pooling, spec.preprocess, batch_size=max(batch_size, 32),
                                 lite_key=key if lite_worthwhile(key, n_extract) else None, progress=progress)
    shared_key = (key, id(images.frame))
    if features is not None and shared_key in features:
        clean = features[shared_key]
    else:
        clean = extractor(pixels, desc=f"{spec.name} features", progress=progress)
        if features is not None:
            features[shared_key] = clean
    copies = [clean[train_idx]]
    for c in range(n_copies):
        copies.append(extractor(pixels[train_idx], augment, desc=f"augmented copy {c + 1}/{n_copies}",
                                progress=progress))
    copies = np.stack(copies)  # (copies, n_train, ...)
    y_train, w_train = y[train_idx], sample_w[train_idx]

    def feature_batch(rows, rng):  # each image as one of its copies, drawn anew every epoch
        pick = rng.integers(0, len(copies), size=len(rows))
        return copies[pick, rows], y_train[rows], w_train[rows]

    head_model = head.trainable(clean.shape[1:], len(images.classes), seed)
    _compile(head_model, learning_rate, steps_per_execution=8)  # tiny steps: per-step overhead dominates
    stop = keras.callbacks.EarlyStopping("val_loss", patience=patience, restore_best_weights=True)
    h = head_model.fit(_batches(len(train_idx), batch_size, feature_batch, seed, True),
                       validation_data=(clean[val_idx], y[val_idx]), epochs=epochs, verbose=0,
                       callbacks=[stop, _epoch_bar(epochs, f"{spec.name} head", progress)])
    return extractor, clean, head_model, _history_frame(h, "frozen base (cached features)", 0)


def train(images: ImageSet, backbone: str | Backbone = "mobilenet_v2", *, weights="default",
          img_size: int | None = None, epochs: int = 20, batch_size: int = 32, learning_rate: float = 1e-4,
          patience: int = 5, fine_tune: int = 0, fine_tune_epochs: int = 10, fine_tune_lr: float = 1e-5,
          feature_cache: bool = True, augment: bool = True, augment_copies: int = 1, head: Head | None = None,
          fractions=(0.70, 0.15, 0.15), grouped: bool = True, seed: int = 0, out: str | Path | None = None,
          features: dict | None = None, progress: bool = True) -> TrainingResult:
    """Train a mask classifier on an image set under the course's protocol.

    Parameters
    ----------
    images : ImageSet
        From :func:`kit.data.images.open_image_set` (folders, VOC crops, registry entries).
    backbone : str
        A key of :data:`kit.vision.backbones.BACKBONES`.
    weights : "default", "imagenet", "none" or path
        See :func:`kit.vision.backbones.resolve_weights`; unavailable ImageNet weights
        are an error unless ``"none"`` is asked for.
    img_size : int, optional
        Input side; default the backbone's own (224, or 299 for InceptionV3 and Xception).
    epochs, batch_size, learning_rate, patience :
        Phase 1 (Adam); early stopping on validation loss restores the best epoch.
    fine_tune : int
        Phase 2: unfreeze the last K layers of the base (BatchNormalization stays frozen
        and in inference mode) and train at ``fine_tune_lr`` for ``fine_tune_epochs``.
    feature_cache : bool
        Fast path (default): the frozen base runs once per image and augmented copy.
        False: the seed notebooks' slow path, augmented batches through the base every epoch.
    augment, augment_copies :
        The course's augmentation (rotation 20°, zoom 0.15, shifts 0.2, horizontal flip);
        on the fast path each training image gets ``augment_copies`` augmented copies and
        every epoch draws one of them or the original per image. One copy by default:
        Keras' augmentation layers cost as much per image on CPU as MobileNetV2 itself,
        and on the observations set more copies did not change the test accuracy.
    head : Head
    fractions : (train, validation, test)
    grouped : bool
        Keep each group (subject, scene) on one side of the split. Turning it off exists
        for the leakage demonstration; results then overstate accuracy.
    seed : int
    out : path, optional
        Export the model there (``model.keras``, ``model.tflite``, ``model.json``,
        ``result.json``, ``history.csv``).
    features : dict, optional
        A dict shared between calls to reuse the un-augmented features of the same images
        and backbone (the leakage demonstration trains twice on them).

    Returns
    -------
    TrainingResult
    """
    from kit.vision import import_tensorflow

    import_tensorflow()
    import keras

    spec = get_backbone(backbone)
    head = head or Head()
    _check_images(images, fractions)
    size = int(img_size or spec.input_size)
    weights_path = resolve_weights(spec, weights, progress)
    weights_label = "random init" if weights_path is None else (
        "imagenet" if str(weights).lower() in ("default", "imagenet") else str(weights_path))
    keras.utils.set_random_seed(seed)

    train_idx, val_idx, test_idx = split(images, fractions, seed=seed, grouped=grouped)
    groups = images.frame["group"].to_numpy()
    shared = len(set(groups[train_idx]) & set(groups[test_idx]))
    y = images.y
    n_classes = len(images.classes)
    weights_per_class = class_weights(y[train_idx], n_classes)
    sample_w = (weights_per_class[y] if weights_per_class is not None else np.ones(len(y))).astype(np.float32)
    pixels = images.pixels(size, progress=progress)

    started = time.perf_counter()
    base = build_backbone(spec, size, weights_path if weights_path is not None else "none", progress)
    frozen = weights_path is not None  # pretrained weights stay frozen in phase 1; random ones train
    pooling = head.pooling(base.output_shape[1:3])
    augment_layer = compiled_augmenter(seed) if augment else None
    fast = feature_cache and frozen
    extractor, clean, best_head = None, None, None
    histories = []

    if fast:
        base.trainable = False
        extractor, clean, best_head, h = _train_head_on_cached_features(
            images, spec, size, head, base, pooling, weights_path, pixels, (train_idx, val_idx), sample_w,
            augment_layer, augment_copies, epochs, batch_size, learning_rate, patience,
            seed, features, progress)
        histories.append(h)
    else:
        base.trainable = not frozen

    inputs = keras.Input((size, size, 3), name="preprocessed_pixels")
    x = base(inputs, training=False) if frozen else base(inputs)
    if pooling is not None:
        x = pooling(x)
    if best_head is None:
        best_head = head.trainable(tuple(x.shape[1:]), n_classes, seed)
    model = keras.Model(inputs, best_head(x), name=f"{spec.name}_mask_classifier")

    def pixel_batch(rows, rng):
        chosen = train_idx[rows]
        return (network_inputs(pixels[chosen], spec.preprocess, augment_layer), y[chosen], sample_w[chosen])

    def fit_pixels(n_epochs, lr, phase):
        val_inputs = network_inputs(pixels[val_idx], spec.preprocess)
        _compile(model, lr)
        stop = keras.callbacks.EarlyStopping("val_loss", patience=patience, restore_best_weights=True)
        h = model.fit(_batches(len(train_idx), batch_size, pixel_batch, seed + len(histories), True),
                      validation_data=(val_inputs, y[val_idx]), epochs=n_epochs, verbose=0,
                      callbacks=[stop, _epoch_bar(n_epochs, f"{spec.name} {phase}", progress)])
        histories.append(_history_frame(h, phase, sum(len(f) for f in histories)))

    if not fast:
        fit_pixels(epochs, learning_rate, "frozen base" if frozen else "from scratch")
    tuned = fine_tune > 0 and frozen
    if tuned:
        base.trainable = True
        for layer in base.layers[:-fine_tune]:
            layer.trainable = False
        for layer in base.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.trainable = False
        fit_pixels(fine_tune_epochs, fine_tune_lr, "fine-tune")
    train_seconds = time.perf_counter() - started

    if fast and not tuned:  # the model is the cached base + the head: reuse the features
        proba = {name: np.asarray(best_head.predict(clean[idx], batch_size=256, verbose=0))
                 for name, idx in (("train", train_idx), ("val", val_idx), ("test", test_idx))}
    else:
        proba = {name: _predict(model, pixels[idx], spec.preprocess, desc=f"evaluating {name}", progress=progress)
                 for name, idx in (("train", train_idx), ("val", val_idx), ("test", test_idx))}
    frame = images.frame

    def evaluation(name, idx):
        boxes = frame["box"].iloc[idx].tolist() if "box" in frame else None
        return evaluate_predictions(y[idx], proba[name], images.classes, frame["path"].iloc[idx].tolist(), boxes)

    history = pd.concat(histories, ignore_index=True)
    result = TrainingResult(
        backbone=spec.name, weights=weights_label, classes=images.classes, n_train=len(train_idx),
        n_val=len(val_idx), n_test=len(test_idx), test=evaluation("test", test_idx),
        train_eval=evaluation("train", train_idx), val_eval=evaluation("val", val_idx), history=history,
        train_seconds=train_seconds, epochs_run=len(history), params=int(model.count_params()),
        inference_ms=_inference_ms(model, pixels[test_idx], spec.preprocess),
        feature_images_per_second=extractor.images_per_second if extractor and extractor.images_seen else None,
        settings={"img_size": size, "epochs": epochs, "batch_size": batch_size, "learning_rate": learning_rate,
                  "patience": patience, "fine_tune": fine_tune if tuned else 0, "feature_cache": fast, "augment": augment,
                  "augment_copies": augment_copies if fast and augment else None, "head": asdict(head),
                  "fractions": list(fractions), "grouped": grouped, "seed": seed,
                  "class_weights": None if weights_per_class is None else weights_per_class.round(4).tolist(),
                  "preprocess": spec.preprocess, "extractor": extractor.engine if extractor else None,
                  "feature_seconds": round(extractor.seconds, 2) if extractor else None},
        model=model, dataset=images.name, grouped=grouped, groups_shared=shared,
    )
    if out is not None:
        from .export import export

        result.model_dir = export(result, out)
    return result


def compare_backbones(images: ImageSet, backbones, progress: bool = True, **options) -> tuple[pd.DataFrame, dict]:
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

    from .backbones import WeightsUnavailable

    if isinstance(backbones, str):  # one name, e.g. from `kit course run -p backbones=vgg19`
        backbones = [backbones]
    rows, results = [], {}
    for name in tqdm(list(backbones), desc="backbones", unit="backbone", disable=not progress):
        try:
            result = train(images, name, progress=progress, **options)
        except (WeightsUnavailable, ValueError, FileNotFoundError) as exc:
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
    ValueError
        When no backbone could run, listing why each one failed.
    """
    ran = table.loc[table["status"] == "ok", "backbone"]
    if ran.empty:
        reasons = "; ".join(f"{row.backbone}: {row.status}" for row in table.itertuples())
        raise ValueError(f"no backbone could be trained ({reasons})")
    return results[ran.iloc[0]]


def leakage_demo(images: ImageSet, backbone: str = "mobilenet_v2", progress: bool = True, **options) -> pd.DataFrame:
    """The same model trained on a random split and on a grouped split.

    On a set where one subject appears in several images (the observations set pastes
    masks on its own unmasked faces), the random split tests on faces seen in training
    and reports a better accuracy than the model deserves. Both runs share the
    un-augmented features.
    """
    shared_features: dict = {}
    rows = []
    for grouped in (False, True):
        result = train(images, backbone, grouped=grouped, features=shared_features, progress=progress, **options)
        rows.append({"split": "grouped by subject" if grouped else "random (leaky)",
                     "test_accuracy": result.test.accuracy, "macro_f1": result.test.macro_f1,
                     "test_subjects_also_in_train": result.groups_shared, "n_test": result.n_test})
    return pd.DataFrame(rows)

