"""``kit detect`` (and ``bench``, ``evaluate``) and ``kit vision train|evaluate``."""
from __future__ import annotations

import sys
from pathlib import Path

from kit.errors import UsageError
from kit.files import write_json

from .faces.boxes import MATCH_IOU
from .faces.detectors import DEFAULT_DETECTOR, DETECTORS, LIVE_MIN_FACE, PHOTO_MIN_FACE, VIDEO_MIN_FACE


def _print_scene_evaluation(ev) -> None:
    print(f"{ev.images} scene(s), {ev.faces} annotated face(s); detector {ev.detector}, classifier {ev.classifier}, "
          f"IoU >= {ev.iou:g}")
    print(f"recall {ev.recall:.4f}, label accuracy {ev.label_accuracy if ev.label_accuracy is None else round(ev.label_accuracy, 4)}, "
          f"end to end {ev.end_to_end:.4f}, false positives per image {ev.false_positives_per_image:.2f}, "
          f"{ev.fps:.1f} scenes/s")
    print(ev.class_table().to_string())
    print("confusion of found faces (rows annotated, columns predicted):")
    print(ev.confusion.to_string())
    if len(ev.skipped):
        print(f"{len(ev.skipped)} file(s) or annotation(s) skipped, e.g. {ev.skipped['reason'].iloc[0]}",
              file=sys.stderr)
    for note, count in ev.notes.items():
        print(f"note: {count} {note}", file=sys.stderr)


def _evaluate_sources(args, inputs: list) -> int:
    """``kit detect evaluate``: each --input (a source) on its own, then one table across them."""
    from .live.scenes import evaluate_scenes, source_table
    from .masks.classifier import MaskClassifier
    from .splits import held_out_groups

    classifier = MaskClassifier(args.classifier)
    results = {}
    for source in inputs:
        name = Path(source).name or str(source)
        if name in results:  # two folders of the same name: told apart by their paths
            name = str(source)
        only = None
        if args.scenes == "held-out":
            only = sorted(held_out_groups(name))
            if not only:
                print(f"note: {name}: no recorded held-out scenes (kit/vision/held_out.json); every scene is "
                      f"scored, and none of them was used for training or choosing", file=sys.stderr)
                only = None
        if len(inputs) > 1:
            print(f"== {name} ==")
        ev = evaluate_scenes(source, detector=args.detector, classifier=classifier, iou=args.iou, only=only,
                             max_images=args.max_frames)
        _print_scene_evaluation(ev)
        results[name] = ev
    if len(results) > 1:
        print("\n== every source ==")
        print(source_table(results).to_string())
    if args.json:
        write_json(args.json, next(iter(results.values())).to_json() if len(results) == 1 else
                   {"sources": {name: ev.to_json() for name, ev in results.items()}})
    return 0


