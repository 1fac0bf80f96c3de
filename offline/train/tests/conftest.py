"""Shared fixtures of the offline/train tests (weights, TF.js oracle vectors). The repository root is on the import
path through offline/train/pytest.ini (`pythonpath`), so the tests import the package as `offline.train`."""
import json
import os

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))

FIXTURES = os.path.join(ROOT, "test", "fixtures", "use-lite-vectors.json")
MODEL_DIR = os.path.join(ROOT, "models", "use-lite")


@pytest.fixture(scope="session")
def tfjs_dir():
    from offline.train.use_lite import default_tfjs_dir

    d = default_tfjs_dir()
    assert os.path.exists(os.path.join(d, "model.json")), f"USE-lite TF.js weights not found in {d} (run npm ci)"
    return d


@pytest.fixture(scope="session")
def oracle():
    with open(FIXTURES, encoding="utf-8") as f:
        return json.load(f)


@pytest.fixture(scope="session")
def use_lite(tfjs_dir):
    from offline.train.use_lite import UseLite

    return UseLite.from_tfjs(tfjs_dir).eval()


@pytest.fixture
def beir_root(tmp_path, monkeypatch):
    """A tiny BEIR data root made for the test, as $I3_DATA, with the token caches going to tmp_path too:
    scifact (60 train queries, 10 test queries) and cranfield (a title-only, an empty and a 300-word document)."""
    from offline.train import data

    root = tmp_path / "data"
    sci = root / "scifact"
    (sci / "qrels").mkdir(parents=True)
    (sci / "queries.jsonl").write_text("".join(json.dumps({"_id": f"q{i}", "text": f"claim {i}"}) + "\n" for i in range(70)))
    (sci / "corpus.jsonl").write_text("".join(json.dumps({"_id": f"d{i}", "title": "", "text": f"abstract {i}"}) + "\n" for i in range(5)))
    tsv = lambda qids: "query-id\tcorpus-id\tscore\n" + "".join(f"q{i}\td{i % 5}\t1\n" for i in qids)  # noqa: E731
    (sci / "qrels" / "train.tsv").write_text(tsv(range(60)))
    (sci / "qrels" / "test.tsv").write_text(tsv(range(60, 70)))
    cran = root / "cranfield"
    cran.mkdir()
    docs = [{"_id": "1", "title": "flow", "text": ""}, {"_id": "2", "title": "", "text": ""},
            {"_id": "3", "title": "long", "text": " ".join(["boundary layer"] * 150)}]
    (cran / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    monkeypatch.setenv(data.DATA_ENV, str(root))
    monkeypatch.setattr(data, "CACHE_ROOT", str(tmp_path / "cache"))
    data.set_data_root(None)
    return root
