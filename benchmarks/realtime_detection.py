"""Real-time mask detection: the kit's pipeline against the seed-style one, every frame, one run.

Frames are 640x480 canvases with one to three real faces: close-ups of people wearing real
masks (``../shared/data/masks/rwmfd``) and without masks (``observations/without_mask``),
or, without that folder, the demo frames made from the registry's sample portrait.

* every frame: a folder of independent frames (each one different people); both pipelines
  decode, detect, crop and classify every frame;
* stream: a video of the same kind of canvases whose faces drift slowly; the stream mode
  detects every few frames and follows the faces with the tracker in between. It is its
  own row, compared with the every-frame answers on the same video.

Prints FPS, p50/p95 ms per frame, the ratio to the seed, where the time goes per stage,
and how often the pipelines agree.

    python benchmarks/realtime_detection.py [--frames 150] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "masks"


def real_faces(data: Path, limit: int = 120) -> list:
    """Real close-ups: RWMFD photos (real masks; single-person ones) and bare faces."""
    from kit.data.images import read_bgr

    masked = sorted((data / "rwmfd").glob("*/*.jpg"))[::7][:limit // 2]
    bare = sorted((data / "observations" / "without_mask").glob("*.jpg"))[::9][:limit // 2]
    return [read_bgr(p) for p in masked + bare]


def canvases(faces: list, n: int, seed: int = 0, drift: bool = False) -> list:
    """``n`` 640x480 frames with 1-3 faces of 110-190 px; with ``drift`` the same people move
    slowly and change every 30 frames (a video), else every frame shows other people."""
    import cv2

    rng = np.random.default_rng(seed)
    frames, scene = [], None
    for k in range(n):
        if scene is None or not drift or k % 30 == 0:
            count = int(rng.integers(1, 4))
            sizes = rng.integers(110, 190, count)
            scene = [(faces[int(rng.integers(len(faces)))], int(s), 20 + i * 210 + int(rng.integers(0, 20)),
                      int(rng.integers(20, 480 - s - 20)), rng.normal(0, 1.5, 2)) for i, s in enumerate(sizes)]
        frame = np.full((480, 640, 3), 70, np.uint8)
        for face, size, x, y, (vx, vy) in scene:
            t = k % 30 if drift else 0
            x2, y2 = int(np.clip(x + vx * t, 0, 640 - size)), int(np.clip(y + vy * t, 0, 480 - size))
            frame[y2:y2 + size, x2:x2 + size] = cv2.resize(face, (size, size), interpolation=cv2.INTER_AREA)
        frames.append(frame)
    return frames


def row(name: str, side: dict) -> str:
    stages = ", ".join(f"{k.removesuffix('_ms')} {v:.1f}" for k, v in side["stages_ms"].items())
    return (f"  {name:28} {side['fps']:6.1f} frames/s   p50 {side['ms_per_frame']['p50']:6.1f} ms   "
            f"p95 {side['ms_per_frame']['p95']:6.1f} ms   ms per stage: {stages}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--json")
    args = parser.parse_args()

    from kit.vision.live.benchmark import benchmark
    from kit.vision.live.demo import demo_frames, write_frames, write_video

    data = Path(args.data)
    if (data / "rwmfd").is_dir() and (data / "observations").is_dir():
        faces = real_faces(data)
        still, video_frames = canvases(faces, args.frames), canvases(faces, args.frames, seed=1, drift=True)
        origin = f"real faces from {data} (RWMFD real masks, observations bare faces)"
    else:
        still = video_frames = demo_frames(args.frames)
        origin = "demo frames from the sample portrait (no shared data here)"
    with tempfile.TemporaryDirectory() as tmp:
        every = benchmark(write_frames(still, Path(tmp) / "frames"), args.frames, progress=False)
        streamed = benchmark(write_video(video_frames, Path(tmp) / "video.avi"), args.frames, stream=True,
                             progress=False)
    print(f"\n{every['frames']} frames of 640x480 with 1-3 faces ({origin})")
    print("every frame, independent frames:")
    print(row("kit (" + every["settings"]["kit"].split(" (")[0] + ")", every["kit"]))
    print(row("seed (SSD + Keras per face)", every["seed"]))
    print(f"  ratio {every['ratio']:.1f}x   (targets: >= 30 frames/s, p95 <= 50 ms, >= 4x the seed)")
    print(f"  agreement with the seed: {json.dumps(every['agreement'])}")
    print("stream mode, a video (its own row):")
    print(row("kit every frame (video)", streamed["kit"]))
    print(row("kit stream", streamed["stream"]))
    print(f"  stream ratio to the seed {streamed['stream']['ratio']:.1f}x   (target: >= 60 frames/s); "
          f"{streamed['stream']['settings']}")
    print(f"  agreement of the stream with every frame: {json.dumps(streamed['stream']['agreement_with_every_frame'])}")
    if args.json:
        from kit.files import write_json

        write_json(args.json, {"every_frame": every, "stream": streamed})


if __name__ == "__main__":
    main()
