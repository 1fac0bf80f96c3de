"""Data for training and evaluating on BEIR folders: <data root>/<corpus>/{corpus.jsonl, queries.jsonl, qrels/}.

The data root comes from a command's --data-root flag (`set_data_root`) or the I3_DATA environment variable; a
command that needs it and has neither stops with a message saying so (`DataRootError`).

- corpus / queries / qrels readers (passage text: `passage_text`, the twin of src/text/passages.ts passageText,
  checked against test/fixtures/passage-text-cases.json)
- the test-qrels guard: training code may only read qrels whose file is not a test split (`load_train_qrels`)
- a fixed dev split of the SciFact TRAIN queries (~10%, seed 0, independent of the run seed)
- token caches (runs/cache/<corpus>/tokens.*) and the frozen-backbone token-state cache
  (runs/cache/<corpus>/states.f16: every passage's final USE-lite hidden states, fp16, flat [sum(L_i), 512]).
  With the passage backbone frozen (the CPU recipe, see docs/TRAINING.md) the passage tower's expensive part is a
  constant, so it is computed once per corpus and every model (dual, I^3, every seed) reuses it for training and
  evaluation.

    python -m offline.train.data [--data-root DIR] [corpus ...]   # build the token-state caches (runs/cache/)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch

from offline.train.cli import CommandError, run_main

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
DATA_ENV = "I3_DATA"
CACHE_ROOT = os.path.join(REPO, "runs", "cache")
VOCAB = os.path.join(REPO, "models", "use-lite", "vocab.json")
CORPORA = ["scifact", "npl", "cranfield", "dl19-judged"]


# ---------------------------------------------------------------------------------------------------- data root
class DataRootError(CommandError):
    """No data root, or not a folder: the message says how to give one."""


_data_root: Optional[str] = None


def set_data_root(path: Optional[str]) -> None:
    """The data root for this process (a command's --data-root); None leaves I3_DATA in charge."""
    global _data_root
    _data_root = path


def data_root() -> str:
    """The folder holding the BEIR corpora: --data-root, else $I3_DATA; a DataRootError when neither names a folder."""
    root = _data_root or os.environ.get(DATA_ENV)
    if not root:
        raise DataRootError(f"no data folder: pass --data-root DIR or set {DATA_ENV}=DIR "
                            f"(DIR holds the BEIR folders, e.g. DIR/scifact/corpus.jsonl)")
    if not os.path.isdir(root):
        raise DataRootError(f"data folder {root} (from {'--data-root' if _data_root else DATA_ENV}) is not a directory")
    return root


def data_path(*parts: str) -> str:
    """A path under the data root, e.g. data_path("scifact", "qrels", "train.tsv")."""
    return os.path.join(data_root(), *parts)


def add_data_root_flag(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--data-root", default=None, help=f"folder of the BEIR corpora (default: ${DATA_ENV})")


# ---------------------------------------------------------------------------------------------------- readers
# JavaScript's whitespace (String.prototype.trim: WhiteSpace and LineTerminator), not Python's str.isspace.
_JS_WHITESPACE = "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a" \
                 "\u2028\u2029\u202f\u205f\u3000\ufeff"


def _blank(s: str) -> bool:
    return s.strip(_JS_WHITESPACE) == ""


def passage_text(obj: dict) -> str:
    """`title + " " + text`, or whichever of the two is not blank: src/text/passages.ts passageText, whose whitespace
    it uses (test/fixtures/passage-text-cases.json holds that function's answers; the tests compare)."""
    title = obj.get("title") or ""
    if _blank(title):
        return obj["text"]
    if _blank(obj["text"]):
        return title
    return f"{title} {obj['text']}"


def load_corpus(name: str) -> Tuple[List[str], List[str]]:
    ids, texts = [], []
    with open(data_path(name, "corpus.jsonl"), encoding="utf-8") as f:
        for line in f:
            if line.strip():
                o = json.loads(line)
                ids.append(str(o["_id"]))
                texts.append(passage_text(o))
    return ids, texts


def load_queries(name: str) -> Dict[str, str]:
    out = {}
    with open(data_path(name, "queries.jsonl"), encoding="utf-8") as f:
        for line in f:
            if line.strip():
                o = json.loads(line)
                out[str(o["_id"])] = o["text"]
    return out


def _read_qrels(path: str) -> Dict[str, Dict[str, int]]:
    out: Dict[str, Dict[str, int]] = {}
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f):
            parts = line.rstrip("\n").split("\t")
            if i == 0 and parts[0] == "query-id":
                continue
            if len(parts) < 3:
                continue
            out.setdefault(parts[0], {})[parts[1]] = int(float(parts[2]))
    return out


def assert_not_test_qrels(path: str) -> None:
    """The guard: training and model selection must never see test judgements."""
    base = os.path.basename(path).lower()
    if "test" in base or base.startswith("dev-test"):
        raise ValueError(f"refusing to read test qrels for training: {path}")


def load_train_qrels(path: str) -> Dict[str, Dict[str, int]]:
    assert_not_test_qrels(path)
    return _read_qrels(path)


def load_eval_qrels(name: str) -> Dict[str, Dict[str, int]]:
    """Test qrels, for the final evaluation only (evaluate.py). Never imported by train.py."""
    return _read_qrels(data_path(name, "qrels", "test.tsv"))


def scifact_train_dev(dev_frac: float = 0.1, seed: int = 0):
    """SciFact TRAIN qrels split into train / dev by query (fixed seed, independent of the run seed)."""
    qrels = load_train_qrels(data_path("scifact", "qrels", "train.tsv"))
    qids = sorted(qrels)
    rng = random.Random(seed)
    rng.shuffle(qids)
    n_dev = int(round(dev_frac * len(qids)))
    dev = {q: qrels[q] for q in qids[:n_dev]}
    train = {q: qrels[q] for q in qids[n_dev:]}
    return train, dev


# ---------------------------------------------------------------------------------------------------- tokens
_TOK = None


def tokenizer():
    global _TOK
    if _TOK is None:
        from offline.train.tokenizer import Tokenizer
        _TOK = Tokenizer.from_file(VOCAB)
    return _TOK


def encode_texts(texts: List[str], max_len: int) -> List[List[int]]:
    tok = tokenizer()
    return [tok.encode(t)[:max_len] for t in texts]


def pad_batch(seqs: List[List[int]], min_len: int = 1):
    L = max(min_len, max((len(s) for s in seqs), default=1))
    ids = torch.zeros(len(seqs), L, dtype=torch.long)
    mask = torch.zeros(len(seqs), L, dtype=torch.long)
    for i, s in enumerate(seqs):
        if s:
            ids[i, : len(s)] = torch.tensor(s, dtype=torch.long)
            mask[i, : len(s)] = 1
    return ids, mask


def corpus_tokens(name: str, max_len: int = 128) -> Tuple[List[str], List[List[int]]]:
    """Token ids of every passage, truncated to max_len; cached in runs/cache/<name>/tokens.json."""
    d = os.path.join(CACHE_ROOT, name)
    path = os.path.join(d, f"tokens{max_len}.json")
    if os.path.exists(path):
        with open(path) as f:
            o = json.load(f)
        return o["ids"], o["tokens"]
    ids, texts = load_corpus(name)
    toks = encode_texts(texts, max_len)
    os.makedirs(d, exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"  # concurrent runs may build the same cache: write whole, then rename
    with open(tmp, "w") as f:
        json.dump({"ids": ids, "tokens": toks}, f)
    os.replace(tmp, path)
    return ids, toks


# ---------------------------------------------------------------------------------------------------- token cache
class TokenCache:
    """Token ids of one corpus, truncated to max_len (an empty passage becomes one unk token). Enough to train and
    evaluate with the whole passage tower running (train_passage=all, the GPU recipe): no state cache needed."""

    def __init__(self, name: str, max_len: int = 128):
        self.name = name
        ids, toks = corpus_tokens(name, max_len)
        self.doc_ids: List[str] = ids
        self.tokens: List[List[int]] = [t if t else [0] for t in toks]
        self.lens = np.array([len(t) for t in self.tokens], dtype=np.int64)

    def __len__(self):
        return len(self.doc_ids)


def has_state_cache(name: str, max_len: int = 128) -> bool:
    return os.path.exists(os.path.join(CACHE_ROOT, name, f"states{max_len}.json"))


@torch.no_grad()
def encode_tokens(encode, tokens: List[List[int]], device="cpu", batch_tokens: int = 16384) -> np.ndarray:
    """[N, 512] float32 vectors of token lists through encode(ids, mask) (a full passage tower), in length-sorted
    batches of about batch_tokens tokens; rows come back in the input order."""
    order = sorted(range(len(tokens)), key=lambda i: -len(tokens[i]))
    out = None
    i = 0
    while i < len(order):
        bs = max(1, batch_tokens // max(1, len(tokens[order[i]])))
        idx = order[i: i + bs]
        i += bs
        x, m = pad_batch([tokens[j] for j in idx])
        v = encode(x.to(device), m.to(device)).float().cpu().numpy()
        if out is None:
            out = np.zeros((len(tokens), v.shape[1]), dtype=np.float32)
        out[idx] = v
    return out if out is not None else np.zeros((0, 512), dtype=np.float32)


# ---------------------------------------------------------------------------------------------------- state cache
class StateCache:
    """Frozen-backbone token states of one corpus: fp16 memmap [sum(L_i), 512] + offsets/lengths."""

    def __init__(self, name: str, max_len: int = 128):
        d = os.path.join(CACHE_ROOT, name)
        meta = json.load(open(os.path.join(d, f"states{max_len}.json")))
        self.name = name
        self.doc_ids: List[str] = meta["ids"]
        self.lens = np.array(meta["lens"], dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.lens)])
        self.dim = meta["dim"]
        self.states = np.memmap(os.path.join(d, f"states{max_len}.f16"), dtype=np.float16, mode="r",
                                shape=(int(self.offsets[-1]), self.dim))
        self.tokens = json.load(open(os.path.join(d, f"tokens{max_len}.json")))["tokens"]

    def __len__(self):
        return len(self.doc_ids)

    def batch(self, idx, device="cpu"):
        """(states [B, Lmax, 512] float32, mask [B, Lmax] long) for passage indices idx."""
        L = max(1, int(max(self.lens[i] for i in idx)))
        st = np.zeros((len(idx), L, self.dim), dtype=np.float32)
        mask = np.zeros((len(idx), L), dtype=np.int64)
        for j, i in enumerate(idx):
            n = int(self.lens[i])
            st[j, :n] = self.states[self.offsets[i]: self.offsets[i] + n]
            mask[j, :n] = 1
        return torch.from_numpy(st).to(device), torch.from_numpy(mask).to(device)


@torch.no_grad()
def build_state_cache(name: str, encoder, max_len: int = 128, batch_tokens: int = 8192, log=print) -> None:
    """Run the (frozen) passage backbone once over a corpus; length-sorted batches, fp16 on disk."""
    d = os.path.join(CACHE_ROOT, name)
    if os.path.exists(os.path.join(d, f"states{max_len}.json")):
        return
    ids, toks = corpus_tokens(name, max_len)
    lens = [max(1, len(t)) for t in toks]
    offsets = np.concatenate([[0], np.cumsum(lens)])
    dim = encoder.config.d_model
    tmp = os.path.join(d, f"states{max_len}.f16.tmp")
    mm = np.memmap(tmp, dtype=np.float16, mode="w+", shape=(int(offsets[-1]), dim))
    order = sorted(range(len(toks)), key=lambda i: -lens[i])
    encoder.eval()
    t0, done, i = time.time(), 0, 0
    while i < len(order):
        L = lens[order[i]]
        bs = max(1, batch_tokens // L)
        idx = order[i: i + bs]
        i += bs
        x, m = pad_batch([toks[j] if toks[j] else [0] for j in idx])  # empty passage -> one unk token
        st = encoder.token_states(x, m).float().numpy()
        for r, j in enumerate(idx):
            mm[offsets[j]: offsets[j] + lens[j]] = st[r, : lens[j]].astype(np.float16)
        done += len(idx)
        if log and (i // bs) % 20 == 0:
            log(f"[cache {name}] {done}/{len(order)} passages, {done / (time.time() - t0):.1f}/s")
    mm.flush()
    del mm
    os.replace(tmp, os.path.join(d, f"states{max_len}.f16"))
    toks = [t if t else [0] for t in toks]
    with open(os.path.join(d, f"tokens{max_len}.json"), "w") as f:
        json.dump({"ids": ids, "tokens": toks}, f)
    with open(os.path.join(d, f"states{max_len}.json"), "w") as f:
        json.dump({"ids": ids, "lens": lens, "dim": dim, "seconds": time.time() - t0}, f)
    if log:
        log(f"[cache {name}] done: {len(order)} passages, {offsets[-1]} tokens, {time.time() - t0:.0f}s")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description="Build the frozen-backbone token-state caches (runs/cache/<corpus>/).")
    ap.add_argument("corpora", nargs="*", default=CORPORA)
    add_data_root_flag(ap)
    a = ap.parse_args(argv)
    set_data_root(a.data_root)
    torch.set_num_threads(int(os.environ.get("THREADS", "2")))
    from offline.train.use_lite import UseLite, default_tfjs_dir
    enc = UseLite.from_tfjs(default_tfjs_dir())
    for name in a.corpora:
        build_state_cache(name, enc)


if __name__ == "__main__":
    run_main(main)
