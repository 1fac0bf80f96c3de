"""Training-loop tests: the loss goes down on a tiny fixed batch; the test-qrels guard; the data root."""
import pytest
import torch

from offline.train import data
from offline.train.model import DualEncoder, I3Retriever
from offline.train.tests.helpers import tiny
from offline.train.train import contrastive_loss, reconstruction_loss

torch.set_num_threads(2)


def test_test_qrels_guard_refuses():
    with pytest.raises(ValueError):
        data.load_train_qrels("/anything/scifact/qrels/test.tsv")
    with pytest.raises(ValueError):
        data.assert_not_test_qrels("/anything/qrels/test.tsv")
    data.assert_not_test_qrels("/anything/qrels/train.tsv")


def test_dev_split_is_train_only_and_disjoint(beir_root):
    train, dev = data.scifact_train_dev()
    assert set(train).isdisjoint(dev) and len(dev) == 6 and len(train) == 54
    assert (train, dev) == data.scifact_train_dev()  # fixed seed
    test = set(data.load_eval_qrels("scifact"))
    assert len(test) == 10 and test.isdisjoint(dev) and test.isdisjoint(train)


def test_data_root_comes_from_the_flag_or_i3_data(beir_root, monkeypatch, tmp_path):
    assert data.data_path("scifact", "queries.jsonl") == str(beir_root / "scifact" / "queries.jsonl")
    data.set_data_root(str(tmp_path))
    try:
        assert data.data_root() == str(tmp_path)  # --data-root wins over $I3_DATA
        data.set_data_root(str(tmp_path / "nowhere"))
        with pytest.raises(data.DataRootError, match="--data-root"):
            data.data_root()
    finally:
        data.set_data_root(None)
    monkeypatch.delenv(data.DATA_ENV)
    with pytest.raises(data.DataRootError, match="pass --data-root DIR or set I3_DATA=DIR"):
        data.load_queries("scifact")


@pytest.mark.parametrize("cls", ["i3", "dual"])
def test_loss_decreases_on_tiny_batch(cls):
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
