"""The held-out scenes and subjects: recorded once, read by everything that must not see them.

``held_out.json`` lists, per image-set source (``voc``, ``rwmfd``, ``observations``), the
groups (VOC scenes, subjects) that the kit's trainers never train on nor choose anything
on: the classifier's protocol puts them in its test part (:func:`kit.vision.imagesets.split`),
the detector's fine-tuning leaves them out (``kit detect train``), and ``kit detect
evaluate --scenes held-out`` scores exactly them. The split belongs to the data, not to
one model's card.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

HELD_OUT_FILE = Path(__file__).parent / "held_out.json"


@lru_cache(maxsize=1)
def _recorded() -> dict:
    return json.loads(HELD_OUT_FILE.read_text(encoding="utf-8"))["sources"]


def held_out_groups(source: str) -> frozenset:
    """The recorded held-out groups of one image-set source (empty for a source not recorded)."""
    return frozenset(_recorded().get(str(source), ()))


def held_out_scenes() -> list[str]:
    """The held-out VOC scenes (file stems)."""
    return sorted(held_out_groups("voc"))
