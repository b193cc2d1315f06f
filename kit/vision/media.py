"""Demo frames and videos made from the registry's sample photo (offline after fetch).

The quick profile, the tests and the browser camera need faces without a dataset:
:func:`demo_frames` pastes the sample portrait (NASA's astronaut photo) one to three
times into 640x480 frames that drift slowly, with a drawn surgical mask on some faces.
:func:`write_y4m` writes frames as the Y4M video Chromium's fake camera plays.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

FACE_BOX = (150, 30, 330, 250)  # x1, y1, x2, y2 of the face in the 512x512 sample


def sample_face(masked: bool = False, size: int = 150) -> np.ndarray:
    """The sample portrait's face (BGR, size x size), optionally wearing a drawn mask."""
    import cv2

    from kit.data import fetch

    img = cv2.imread(str(fetch("sample_astronaut", progress=False)))
    x1, y1, x2, y2 = FACE_BOX
    face = cv2.resize(img[y1:y2, x1:x2], (size, size))
    if masked:
        s = size / 150.0
        pts = np.array([[16, 56], [112, 56], [106, 90], [64, 106], [22, 90]], float) * s
        cv2.fillPoly(face, [pts.astype(np.int32)], (230, 200, 150))
        for j in range(1, 4):
            y = int((56 + j * 11) * s)
            cv2.line(face, (int(24 * s), y), (int(104 * s), y), (200, 170, 125), max(1, int(s)))
        for x_ear, x_mask in ((2, 16), (126, 112)):  # ear loops
            cv2.line(face, (int(x_ear * s), int(48 * s)), (int(x_mask * s), int(58 * s)), (235, 235, 235), max(1, int(2 * s)))
    return face


def demo_frames(n: int = 60, width: int = 640, height: int = 480, faces: int = 3, masked=(True, False, True),
                background: int = 70):
    """``n`` frames with up to ``faces`` slowly drifting faces; ``masked[i]`` puts a mask on face i."""
    if not 1 <= faces <= 3:
        raise ValueError("demo frames hold 1 to 3 faces")
    size = min(150, width // 4)
    crops = [sample_face(masked[i % len(masked)], size) for i in range(faces)]
    out = []
    for k in range(n):
        frame = np.full((height, width, 3), background, np.uint8)
        for i, crop in enumerate(crops):
            x = int(width * (0.08 + 0.31 * i) + 8 * np.sin(k / 9 + i))
            y = int(height * 0.3 + 8 * np.cos(k / 11 + i))
            frame[y:y + size, x:x + size] = crop
        out.append(frame)
    return out


def write_y4m(frames, path: str | Path, fps: int = 30) -> Path:
    """Write BGR frames as a YUV4MPEG2 (4:2:0) file, the format of Chromium's fake camera."""
    import cv2

    path = Path(path)
    h, w = frames[0].shape[:2]
    if w % 2 or h % 2:
        raise ValueError("Y4M 4:2:0 needs an even width and height")
    with open(path, "wb") as fh:
        fh.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for frame in frames:
            fh.write(b"FRAME\n")
            fh.write(cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420).tobytes())
    return path


def write_frames(frames, folder: str | Path) -> Path:
    """Write frames as numbered JPEGs (a folder input for ``kit detect``)."""
    import cv2

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for i, frame in enumerate(frames):
        cv2.imwrite(str(folder / f"frame_{i:04d}.jpg"), frame)
    return folder


def demo_source(n: int = 60) -> Path:
    """A folder of ``n`` demo frames in the cache (made once), usable as a ``kit detect`` input."""
    from kit.data import cache_dir

    folder = cache_dir() / "synthetic" / f"demo-frames-{n}"
    if not (folder / f"frame_{n - 1:04d}.jpg").exists():
        write_frames(demo_frames(n), folder)
    return folder
