"""Weight-space ensembles (offline/train/wise.py) and token-based passage encoding (data.encode_tokens)."""
import torch

from offline.train import data
from offline.train.model import build, seed_everything
from offline.train.tests.helpers import batch, tiny
from offline.train.use_lite import UseLite
from offline.train.wise import interpolate, wise

torch.set_num_threads(2)


def _moved(m, scale=0.05, seed=3):
    """A copy of m with every float weight moved: a stand-in for a fine-tuned model."""
    out = tiny()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for (k, v), (_, v0) in zip(out.state_dict().items(), m.state_dict().items()):
            if v.is_floating_point():
                v.copy_(v0 + scale * torch.randn(v.shape, generator=g))
    return out


def test_interpolate_endpoints_and_midpoint():
    m0 = tiny()
    ft = _moved(m0)
    w_ft = {k: v.clone() for k, v in ft.state_dict().items()}
    a1 = interpolate(_moved(m0), m0, 1.0)
    a0 = interpolate(_moved(m0), m0, 0.0)
    mid = interpolate(_moved(m0), m0, 0.5)
    for k, v0 in m0.state_dict().items():
        if not v0.is_floating_point():
            continue
        assert torch.equal(a1.state_dict()[k], w_ft[k])
        assert torch.allclose(a0.state_dict()[k], v0, atol=1e-7)
        assert torch.allclose(mid.state_dict()[k], 0.5 * (v0 + w_ft[k]), atol=1e-6)


def test_alpha_zero_is_the_zero_shot_model(tmp_path, tfjs_dir):
    """wise(ckpt, 0) re-creates what train.py started from; its zero-init interactor makes that the pretrained
    USE-lite for both towers, exactly."""
    args = dict(model="i3", seed=5, n_slots=16, n_recon_layers=1, n_inter_layers=1, head_dropout=0.1,
                head_ffn_dim=512, head_attn_dim=128, q_max_len=32)
    seed_everything(5)
    m = build("i3", pretrained=True, n_slots=args["n_slots"], n_recon_layers=args["n_recon_layers"],
              n_inter_layers=args["n_inter_layers"], dropout=args["head_dropout"], ffn_dim=args["head_ffn_dim"],
              attn_dim=args["head_attn_dim"])
    with torch.no_grad():  # "fine-tune": move every weight
        for p in m.parameters():
            p.add_(0.01 * torch.randn_like(p))
    path = str(tmp_path / "ckpt.pt")
    m.save(path, train_args=args, step=1, dev={})
    zero, _ = wise(path, 0.0)
    ref = UseLite.from_tfjs(tfjs_dir).eval()
    ids, mask = batch()
    with torch.no_grad():
        assert torch.allclose(zero.eval().encode_passage(ids, mask), ref(ids, mask), atol=1e-6)
        assert torch.allclose(zero.encode_query(ids, mask), ref(ids, mask), atol=1e-6)
        one, _ = wise(path, 1.0)
        assert torch.allclose(one.eval().encode_passage(ids, mask), m.eval().encode_passage(ids, mask), atol=1e-6)


def test_encode_tokens_keeps_input_order_across_length_sorted_batches():
    m = tiny()
    seqs = [[7] * n for n in (3, 40, 1, 17, 40, 2)]
    seqs = [[(i * 131 + j * 17) % 7990 + 6 for j in range(len(s))] for i, s in enumerate(seqs)]
    got = data.encode_tokens(m.encode_passage, seqs, "cpu", batch_tokens=64)  # several batches
    with torch.no_grad():
        for i, s in enumerate(seqs):
            x, mk = data.pad_batch([s])
            assert torch.allclose(torch.from_numpy(got[i]), m.encode_passage(x, mk)[0], atol=1e-5)


def test_token_cache_matches_state_cache_layout(beir_root):
    c = data.TokenCache("cranfield")
    assert c.doc_ids == ["1", "2", "3"]
    assert len(c) == len(c.tokens) == len(c.lens) == 3
    assert c.tokens[0] == data.tokenizer().encode("flow")  # a title-only document is its title
    assert c.tokens[1] == [0]  # empty documents become one unk token, as in the state cache
    assert c.lens.tolist() == [len(t) for t in c.tokens] and int(c.lens[2]) == 128  # truncated to the window
    assert data.TokenCache("cranfield").tokens == c.tokens  # read back from the cache
