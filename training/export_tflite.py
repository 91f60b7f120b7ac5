"""Write the trained network as a full-integer (int8) TFLite model, without TensorFlow.

    python training/export_tflite.py build/model/checkpoint.pt --calib ../shared/data/fer2013/train.npz \
        -o affectra_edge/data/emotion_affectra_int8.tflite

Why full-integer: every op of this network has an int8 kernel in the TFLite runtime (XNNPACK
on x86-64 and ARM64), so a face costs int8 arithmetic end to end and the file is ~4× smaller
than float; dynamic-range models keep float activations and re-quantize them per op.

The graph is the network after folding BatchNorm into the convolutions:
QUANTIZE (float32 [1,48,48,1] in [-1,1] → int8) → blocks of CONV_2D (+ReLU), MAX_POOL_2D
between them → AVERAGE_POOL_2D (global) → RESHAPE → FULLY_CONNECTED → SOFTMAX → DEQUANTIZE (float32 [1,7]).
Quantization follows the TFLite int8 specification: weights symmetric per output channel
(conv) or per tensor (fully connected), int32 biases at input_scale × weight_scale,
activations asymmetric with ranges calibrated on augmented training faces, softmax output at
1/256 with zero point -128, pooling outputs sharing their input's parameters.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import flatbuffers
import numpy as np
import torch
import torch.nn.functional as F
from tflite.ActivationFunctionType import ActivationFunctionType
from tflite.BuiltinOperator import BuiltinOperator
from tflite.BuiltinOptions import BuiltinOptions
from tflite.Padding import Padding
from tflite.TensorType import TensorType

sys.path.insert(0, str(Path(__file__).resolve().parent))

from augment import augment_batch
from data import load
from model import INPUT_SIZE, NUM_CLASSES, EmotionNet, to_input


def _schema(name: str):
    # The tflite package re-exports each table's class under the module's name; the builder
    # functions (Start, Add…, End) live in the module itself.
    return importlib.import_module(f"tflite.{name}")


Buffer, Conv2DOptions, FullyConnectedOptions, Model, Operator, OperatorCode = map(
    _schema,
    ("Buffer", "Conv2DOptions", "FullyConnectedOptions", "Model", "Operator", "OperatorCode"),
)
Pool2DOptions, QuantizationParameters, ReshapeOptions, SoftmaxOptions, SubGraph, Tensor = map(
    _schema,
    (
        "Pool2DOptions",
        "QuantizationParameters",
        "ReshapeOptions",
        "SoftmaxOptions",
        "SubGraph",
        "Tensor",
    ),
)


# ---------------------------------------------------------------- the folded float network
@dataclass
class Layer:
    kind: str  # conv | maxpool | gap | fc
    weight: np.ndarray | None = None  # conv: [O, I, 3, 3]; fc: [O, I]
    bias: np.ndarray | None = None


def fold(model: EmotionNet) -> list[Layer]:
    layers: list[Layer] = []
    mods = list(model.features)
    i = 0
    while i < len(mods):
        m = mods[i]
        if isinstance(m, torch.nn.Conv2d):
            bn = mods[i + 1]
            assert isinstance(bn, torch.nn.BatchNorm2d) and isinstance(mods[i + 2], torch.nn.ReLU)
            g = (bn.weight / torch.sqrt(bn.running_var + bn.eps)).detach()
            w = m.weight.detach() * g[:, None, None, None]
            b = (bn.bias - bn.running_mean * g).detach()
            layers.append(Layer("conv", w.numpy().astype(np.float32), b.numpy().astype(np.float32)))
            i += 3
        elif isinstance(m, torch.nn.MaxPool2d):
            layers.append(Layer("maxpool"))
            i += 1
        else:
            raise ValueError(f"cannot export layer {m}")
    layers.append(Layer("gap"))
    layers.append(
        Layer("fc", model.fc.weight.detach().numpy().copy(), model.fc.bias.detach().numpy().copy())
    )
    return layers


def run_float(layers: list[Layer], x: torch.Tensor) -> list[torch.Tensor]:
    """Outputs of every layer (the last one is the logits), for calibration and checks."""
    outs = []
    for layer in layers:
        if layer.kind == "conv":
            x = F.relu(
                F.conv2d(x, torch.from_numpy(layer.weight), torch.from_numpy(layer.bias), padding=1)
            )
        elif layer.kind == "maxpool":
            x = F.max_pool2d(x, 2)
        elif layer.kind == "gap":
            x = x.mean(dim=(2, 3))
        else:
            x = F.linear(x, torch.from_numpy(layer.weight), torch.from_numpy(layer.bias))
        outs.append(x)
    return outs


# ---------------------------------------------------------------- quantization
@dataclass
class QParams:
    scale: np.ndarray
    zero_point: np.ndarray
    axis: int = 0


def activation_qparams(lo: float, hi: float) -> QParams:
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    scale = max((hi - lo) / 255.0, 1e-8)
    zp = int(np.clip(np.round(-128 - lo / scale), -128, 127))
    return QParams(np.array([scale], np.float32), np.array([zp], np.int64))


def quantize_weights(w: np.ndarray, per_channel: bool) -> tuple[np.ndarray, np.ndarray]:
    if per_channel:
        amax = np.abs(w.reshape(w.shape[0], -1)).max(axis=1)
    else:
        amax = np.array([np.abs(w).max()])
    scale = np.maximum(amax, 1e-8).astype(np.float32) / 127.0
    shape = (-1,) + (1,) * (w.ndim - 1) if per_channel else (1,) * w.ndim
    q = np.clip(np.round(w / scale.reshape(shape)), -127, 127).astype(np.int8)
    return q, scale


def calibrate(layers: list[Layer], faces: np.ndarray) -> list[tuple[float, float]]:
    ranges = [(np.inf, -np.inf)] * len(layers)
    with torch.no_grad():
        for i in range(0, len(faces), 256):
            outs = run_float(layers, to_input(faces[i : i + 256]))
            ranges = [
                (min(lo, float(o.min())), max(hi, float(o.max())))
                for (lo, hi), o in zip(ranges, outs, strict=True)
            ]
    return ranges


# ---------------------------------------------------------------- the flatbuffer
@dataclass
class Graph:
    buffers: list[bytes] = field(default_factory=lambda: [b""])
    tensors: list[dict] = field(default_factory=list)
    ops: list[dict] = field(default_factory=list)
    opcodes: list[tuple[int, int]] = field(default_factory=list)

    def buffer(self, data: bytes) -> int:
        self.buffers.append(data)
        return len(self.buffers) - 1

    def tensor(self, name, shape, ttype, q: QParams | None = None, data: bytes | None = None):
        buf = self.buffer(data) if data is not None else 0
        self.tensors.append({"name": name, "shape": shape, "type": ttype, "q": q, "buffer": buf})
        return len(self.tensors) - 1

    def op(self, code: int, version: int, inputs, outputs, opt_type=0, opt=None):
        if (code, version) not in self.opcodes:
            self.opcodes.append((code, version))
        self.ops.append(
            {
                "opcode": self.opcodes.index((code, version)),
                "inputs": inputs,
                "outputs": outputs,
                "opt_type": opt_type,
                "opt": opt,
            }
        )


def _aligned_bytes(b: flatbuffers.Builder, data: bytes) -> int:
    b.StartVector(1, len(data), 16)
    b.head = b.head - len(data)
    b.Bytes[b.head : b.head + len(data)] = data
    return b.EndVector()


def _ivec(b, start, values, kind="int32"):
    start(b, len(values))
    for v in reversed(values):
        {"int32": b.PrependInt32, "int64": b.PrependInt64, "float": b.PrependFloat32}[kind](v)
    return b.EndVector()


def serialize(g: Graph, description: str) -> bytes:
    b = flatbuffers.Builder(1 << 20)
    # Options tables first (flatbuffers cannot nest table construction).
    opt_offsets = []
    for op in g.ops:
        opt_offsets.append(op["opt"](b) if op["opt"] else 0)
    tensor_offsets = []
    for t in g.tensors:
        name = b.CreateString(t["name"])
        shape = _ivec(b, Tensor.StartShapeVector, t["shape"])
        qoff = 0
        if t["q"] is not None:
            sc = _ivec(
                b,
                QuantizationParameters.StartScaleVector,
                [float(s) for s in t["q"].scale],
                "float",
            )
            zp = _ivec(
                b,
                QuantizationParameters.StartZeroPointVector,
                [int(z) for z in t["q"].zero_point],
                "int64",
            )
            QuantizationParameters.Start(b)
            QuantizationParameters.AddScale(b, sc)
            QuantizationParameters.AddZeroPoint(b, zp)
            QuantizationParameters.AddQuantizedDimension(b, t["q"].axis)
            qoff = QuantizationParameters.End(b)
        Tensor.Start(b)
        Tensor.AddShape(b, shape)
        Tensor.AddType(b, t["type"])
        Tensor.AddBuffer(b, t["buffer"])
        Tensor.AddName(b, name)
        if qoff:
            Tensor.AddQuantization(b, qoff)
        tensor_offsets.append(Tensor.End(b))
    op_offsets = []
    for op, opt in zip(g.ops, opt_offsets, strict=True):
        ins = _ivec(b, Operator.StartInputsVector, op["inputs"])
        outs = _ivec(b, Operator.StartOutputsVector, op["outputs"])
        Operator.Start(b)
        Operator.AddOpcodeIndex(b, op["opcode"])
        Operator.AddInputs(b, ins)
        Operator.AddOutputs(b, outs)
        if opt:
            Operator.AddBuiltinOptionsType(b, op["opt_type"])
            Operator.AddBuiltinOptions(b, opt)
        op_offsets.append(Operator.End(b))

    def table_vector(start, offsets):
        start(b, len(offsets))
        for o in reversed(offsets):
            b.PrependUOffsetTRelative(o)
        return b.EndVector()

    tensors_vec = table_vector(SubGraph.StartTensorsVector, tensor_offsets)
    ops_vec = table_vector(SubGraph.StartOperatorsVector, op_offsets)
    inputs = _ivec(b, SubGraph.StartInputsVector, [0])
    outputs = _ivec(b, SubGraph.StartOutputsVector, [len(g.tensors) - 1])
    sg_name = b.CreateString("main")
    SubGraph.Start(b)
    SubGraph.AddTensors(b, tensors_vec)
    SubGraph.AddInputs(b, inputs)
    SubGraph.AddOutputs(b, outputs)
    SubGraph.AddOperators(b, ops_vec)
    SubGraph.AddName(b, sg_name)
    subgraph = SubGraph.End(b)

    code_offsets = []
    for code, version in g.opcodes:
        OperatorCode.Start(b)
        OperatorCode.AddDeprecatedBuiltinCode(b, min(code, 127))
        OperatorCode.AddBuiltinCode(b, code)
        OperatorCode.AddVersion(b, version)
        code_offsets.append(OperatorCode.End(b))
    buffer_offsets = []
    for data in g.buffers:
        doff = _aligned_bytes(b, data) if data else 0
        Buffer.Start(b)
        if doff:
            Buffer.AddData(b, doff)
        buffer_offsets.append(Buffer.End(b))
    codes_vec = table_vector(Model.StartOperatorCodesVector, code_offsets)
    sgs_vec = table_vector(Model.StartSubgraphsVector, [subgraph])
    bufs_vec = table_vector(Model.StartBuffersVector, buffer_offsets)
    desc = b.CreateString(description)
    Model.Start(b)
    Model.AddVersion(b, 3)
    Model.AddOperatorCodes(b, codes_vec)
    Model.AddSubgraphs(b, sgs_vec)
    Model.AddDescription(b, desc)
    Model.AddBuffers(b, bufs_vec)
    b.Finish(Model.End(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def build(layers: list[Layer], ranges: list[tuple[float, float]], description: str) -> bytes:
    g = Graph()
    x_in = g.tensor("input", [1, INPUT_SIZE, INPUT_SIZE, 1], TensorType.FLOAT32)
    q = activation_qparams(-1.0, 1.0)
    x = g.tensor("input_int8", [1, INPUT_SIZE, INPUT_SIZE, 1], TensorType.INT8, q)
    g.op(BuiltinOperator.QUANTIZE, 1, [x_in], [x])
    h = c = INPUT_SIZE
    c = 1
    for n, (layer, (lo, hi)) in enumerate(zip(layers, ranges, strict=True)):
        if layer.kind == "conv":
            wq, ws = quantize_weights(layer.weight, per_channel=True)
            w_ohwi = np.ascontiguousarray(wq.transpose(0, 2, 3, 1))
            o = w_ohwi.shape[0]
            wt = g.tensor(
                f"conv{n}/w",
                list(w_ohwi.shape),
                TensorType.INT8,
                QParams(ws, np.zeros(o, np.int64), 0),
                w_ohwi.tobytes(),
            )
            bscale = (q.scale[0] * ws).astype(np.float64)
            bq = np.round(layer.bias / bscale).astype(np.int32)
            bt = g.tensor(
                f"conv{n}/b",
                [o],
                TensorType.INT32,
                QParams(bscale.astype(np.float32), np.zeros(o, np.int64), 0),
                bq.tobytes(),
            )
            q = activation_qparams(0.0, hi)
            y = g.tensor(f"conv{n}", [1, h, h, o], TensorType.INT8, q)

            def conv_opt(b):
                Conv2DOptions.Start(b)
                Conv2DOptions.AddPadding(b, Padding.SAME)
                Conv2DOptions.AddStrideW(b, 1)
                Conv2DOptions.AddStrideH(b, 1)
                Conv2DOptions.AddFusedActivationFunction(b, ActivationFunctionType.RELU)
                Conv2DOptions.AddDilationWFactor(b, 1)
                Conv2DOptions.AddDilationHFactor(b, 1)
                return Conv2DOptions.End(b)

            g.op(
                BuiltinOperator.CONV_2D, 3, [x, wt, bt], [y], BuiltinOptions.Conv2DOptions, conv_opt
            )
            x, c = y, o
        elif layer.kind in ("maxpool", "gap"):
            k = 2 if layer.kind == "maxpool" else h
            h = h // k
            y = g.tensor(f"{layer.kind}{n}", [1, h, h, c], TensorType.INT8, q)

            def pool_opt(b, k=k):
                Pool2DOptions.Start(b)
                Pool2DOptions.AddPadding(b, Padding.VALID)
                Pool2DOptions.AddStrideW(b, k)
                Pool2DOptions.AddStrideH(b, k)
                Pool2DOptions.AddFilterWidth(b, k)
                Pool2DOptions.AddFilterHeight(b, k)
                Pool2DOptions.AddFusedActivationFunction(b, ActivationFunctionType.NONE)
                return Pool2DOptions.End(b)

            code = (
                BuiltinOperator.MAX_POOL_2D
                if layer.kind == "maxpool"
                else BuiltinOperator.AVERAGE_POOL_2D
            )
            g.op(code, 2, [x], [y], BuiltinOptions.Pool2DOptions, pool_opt)
            x = y
            if layer.kind == "gap":
                shape_t = g.tensor(
                    "flat_shape", [2], TensorType.INT32, None, np.array([1, c], np.int32).tobytes()
                )
                y = g.tensor("flat", [1, c], TensorType.INT8, q)

                def reshape_opt(b, c=c):
                    ns = _ivec(b, ReshapeOptions.StartNewShapeVector, [1, c])
                    ReshapeOptions.Start(b)
                    ReshapeOptions.AddNewShape(b, ns)
                    return ReshapeOptions.End(b)

                g.op(
                    BuiltinOperator.RESHAPE,
                    1,
                    [x, shape_t],
                    [y],
                    BuiltinOptions.ReshapeOptions,
                    reshape_opt,
                )
                x = y
        else:  # fc
            wq, ws = quantize_weights(layer.weight, per_channel=False)
            wt = g.tensor(
                "fc/w",
                list(wq.shape),
                TensorType.INT8,
                QParams(ws, np.zeros(1, np.int64)),
                wq.tobytes(),
            )
            bscale = float(q.scale[0] * ws[0])
            bq = np.round(layer.bias / bscale).astype(np.int32)
            bt = g.tensor(
                "fc/b",
                [NUM_CLASSES],
                TensorType.INT32,
                QParams(np.array([bscale], np.float32), np.zeros(1, np.int64)),
                bq.tobytes(),
            )
            q = activation_qparams(lo, hi)
            y = g.tensor("logits", [1, NUM_CLASSES], TensorType.INT8, q)

            def fc_opt(b):
                FullyConnectedOptions.Start(b)
                FullyConnectedOptions.AddFusedActivationFunction(b, ActivationFunctionType.NONE)
                return FullyConnectedOptions.End(b)

            g.op(
                BuiltinOperator.FULLY_CONNECTED,
                4,
                [x, wt, bt],
                [y],
                BuiltinOptions.FullyConnectedOptions,
                fc_opt,
            )
            x = y
    q = QParams(np.array([1.0 / 256.0], np.float32), np.array([-128], np.int64))
    y = g.tensor("probs_int8", [1, NUM_CLASSES], TensorType.INT8, q)

    def softmax_opt(b):
        SoftmaxOptions.Start(b)
        SoftmaxOptions.AddBeta(b, 1.0)
        return SoftmaxOptions.End(b)

    g.op(BuiltinOperator.SOFTMAX, 2, [x], [y], BuiltinOptions.SoftmaxOptions, softmax_opt)
    out = g.tensor("probabilities", [1, NUM_CLASSES], TensorType.FLOAT32)
    g.op(BuiltinOperator.DEQUANTIZE, 2, [y], [out])
    return serialize(g, description)


def load_checkpoint(path: str | Path) -> EmotionNet:
    ck = torch.load(path, map_location="cpu", weights_only=False)
    model = EmotionNet(tuple(ck["widths"]), tuple(ck["convs"]))
    model.load_state_dict(ck["state_dict"])
    return model.eval()


def calibration_faces(path: str, n: int, seed: int) -> np.ndarray:
    x, _ = load(path)
    rng = np.random.default_rng(seed)
    pick = x[rng.permutation(len(x))[:n]]
    # Half as they come, half as the camera would deliver them, so ranges cover both.
    half = len(pick) // 2
    return np.concatenate([pick[:half], augment_batch(pick[half:], rng)])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint")
    ap.add_argument("--calib", required=True, help="npz of faces for activation ranges")
    ap.add_argument("--calib-count", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=20261130)
    ap.add_argument("-o", "--output", required=True)
    args = ap.parse_args(argv)
    torch.manual_seed(args.seed)
    model = load_checkpoint(args.checkpoint)
    layers = fold(model)
    faces = calibration_faces(args.calib, args.calib_count, args.seed)
    with torch.no_grad():
        ref = model(to_input(faces[:64]))
        folded = run_float(layers, to_input(faces[:64]))[-1]
    err = float((ref - folded).abs().max())
    if err > 1e-3:
        raise SystemExit(f"BatchNorm folding changed the logits by {err}")
    ranges = calibrate(layers, faces)
    blob = build(layers, ranges, "Affectra Edge emotion model, int8 (training/export_tflite.py)")
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(blob)
    print(f"wrote {out} ({len(blob)} bytes, {len(layers)} layers, fold error {err:.2e})")
    report = check_against_runtime(model, out, faces[:500])
    if report:
        print(json.dumps(report))
    return 0


def check_against_runtime(model: EmotionNet, path: Path, faces: np.ndarray) -> dict | None:
    """The int8 file in the TFLite runtime against the float network on the same faces."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        print("ai-edge-litert not installed: int8 model not checked against the float one")
        return None
    interp = Interpreter(model_path=str(path), num_threads=1)
    interp.allocate_tensors()
    inp, outp = interp.get_input_details()[0]["index"], interp.get_output_details()[0]["index"]
    x = to_input(faces)
    with torch.no_grad():
        ref = torch.softmax(model(x), dim=1).numpy()
    got = np.empty_like(ref)
    for i in range(len(faces)):
        interp.set_tensor(inp, x[i : i + 1].permute(0, 2, 3, 1).numpy())
        interp.invoke()
        got[i] = interp.get_tensor(outp)[0]
    return {
        "check": "int8 TFLite vs float",
        "faces": len(faces),
        "top1_agreement": float(np.mean(ref.argmax(1) == got.argmax(1))),
        "mean_abs_prob_diff": float(np.abs(ref - got).mean()),
        "max_abs_prob_diff": float(np.abs(ref - got).max()),
    }


if __name__ == "__main__":
    raise SystemExit(main())
