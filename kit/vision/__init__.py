"""Computer vision for the mask course: face detectors, mask classifiers, the
detection pipeline and its statistics."""
