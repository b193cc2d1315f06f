"""Demo frames and videos made from the registry's sample photo (offline after fetch).

The quick profile, the tests and the browser camera need faces without a dataset:
:func:`demo_frames` pastes the sample portrait (NASA's astronaut photo) one to three
times into 640x480 frames that drift slowly, with a drawn surgical mask on some faces.
:func:`people_stream` makes a short scene with known truth: people who walk in, cross
each other and leave, for testing and teaching tracking. :func:`write_y4m` writes frames
as the Y4M video Chromium's fake camera plays, :func:`write_video` as an AVI file.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kit.errors import ParameterError

from ..masks.labels import WITH_MASK, WITHOUT_MASK

FACE_BOX = (150, 30, 330, 250)  # x1, y1, x2, y2 of the face in the 512x512 sample
# Where the face itself is inside a sample_face() crop (fractions; measured with CenterFace).
FACE_IN_CROP = (0.15, 0.10, 0.68, 0.72)


def face_box(x: int, y: int, size: int) -> tuple[int, int, int, int]:
    """The face's box in a frame where a ``size`` px sample_face() crop was pasted at ``(x, y)``."""
    fx1, fy1, fx2, fy2 = FACE_IN_CROP
    return (x + round(fx1 * size), y + round(fy1 * size), x + round(fx2 * size), y + round(fy2 * size))


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
        raise ParameterError("demo frames hold 1 to 3 faces")
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
        raise ParameterError("Y4M 4:2:0 needs an even width and height")
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


@dataclass(frozen=True)
class Walker:
    """One person of :func:`people_stream`: enters, walks in a straight line, leaves."""

    id: int
    masked: bool
    first: int
    last: int
    start: tuple
    end: tuple
    size: int = 120


PEOPLE = (
    Walker(1, True, 0, 89, (20, 150), (500, 170)),      # left to right, crossing 2
    Walker(2, False, 5, 89, (500, 120), (20, 180)),     # right to left
    Walker(3, True, 30, 69, (260, 330), (300, 330), size=110),  # comes in, stands, leaves
)


def people_stream(n: int = 90, width: int = 640, height: int = 480, people=PEOPLE, background: int = 60):
    """Frames of people walking through a scene, and the truth of every frame.

    Returns
    -------
    frames : list of BGR arrays
    truth : list (per frame) of ``[(person id, face box (x1, y1, x2, y2), masked), ...]``
        Later people are drawn over earlier ones where they cross.
    """
    frames, truth = [], []
    crops = {p.id: sample_face(p.masked, p.size) for p in people}
    for k in range(n):
        frame = np.full((height, width, 3), background, np.uint8)
        frame[:, :, 1] = np.clip(background + (np.arange(width) // 8) % 12, 0, 255)  # a little texture
        here = []
        for p in people:
            if not p.first <= k <= p.last:
                continue
            t = (k - p.first) / max(1, p.last - p.first)
            x = int(round(p.start[0] + t * (p.end[0] - p.start[0])))
            y = int(round(p.start[1] + t * (p.end[1] - p.start[1])))
            x, y = min(max(0, x), width - p.size), min(max(0, y), height - p.size)
            frame[y:y + p.size, x:x + p.size] = crops[p.id]
            here.append((p.id, face_box(x, y, p.size), p.masked))
        frames.append(frame)
        truth.append(here)
    return frames, truth


def write_video(frames, path: str | Path, fps: int = 15) -> Path:
    """Write BGR frames as an MJPG ``.avi`` (readable by OpenCV everywhere)."""
    import cv2

    path = Path(path)
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    if not writer.isOpened():
        raise ParameterError(f"{path}: OpenCV cannot write an MJPG video here")
    try:
        for frame in frames:
            writer.write(frame)
    finally:
        writer.release()
    return path


def crowd_scene(n: int = 14, width: int = 800, height: int = 520, sizes=(18, 110), seed: int = 0,
                background: int = 90):
    """A generated crowd: ``n`` copies of the sample face, masked or not, from ``sizes[0]`` to
    ``sizes[1]`` pixels, on a noisy background, none overlapping.

    Returns
    -------
    frame : BGR array
    truth : list of ``(face box, label)`` with label ``with_mask`` or ``without_mask``
    """
    rng = np.random.default_rng(seed)
    frame = rng.normal(background, 18, (height, width, 3)).clip(0, 255).astype(np.uint8)
    boxes, truth = [], []
    faces = {m: sample_face(m, 256) for m in (True, False)}
    for size in np.geomspace(sizes[0], sizes[1], n).astype(int)[::-1]:
        for _ in range(200):  # find a free spot
            x, y = int(rng.integers(0, width - size)), int(rng.integers(0, height - size))
            box = (x, y, x + size, y + size)
            if all(box[2] <= b[0] or b[2] <= box[0] or box[3] <= b[1] or b[3] <= box[1] for b in boxes):
                break
        else:
            continue
        masked = bool(rng.random() < 0.6)
        import cv2

        frame[y:y + size, x:x + size] = cv2.resize(faces[masked], (size, size), interpolation=cv2.INTER_AREA)
        boxes.append(box)
        truth.append((face_box(x, y, size), WITH_MASK if masked else WITHOUT_MASK))
    return frame, truth


def demo_video(n: int = 90) -> Path:
    """:func:`people_stream` as an AVI in the cache (made once): a ``kit detect`` input with
    people walking in, crossing and leaving."""
    from kit.data import cache_dir

    path = cache_dir() / "synthetic" / f"people-{n}.avi"
    if not path.is_file():
        from kit.files import atomic_path

        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            write_video(people_stream(n)[0], tmp.with_suffix(".avi"))
            tmp.with_suffix(".avi").replace(tmp)
    return path
