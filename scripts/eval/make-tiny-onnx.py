"""Writes test/fixtures/beir-tiny/model/tiny.onnx: a 6-token, 3-d "encoder" for unit tests.

embedding[b] = sum_l table[input_ids[b, l]] * attention_mask[b, l]  (float32 [B, 3])
Run: python3 scripts/eval/make-tiny-onnx.py   (needs the `onnx` Python package)
"""
import os
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

table = np.array(
    [[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [0.5, 0.5, 0.5]], dtype=np.float32
)
nodes = [
    helper.make_node("Gather", ["table", "input_ids"], ["emb"], axis=0),  # [B, L, 3]
    helper.make_node("Cast", ["attention_mask"], ["maskf"], to=TensorProto.FLOAT),  # [B, L]
    helper.make_node("Unsqueeze", ["maskf", "axes"], ["mask3"]),  # [B, L, 1]
    helper.make_node("Mul", ["emb", "mask3"], ["masked"]),
    helper.make_node("ReduceSum", ["masked", "axis1"], ["embedding"], keepdims=0),  # [B, 3]
]
graph = helper.make_graph(
    nodes,
    "tiny",
    [
        helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["B", "L"]),
        helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["B", "L"]),
    ],
    [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["B", 3])],
    initializer=[
        numpy_helper.from_array(table, "table"),
        numpy_helper.from_array(np.array([2], dtype=np.int64), "axes"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "axis1"),
    ],
)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="i3-edge-tests")
model.ir_version = 8
onnx.checker.check_model(model)
out = os.path.join(os.path.dirname(__file__), "..", "..", "test", "fixtures", "beir-tiny", "model", "tiny.onnx")
onnx.save(model, out)
print("wrote", os.path.normpath(out))
