"""Token files and the tokenize job on any Beam filesystem: local disk and a real S3 server (moto's)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dapt.pipeline.storage import Location
from dapt.pipeline.tokens.shards import TokenFile, TokenFileWriter, concat_token_files, write_token_file

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
