"""The I^3 Retriever (Dong et al., CIKM 2023) on the USE-lite backbone, and the vanilla dual encoder it is ablated against.

    query tower     q  = UseLite_q(query)                          (L2-normalized, 512-d; exactly a UseLite: the edge
                                                                     pays the plain dual-encoder cost)
    passage tower   H  = UseLite_p.token_states(passage)           [B, L, 512]
                    p  = UseLite_p.pool(H)                         masked mean + tanh layer: USE's analogue of p_cls
                    Q~ = Reconstructor(slots, H)                   M pseudo-query slots; per layer: bidirectional
                                                                     self-attention among the slots, cross-attention to
                                                                     H, FFN (pre-LN)
                    (training only) logits = head(Q~) @ E_p^T      reconstruction over the 8002-row vocabulary, tied to
                                                                     the passage backbone's token embedding table
                    z  = Interactor([p ; mean(Q~)])[0]             self-attention layer(s) over the 2-token sequence
                    p~ = z / |z|                                   the passage vector (L2-normalized, 512-d)
    score           s(q, p) = q . p~                               (inner product = cosine; the loss multiplies it by a
                                                                     learned logit scale, i.e. a temperature)

Step-0 identity: the interactor is pre-LN with residual connections and its two output projections (attention out,
FFN out) are zero-initialised, so at initialisation z == p and p~ == UseLite_p(passage): I^3 starts from the zero-shot
USE-lite model, not from noise. (Its other weights are random, so gradients flow into the zero-init projections at
step 1.)

Slots: M learned vectors (paper: [MASK] embeddings + position embeddings, which amounts to the same thing: one free
vector per slot position). The reconstruction target is the query's token ids position by position (slot i <-> token
i, slots past the query length are ignored), not autoregressive, as in the authors' code.

`DualEncoder` has the same two towers and nothing else: p~ = UseLite_p(passage).

Both classes expose the same interface (used by train.py and export.py):
    encode_query(ids, mask) -> [B, 512] normalized
    encode_passage(ids, mask) -> [B, 512] normalized
    passage_from_states(H, mask) -> (p~ [B,512], aux)   aux = slot states Q~ [B,M,512] for I^3, None for dual
    reconstruction_logits(Q~) -> [B, M, 8002]           (I^3 only)
    logit_scale                                         learned, log-parameterised temperature for the loss
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from offline.train.use_lite import UseLite, UseLiteConfig, default_tfjs_dir


@dataclass
class I3Config:
    kind: str = "i3"  # "i3" | "dual"
    n_slots: int = 32  # M pseudo-query slots (paper: 32 = the max query length)
    n_recon_layers: int = 1  # reconstructor depth (paper: 1)
    n_inter_layers: int = 1  # interactor depth (paper: 1)
    d_model: int = 512  # = USE-lite width
    n_heads: int = 8
    ffn_dim: int = 1024
    attn_dim: int = 256  # inner width of the heads' attention (q/k/v); < d_model keeps the cross-attention cheap
    dropout: float = 0.1  # inside the heads (reconstructor / interactor)
    vocab_size: int = 8002
    emb_dim: int = 256  # width of the backbone's token embedding table (reconstruction head is tied to it)
    ln_eps: float = 1e-6
    init_logit_scale: float = 20.0  # 1 / temperature at init (tau = 0.05)


# ---------------------------------------------------------------------------------------------------- head blocks
class Attention(nn.Module):
    """Multi-head attention: queries from x, keys/values from ctx, additive key mask. Plain matmuls (exports to ONNX)."""

    def __init__(self, d: int, d_attn: int, n_heads: int, dropout: float):
        super().__init__()
        assert d_attn % n_heads == 0
        self.h, self.dh, self.da = n_heads, d_attn // n_heads, d_attn
        self.q = nn.Linear(d, d_attn)
        self.kv = nn.Linear(d, 2 * d_attn)
        self.out = nn.Linear(d_attn, d)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, ctx: torch.Tensor, key_bias: Optional[torch.Tensor] = None) -> torch.Tensor:
        B, T, _ = x.shape
        S, D = ctx.shape[1], self.da
        q = self.q(x).reshape(B, T, self.h, self.dh).transpose(1, 2)  # [B,h,T,dh]
        k, v = self.kv(ctx).split(D, dim=-1)
        k = k.reshape(B, S, self.h, self.dh).transpose(1, 2)
        v = v.reshape(B, S, self.h, self.dh).transpose(1, 2)
        logits = torch.matmul(q, k.transpose(-1, -2)) * (self.dh ** -0.5)
        if key_bias is not None:
            logits = logits + key_bias  # [B,1,1,S]
        probs = self.drop(torch.softmax(logits, dim=-1))
        o = torch.matmul(probs, v).transpose(1, 2).reshape(B, T, D)
        return self.out(o)


class Block(nn.Module):
    """Pre-LN transformer block: self-attention, optional cross-attention (to a pre-normalized context), ReLU FFN.
    zero_init=True zeroes every output projection, so the block is the identity at initialisation."""

    def __init__(self, cfg: I3Config, cross: bool, zero_init: bool = False):
        super().__init__()
        d = cfg.d_model
        self.ln_self = nn.LayerNorm(d, eps=cfg.ln_eps)
        self.self_attn = Attention(d, cfg.attn_dim, cfg.n_heads, cfg.dropout)
        self.cross = cross
        if cross:
            self.ln_cross = nn.LayerNorm(d, eps=cfg.ln_eps)
            self.ln_ctx = nn.LayerNorm(d, eps=cfg.ln_eps)  # backbone states are large (|x| up to ~80): normalize
            self.cross_attn = Attention(d, cfg.attn_dim, cfg.n_heads, cfg.dropout)
        self.ln_ffn = nn.LayerNorm(d, eps=cfg.ln_eps)
        self.ff1 = nn.Linear(d, cfg.ffn_dim)
        self.ff2 = nn.Linear(cfg.ffn_dim, d)
        self.drop = nn.Dropout(cfg.dropout)
        if zero_init:
            outs = [self.self_attn.out, self.ff2] + ([self.cross_attn.out] if cross else [])
            for lin in outs:
                nn.init.zeros_(lin.weight)
                nn.init.zeros_(lin.bias)

    def forward(self, x, ctx=None, ctx_bias=None):
        h = self.ln_self(x)
        x = x + self.drop(self.self_attn(h, h))  # bidirectional, no mask (slots / the 2 interactor tokens)
        if self.cross:
            x = x + self.drop(self.cross_attn(self.ln_cross(x), self.ln_ctx(ctx), ctx_bias))
        x = x + self.drop(self.ff2(self.drop(F.relu(self.ff1(self.ln_ffn(x))))))
        return x


def _key_bias(mask: torch.Tensor, dtype) -> torch.Tensor:
    return ((1.0 - mask.to(dtype)) * -1e9)[:, None, None, :]


# ---------------------------------------------------------------------------------------------------- models
class _Towers(nn.Module):
    """Two untied UseLite copies and a learned logit scale; shared by I3Retriever and DualEncoder."""

    def __init__(self, cfg: I3Config, query_encoder: Optional[UseLite], passage_encoder: Optional[UseLite]):
        super().__init__()
        self.cfg = cfg
        self.query_encoder = query_encoder if query_encoder is not None else UseLite()
        self.passage_encoder = passage_encoder if passage_encoder is not None else UseLite()
        self.log_logit_scale = nn.Parameter(torch.tensor(math.log(cfg.init_logit_scale)))

    @property
    def logit_scale(self) -> torch.Tensor:
        return self.log_logit_scale.exp().clamp(max=100.0)

    def encode_query(self, input_ids, attention_mask):
        return self.query_encoder(input_ids, attention_mask)  # exactly UseLite.forward: no extra query-time cost

    def encode_passage(self, input_ids, attention_mask):
        states = self.passage_encoder.token_states(input_ids, attention_mask)
        return self.passage_from_states(states, attention_mask)[0]

    # parameter groups for train.py: the two backbones (small lr) vs everything else (heads, larger lr)
    def encoder_parameters(self):
        return list(self.query_encoder.parameters()) + list(self.passage_encoder.parameters())

    def head_parameters(self):
        enc = {id(p) for p in self.encoder_parameters()}
        return [p for p in self.parameters() if id(p) not in enc]

    def save(self, path: str, **extra) -> None:
        """Checkpoint carrying the model args: {format, config, use_lite_config, state_dict, **extra}."""
        torch.save({"format": "i3-edge/1", "config": asdict(self.cfg),
                    "use_lite_config": asdict(self.query_encoder.config),
                    "state_dict": self.state_dict(), **extra}, path)

    @classmethod
    def from_pretrained(cls, tfjs_dir: Optional[str] = None, use_lite_overrides: Optional[dict] = None, **cfg):
        """Both towers start from the pretrained TF.js USE-lite weights (untied copies); heads randomly initialised."""
        d = tfjs_dir or default_tfjs_dir()
        ov = use_lite_overrides or {}
        return cls(I3Config(**cfg), UseLite.from_tfjs(d, **ov), UseLite.from_tfjs(d, **ov))


class DualEncoder(_Towers):
    def __init__(self, cfg: Optional[I3Config] = None, query_encoder=None, passage_encoder=None):
        cfg = cfg or I3Config(kind="dual")
        cfg.kind = "dual"
        super().__init__(cfg, query_encoder, passage_encoder)

    def passage_from_states(self, states, attention_mask):
        p = self.passage_encoder.pool(states, attention_mask)
        return UseLite.l2_normalize(p), None


class I3Retriever(_Towers):
    def __init__(self, cfg: Optional[I3Config] = None, query_encoder=None, passage_encoder=None):
        cfg = cfg or I3Config()
        cfg.kind = "i3"
        super().__init__(cfg, query_encoder, passage_encoder)
        d = cfg.d_model
        # query reconstructor: M learned slots -> decoder layer(s) over the passage token states
        self.slots = nn.Parameter(torch.randn(cfg.n_slots, d) * 0.02)
        self.reconstructor = nn.ModuleList([Block(cfg, cross=True) for _ in range(cfg.n_recon_layers)])
        self.rec_ln = nn.LayerNorm(d, eps=cfg.ln_eps)
        # reconstruction head (training only): 512 -> 256, then tied to the passage backbone's embedding table
        self.rec_proj = nn.Linear(d, cfg.emb_dim)
        self.rec_bias = nn.Parameter(torch.zeros(cfg.vocab_size))
        # interactor over [p ; mean(Q~)]: identity at init (zero-init output projections)
        self.inter_in = nn.Linear(d, d)  # maps the (normalized) mean slot into the pooled-vector space
        self.interactor = nn.ModuleList([Block(cfg, cross=False, zero_init=True) for _ in range(cfg.n_inter_layers)])

    def reconstruct(self, states, attention_mask):
        """Q~ [B, M, d] (after the final LayerNorm)."""
        B = states.shape[0]
        x = self.slots.unsqueeze(0).expand(B, -1, -1)
        bias = _key_bias(attention_mask, states.dtype)
        for blk in self.reconstructor:
            x = blk(x, states, bias)
        return self.rec_ln(x)

    def reconstruction_logits(self, slot_states):
        E = self.passage_encoder.embeddings.weight  # [8002, 256]
        return self.rec_proj(slot_states) @ E.t() + self.rec_bias  # [B, M, 8002]

    def passage_from_states(self, states, attention_mask):
        p = self.passage_encoder.pool(states, attention_mask)  # [B, 512] un-normalized (the p_cls analogue)
        q_tilde = self.reconstruct(states, attention_mask)  # [B, M, 512]
        r = self.inter_in(q_tilde.mean(dim=1))  # mean of the reconstructed pseudo-query slots
        x = torch.stack([p, r], dim=1)  # [B, 2, 512]
        for blk in self.interactor:
            x = blk(x)
        return UseLite.l2_normalize(x[:, 0]), q_tilde


def pick_device(name: str) -> str:
    """"auto" -> "cuda" when a GPU is there, else "cpu"; any other name is returned as is."""
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return name


def seed_everything(seed: int) -> None:
    """python, numpy and torch RNGs (train.py seeds with this right before it builds the model)."""
    import random

    import numpy as np
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def build(kind: str, pretrained: bool = True, tfjs_dir: Optional[str] = None, **cfg):
    cls = {"i3": I3Retriever, "dual": DualEncoder}[kind]
    if pretrained:
        return cls.from_pretrained(tfjs_dir, **cfg)
    return cls(I3Config(kind=kind, **cfg))


def load_checkpoint(path: str, map_location="cpu"):
    """Rebuild an I3Retriever / DualEncoder from a checkpoint written by `save` (no TF.js weights needed)."""
    ck = torch.load(path, map_location=map_location, weights_only=False)
    cfg = I3Config(**ck["config"])
    ul = UseLiteConfig(**ck["use_lite_config"])
    cls = {"i3": I3Retriever, "dual": DualEncoder}[cfg.kind]
    model = cls(cfg, UseLite(ul), UseLite(ul))
    model.load_state_dict(ck["state_dict"])
    return model, ck


class QueryTower(nn.Module):
    """Export wrapper: (input_ids, attention_mask) -> embedding [B, 512]."""

    def __init__(self, model):
        super().__init__()
        self.enc = model.query_encoder

    def forward(self, input_ids, attention_mask):
        return self.enc(input_ids, attention_mask)


class PassageTower(nn.Module):
    """Export wrapper: backbone + reconstructor + interactor fused (reconstruction head dropped)."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask):
        return self.model.encode_passage(input_ids, attention_mask)
