"""The classes of the course's mask data, as the VOC set spells them (one place for the names)."""

MASK_CLASSES = ("with_mask", "without_mask", "mask_weared_incorrect")