def cmd_detect(args) -> int:
    from kit.files import refuse_overwriting_inputs

    inputs = list(args.input)
    if args.mode != "evaluate":
        if len(inputs) > 1:
            raise UsageError(f"--input once for kit detect{' ' + args.mode if args.mode else ''}; only "
                                 f"evaluate takes several (one per source)")
        args.input = inputs[0]
    refuse_overwriting_inputs(inputs, {"--out": args.out, "--json": args.json, "--plot": getattr(args, "plot", None)},
                              inside=args.mode not in ("train", "evaluate"))  # those read images/ and annotations/
    if args.mode == "bench":
        from .live.benchmark import benchmark

        result = benchmark(args.input, args.max_frames or 300, stream=args.stream, classifier=args.classifier)
        for name in ("kit", "seed"):
            side = result[name]
            stages = ", ".join(f"{k.removesuffix('_ms')} {v} ms" for k, v in side["stages_ms"].items())
            print(f"{name + ' pipeline:':16} {side['fps']:6.1f} frames/s, p50 {side['ms_per_frame']['p50']} ms, "
                  f"p95 {side['ms_per_frame']['p95']} ms  ({stages})")
        print(f"every frame: ratio {result['ratio']:.2f}x on {result['frames']} frames, {result['faces']} faces; "
              f"agreement with the seed: {result['agreement']}")
        if "stream" in result:
            s = result["stream"]
            print(f"{'stream mode:':16} {s['fps']:6.1f} frames/s, p50 {s['ms_per_frame']['p50']} ms, "
                  f"p95 {s['ms_per_frame']['p95']} ms, ratio {s['ratio']:.2f}x ({s['settings']}); "
                  f"agreement with every frame: {s['agreement_with_every_frame']}")
        if args.json:
            write_json(args.json, result)
        return 0
    if args.mode == "train":
        return _train_detector(args)
    if args.mode == "evaluate":
        return _evaluate_sources(args, inputs)
    from .live.pipeline import MaskDetector
    from .live.streams import check_output, check_source, is_stream, run_detection

    check_source(args.input)
    check_output(args.out, args.input)
    min_face = args.min_face or (LIVE_MIN_FACE if str(args.input).startswith("camera:") else
                                 VIDEO_MIN_FACE if is_stream(args.input) else PHOTO_MIN_FACE)
    pipeline = MaskDetector(args.detector, args.classifier, threshold=args.threshold, min_face=min_face,
                            margin=args.margin)
    if is_stream(args.input) or args.track:
        from .live.tracking import StreamPipeline

        pipeline = StreamPipeline(pipeline, detect_every=args.detect_every)
    elif args.detect_every != 1:
        raise UsageError("--detect-every only applies to a video or a camera (frames that follow each other)")
    report = run_detection(args.input, pipeline, out=args.out, max_frames=args.max_frames)
    line = (f"{report.frames} frame(s), {report.faces} face(s): "
            + ", ".join(f"{k} {v}" for k, v in report.by_label.items())
            + (f"; mask compliance {report.compliance:.0%}" if report.compliance is not None else ""))
    if report.people is not None:
        stats = report.people_stats
        line += (f"; {stats['people']} people ({stats['compliant_people']} compliant, "
                 f"{stats['incorrect_masks']} with the mask worn incorrectly)")
    print(line + f"; {report.fps:.1f} frames/s (p50 {report.ms_per_frame['p50']} ms)")
    if args.out:
        print(f"annotated output: {args.out}")
    if args.json:
        write_json(args.json, report.to_json())
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        fig = report.plot().figure
        fig.savefig(args.plot, dpi=110, bbox_inches="tight")
    return 0


def _train_detector(args) -> int:
    """``kit detect train``: fine-tune CenterFace on a VOC folder's training scenes."""
    from .live.detector_training import train_centerface

    if not args.out:
        raise UsageError("kit detect train needs --out DIR (the folder for the fine-tuned detector)")
    result = train_centerface(args.input, args.out, held_out=None if args.held_out == "none" else "recorded",
                              steps=args.steps, seed=args.seed,
                              command=args.command_line, progress=not args.quiet)
    card = result.card
    print(f"scenes: {len(card['split']['train'])} train, {len(card['split']['val'])} validation, "
          f"{len(card['split']['test'])} held out (never used)")
    base, val = card["base"]["validation"], card["validation"]
    print(f"validation scenes, recall at <= {card['settings']['max_false_positives_per_image']} false positives "
          f"per image: released {base['recall']:.4f} (threshold {base['threshold']}, "
          f"{base['false_positives_per_image']:.2f} FP/image), fine-tuned {val['recall']:.4f} (threshold "
          f"{card['threshold']}, {val['false_positives_per_image']:.2f} FP/image, step {val['step']})")
    print(f"detector: {result.model}; use it with kit detect --detector {args.out}")
    if args.json:
        write_json(args.json, card)
    return 0


