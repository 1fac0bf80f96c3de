"""Tiny random-init models and batches shared by the offline/train tests."""
import torch

from offline.train.model import I3Config, I3Retriever
from offline.train.use_lite import UseLite, UseLiteConfig

TINY_UL = dict(emb_dim=32, d_model=64, n_heads=2, ffn_dim=96, n_timescales=16)
TINY_I3 = dict(d_model=64, emb_dim=32, n_heads=2, attn_dim=32, ffn_dim=96, n_slots=6)


def tiny(cls=I3Retriever, **kw):
    torch.manual_seed(0)
    cfg = I3Config(**{**TINY_I3, **kw})
    return cls(cfg, UseLite(UseLiteConfig(**TINY_UL)), UseLite(UseLiteConfig(**TINY_UL))).eval()


def batch(B=3, L=11):
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(6, 8000, (B, L), generator=g)
    mask = torch.ones_like(ids)
    mask[1, 5:] = 0
    mask[2, 1:] = 0
    return ids, mask
