"""How much work a TFLite model is, counted from the file: multiply-adds per inference and weights.

Milliseconds differ sixfold between two desktop machines and more again on a Pi; multiply-adds
do not, so models are compared by these counts first and timed second. Convolutions,
depthwise convolutions and fully connected layers are counted (everything else in these
networks is a small fraction: additions, pooling, activations).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from pi_emotion.perception.classify import load_interpreter

COUNTED = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")


@dataclass(frozen=True)
class ModelWork:
    macs: int  # multiply-adds for one face
    params: int  # weights and biases of the counted layers

    def to_json(self) -> dict:
        return {"macs": self.macs, "params": self.params}


def layer_macs(op: str, inputs: list[tuple[int, ...]], output: tuple[int, ...]) -> int:
    """Multiply-adds of one layer for a batch of one, from its input shapes (data, filter, ...) and output shape.

    TFLite shapes: data NHWC; CONV_2D filter (out, kh, kw, in); DEPTHWISE_CONV_2D filter (1, kh, kw, out);
    FULLY_CONNECTED weights (out, in).
    """
    if op == "CONV_2D":
        _, oh, ow, oc = output
        _, kh, kw, ic = inputs[1]
        return oh * ow * oc * kh * kw * ic
    if op == "DEPTHWISE_CONV_2D":
        _, oh, ow, oc = output
        _, kh, kw, _ = inputs[1]
        return oh * ow * oc * kh * kw
    if op == "FULLY_CONNECTED":
        out, inp = inputs[1]
        return out * inp
    return 0


def model_work(path: Path) -> ModelWork:
    interpreter = load_interpreter(path, 1)
    tensors = {t["index"]: tuple(int(d) for d in t["shape"]) for t in interpreter.get_tensor_details()}
    macs = params = 0
    for op in interpreter._get_ops_details():  # the only way LiteRT lists a model's layers
        if op["op_name"] not in COUNTED:
            continue
        inputs = [tensors[i] for i in op["inputs"] if i >= 0]
        macs += layer_macs(op["op_name"], inputs, tensors[op["outputs"][0]])  # a fresh interpreter: batch of one
        params += sum(math.prod(shape) for shape in inputs[1:])
    return ModelWork(macs, params)


def onnx_macs(path: Path, width: int, height: int) -> int:
    """Multiply-adds of an ONNX network's convolutions (a detector such as YuNet) on a ``width`` x ``height`` input.

    Read through OpenCV's own importer, so no ONNX package is needed; the output sizes come
    from OpenCV's shape inference for that input.
    """
    import cv2

    net = cv2.dnn.readNetFromONNX(str(path))
    ids, _, outputs = net.getLayersShapes([1, 3, height, width])
    macs = 0
    for layer_id, shapes in zip(ids, outputs):
        layer = net.getLayer(int(layer_id))
        if layer.type == "Convolution":
            _, _, oh, ow = shapes[0]
            macs += math.prod(layer.blobs[0].shape) * int(oh) * int(ow)  # (out, in / groups, kh, kw) per output pixel
    return macs
