"""Curate with its inputs and its output folder on S3 (moto's real S3 server): the same result as on disk."""

from __future__ import annotations

import json
from pathlib import Path

from dapt.pipeline.curate.config import CurateConfig
from dapt.pipeline.curate.main import run_curate
from dapt.pipeline.sample.corpus import SOURCE_DOMAIN, SampleConfig, write_sample_corpus
from dapt.pipeline.storage import Location
from outputs import folder_lines


def _config(raw: str) -> CurateConfig:
    sources = [{"name": n, "domain": d, "paths": [f"{raw}/{n}.jsonl.gz"]} for n, d in SOURCE_DOMAIN.items()]
    return CurateConfig(sources=sources, direct_running_mode="in_memory")


def test_curate_reads_and_writes_s3_like_local_disk(s3_server, tmp_path: Path):
    write_sample_corpus(SampleConfig(docs_per_domain=10, general_docs=10, web_docs=40), tmp_path / "raw")
    bucket = Location(f"s3://{s3_server.bucket}/curate-test")
    (bucket / "raw").upload(tmp_path / "raw")

    local = run_curate(_config(str(tmp_path / "raw")), tmp_path / "curated")
    remote = run_curate(_config(f"{bucket}/raw"), bucket / "curated", beam_args=s3_server.beam_args)
    assert {k: v for k, v in remote.items() if k not in ("seconds", "docs_dir")} == \
        {k: v for k, v in local.items() if k not in ("seconds", "docs_dir")}
    assert local["docs_kept"] > 0 and remote["docs_dir"] == f"{bucket}/curated/docs"
    assert folder_lines(bucket / "curated", f"{bucket}/raw") == \
        folder_lines(Location(tmp_path / "curated"), str(tmp_path / "raw"))
    manifest = json.loads((bucket / "curated" / "manifest.json").read_text())
    assert all(i["path"].startswith("s3://") and i["size"] > 0 and i["updated"] > 0 for i in manifest["inputs"])
    assert not list(tmp_path.glob("s3:*")) and not Path("s3:").exists()  # nothing written to a local "s3:" folder
