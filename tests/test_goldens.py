"""Golden results per strategy (see tests/goldens/README.md for how they were made)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from conftest import SHARED_MARKET, needs_shared

sys.path.insert(0, str(Path(__file__).parent / "goldens"))
from generate import SAMPLE_CASES, SHARED_CASES, compute  # noqa: E402

HERE = Path(__file__).parent / "goldens"


def _check(expected: dict, actual: dict):
    assert set(actual) == set(expected)
    for name, exp in expected.items():
        got = actual[name]
        for field, val in exp.items():
            if isinstance(val, float):
                assert got[field] == pytest.approx(val, rel=1e-9), (name, field)
            elif field == "first_trade" and val:
                assert got[field][:2] == val[:2] and got[field][2] == pytest.approx(val[2], rel=1e-9)
            else:
                assert got[field] == val, (name, field)


def test_sample_goldens():
    _check(json.loads((HERE / "sample.json").read_text()), compute(SAMPLE_CASES))


@needs_shared
def test_shared_market_goldens():
    _check(json.loads((HERE / "shared.json").read_text()), compute(SHARED_CASES, str(SHARED_MARKET)))
