"""A record's identity is where it came from, not the id it carries: two files reusing ids lose nothing."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

from dapt.pipeline.curate.config import CurateConfig
from dapt.pipeline.curate.main import run_curate
from dapt.pipeline.documents import iter_documents
from dapt.pipeline.sample.text import clean_doc, edit_words
from dapt.pipeline.select.config import SelectConfig
from dapt.pipeline.select.main import run_select


def _write(path: Path, rows: list[tuple[int, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt") as fh:
        for doc_id, text in rows:
            fh.write(json.dumps({"id": doc_id, "text": text}) + "\n")


def test_two_files_reusing_ids_keep_every_unique_text(tmp_path):
    """Shards numbered from 0 reuse ids. File b holds exact and near copies of file a's records under ids
    that a also uses for unique texts: keyed on (source, id), dedup deleted those unique texts too."""
    rng = random.Random(3)
    a = [(i, clean_doc("legal", rng)) for i in range(20, 30)]
    b = [(i, clean_doc("legal", rng)) for i in range(20, 25)]
    b += [(25, a[0][1]), (26, a[1][1]),                                  # exact copies of a's 20 and 21
          (27, edit_words(a[2][1], 0.01, rng)), (28, edit_words(a[3][1], 0.01, rng)),  # near copies
          (29, clean_doc("legal", rng))]
    _write(tmp_path / "raw" / "2023" / "part-0.jsonl.gz", a)
    _write(tmp_path / "raw" / "2024" / "part-0.jsonl.gz", b)
    unique = {text for _, text in a} | {text for i, text in b if i not in (25, 26, 27, 28)}
    assert len(unique) == 16

    source = {"name": "contracts", "domain": "legal", "paths": [str(tmp_path / "raw" / "**" / "*.jsonl.gz")]}
    curated = run_curate(CurateConfig(sources=[source]), tmp_path / "curated")
    assert curated["docs_in"] == 20 and curated["duplicates"] == 2, curated
    selected = run_select(SelectConfig(), tmp_path / "curated" / "docs", tmp_path / "selected")
    assert selected["near_duplicates"] == 2, selected

    kept = list(iter_documents(tmp_path / "selected" / "docs"))
    assert {d.text for d in kept} == unique
    # The user's ids are kept as they were; the origin names the file (below the source's common folder)
    # and line, so the two records with id 25 stay apart.
    by_origin = {d.origin: d.id for d in kept}
    assert by_origin["2023/part-0.jsonl.gz:6"] == "25" and by_origin["2024/part-0.jsonl.gz:5"] == "24"
    assert len(by_origin) == len(kept)
