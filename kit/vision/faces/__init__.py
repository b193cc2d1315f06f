"""Faces: finding them.

The face detectors behind one ``detect(frame) -> [Detection]`` contract (:mod:`.detectors`),
box geometry (:mod:`.boxes`: IoU, matching, NMS) and the ONNX <-> Keras translator that lets
the kit fine-tune CenterFace (:mod:`.onnx_keras`). Imports only the vision core (runtime,
cards) and the data layer: never the mask classifier or the live pipeline.
"""
