"""The one table printer and strict-JSON helper every stage's summary uses."""

from __future__ import annotations

import json
import math

from dapt.summary import format_table, strict_json


def test_plain_table_pads_to_the_widest_cell_and_aligns_numbers_right():
    assert format_table(["source", "tokens"], [["web", "1,000"], ["legal", 7]], align="lr").splitlines() == [
        "source  tokens",
        "web      1,000",
        "legal        7",
    ]


def test_markdown_table_marks_number_columns():
    assert format_table(["a", "n"], [["x", 1]], align="lr", markdown=True) == "| a | n |\n| --- | ---: |\n| x | 1 |"


def test_strict_json_nulls_non_finite_numbers_and_converts_the_rest():
    out = strict_json({1: [math.nan, 2.5, (math.inf, "s")], "set": {3}}, default=sorted)
    assert out == {"1": [None, 2.5, [None, "s"]], "set": [3]}
    json.dumps(out, allow_nan=False)
