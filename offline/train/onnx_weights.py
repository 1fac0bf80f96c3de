"""The passage tower of a shipped model as a PyTorch module, with its weights read from the model's passage.onnx.

A model directory ships ONNX only (models/<name>/passage.onnx); this rebuilds the PyTorch module that exported it
(offline/train/model.py: I3Retriever or the plain USE-lite backbone) and loads the graph's initializers into it, so
a GPU machine with PyTorch and no onnxruntime-gpu can encode passages with exactly the shipped weights. Initializers
keep their parameter names, except the weights of MatMuls (stored transposed under generated names, found here by
the name of the node that uses them) and the pseudo-query slots (the input of the node that expands them over the
batch). Every parameter the passage path reads must be found, or this fails: no random weight is ever left in.
"""
from __future__ import annotations

import json
import os
from typing import Dict

import numpy as np
import torch
from torch import nn

from offline.train.model import I3Retriever, I3Config, PassageTower
from offline.train.use_lite import UseLite


class WeightError(ValueError):
    """passage.onnx does not match the module its model.json describes."""


def _initializers(path: str):
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(path).graph
    arrays = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    return graph, arrays


def _module_for(model_json: dict) -> nn.Module:
    """The untrained module with the shipped model's shapes (I^3 heads from its recipe; else the backbone alone)."""
    if model_json.get("architecture") == "i3":
        a = model_json.get("recipe", {}).get("train_args", {})
        cfg = I3Config(n_slots=a.get("n_slots", 32), n_recon_layers=a.get("n_recon_layers", 1),
                       n_inter_layers=a.get("n_inter_layers", 1), ffn_dim=a.get("head_ffn_dim", 1024),
                       attn_dim=a.get("head_attn_dim", 256), dropout=0.0)
        return PassageTower(I3Retriever(cfg))
    return UseLite()


def _passage_keys(module: nn.Module) -> Dict[str, torch.Tensor]:
    """The parameters the passage path reads (the query backbone and the training-only heads are left out)."""
    skip = ("query_encoder.", "rec_proj.", "rec_bias", "log_logit_scale")
    return {k: v for k, v in module.state_dict().items()
            if not any(s in k for s in skip) and not k.endswith("inv_ts")}


def read_meta(model_dir: str) -> dict:
    """The model directory's model.json."""
    with open(os.path.join(model_dir, "model.json"), encoding="utf-8") as f:
        return json.load(f)


def passage_tower(model_dir: str) -> nn.Module:
    """The model's passage tower in eval mode, on the CPU: (input_ids, attention_mask) -> unit vectors [B, D]."""
    meta = read_meta(model_dir)
    module = _module_for(meta)
    return load_onnx_weights(module, os.path.join(model_dir, meta.get("passage", "passage.onnx")), _passage_keys(module))


def query_tower(model_dir: str) -> UseLite:
    """The model's query tower (a plain USE-lite graph, query.onnx) as a UseLite in eval mode, on the CPU."""
    meta = read_meta(model_dir)
    module = UseLite()
    wanted = {k: v for k, v in module.state_dict().items() if not k.endswith("inv_ts")}
    return load_onnx_weights(module, os.path.join(model_dir, meta.get("query", "query.onnx")), wanted)


def load_onnx_weights(module: nn.Module, path: str, wanted: Dict[str, torch.Tensor]) -> nn.Module:
    """Loads the initializers of the ONNX graph `path` that `module` exported into the parameters `wanted` (its
    state_dict entries by name); a WeightError when one is not found or has another shape."""
    graph, arrays = _initializers(path)

    def key_for(name: str) -> str | None:
        """The parameter a dotted graph name stands for: itself, or its longest suffix that names exactly one."""
        parts = name.split(".")
        for i in range(len(parts)):
            suffix = ".".join(parts[i:])
            hits = [k for k in wanted if k == suffix or k.endswith("." + suffix)]
            if len(hits) == 1:
                return hits[0]
            if len(hits) > 1:
                raise WeightError(f"{path}: {name!r} matches {len(hits)} parameters")
        return None

    state: Dict[str, np.ndarray] = {}
    for name, arr in arrays.items():
        k = None if name.startswith("onnx::") else key_for(name)
        if k is not None:
            state[k] = arr
    for node in graph.node:
        for inp in node.input:
            if not inp.startswith("onnx::") or inp not in arrays:
                continue
            if node.op_type == "MatMul":  # /layers.0/attn/qkv/MatMul -> ...layers.0.attn.qkv.weight, transposed
                k = key_for(node.name.strip("/").rsplit("/", 1)[0].replace("/", ".") + ".weight")
                if k is None:
                    raise WeightError(f"{path}: MatMul {node.name} names no parameter")
                state[k] = arrays[inp].T
            elif node.op_type == "Expand" and arrays[inp].ndim == 3 and key_for("slots"):  # slots, expanded over the batch
                state[key_for("slots")] = arrays[inp][0]
    missing = sorted(set(wanted) - set(state))
    if missing:
        raise WeightError(f"{path}: no weights found for {', '.join(missing)}")
    for k, arr in state.items():
        if tuple(arr.shape) != tuple(wanted[k].shape):
            raise WeightError(f"{path}: {k} has shape {arr.shape}, the module {tuple(wanted[k].shape)}")
    module.load_state_dict({k: torch.from_numpy(np.array(v, copy=True)) for k, v in state.items()}, strict=False)
    return module.eval()
