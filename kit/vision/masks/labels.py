"""How the mask classes are shown and counted: one place for names, colours and compliance.

The class names themselves are a fact of the data (:data:`kit.data.classes.MASK_CLASSES`);
this module says how people see them. A mask worn below the nose is not compliant.
"""
from __future__ import annotations

from kit.data.classes import MASK_CLASSES

WITH_MASK, WITHOUT_MASK, INCORRECT = MASK_CLASSES

DISPLAY = {WITH_MASK: "Mask", WITHOUT_MASK: "No Mask", INCORRECT: "Incorrect"}
COLOURS_HEX = {WITH_MASK: "#00c800", WITHOUT_MASK: "#e60000", INCORRECT: "#ffd200"}
COMPLIANT = frozenset({WITH_MASK})


def display_name(label: str) -> str:
    """``with_mask`` → ``Mask`` (unknown labels are shown as they are)."""
    return DISPLAY.get(label, label)


def colour_bgr(label: str) -> tuple[int, int, int]:
    """The label's colour as an OpenCV BGR triple (grey for unknown labels)."""
    hexa = COLOURS_HEX.get(label, "#c8c8c8").lstrip("#")
    r, g, b = (int(hexa[i:i + 2], 16) for i in (0, 2, 4))
    return b, g, r


def is_compliant(label: str) -> bool:
    """Whether a face with this label counts as wearing a mask properly."""
    return label in COMPLIANT