def _open_images(args):
    from .imagesets import combine, open_image_set

    sets = []
    for source in args.data:
        images = open_image_set(source, format=args.format, progress=not args.quiet)
        if len(images.skipped):
            print(f"{images.name}: skipped {len(images.skipped)} file(s) or annotation(s):", file=sys.stderr)
            for row in images.skipped.head(10).itertuples():
                print(f"  {row.reason}", file=sys.stderr)
            if len(images.skipped) > 10:
                print(f"  ... and {len(images.skipped) - 10} more", file=sys.stderr)
        for note, count in images.notes.items():
            print(f"{images.name}: {count} {note}", file=sys.stderr)
        sets.append(images)
    return combine(sets)


def cmd_vision_train(args) -> int:
    from kit.files import check_replaceable, refuse_overwriting_inputs

    from .cards import is_kit_model_folder
    from .masks.training import Head, TrainConfig, train

    refuse_overwriting_inputs([d.split("=", 1)[-1] for d in args.data], {"--out": args.out, "--json": args.json})
    check_replaceable(args.out, owned=is_kit_model_folder)  # before the images are read and the hours of training
    images = _open_images(args)
    counts = ", ".join(f"{k} {v}" for k, v in images.counts().items())
    print(f"{images.name}: {len(images)} faces or images ({counts})", file=sys.stderr)
    config = TrainConfig(
        backbone=args.backbone, weights=args.weights, img_size=args.img_size, crops=args.crops, margin=args.margin,
        epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.learning_rate, patience=args.patience,
        fine_tune=args.fine_tune, fine_tune_epochs=args.fine_tune_epochs, fine_tune_lr=args.fine_tune_lr,
        feature_cache=not args.no_feature_cache, augment=not args.no_augment, class_weighting=args.class_weighting,
        incorrect_wear=args.incorrect_wear, calibrate=not args.no_calibrate,
        head=Head(pool=args.head_pool, dense=args.head_dense, dropout=args.head_dropout), seed=args.seed,
        quantize=args.quantize)
    command = getattr(args, "command_line", "")
    licenses = {}
    for item in args.license or []:
        source, sep, text = item.partition("=")
        if not sep or not source.strip() or not text.strip():
            raise UsageError(f"--license expects SOURCE=TEXT, got {item!r}")
        licenses[source.strip()] = text.strip()
    result = train(images, config=config, out=args.out, progress=not args.quiet, command=command, licenses=licenses)
    print(f"{result.backbone} ({result.weights}) on {result.dataset}: split {result.n_train}/{result.n_val}/"
          f"{result.n_test}, {result.epochs_run} epochs in {result.train_seconds:.1f} s")
    print(f"test accuracy {result.test.accuracy:.4f}, macro F1 {result.test.macro_f1:.4f}"
          + (f", ROC-AUC {result.test.roc_auc:.4f}" if result.test.roc_auc is not None else ""))
    print(result.test.report().to_string())
    print("confusion (rows true, columns predicted):")
    print(result.test.confusion().to_string())
    per_source = result.per_source()
    if len(per_source) > 1:
        print(per_source.round(4).to_string(index=False))
    table, reading = result.error_analysis()
    print(reading)
    print(f"model: {result.model_dir}/model.keras, model.tflite, model.json")
    if args.json:
        write_json(args.json, result.to_json())
    return 0


def cmd_vision_export_onnx(args) -> int:
    from .masks.onnx_export import to_onnx

    path = to_onnx(args.folder)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB; checked against model.tflite; its sha256 is in the card)")
    return 0


def cmd_vision_evaluate(args) -> int:
    from .masks.evaluation import evaluate_model

    images = _open_images(args)
    evaluation = evaluate_model(args.model, images, progress=not args.quiet)
    print(f"{args.model} on {images.name} ({len(evaluation.y_true)} faces or images): accuracy "
          f"{evaluation.accuracy:.4f}, macro F1 {evaluation.macro_f1:.4f}")
    if evaluation.note:
        print(f"note: {evaluation.note}")
    print(evaluation.report().to_string())
    print(evaluation.confusion().to_string())
    if args.json:
        write_json(args.json, {"model": str(args.model), "data": list(args.data), "n_images": len(evaluation.y_true),
                               "test": evaluation.to_json()})
    return 0


