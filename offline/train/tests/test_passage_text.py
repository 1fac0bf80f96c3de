"""offline/train/data.py passage_text vs src/text/passages.ts passageText: the answers of the TypeScript function in
test/fixtures/passage-text-cases.json (scripts/fixtures/gen-passage-text.ts)."""
import json
import os

from offline.train import data

FIXTURE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "test", "fixtures", "passage-text-cases.json")


def test_passage_text_equals_the_products():
    with open(FIXTURE, encoding="utf-8") as f:
        cases = json.load(f)["cases"]
    assert len(cases) >= 15
    assert [data.passage_text(c["doc"]) for c in cases] == [c["text"] for c in cases]


def test_load_corpus_uses_it(beir_root):
    ids, texts = data.load_corpus("cranfield")
    assert ids == ["1", "2", "3"]
    assert texts[:2] == ["flow", ""] and texts[2].startswith("long boundary layer")
