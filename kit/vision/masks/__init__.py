"""Masks: telling them apart on a face.

Backbones with their own preprocessing, the predictor of a model folder, the classifier,
features, the training protocol, evaluation, export, detector-framed crops and how the
classes are shown. Imports the faces room (crops are framed by the detector), never the
live pipeline.
"""
