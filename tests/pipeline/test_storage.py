"""`Location` on local disk and on a real S3 server (moto's, on 127.0.0.1), through Beam's filesystems."""

from __future__ import annotations

from pathlib import Path


from dapt.pipeline.storage import Location, local_copy


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


def test_location_on_local_disk(tmp_path):
    _exercise(Location(tmp_path / "disk"), tmp_path)
    assert Location("relative/x").url == str(Path("relative/x").resolve())


def test_location_on_s3(s3_server, tmp_path):
    _exercise(Location(f"s3://{s3_server.bucket}/t"), tmp_path)


def test_document_shards_are_the_same_bytes_on_any_filesystem(s3_server, tmp_path):
    """The gzip header names no file: the same documents written locally and to S3 hash alike."""
    from dapt.pipeline.documents import Document, sha256_of, write_documents

    docs = [Document(id=str(i), text=f"text {i}", source="s", domain="general") for i in range(3)]
    write_documents(tmp_path / "a.jsonl.gz", docs)
    remote = Location(f"s3://{s3_server.bucket}/bytes/b.jsonl.gz")
    write_documents(remote, docs)
    assert sha256_of(remote) == sha256_of(tmp_path / "a.jsonl.gz")
