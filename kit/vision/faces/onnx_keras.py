"""An ONNX convolutional network as a trainable Keras model, and its weights back into ONNX.

CenterFace ships as ONNX only; fine-tuning it on the course's crowd scenes needs its layers
as Keras variables. :func:`keras_from_onnx` rebuilds the graph layer by layer (the few
operators a MobileNet-style detector uses: convolutions, depthwise and transposed
convolutions, batch normalisation, ReLU, addition, sigmoid), copying the weights; the
result computes the same outputs to float rounding (checked by the tests).
:func:`onnx_with_weights` writes the trained weights into a copy of the original file, so
the served model keeps its exact graph, names and ONNX Runtime path.
"""
from __future__ import annotations

import numpy as np

from kit.errors import ModelError

SUPPORTED = ("Conv", "ConvTranspose", "BatchNormalization", "Relu", "Add", "Sigmoid")


def _attributes(node) -> dict:
    import onnx

    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def keras_from_onnx(model_bytes: bytes, where: str = "ONNX model"):
    """``(keras_model, owners)``: the network as a Keras model taking NHWC input (channels
    in the ONNX model's order and scale) and returning its outputs in NHWC, and, per Keras
    layer name, the ONNX initializer names its weights came from."""
    import onnx
    from onnx import numpy_helper

    from ..runtime import import_tensorflow

    import_tensorflow()
    import keras
    from keras import layers

    graph = onnx.load_from_string(model_bytes).graph
    weights = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    inputs = [i.name for i in graph.input if i.name not in weights]
    if len(inputs) != 1:
        raise ModelError(f"{where}: expected one image input, found {inputs}")
    image = keras.Input((None, None, 3), name="image")
    tensors, owners = {inputs[0]: image}, {}
    for k, node in enumerate(graph.node):
        if node.op_type not in SUPPORTED:
            raise ModelError(f"{where}: operator {node.op_type} (node {k}) cannot be rebuilt in Keras; "
                             f"supported: {', '.join(SUPPORTED)}")
        att, name = _attributes(node), f"n{k}_{node.op_type.lower()}"
        x = tensors[node.input[0]]
        if node.op_type in ("Conv", "ConvTranspose"):
            kernel = weights[node.input[1]]
            bias = weights[node.input[2]] if len(node.input) > 2 else None
            group, pads = att.get("group", 1), att.get("pads", [0, 0, 0, 0])
            strides = tuple(att.get("strides", [1, 1]))
            if node.op_type == "ConvTranspose":
                if any(pads) or group != 1:
                    raise ModelError(f"{where}: node {k}: only unpadded, ungrouped transposed convolutions")
                layer = layers.Conv2DTranspose(
                    kernel.shape[1], kernel.shape[2:], strides=strides, use_bias=bias is not None, name=name)
                keras_kernel = kernel.transpose(2, 3, 1, 0)
            else:
                if any(pads):  # ONNX pads both sides; Keras "same" pads stride-2 maps on one side only
                    x = layers.ZeroPadding2D(((pads[0], pads[2]), (pads[1], pads[3])), name=name + "_pad")(x)
                if group == 1:
                    layer = layers.Conv2D(kernel.shape[0], kernel.shape[2:], strides=strides,
                                          use_bias=bias is not None, name=name)
                    keras_kernel = kernel.transpose(2, 3, 1, 0)
                elif group == kernel.shape[0] and kernel.shape[1] == 1:
                    layer = layers.DepthwiseConv2D(kernel.shape[2:], strides=strides, use_bias=bias is not None,
                                                   name=name)
                    keras_kernel = kernel.transpose(2, 3, 0, 1)
                else:
                    raise ModelError(f"{where}: node {k}: grouped convolution with {group} groups")
            y = layer(x)
            layer.set_weights([keras_kernel] + ([bias] if bias is not None else []))
            owners[name] = list(node.input[1:3])
        elif node.op_type == "BatchNormalization":
            # ONNX and Keras both keep momentum x the running value (ONNX's default 0.9).
            layer = layers.BatchNormalization(epsilon=att.get("epsilon", 1e-5), momentum=att.get("momentum", 0.9),
                                              name=name)
            y = layer(x)
            layer.set_weights([weights[n] for n in node.input[1:5]])
            owners[name] = list(node.input[1:5])
        elif node.op_type == "Relu":
            y = layers.ReLU(name=name)(x)
        elif node.op_type == "Add":
            y = layers.Add(name=name)([x, tensors[node.input[1]]])
        else:
            y = layers.Activation("sigmoid", name=name)(x)
        tensors[node.output[0]] = y
    return keras.Model(image, [tensors[o.name] for o in graph.output]), owners


def onnx_with_weights(model_bytes: bytes, keras_model, owners: dict) -> bytes:
    """A copy of the ONNX model with the Keras model's current weights (the inverse of the
    layouts :func:`keras_from_onnx` used)."""
    import onnx
    from keras import layers
    from onnx import numpy_helper

    model = onnx.load_from_string(model_bytes)
    initializers = {i.name: i for i in model.graph.initializer}
    for layer_name, names in owners.items():
        layer = keras_model.get_layer(layer_name)
        values = layer.get_weights()
        if isinstance(layer, layers.DepthwiseConv2D):
            values[0] = values[0].transpose(2, 3, 0, 1)
        elif isinstance(layer, (layers.Conv2D, layers.Conv2DTranspose)):
            values[0] = values[0].transpose(3, 2, 0, 1)
        for name, value in zip(names, values):
            initializers[name].CopyFrom(numpy_helper.from_array(np.asarray(value, np.float32), name))
    return model.SerializeToString()
