"""Fast CPU tests of offline/train/model.py and export.py (tiny random-init configs; the real sizes where cheap)."""
import numpy as np
import pytest
import torch

from offline.train.model import DualEncoder, I3Config, I3Retriever, PassageTower, QueryTower
from offline.train.tests.helpers import batch, tiny
from offline.train.use_lite import UseLite

torch.set_num_threads(2)


def test_shapes_of_every_block():
    m = tiny()
    ids, mask = batch()
    st = m.passage_encoder.token_states(ids, mask)
    assert st.shape == (3, 11, 64)
    assert m.passage_encoder.pool(st, mask).shape == (3, 64)
    qt = m.reconstruct(st, mask)
    assert qt.shape == (3, 6, 64)
    assert m.reconstruction_logits(qt).shape == (3, 6, 8002)
    p, q_tilde = m.passage_from_states(st, mask)
    assert p.shape == (3, 64) and q_tilde.shape == (3, 6, 64)
    assert torch.allclose(p.norm(dim=-1), torch.ones(3), atol=1e-5)
    q = m.encode_query(ids, mask)
    assert q.shape == (3, 64) and torch.allclose(q.norm(dim=-1), torch.ones(3), atol=1e-5)
    d = tiny(DualEncoder)
    pd, aux = d.passage_from_states(st, mask)
    assert pd.shape == (3, 64) and aux is None


def test_query_tower_is_exactly_use_lite():
    m = I3Retriever(I3Config())  # real sizes, random init
    assert type(m.query_encoder) is UseLite
    assert sum(p.numel() for p in m.query_encoder.parameters()) == 6_975_744
    assert type(QueryTower(m).enc) is UseLite  # the exported query graph is the UseLite module, nothing else
    ids, mask = batch()
    with torch.no_grad():
        assert torch.equal(m.encode_query(ids, mask), m.query_encoder(ids, mask))
    # the dual encoder's query tower is the same module type and size
    assert sum(p.numel() for p in DualEncoder().query_encoder.parameters()) == 6_975_744


def test_step0_i3_passage_vector_equals_backbone_pooled():
    m = tiny()
    ids, mask = batch()
    with torch.no_grad():
        a = m.encode_passage(ids, mask)
        b = m.passage_encoder(ids, mask)  # UseLite.forward = normalize(pool(states))
    assert torch.allclose(a, b, atol=1e-6)
    m.train()  # still the identity with dropout on (zero-init outputs)
    with torch.no_grad():
        assert torch.allclose(m.encode_passage(ids, mask), b, atol=1e-6)


def test_reconstruction_ignores_padding_slots():
    from offline.train.train import reconstruction_loss
    m = tiny()
    ids, mask = batch()
    _, qt = m.passage_from_states(m.passage_encoder.token_states(ids, mask), mask)
    tgt = torch.full((3, 6), -100, dtype=torch.long)
    tgt[0, :2] = torch.tensor([10, 11])
    l1 = reconstruction_loss(m, qt, torch.arange(3), tgt)
    qt2 = qt.clone()
    qt2[0, 2:] += 5.0  # change only unsupervised slots
    qt2[1:] += 5.0
    l2 = reconstruction_loss(m, qt2, torch.arange(3), tgt)
    assert torch.allclose(l1, l2)


def test_checkpoint_round_trip(tmp_path):
    from offline.train.model import load_checkpoint
    m = tiny()
    p = str(tmp_path / "c.pt")
    m.save(p, train_args={"q_max_len": 32})
    m2, ck = load_checkpoint(p)
    ids, mask = batch()
    with torch.no_grad():
        assert torch.equal(m.eval().encode_passage(ids, mask), m2.eval().encode_passage(ids, mask))
    assert ck["train_args"]["q_max_len"] == 32


@pytest.mark.parametrize("cls", [I3Retriever, DualEncoder])
def test_export_parity(tmp_path, cls):
    from offline.train.export import export_onnx, parity
    m = tiny(cls)
    # make the interactor non-trivial (trained-like) so the parity test covers it
    with torch.no_grad():
        for p in m.parameters():
            if p.abs().sum() == 0:
                p.normal_(0, 0.02)
    seqs = [list(np.random.default_rng(0).integers(6, 8000, size=n)) for n in (20, 3, 1, 9)]
    for mod, f in ((QueryTower(m), "q.onnx"), (PassageTower(m), "p.onnx")):
        path = str(tmp_path / f)
        export_onnx(mod, path)
        assert parity(mod, path, seqs) <= 1e-4
