"""Transfer learning: the seed recipe against the kit's cached-feature fast path, one run.

On ``../shared/data/masks/observations`` (or ``--data DIR``), with the same grouped
70/15/15 split and seed for both:

- seed recipe: MobileNetV2 frozen (ImageNet), head AveragePooling 7x7 → Dense 128 →
  Dropout 0.5 → softmax, Adam 1e-4, batch 32, 20 epochs, every epoch's batches augmented
  (rotation 20°, zoom 0.15, shifts 0.2, flip) and pushed through the frozen backbone,
  validation after every epoch;
- kit: :func:`kit.vision.masks.training.train` with its defaults (features computed once plus
  one augmented copy of every training image, head trained on the cache, early stopping
  on validation). The extractor runs as TFLite, converted once per backbone, size and
  weights and kept in the cache: the kit is timed twice, first with that conversion
  (a first run) and then with the converted extractor cached.

Both start from the decoded 224 px images in memory (decoding is shared and not timed).
Prints both wall times, the ratio, both test accuracies and the feature-extraction rate.

    python benchmarks/transfer_learning.py [--epochs 20] [--kit-slow]
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np


def seed_recipe(pixels, y, train_idx, val_idx, test_idx, epochs: int, seed: int) -> dict:
    """The seed notebooks' training loop, written the way they wrote it (Keras 3 has no
    ImageDataGenerator any more, so the same augmentation comes from preprocessing layers)."""
    import keras
    import tensorflow as tf
    from keras import layers
    from keras.applications.mobilenet_v2 import preprocess_input

    from kit.data import fetch

    keras.utils.set_random_seed(seed)
    start = time.perf_counter()
    base = keras.applications.MobileNetV2(include_top=False, weights=str(fetch("imagenet_mobilenet_v2")),
                                          input_tensor=keras.Input((224, 224, 3)))
    base.trainable = False
    x = layers.AveragePooling2D(pool_size=(7, 7))(base.output)
    x = layers.Flatten()(x)
    x = layers.Dense(128, activation="relu")(x)
    x = layers.Dropout(0.5)(x)
    out = layers.Dense(2, activation="softmax")(x)
    model = keras.Model(base.input, out)
    model.compile(optimizer=keras.optimizers.Adam(1e-4), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    aug = keras.Sequential([layers.RandomRotation(20 / 360, fill_mode="nearest"),
                            layers.RandomZoom(0.15, fill_mode="nearest"),
                            layers.RandomTranslation(0.2, 0.2, fill_mode="nearest"),
                            layers.RandomFlip("horizontal")])
    train_ds = (tf.data.Dataset.from_tensor_slices((pixels[train_idx], y[train_idx]))
                .shuffle(len(train_idx), seed=seed).batch(32)
                .map(lambda a, b: (preprocess_input(aug(tf.cast(a, tf.float32), training=True)), b))
                .prefetch(2))
    val = preprocess_input(pixels[val_idx].astype(np.float32))
    model.fit(train_ds, validation_data=(val, y[val_idx]), epochs=epochs, verbose=2)
    test = preprocess_input(pixels[test_idx].astype(np.float32))
    accuracy = float((model.predict(test, batch_size=32, verbose=0).argmax(1) == y[test_idx]).mean())
    return {"seconds": time.perf_counter() - start, "test_accuracy": accuracy}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "masks"
                                              / "observations"))
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--kit-slow", action="store_true", help="also time the kit's own slow path (--no-feature-cache)")
    parser.add_argument("--json", help="write the numbers here")
    args = parser.parse_args()
    os.environ.setdefault("KIT_OFFLINE", "1")

    from kit.vision.imagesets import open_image_set, split
    from kit.vision.masks.training import train

    if not Path(args.data).is_dir():
        raise SystemExit(f"{args.data}: not here (this benchmark needs ../shared/data/masks/observations or --data)")
    images = open_image_set(args.data)
    train_idx, val_idx, test_idx = split(images, seed=args.seed)
    pixels = images.pixels(224)
    print(f"{images.name}: {len(images)} images, split {len(train_idx)}/{len(val_idx)}/{len(test_idx)} "
          f"(grouped by subject, seed {args.seed})")

    from kit.data import cache_dir

    for old in (cache_dir() / "derived" / "extractors").glob("mobilenet_v2-224px-*"):
        old.unlink()  # time a first run: the extractor is converted to TFLite inside it
    first = train(images, "mobilenet_v2", epochs=args.epochs, seed=args.seed)
    print(f"kit fast path, first run: {first.train_seconds:.1f} s, test accuracy {first.test.accuracy:.4f}, "
          f"{first.epochs_run} epochs")
    kit = train(images, "mobilenet_v2", epochs=args.epochs, seed=args.seed)
    print(f"kit fast path, extractor cached: {kit.train_seconds:.1f} s, test accuracy {kit.test.accuracy:.4f}, "
          f"feature extraction {kit.feature_images_per_second:.1f} images/s "
          f"({kit.settings['feature_seconds']:.1f} s of the {kit.train_seconds:.1f} s)")
    slow = None
    if args.kit_slow:
        slow = train(images, "mobilenet_v2", epochs=args.epochs, seed=args.seed, feature_cache=False)
        print(f"kit slow path: {slow.train_seconds:.1f} s, test accuracy {slow.test.accuracy:.4f}")
    seed = seed_recipe(pixels, images.y, train_idx, val_idx, test_idx, args.epochs, args.seed)
    ratio, warm_ratio = seed["seconds"] / first.train_seconds, seed["seconds"] / kit.train_seconds
    gap = max(abs(seed["test_accuracy"] - r.test.accuracy) for r in (first, kit)) * 100
    print(f"seed recipe:   {seed['seconds']:.1f} s, test accuracy {seed['test_accuracy']:.4f}")
    print(f"ratio: {ratio:.1f}x faster on a first run, {warm_ratio:.1f}x with the extractor cached "
          f"(target >= 10x); accuracy gap {gap:.2f} points (target <= 1)")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "images": len(images), "n_train": len(train_idx), "n_val": len(val_idx), "n_test": len(test_idx),
            "kit_first_run": {"seconds": first.train_seconds, "test_accuracy": first.test.accuracy},
            "kit": {"seconds": kit.train_seconds, "test_accuracy": kit.test.accuracy, "epochs_run": kit.epochs_run,
                    "feature_images_per_second": kit.feature_images_per_second},
            "kit_slow": None if slow is None else {"seconds": slow.train_seconds,
                                                   "test_accuracy": slow.test.accuracy},
            "seed": seed, "ratio": ratio, "ratio_extractor_cached": warm_ratio,
            "accuracy_gap_points": gap}, indent=1))


if __name__ == "__main__":
    main()
