"""A stand-in for DeepFace's emotion graph, built with the ``onnx`` package.

DeepFace's real weights cannot be fetched here (air-gapped), so tests write this graph where
DeepFace looks for ``facial_expression_model_weights.onnx``. It has the real graph's interface —
input ``[n, 48, 48, 1]`` float32 (grayscale in [0, 1], as DeepFace feeds it), output ``[n, 7]``
probabilities — and fixed weights whose answer is known in advance:

    probs = softmax(BIAS + (mean_brightness - 0.5) * SLOPE)

A black face is "sad", a white one "happy" (the switch is at a mean gray level of about 0.66),
and every one of the seven outputs has a distinct value, so a swapped label shows up. It checks
plumbing and label mapping, never accuracy.

:func:`write_architecture_twin` writes DeepFace's real emotion CNN (the layer stack of its
``models/demography/tf/Emotion.py``) with seeded random weights: meaningless answers, but the
same amount of arithmetic, so ``compare`` can show what DeepFace costs per face here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

# DeepFace's output order (its EMOTION_LABELS), which the adapter maps to ours by name.
BIAS = np.log(np.array([0.04, 0.01, 0.05, 0.10, 0.50, 0.12, 0.18], dtype=np.float64))
SLOPE = np.array([0.0, 0.0, 0.0, 5.0, -5.0, 0.0, 0.0], dtype=np.float64)


def expected_probs(mean_brightness: float) -> np.ndarray:
    """What the stub outputs for a face whose mean gray level (0..1) is ``mean_brightness``."""
    z = BIAS + (mean_brightness - 0.5) * SLOPE
    e = np.exp(z - z.max())
    return e / e.sum()


def write_stub(path: Path, *, in_size: int = 48, classes: int = 7) -> Path:
    """Write the stub graph (``in_size``/``classes`` can be changed to make a wrong model)."""
    from onnx import TensorProto, helper, numpy_helper

    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, ["n", in_size, in_size, 1])
    y = helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["n", classes])
    slope = np.resize(SLOPE, classes).astype(np.float32).reshape(1, classes)
    bias = np.resize(BIAS - 0.5 * SLOPE, classes).astype(np.float32)
    nodes = [
        # opset 18: ReduceMean takes its axes as an input
        helper.make_node("ReduceMean", ["input", "axes"], ["mean"], keepdims=0),  # [n, 1]
        helper.make_node("MatMul", ["mean", "slope"], ["scaled"]),  # [n, 7]
        helper.make_node("Add", ["scaled", "bias"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probs"], axis=-1),
    ]
    inits = [
        numpy_helper.from_array(np.array([1, 2], dtype=np.int64), "axes"),
        numpy_helper.from_array(slope, "slope"),
        numpy_helper.from_array(bias, "bias"),
    ]
    graph = helper.make_graph(nodes, "deepface_emotion_stub", [x], [y], inits)
    return _save(graph, path)


def _save(graph, path: Path) -> Path:
    import onnx
    from onnx import helper

    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8  # readable by older onnxruntime builds too
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def write_architecture_twin(path: Path, seed: int = 0) -> Path:
    """DeepFace's emotion CNN with random (He-initialised, seeded) weights, NHWC in/out."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    inits = []
    nodes = [helper.make_node("Transpose", ["input"], ["x0"], perm=[0, 3, 1, 2])]

    def weight(name: str, shape: tuple[int, ...], fan_in: int) -> str:
        w = rng.normal(0.0, np.sqrt(2.0 / fan_in), size=shape).astype(np.float32)
        inits.append(numpy_helper.from_array(w, name))
        return name

    x, c_in = "x0", 1
    # (kind, out channels | pool size, kernel, stride) — Keras' "valid" padding throughout
    layers = [
        ("conv", 64, 5),
        ("max", 5, 2),
        ("conv", 64, 3),
        ("conv", 64, 3),
        ("avg", 3, 2),
        ("conv", 128, 3),
        ("conv", 128, 3),
        ("avg", 3, 2),
    ]
    for i, layer in enumerate(layers):
        out = f"l{i}"
        if layer[0] == "conv":
            _, c_out, k = layer
            w = weight(f"w{i}", (c_out, c_in, k, k), c_in * k * k)
            b = weight(f"b{i}", (c_out,), 1e6)  # near-zero biases
            nodes.append(helper.make_node("Conv", [x, w, b], [f"{out}c"], kernel_shape=[k, k]))
            nodes.append(helper.make_node("Relu", [f"{out}c"], [out]))
            c_in = c_out
        else:
            kind, k, s = layer
            op = "MaxPool" if kind == "max" else "AveragePool"
            nodes.append(helper.make_node(op, [x], [out], kernel_shape=[k, k], strides=[s, s]))
        x = out
    nodes.append(helper.make_node("Flatten", [x], ["flat"]))  # [n, 128] (1×1 spatial left)
    x, width = "flat", 128
    for j, units in enumerate((1024, 1024, 7)):
        w = weight(f"dw{j}", (width, units), width)
        b = weight(f"db{j}", (units,), 1e6)
        nodes.append(helper.make_node("Gemm", [x, w, b], [f"d{j}"]))
        if units != 7:
            nodes.append(helper.make_node("Relu", [f"d{j}"], [f"r{j}"]))
            x = f"r{j}"
        width = units
    nodes.append(helper.make_node("Softmax", ["d2"], ["probs"], axis=-1))
    graph = helper.make_graph(
        nodes,
        "deepface_emotion_twin",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["n", 48, 48, 1])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["n", 7])],
        inits,
    )
    return _save(graph, path)
