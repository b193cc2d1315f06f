"""``kit detect`` and ``kit detect bench``, and ``kit serve`` for the Voila apps."""
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

    p = sub.add_parser("serve", help="serve the Voila apps (lessons/apps)")
    p.add_argument("app", nargs="?", help="one app notebook, e.g. mask_detector.ipynb (default: the app list)")
    p.add_argument("--apps", help="apps folder")
    p.add_argument("--port", type=int, default=8866)
    p.add_argument("--ip", default="127.0.0.1")
    p.set_defaults(func=cmd_serve)
