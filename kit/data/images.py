"""Reading image files and frames safely: the decoders, the formats and the size limits.

Every image the kit reads goes through here: only ordinary photo formats reach a decoder
(:data:`PHOTO_FORMATS`; a browser's frames only JPEG and PNG, :data:`BROWSER_FORMATS`), the
pixel count is read from the header and checked before decoding (``KIT_MAX_PIXELS``),
grayscale, RGBA, CMYK and EXIF-rotated images become upright RGB, and truncated or
unreadable files are errors naming the file. Image *sets* (faces, labels, groups, splits)
are the vision package's (:mod:`kit.vision.imagesets`).
"""
from __future__ import annotations

import threading
import warnings
from pathlib import Path

import numpy as np

from kit.errors import ImageReadError  # noqa: F401 (re-exported: the error of this module)
from kit.limits import check_pixels

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif", ".tif", ".tiff"})
# The decoders an image may reach. Pillow knows dozens of formats, some of which run other
# programs (EPS calls Ghostscript on the file's PostScript); only these ever get the bytes.
PHOTO_FORMATS = ("JPEG", "PNG", "BMP", "WEBP", "GIF", "TIFF")  # files and uploads (JPEG includes MPO)
BROWSER_FORMATS = ("JPEG", "PNG")  # frames a browser sends (canvas.toBlob makes only these)


_PIL_LIMIT_LOCK = threading.Lock()


def _open_header(source, what: str, limit_name: str = "KIT_MAX_PIXELS", formats=PHOTO_FORMATS):
    """Open an image (a path or a file object), read its header only and refuse it when the
    announced size is over the limit ``limit_name``, or when it is not one of ``formats``
    (no other decoder ever sees the bytes).

    Pillow's own bomb check (``Image.MAX_IMAGE_PIXELS``) is lifted while the header is read so
    that the kit's limit, which users can raise, is the one that decides and the message names
    the width, height and the limit's variable.
    """
    from PIL import Image, UnidentifiedImageError

    with _PIL_LIMIT_LOCK:
        saved, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
        try:
            img = Image.open(source, formats=list(formats))
        except UnidentifiedImageError:
            raise ImageReadError(f"{what}: not a {_format_names(formats)} image") from None
        except (OSError, SyntaxError, ValueError) as exc:
            raise ImageReadError(f"{what}: cannot be decoded ({exc})") from None
        finally:
            Image.MAX_IMAGE_PIXELS = saved
    try:
        check_pixels(*img.size, what, limit_name)
    except ImageReadError:
        img.close()
        raise
    return img


def _format_names(formats) -> str:
    names = list(formats)
    return ", ".join(names[:-1]) + " or " + names[-1] if len(names) > 1 else names[0]


def _open_checked(path: Path):
    """A PIL image whose header was read and whose size is within the pixel limit."""
    return _open_header(path, path.name)


def image_size(path: str | Path) -> tuple[int, int]:
    """``(width, height)`` from the file's header, without decoding the pixels."""
    path = Path(path)
    with _open_checked(path) as img:
        return img.size


def read_rgb(path: str | Path) -> np.ndarray:
    """Decode an image into an upright RGB uint8 array.

    The header's pixel count is checked against ``KIT_MAX_PIXELS`` before decoding.
    Grayscale, palette, RGBA/LA (composited on white), CMYK and 16-bit images are
    converted; EXIF orientation is applied.

    Raises
    ------
    ImageReadError
        For unreadable, truncated, empty or too large files, naming the file.
    """
    from PIL import Image, ImageOps

    path = Path(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with _open_checked(path) as img:
                img.load()  # forces a full decode, so truncated files fail here
                img = ImageOps.exif_transpose(img)
                if img.mode in ("RGBA", "LA") or (img.mode == "P" and "transparency" in img.info):
                    rgba = img.convert("RGBA")
                    background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                    img = Image.alpha_composite(background, rgba)
                if img.mode in ("I;16", "I"):
                    arr = np.asarray(img, dtype=np.float64)
                    span = arr.max() - arr.min() or 1.0
                    img = Image.fromarray(((arr - arr.min()) / span * 255).astype(np.uint8))
                rgb = np.asarray(img.convert("RGB"))
        except ImageReadError:
            raise
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombWarning,
                Image.DecompressionBombError) as exc:
            raise ImageReadError(f"{path.name}: cannot be decoded ({exc})") from None
    if rgb.size == 0:
        raise ImageReadError(f"{path.name}: empty image")
    return rgb


def read_bgr(path: str | Path) -> np.ndarray:
    """:func:`read_rgb` as an OpenCV-ordered BGR array (a contiguous copy)."""
    return np.ascontiguousarray(read_rgb(path)[:, :, ::-1])


def decode_bgr(data: bytes, what: str = "image", limit_name: str = "KIT_MAX_PIXELS",
               formats=PHOTO_FORMATS) -> np.ndarray:
    """Decode encoded image bytes (e.g. a JPEG from a browser) into BGR, size checked first
    (against the limit ``limit_name``, see :mod:`kit.limits`); only ``formats`` are decoded
    (:data:`BROWSER_FORMATS` for what a browser sends).

    Raises
    ------
    ImageReadError
        Naming ``what`` for empty, malformed, truncated or too large images.
    """
    import io

    from PIL import Image

    if not data:
        raise ImageReadError(f"{what}: no image data")
    img = _open_header(io.BytesIO(data), what, limit_name, formats)
    try:
        with img, warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img.load()
            rgb = np.asarray(img.convert("RGB"))
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombWarning,
            Image.DecompressionBombError) as exc:
        raise ImageReadError(f"{what}: cannot be decoded ({exc})") from None
    return np.ascontiguousarray(rgb[:, :, ::-1])
