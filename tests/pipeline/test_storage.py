"""`Location` on local disk and on a real S3 server (moto's, on 127.0.0.1), through Beam's filesystems."""

from __future__ import annotations

from pathlib import Path
import pytest

from dapt.pipeline.storage import Location, local_copy, staged_outputs


def _exercise(root: Location, scratch: Path) -> None:
    run = root / "run"
    assert not run.exists() and run.files() == []
    (run / "docs" / "a" / "part-0.jsonl.gz").write_bytes(b"one")
    (run / "stats.json").write_text('{"kept": 1}')
    assert run.exists() and (run / "stats.json").is_file() and not (run / "docs").is_file()
    assert (run / "stats.json").read_text() == '{"kept": 1}'
    assert [f.name for f in run.files()] == ["part-0.jsonl.gz", "stats.json"] and (run / "stats.json").size() == 11
    assert [f.name for f in run.files("docs/**")] == ["part-0.jsonl.gz"]
    assert (run / "docs").parent == run and (run / "docs").name == "docs"

    local = scratch / "tok"
    (local / "sub").mkdir(parents=True)
    (local / "tokenizer.json").write_text("{}")
    (local / "sub" / "x.txt").write_text("x")
    (run / "tokenizer").upload(local)
    copy = local_copy(run / "tokenizer", "dapt-test-")
    assert (copy / "tokenizer.json").read_text() == "{}" and (copy / "sub" / "x.txt").read_text() == "x"

    (run / "docs").rmtree()
    assert not (run / "docs").exists() and (run / "stats.json").is_file()
    (run / "stats.json").unlink()
    (run / "tokenizer").rmtree()
    assert run.files() == []


def _replace_outputs(out: Location) -> None:
    """A job that fails inside staged_outputs changes nothing; one that finishes replaces what the stage
    owns (also what it no longer writes) and keeps what it does not own."""
    (out / "docs" / "a" / "part-0.jsonl.gz").write_bytes(b"old")
    (out / "rejected" / "part-0.jsonl.gz").write_bytes(b"old rejects")
    (out / "stats.json").write_text("old")
    (out / "_SUCCESS.json").write_text("marker")
    before = {f.url: f.read_bytes() for f in out.files()}
    with pytest.raises(RuntimeError, match="job failed"), staged_outputs(out, ["docs", "rejected", "stats.json"]) as st:
        (st / "docs" / "a" / "part-0.jsonl.gz").write_bytes(b"half")
        raise RuntimeError("job failed")
    assert {f.url: f.read_bytes() for f in out.files() if "/.staging/" not in f.url} == before

    with staged_outputs(out, ["docs", "rejected", "stats.json"]) as st:
        assert st.files() == []  # the failed attempt is cleared first
        (st / "docs" / "b" / "part-0.jsonl.gz").write_bytes(b"new")
        (st / "stats.json").write_text("new")
    got = {f.url[len(out.url) + 1:]: f.read_bytes() for f in out.files()}
    assert got == {"docs/b/part-0.jsonl.gz": b"new", "stats.json": b"new", "_SUCCESS.json": b"marker"}


def test_location_on_local_disk(tmp_path):
    _exercise(Location(tmp_path / "disk"), tmp_path)
    _replace_outputs(Location(tmp_path / "stage"))
    assert Location("relative/x").url == str(Path("relative/x").resolve())


def test_location_on_s3(s3_server, tmp_path):
    _exercise(Location(f"s3://{s3_server.bucket}/t"), tmp_path)
    _replace_outputs(Location(f"s3://{s3_server.bucket}/stage"))


def test_document_shards_are_the_same_bytes_on_any_filesystem(s3_server, tmp_path):
    """The gzip header names no file: the same documents written locally and to S3 hash alike."""
    from dapt.pipeline.documents import Document, sha256_of, write_documents

    docs = [Document(id=str(i), text=f"text {i}", source="s", domain="general") for i in range(3)]
    write_documents(tmp_path / "a.jsonl.gz", docs)
    remote = Location(f"s3://{s3_server.bucket}/bytes/b.jsonl.gz")
    write_documents(remote, docs)
    assert sha256_of(remote) == sha256_of(tmp_path / "a.jsonl.gz")
