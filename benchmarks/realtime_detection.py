"""Real-time mask detection: the kit's pipeline against the seed-style one, one run.

Frames are 640x480 with one to three faces: photos from ``../shared/data/masks/observations``
(or ``--data DIR``) drifting slowly, or, without that folder, the demo frames made from the
registry's sample portrait. Both pipelines see the same frames from memory. Prints both
frame rates, the ratio, where the kit's time goes and how often the two agree.

    python benchmarks/realtime_detection.py [--frames 150]
"""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np


def observation_frames(folder: Path, n: int):
    import cv2

    files = sorted((folder / "with_mask").glob("*.jpg"))[:40] + sorted((folder / "without_mask").glob("*.jpg"))[:40]
    faces = [cv2.resize(cv2.imread(str(f)), (150, 150)) for f in files]
    frames = []
    for i in range(n):
        frame = np.full((480, 640, 3), 70, np.uint8)
        for j in range(1 + (3 * i) // n):  # one, then two, then three faces
            x, y = 30 + j * 200 + int(10 * np.sin(i / 10)), 150 + int(10 * np.cos(i / 12))
            frame[y:y + 150, x:x + 150] = faces[(j * 17 + i // 10) % len(faces)]
        frames.append(frame)
    return frames


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "masks"
                                              / "observations"))
    parser.add_argument("--frames", type=int, default=150)
    args = parser.parse_args()

    from kit.vision.bench import benchmark
    from kit.vision.media import demo_frames, write_frames

    data = Path(args.data)
    if (data / "with_mask").is_dir():
        frames, origin = observation_frames(data, args.frames), f"observation photos from {data}"
    else:
        frames, origin = demo_frames(args.frames), "demo frames from the sample portrait (no observations set here)"
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_frames(frames, tmp)
        result = benchmark(folder, args.frames)
    print(f"\n{result['frames']} frames of 640x480 with 1-3 faces ({origin})")
    print(f"  kit pipeline: {result['kit']['fps']:6.1f} frames/s  p50 {result['kit']['ms_per_frame']['p50']} ms, "
          f"p95 {result['kit']['ms_per_frame']['p95']} ms   [{result['settings']['kit']}]")
    print(f"  seed-style:   {result['seed']['fps']:6.1f} frames/s  p50 {result['seed']['ms_per_frame']['p50']} ms, "
          f"p95 {result['seed']['ms_per_frame']['p95']} ms   [{result['settings']['seed']}]")
    print(f"  ratio: {result['ratio']:.1f}x   (target: >= 30 frames/s absolute)")
    print(f"  agreement with the seed pipeline: {json.dumps(result['agreement'])}")


if __name__ == "__main__":
    main()
