"""Token files and the tokenize job on any Beam filesystem: local disk and a real S3 server (moto's)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from dapt.pipeline.documents import Document, write_documents
from dapt.pipeline.storage import Location, use_pipeline_options
from dapt.pipeline.tokens.config import TokenizeConfig
from dapt.pipeline.tokens.main import run_tokenize
from dapt.pipeline.tokens.shards import TokenFile, TokenFileWriter, concat_token_files, write_token_file
from dapt.tokenizer.config import TokenizerConfig
from dapt.tokenizer.train import train_tokenizer

DOCS = [[1, 2, 3], [], [65_534, 7], [9] * 40, [4, 5]]


@pytest.mark.parametrize("block", [8, 24, 1 << 20])
def test_joined_parts_are_the_file_written_at_once(tmp_path: Path, block: int) -> None:
    write_token_file(tmp_path / "whole", DOCS, "uint16", eos_id=0)
    parts = [DOCS[:2], [], DOCS[2:4], DOCS[4:]]  # an empty part too
    for i, docs in enumerate(parts):
        write_token_file(tmp_path / "parts" / f"{i}", docs, "uint16", eos_id=0)
    got = concat_token_files([tmp_path / "parts" / f"{i}" for i in range(len(parts))], tmp_path / "joined", "uint16", block=block)
    assert got == (sum(len(d) + 1 for d in DOCS), len(DOCS))
    for ext in (".bin", ".idx"):
        assert (tmp_path / f"joined{ext}").read_bytes() == (tmp_path / f"whole{ext}").read_bytes()
    assert [TokenFile(tmp_path / "joined").doc(i).tolist() for i in range(len(DOCS))] == DOCS
    assert sorted(p.name for p in tmp_path.iterdir()) == ["joined.bin", "joined.idx", "parts", "whole.bin", "whole.idx"]


def test_joining_no_parts_gives_an_empty_file_and_bad_parts_are_refused(tmp_path: Path) -> None:
    assert concat_token_files([], tmp_path / "empty", "uint16") == (0, 0)
    assert TokenFile(tmp_path / "empty").n_tokens == 0
    write_token_file(tmp_path / "wide", [[1]], "uint32", eos_id=0)
    with pytest.raises(ValueError, match="4-byte tokens"):
        concat_token_files([tmp_path / "wide"], tmp_path / "x", "uint16")
    write_token_file(tmp_path / "cut", [[1, 2, 3]], "uint16", eos_id=0)
    (tmp_path / "cut.bin").write_bytes(b"\0\0")
    with pytest.raises(ValueError, match="index says"):
        concat_token_files([tmp_path / "cut"], tmp_path / "y", "uint16")
    assert not list(tmp_path.glob("x*")) + list(tmp_path.glob("y*"))  # nothing half-written left


def test_a_rewritten_token_file_leaves_one_copy_and_no_temporary(tmp_path: Path) -> None:
    """A retried bundle writes the same file again: the rename replaces it, temporaries never linger."""
    for _ in range(2):
        write_token_file(tmp_path / "out" / "x", DOCS, "uint16", eos_id=0)
    with pytest.raises(RuntimeError), TokenFileWriter(tmp_path / "out" / "x", "uint16", 0, tmp_dir=tmp_path / "tmp") as w:
        w.add([1, 2])
        raise RuntimeError("worker lost")  # a failed attempt must not replace the good file
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["x.bin", "x.idx"]
    assert not list((tmp_path / "tmp").iterdir())
    assert TokenFile(tmp_path / "out" / "x").n_docs == len(DOCS)


def test_token_files_on_s3_are_the_local_bytes(s3_server, tmp_path: Path) -> None:
    root = Location(f"s3://{s3_server.bucket}/token-files")
    root.rmtree()
    write_token_file(tmp_path / "a", DOCS[:3], "uint16", eos_id=0)
    write_token_file(root / "a", DOCS[:3], "uint16", eos_id=0)
    write_token_file(root / "b", DOCS[3:], "uint16", eos_id=0)
    concat_token_files([root / "a", root / "b"], root / "joined", "uint16", tmp_dir=root / ".tmp")
    write_token_file(tmp_path / "whole", DOCS, "uint16", eos_id=0)
    for ext in (".bin", ".idx"):
        assert (root / f"a{ext}").read_bytes() == (tmp_path / f"a{ext}").read_bytes()
        assert (root / f"joined{ext}").read_bytes() == (tmp_path / f"whole{ext}").read_bytes()
    assert [f.name for f in root.files()] == ["a.bin", "a.idx", "b.bin", "b.idx", "joined.bin", "joined.idx"]


WORDS = {
    "legal": "plaintiff defendant res judicata mens rea statute tort estoppel court appeal".split(),
    "medical": "myalgia hypertension dyspnea metformin patient dose therapy clinical".split(),
    "general": "the a of and to in weather music football garden river morning".split(),
}


def _corpus() -> dict[str, list[Document]]:
    rng = random.Random(0)
    return {
        f"src_{domain}": [
            Document(id=f"{domain}-{i:03d}", text=" ".join(rng.choice(words) for _ in range(rng.randint(20, 120))) + ".",
                     source=f"src_{domain}", domain=domain)
            for i in range(50)
        ]
        for domain, words in WORDS.items()
    }


def _run(docs_dir: Location, tok_dir: Location, out_dir: Location, beam_args: list[str]) -> dict:
    for source, docs in _corpus().items():
        for p in range(2):
            write_documents(docs_dir / source / f"part-{p:05d}.jsonl.gz", docs[p::2])
    cfg = TokenizerConfig(vocab_size=400, show_progress=False, min_sample_bytes=1000, min_vocab_fill=0.0)
    train_tokenizer(cfg, docs_dir, tok_dir)
    # shard_tokens small enough that the larger sources are written in several buckets and joined
    return run_tokenize(TokenizeConfig(val_fraction=0.1, shard_tokens=1500), docs_dir, tok_dir, out_dir, beam_args)


def test_tokenizer_and_tokenize_on_s3_give_the_local_bytes(s3_server, tmp_path: Path) -> None:
    """Docs, tokenizer and tokens all on S3 (through Beam's S3 filesystem and the user's endpoint options),
    byte for byte what the local run writes."""
    remote = Location(f"s3://{s3_server.bucket}/tokenize-run")
    remote.rmtree()
    got = _run(remote / "docs", remote / "tok", remote / "tokens", s3_server.beam_args)
    local = Location(tmp_path)
    expected = _run(local / "docs", local / "tok", local / "tokens", [])
    use_pipeline_options(s3_server.beam_args)  # the local run handed the launcher its own (empty) options
    assert got["sources"] == expected["sources"]
    assert any(s["train_shards"] > 1 for s in got["sources"].values())
    assert (remote / "tok" / "tokenizer.json").read_bytes() == (local / "tok" / "tokenizer.json").read_bytes()
    names = [f.url[len((local / "tokens").url) + 1 :] for f in (local / "tokens").files()]
    assert [f.url[len((remote / "tokens").url) + 1 :] for f in (remote / "tokens").files()] == names  # no parts, temporaries or summaries left
    for name in names:
        if name != "manifest.json":
            assert (remote / "tokens" / name).read_bytes() == (local / "tokens" / name).read_bytes(), name
    assert json.loads((remote / "tokens" / "manifest.json").read_text()) == got
