"""Training-loop tests: the loss goes down on a tiny fixed batch; the test-qrels guard."""
import os
import sys

import pytest
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import data  # noqa: E402
from test_model import tiny  # noqa: E402
from train import contrastive_loss, reconstruction_loss  # noqa: E402
from model import DualEncoder  # noqa: E402

torch.set_num_threads(2)


def test_test_qrels_guard_refuses():
    with pytest.raises(ValueError):
        data.load_train_qrels(os.path.join(data.DATA_ROOT, "scifact", "qrels", "test.tsv"))
    with pytest.raises(ValueError):
        data.assert_not_test_qrels("/anything/qrels/test.tsv")
    data.assert_not_test_qrels("/anything/qrels/train.tsv")


def test_dev_split_is_train_only_and_disjoint():
    if not os.path.exists(os.path.join(data.DATA_ROOT, "scifact", "qrels", "train.tsv")):
        pytest.skip("no SciFact data")
    train, dev = data.scifact_train_dev()
    assert set(train).isdisjoint(dev) and 0.08 < len(dev) / (len(dev) + len(train)) < 0.12
    test = set(data.load_eval_qrels("scifact"))
    assert test.isdisjoint(dev) and test.isdisjoint(train)


@pytest.mark.parametrize("cls", ["i3", "dual"])
def test_loss_decreases_on_tiny_batch(cls):
    from model import I3Retriever
    m = tiny(I3Retriever if cls == "i3" else DualEncoder).train()
    torch.manual_seed(0)
    B, L = 4, 10
    q_ids = torch.randint(6, 8000, (B, 8))
    q_mask = torch.ones_like(q_ids)
    p_ids = torch.randint(6, 8000, (2 * B, L))
    p_mask = torch.ones_like(p_ids)
    targets = torch.arange(B) * 2  # passage 2i is the positive of query i, 2i+1 its hard negative
    fn = torch.zeros(B, 2 * B, dtype=torch.bool)
    rec_tgt = torch.full((B, m.cfg.n_slots), -100, dtype=torch.long)
    rec_tgt[:, :4] = q_ids[:, :4]
    opt = torch.optim.AdamW(m.parameters(), lr=2e-3)
    losses = []
    for _ in range(5):
        q = m.encode_query(q_ids, q_mask)
        p, qt = m.passage_from_states(m.passage_encoder.token_states(p_ids, p_mask), p_mask)
        loss = contrastive_loss(q, p, targets, fn, m.logit_scale)
        if qt is not None:
            loss = loss + reconstruction_loss(m, qt, targets, rec_tgt)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0], losses
