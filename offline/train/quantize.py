"""Smaller edge query models: weight compression of an ONNX encoder (offline.train.export writes them).

`quantize_weights`: every large float weight (MatMul/Gemm matrices and the embedding table) is stored as int8 with one
symmetric scale per output channel (per row of the embedding table), turned back into float32 by a DequantizeLinear
node, or as fp16 behind a Cast. Activations stay float32, so unlike onnxruntime's dynamic quantization (which also
quantizes activations to 8 bits on the fly) the vectors barely move; int8 shrinks the file about 4x, fp16 2x.
onnxruntime constant-folds the DequantizeLinear and Cast nodes when it loads the model, so inference runs the float32
kernels.

`quantize_dynamic_int8`: onnxruntime's dynamic int8 (weights and activations), the i3 models' query.int8.onnx.
"""

from __future__ import annotations

import os

import numpy as np
import onnx
from onnx import helper, numpy_helper

MIN_ELEMENTS = 4096  # small tensors (biases, LayerNorm, timing constants) stay float32
WEIGHTS = ("int8", "fp16", "fp32")


def _consumers(graph):
    uses = {}
    for node in graph.node:
        for i, name in enumerate(node.input):
            uses.setdefault(name, []).append((node, i))
    return uses


def quantize_weights(model: onnx.ModelProto, matmul: str = "int8", embedding: str = "int8") -> onnx.ModelProto:
    """Stores big weights as int8 (per-channel scale, DequantizeLinear) or fp16 (Cast), per kind of weight."""
    graph = model.graph
    uses = _consumers(graph)
    keep, added_nodes = [], []
    for init in graph.initializer:
        w = numpy_helper.to_array(init)
        users = uses.get(init.name, [])
        # Which axis is a "channel": the output columns of a [in, out] MatMul weight, the rows of an embedding.
        axis = None
        if w.dtype == np.float32 and w.ndim == 2 and w.size >= MIN_ELEMENTS and users:
            if all(n.op_type == "Gather" and i == 0 for n, i in users):
                axis = 0
            elif all(n.op_type in ("MatMul", "Gemm") and i == 1 for n, i in users):
                axis = 1
        mode = None if axis is None else (embedding if axis == 0 else matmul)
        if mode in (None, "fp32"):
            keep.append(init)
            continue
        if mode == "fp16":
            keep.append(numpy_helper.from_array(w.astype(np.float16), init.name + "_f16"))
            added_nodes.append(helper.make_node("Cast", [init.name + "_f16"], [init.name], to=onnx.TensorProto.FLOAT,
                                                name=init.name + "_cast"))
            continue
        amax = np.abs(w).max(axis=1 - axis)
        scale = np.where(amax > 0, amax / 127.0, 1.0).astype(np.float32)
        q = np.clip(np.round(w / (scale[:, None] if axis == 0 else scale[None, :])), -127, 127).astype(np.int8)
        keep.append(numpy_helper.from_array(q, init.name + "_q8"))
        keep.append(numpy_helper.from_array(scale, init.name + "_scale"))
        added_nodes.append(helper.make_node("DequantizeLinear", [init.name + "_q8", init.name + "_scale"], [init.name],
                                            axis=axis, name=init.name + "_dequant"))
    del graph.initializer[:]
    graph.initializer.extend(keep)
    nodes = added_nodes + list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)
    for opset in model.opset_import:
        if opset.domain in ("", "ai.onnx") and opset.version < 13:
            opset.version = 13  # per-axis DequantizeLinear
    onnx.checker.check_model(model)
    return model


def write_weight_variant(src: str, dst: str, matmul: str, embedding: str) -> None:
    """`quantize_weights` of the ONNX file src, written to dst whole (through dst.partial)."""
    model = quantize_weights(onnx.load(src), matmul=matmul, embedding=embedding)
    onnx.save(model, dst + ".partial")
    os.replace(dst + ".partial", dst)


def optimize_graph(src: str, dst: str) -> None:
    """src with its graph optimized by onnxruntime at the "extended" level (fusions that hold on any CPU; not "all",
    whose layout transforms are specific to the machine that runs them), written to dst whole (through dst.partial).
    A runtime that loads dst with graph optimization off gets src's outputs without optimizing it again."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    so.optimized_model_filepath = dst + ".partial"
    ort.InferenceSession(src, so, providers=["CPUExecutionProvider"])
    os.replace(dst + ".partial", dst)


def quantize_dynamic_int8(src: str, dst: str) -> None:
    """onnxruntime dynamic int8 of the weights of MatMul/Gemm/Gather with an initializer operand; activation x
    activation MatMuls (attention scores and attention-weighted values) stay fp32 (dynamic int8 on both operands costs
    too much cosine)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    g = onnx.load(src).graph
    inits = {i.name for i in g.initializer}
    exclude = [n.name for n in g.node if n.op_type == "MatMul" and not any(x in inits for x in n.input)]
    quantize_dynamic(src, dst, weight_type=QuantType.QInt8, per_channel=True,
                     op_types_to_quantize=["MatMul", "Gather", "Gemm"], nodes_to_exclude=exclude)
