"""Computer vision for the mask course: face detectors, mask classifiers and their model
cards, transfer learning, the detection pipeline, scene-level evaluation and streams.

Importing this package changes nothing in the process (no environment variables, no
warning filters); TensorFlow is imported, quietly, only when a model needs it
(:func:`kit.vision.runtime.import_tensorflow`).
"""