def register(sub) -> None:
    from kit.arguments import number, whole

    from .masks.backbones import BACKBONES
    from .masks.training import CLASS_WEIGHTING, CROPS, TrainConfig

    p = sub.add_parser("detect", help="mask detection on images, folders, videos or a camera")
    p.add_argument("mode", nargs="?", choices=["bench", "evaluate", "train"],
                   help="bench: our pipeline against the seed-style one; evaluate: scene-level figures on a VOC "
                        "folder; train: fine-tune the CenterFace detector on a VOC folder")
    p.add_argument("--input", required=True, action="append",
                   help="image, folder of images, video file or camera:N (evaluate, train: a VOC folder with images/ "
                        "and annotations/; evaluate takes --input once per source and reports each and all)")
    p.add_argument("--detector", default=DEFAULT_DETECTOR, metavar="|".join(DETECTORS) + "|DIR",
                   help="a detector by name, or a folder written by kit detect train (default centerface: the "
                        "kit's fine-tuned CenterFace)")
    p.add_argument("--classifier", default="default",
                   help="'default' (the kit's 3-class model), 'reference' (the seeds') or a model folder")
    p.add_argument("--threshold", type=number(0, 1, open_low=True, open_high=True), help="detector score threshold")
    p.add_argument("--min-face", type=number(1, 10_000), metavar="PX",
                   help=f"smallest face to find in pixels (default {PHOTO_MIN_FACE:g} for images, "
                        f"{VIDEO_MIN_FACE:g} for videos, {LIVE_MIN_FACE:g} for a camera)")
    p.add_argument("--margin", type=number(0, 1), help="crop margin around faces (default: the classifier's own)")
    p.add_argument("--track", action="store_true", help="follow faces into people also on a folder of frames")
    p.add_argument("--detect-every", type=whole(1, 1000), default=1, metavar="N",
                   help="video/camera: detect every N-th frame and track the faces in between")
    p.add_argument("--stream", action="store_true", help="bench: also time the stream mode (video or camera only)")
    p.add_argument("--iou", type=number(0.05, 0.95), default=MATCH_IOU,
                   help=f"evaluate: overlap for a detection to count (default {MATCH_IOU})")
    p.add_argument("--scenes", choices=["all", "held-out"], default="all",
                   help="evaluate: every scene, or only the recorded held-out scenes of each source "
                        "(kit/vision/held_out.json, by the folder's name: voc, rwmfd, observations)")
    p.add_argument("--held-out", default="recorded", choices=["recorded", "none"],
                   help="train: never train on the recorded held-out scenes (kit/vision/held_out.json, the same the "
                        "classifier never trains on), so the whole pipeline is scored on unseen scenes; none: use all")
    p.add_argument("--steps", type=whole(1, 1_000_000), default=3000, help="train: batches of crops (default 3000)")
    p.add_argument("--seed", type=int, default=0, help="train: seed of the validation split and the crops")
    p.add_argument("--quiet", action="store_true", help="train: no progress bars")
    p.add_argument("--out", help="annotated image, video (.mp4/.avi) or folder (train: the detector's folder)")
    p.add_argument("--max-frames", type=whole(1))
    p.add_argument("--json", metavar="OUT")
    p.add_argument("--plot", metavar="OUT.png", help="faces and people per label and compliance over time")
    p.set_defaults(func=cmd_detect)

    defaults = TrainConfig()
    vision = sub.add_parser("vision", help="train and evaluate mask classifiers (transfer learning)")
    actions = vision.add_subparsers(dest="action", required=True)
    p = actions.add_parser("train", help="train a classifier on image sets under the course's protocol")
    p.add_argument("--data", required=True, action="append", metavar="NAME_OR_DIR",
                   help="'synthetic', a registry entry, a folder, or LABEL=FOLDER (every image shows LABEL, "
                        "one sub-folder per subject); repeat to combine sources")
    p.add_argument("--format", default="auto", choices=["auto", "folders", "voc", "subjects"])
    p.add_argument("--backbone", default=defaults.backbone, choices=list(BACKBONES))
    p.add_argument("--weights", default=defaults.weights, metavar="imagenet|none|PATH",
                   help="starting weights (default: ImageNet for pretrained backbones)")
    p.add_argument("--img-size", type=int, default=defaults.img_size,
                   help="input side in pixels (default: the backbone's own)")
    p.add_argument("--crops", default=defaults.crops, choices=list(CROPS),
                   help="detector: crop faces as the live detector does (default); 'as given': the set's boxes")
    p.add_argument("--margin", type=float, default=defaults.margin, help="crop margin around face boxes")
    p.add_argument("--epochs", type=int, default=defaults.epochs)
    p.add_argument("--batch-size", type=int, default=defaults.batch_size)
    p.add_argument("--learning-rate", type=float, default=defaults.learning_rate)
    p.add_argument("--patience", type=int, default=defaults.patience)
    p.add_argument("--fine-tune", type=int, default=defaults.fine_tune, metavar="K",
                   help="then fine-tune the last K layers of the backbone (default: all of them when there are "
                        "at least 1,000 training images, else none; 0: never)")
    p.add_argument("--fine-tune-epochs", type=int, default=defaults.fine_tune_epochs)
    p.add_argument("--fine-tune-lr", type=float, default=defaults.fine_tune_lr)
    p.add_argument("--class-weighting", default=defaults.class_weighting, choices=list(CLASS_WEIGHTING))
    p.add_argument("--incorrect-wear", type=whole(0, 8), default=defaults.incorrect_wear, metavar="N",
                   help="add N generated pictures of a mask worn wrong (below the nose, under the chin) per pair "
                        "of the same face with and without a pasted mask (the observations set) to the training "
                        "part; written to KIT_CACHE, never to the data folders (default 0: none)")
    p.add_argument("--no-calibrate", action="store_true",
                   help="keep the balanced decision (no decision bias chosen on the validation set)")
    p.add_argument("--no-feature-cache", action="store_true",
                   help="slow path: augmented batches through the frozen backbone every epoch")
    p.add_argument("--no-augment", action="store_true")
    p.add_argument("--head-pool", type=int, default=defaults.head.pool)
    p.add_argument("--head-dense", type=int, default=defaults.head.dense)
    p.add_argument("--head-dropout", type=float, default=defaults.head.dropout)
    p.add_argument("--quantize", choices=["float16"], help="store the TFLite weights as float16")
    p.add_argument("--license", action="append", metavar="SOURCE=TEXT",
                   help="the license of a data source the registry does not know, for the model card (repeatable)")
    p.add_argument("--seed", type=int, default=defaults.seed)
    p.add_argument("--out", required=True, metavar="DIR", help="model folder to write")
    p.add_argument("--json", metavar="OUT")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_vision_train)
    p = actions.add_parser("evaluate", help="evaluate a trained model on image sets (e.g. another data set)")
    p.add_argument("--model", required=True, metavar="default|reference|DIR")
    p.add_argument("--data", required=True, action="append", metavar="NAME_OR_DIR")
    p.add_argument("--format", default="auto", choices=["auto", "folders", "voc", "subjects"])
    p.add_argument("--json", metavar="OUT")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_vision_evaluate)
    p = actions.add_parser("export-onnx", help="write model.onnx beside a model folder's model.tflite (for the "
                                               "detector in the visitor's page)",
                           description="Convert a model folder's TFLite classifier to ONNX for ONNX Runtime Web, "
                                       "its preprocessing inside the graph, checked against the TFLite file. "
                                       "kit vision train writes it already; this is for older folders.")
    p.add_argument("folder", metavar="DIR", help="a model folder written by kit vision train")
    p.set_defaults(func=cmd_vision_export_onnx)
