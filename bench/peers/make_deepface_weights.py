"""Write a stand-in for DeepFace's ``facial_expression_model_weights.onnx`` with RANDOM weights.

DeepFace 0.0.103 runs its emotion CNN as an ONNX graph that it downloads on first use; this
machine cannot download it. For a *speed-only* comparison we build a graph with the same layer
structure (DeepFace's ``models/demography/pytorch/Emotion.py`` / ``tf/Emotion.py``): input
``(n, 48, 48, 1)`` channels-last float32 → conv5×5·64 → maxpool5/2 → conv3×3·64 ×2 → avgpool3/2
→ conv3×3·128 ×2 → avgpool3/2 → flatten → dense 1024 → dense 1024 → dense 7 → softmax.
The compute is therefore the real model's; the outputs are meaningless.

Runs in the deepface peer venv (needs ``onnx``). Usage: ``make_deepface_weights.py OUT.onnx``.
"""

from __future__ import annotations

import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def build(seed: int = 0) -> onnx.ModelProto:
    rng = np.random.default_rng(seed)
    inits: list[onnx.TensorProto] = []
    nodes: list[onnx.NodeProto] = []

    def weight(name: str, shape: tuple[int, ...]) -> str:
        fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else shape[0]
        arr = rng.normal(0.0, np.sqrt(2.0 / fan_in), size=shape).astype(np.float32)
        inits.append(numpy_helper.from_array(arr, name))
        return name

    x = "input"
    nodes.append(helper.make_node("Transpose", [x], ["nchw"], perm=[0, 3, 1, 2]))
    x = "nchw"

    def conv(name: str, cin: int, cout: int, k: int) -> None:
        nonlocal x
        w = weight(f"{name}.w", (cout, cin, k, k))
        b = weight(f"{name}.b", (cout,))
        nodes.append(helper.make_node("Conv", [x, w, b], [f"{name}.c"], kernel_shape=[k, k]))
        nodes.append(helper.make_node("Relu", [f"{name}.c"], [f"{name}.r"]))
        x = f"{name}.r"

    def pool(name: str, op: str, k: int, s: int) -> None:
        nonlocal x
        nodes.append(helper.make_node(op, [x], [name], kernel_shape=[k, k], strides=[s, s]))
        x = name

    conv("conv_1", 1, 64, 5)
    pool("pool_1", "MaxPool", 5, 2)
    conv("conv_2", 64, 64, 3)
    conv("conv_3", 64, 64, 3)
    pool("pool_2", "AveragePool", 3, 2)
    conv("conv_4", 64, 128, 3)
    conv("conv_5", 128, 128, 3)
    pool("pool_3", "AveragePool", 3, 2)
    nodes.append(helper.make_node("Flatten", [x], ["flat"], axis=1))
    x = "flat"
    for i, (cin, cout) in enumerate([(128, 1024), (1024, 1024), (1024, 7)], start=1):
        w = weight(f"fc_{i}.w", (cout, cin))
        b = weight(f"fc_{i}.b", (cout,))
        nodes.append(helper.make_node("Gemm", [x, w, b], [f"fc_{i}"], transB=1))
        x = f"fc_{i}"
        if i < 3:
            nodes.append(helper.make_node("Relu", [x], [f"fc_{i}.r"]))
            x = f"fc_{i}.r"
    nodes.append(helper.make_node("Softmax", [x], ["output"], axis=1))

    graph = helper.make_graph(
        nodes,
        "deepface_emotion_random_weights",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["n", 48, 48, 1])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["n", 7])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    model.doc_string = "RANDOM WEIGHTS - speed benchmarking only (affectra-edge bench/peers)"
    onnx.checker.check_model(model)
    return model


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    onnx.save(build(), argv[1])
    print(f"wrote {argv[1]} (random weights, speed only)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
