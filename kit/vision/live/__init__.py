"""Live: both models on frames, scenes and cameras.

The pipeline (detector + classifier on a frame), faces followed into people, streams of
frames, scene-level evaluation, the benchmark against the seed notebooks, the demo media
and the detector's fine-tuning on crowd scenes. The top room: it imports faces and masks.
"""
