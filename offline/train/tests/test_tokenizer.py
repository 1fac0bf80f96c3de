"""offline/train/tokenizer.py vs the TF.js tokenizer (test/fixtures/tokenizer-cases.json, from
scripts/fixtures/gen-tokenizer.ts). Run: python -m pytest offline/train/tests/test_tokenizer.py -q"""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest

from offline.train.tokenizer import Tokenizer

ROOT = Path(__file__).resolve().parents[3]

FIXTURE = ROOT / "test" / "fixtures" / "tokenizer-cases.json"
VOCAB = ROOT / "models" / "use-lite" / "vocab.json"

# Cases allowed to differ ONLY because Python's unicodedata is older than Node's ICU (text -> reason). Each must
# contain a code point that this Python's unicodedata does not know (checked below). Currently none: the 99 single
# characters whose NFKC changed after Unicode 14.0 are pre-mapped in tokenizer.py, and the fixture has no case where
# post-14.0 canonical reordering/composition changes the ids.
UNICODE_VERSION_SKIPS: dict[str, str] = {}


@pytest.fixture(scope="module")
def tok() -> Tokenizer:
    return Tokenizer.from_file(str(VOCAB))


@pytest.fixture(scope="module")
def cases() -> list[dict]:
    data = json.loads(FIXTURE.read_text(encoding="utf-8"))
    assert len(data["cases"]) == data["count"] >= 600
    return data["cases"]


@pytest.mark.parametrize(
    "text, ids",
    [
        ("Hello world.", [341, 4125, 311, 6]),
        ("hello world", [2002, 102, 311]),
        ("café naïve ＡＢＣ ① ﬁ", [976, 209, 1133, 1216, 0, 105, 74, 2512, 207, 1480]),
        ("", []),
        (" ", [30, 30]),
        ("time 10:30 :) :-) http://x.com ):", [99, 320, 4177, 658, 6600, 290, 255, 152, 6, 167, 30, 4445]),
    ],
)
def test_spec_examples(tok: Tokenizer, text: str, ids: list[int]) -> None:
    assert tok.encode(text) == ids


def test_matches_tfjs_fixture(tok: Tokenizer, cases: list[dict]) -> None:
    mismatches = [c for c in cases if tok.encode(c["text"]) != c["ids"]]
    print(
        f"\ntokenizer parity (Python, unicodedata {unicodedata.unidata_version}): "
        f"{len(cases) - len(mismatches)}/{len(cases)} match, {len(mismatches)} skipped for the Unicode version"
    )
    # Exactly the listed cases differ (a listed case that matches again is stale), each for an unknown code point.
    assert sorted(c["text"] for c in mismatches) == sorted(UNICODE_VERSION_SKIPS)
    assert all(any(unicodedata.category(ch) == "Cn" for ch in text) for text in UNICODE_VERSION_SKIPS)


def test_segment_cache_is_exact(cases: list[dict]) -> None:
    # The same answers with and without the per-segment lattice cache (and after the cache was filled).
    cached = Tokenizer.from_file(str(VOCAB))
    uncached = Tokenizer.from_file(str(VOCAB))
    uncached._segment_cache = None
    for c in cases[:300] + cases[:300]:
        assert cached.encode(c["text"]) == uncached.encode(c["text"])
