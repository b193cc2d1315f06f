"""``kit detect`` (and ``bench``), ``kit vision train|evaluate`` and ``kit serve`` for the Voila apps."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def _write_json(path, payload):
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(payload, indent=1))


def cmd_detect(args) -> int:
    if args.mode == "bench":
        from .bench import benchmark

        result = benchmark(args.input, args.max_frames or 300)
        print(f"kit pipeline: {result['kit']['fps']:.1f} frames/s (p50 {result['kit']['ms_per_frame']['p50']} ms, "
              f"p95 {result['kit']['ms_per_frame']['p95']} ms)")
        print(f"seed-style:   {result['seed']['fps']:.1f} frames/s (p50 {result['seed']['ms_per_frame']['p50']} ms)")
        print(f"ratio: {result['ratio']:.2f}x on {result['frames']} frames, {result['faces']} faces; "
              f"agreement with the seed: {result['agreement']}")
        if args.json:
            _write_json(args.json, result)
        return 0
    from .pipeline import MaskDetector
    from .streams import run_detection

    pipeline = MaskDetector(args.detector, args.classifier, threshold=args.threshold, margin=args.margin,
                            fast=args.fast)
    report = run_detection(args.input, pipeline, out=args.out, max_frames=args.max_frames)
    print(f"{report.frames} frame(s), {report.faces} face(s): "
          + ", ".join(f"{k} {v}" for k, v in report.by_label.items())
          + (f"; mask compliance {report.compliance:.0%}" if report.compliance is not None else "")
          + f"; {report.fps:.1f} frames/s (p50 {report.ms_per_frame['p50']} ms)")
    if args.out:
        print(f"annotated output: {args.out}")
    if args.json:
        _write_json(args.json, report.to_json())
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        ax = report.plot()
        ax.figure.savefig(args.plot, dpi=110, bbox_inches="tight")
    return 0


def cmd_serve(args) -> int:
    from kit.course.environment import lessons_dir

    apps = Path(args.apps) if args.apps else lessons_dir() / "apps"
    if not apps.is_dir():
        raise FileNotFoundError(f"{apps}: no apps folder")
    target = apps / args.app if args.app else apps
    cmd = [sys.executable, "-m", "voila", str(target), f"--port={args.port}", "--no-browser",
           f"--Voila.ip={args.ip}"]
    print("serving", target, "on", f"http://{args.ip}:{args.port}/", "(Ctrl-C stops)", file=sys.stderr)
    return subprocess.call(cmd)


def _open_images(args):
    from kit.data.images import open_image_set

    images = open_image_set(args.data, format=args.format, progress=not args.quiet)
    if len(images.skipped):
        print(f"{images.name}: skipped {len(images.skipped)} file(s):", file=sys.stderr)
        for row in images.skipped.head(10).itertuples():
            print(f"  {row.reason}", file=sys.stderr)
    return images


def cmd_vision_train(args) -> int:
    from .transfer import Head, train

    images = _open_images(args)
    counts = ", ".join(f"{k} {v}" for k, v in images.counts().items())
    print(f"{images.name}: {len(images)} images ({counts})", file=sys.stderr)
    result = train(images, args.backbone, weights=args.weights, img_size=args.img_size, epochs=args.epochs,
                   batch_size=args.batch_size, fine_tune=args.fine_tune, feature_cache=not args.no_feature_cache,
                   augment=not args.no_augment, head=Head(pool=args.head_pool, dense=args.head_dense,
                                                          dropout=args.head_dropout),
                   seed=args.seed, out=args.out, progress=not args.quiet)
    print(f"{result.backbone} ({result.weights}) on {result.dataset}: split {result.n_train}/{result.n_val}/"
          f"{result.n_test}, {result.epochs_run} epochs in {result.train_seconds:.1f} s")
    print(f"test accuracy {result.test.accuracy:.4f}, macro F1 {result.test.macro_f1:.4f}"
          + (f", ROC-AUC {result.test.roc_auc:.4f}" if result.test.roc_auc is not None else ""))
    print(result.test.report().to_string())
    print("confusion (rows true, columns predicted):")
    print(result.test.confusion().to_string())
    table, reading = result.error_analysis()
    print(reading)
    print(f"model: {result.model_dir}/model.keras, model.tflite, model.json")
    if args.json:
        _write_json(args.json, result.to_json())
    return 0


def cmd_vision_evaluate(args) -> int:
    from .export import evaluate

    images = _open_images(args)
    evaluation = evaluate(args.model, images, progress=not args.quiet)
    print(f"{args.model} on {images.name} ({len(images)} images): accuracy {evaluation.accuracy:.4f}, "
          f"macro F1 {evaluation.macro_f1:.4f}")
    print(evaluation.report().to_string())
    print(evaluation.confusion().to_string())
    if args.json:
        _write_json(args.json, {"model": str(args.model), "data": str(args.data), "n_images": len(images),
                                "test": evaluation.to_json()})
    return 0


def register(sub) -> None:
    p = sub.add_parser("detect", help="mask detection on images, folders, videos or a camera")
    p.add_argument("mode", nargs="?", choices=["bench"], help="bench: our pipeline against the seed-style one")
    p.add_argument("--input", required=True, help="image, folder of images, video file or camera:N")
    p.add_argument("--detector", default="ssd", choices=["ssd", "haar", "mtcnn"])
    p.add_argument("--classifier", default="reference", help="'reference' or a model exported by kit vision train")
    p.add_argument("--threshold", type=float, help="detector score threshold")
    p.add_argument("--margin", type=float, default=0.0, help="crop margin around faces (fraction of the box)")
    p.add_argument("--fast", action="store_true", help="real-time settings (smaller SSD blob, detect every 2nd frame)")
    p.add_argument("--out", help="annotated image, video (.mp4/.avi) or folder")
    p.add_argument("--max-frames", type=int)
    p.add_argument("--json", metavar="OUT")
    p.add_argument("--plot", metavar="OUT.png", help="faces per label and compliance over time")
    p.set_defaults(func=cmd_detect)

    from .backbones import BACKBONES

    vision = sub.add_parser("vision", help="train and evaluate mask classifiers (transfer learning)")
    actions = vision.add_subparsers(dest="action", required=True)
    p = actions.add_parser("train", help="train a classifier on an image set under the course's protocol")
    p.add_argument("--data", required=True, metavar="NAME_OR_DIR",
                   help="'synthetic', a registry entry (masks_observations, ...) or a folder")
    p.add_argument("--format", default="auto", choices=["auto", "folders", "voc"])
    p.add_argument("--backbone", default="mobilenet_v2", choices=list(BACKBONES))
    p.add_argument("--weights", default="default", metavar="imagenet|none|PATH",
                   help="starting weights (default: ImageNet for pretrained backbones)")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--img-size", type=int, help="input side in pixels (default: the backbone's own)")
    p.add_argument("--fine-tune", type=int, default=0, metavar="K", help="then fine-tune the last K layers")
    p.add_argument("--no-feature-cache", action="store_true",
                   help="slow path: augmented batches through the frozen backbone every epoch")
    p.add_argument("--no-augment", action="store_true")
    p.add_argument("--head-pool", type=int, default=7)
    p.add_argument("--head-dense", type=int, default=128)
    p.add_argument("--head-dropout", type=float, default=0.5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, metavar="DIR", help="model folder to write")
    p.add_argument("--json", metavar="OUT")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_vision_train)
    p = actions.add_parser("evaluate", help="evaluate a trained model on an image set (e.g. another data set)")
    p.add_argument("--model", required=True, metavar="DIR")
    p.add_argument("--data", required=True, metavar="NAME_OR_DIR")
    p.add_argument("--format", default="auto", choices=["auto", "folders", "voc"])
    p.add_argument("--json", metavar="OUT")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_vision_evaluate)

    p = sub.add_parser("serve", help="serve the Voila apps (lessons/apps)")
    p.add_argument("app", nargs="?", help="one app notebook, e.g. mask_detector.ipynb (default: the app list)")
    p.add_argument("--apps", help="apps folder")
    p.add_argument("--port", type=int, default=8866)
    p.add_argument("--ip", default="127.0.0.1")
    p.set_defaults(func=cmd_serve)
