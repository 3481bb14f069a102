"""The one manifest writer and reader: strict JSON on any folder type, one line when a manifest is missing."""

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from dapt.errors import UserError
from dapt.manifest import read_manifest, write_manifest
from dapt.pipeline.storage import Location

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("as_location", [False, True])
def test_manifest_round_trip_is_strict_json(tmp_path, as_location):
    folder = Location(tmp_path) if as_location else tmp_path
    write_manifest(folder, {"stage": "x", "loss": math.nan, "tokens": np.int64(7), "ratio": np.float32(0.5),
                            "where": tmp_path / "a", "nested": {2: [math.inf, 1.5]}})
    text = (tmp_path / "manifest.json").read_text()
    assert "NaN" not in text and "Infinity" not in text and text.endswith("}\n")
    assert json.loads(text) == read_manifest(folder) == {
        "stage": "x", "loss": None, "tokens": 7, "ratio": 0.5, "where": str(tmp_path / "a"), "nested": {"2": [None, 1.5]}}


def test_a_missing_manifest_is_one_line_saying_what_to_do(tmp_path):
    assert read_manifest(tmp_path) == {}
    with pytest.raises(UserError, match=r"/manifest.json is missing; run `dapt tokenize` first$"):
        read_manifest(tmp_path, "run `dapt tokenize` first")


def test_no_stage_writes_a_manifest_by_hand():
    """Every manifest goes through write_manifest: one format, not one per stage."""
    hand_written = re.compile(r"""manifest\.json["']\)\.write_text|MANIFEST\)\.write_text""")
    offenders = [str(p.relative_to(REPO)) for folder in ("dapt", "pipeline", "tokenizer", "pretrain", "eval")
                 for p in (REPO / folder).rglob("*.py") if hand_written.search(p.read_text())]
    assert offenders == []
