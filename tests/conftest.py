"""Shared fixtures: where the real corpus lives (../shared beside the checkout), tiny-sized settings."""

from __future__ import annotations

import dataclasses
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_CORPUS = REPO.parent / "shared" / "corpus"

# Nothing may be fetched at run time: make the HF libraries fail fast instead of retrying a network.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def shared_corpus() -> Path:
    """The real corpus in ../shared/corpus; tests that need it are skipped where it is absent."""
    if not SHARED_CORPUS.is_dir():
        pytest.skip(f"real corpus not found at {SHARED_CORPUS}")
    return SHARED_CORPUS


@dataclasses.dataclass(frozen=True)
class S3Server:
    """A running S3 emulator: its endpoint, one empty bucket and the standard Beam options that reach it."""

    endpoint: str
    bucket: str

    @property
    def beam_args(self) -> list[str]:
        return [f"--s3_endpoint_url={self.endpoint}", "--s3_access_key_id=testing",
                "--s3_secret_access_key=testing", "--s3_region_name=us-east-1"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture()
def s3_server(_s3_process: S3Server) -> S3Server:
    """The S3 emulator, with the launcher's filesystem calls pointed at it: a stage run since may have
    replaced Beam's filesystem options with its own (local) ones."""
    from dapt.pipeline.storage import use_pipeline_options

    use_pipeline_options(_s3_process.beam_args)
    return _s3_process


@pytest.fixture(scope="session")
def _s3_process(tmp_path_factory) -> Iterator[S3Server]:
    """moto's S3 server on 127.0.0.1 (a real HTTP server speaking the S3 protocol), stopped at the end."""
    pytest.importorskip("moto.server", reason="the S3 emulator comes with the test extras (moto[server])")
    import boto3

    port = _free_port()
    log = (tmp_path_factory.mktemp("moto") / "server.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=log, stderr=subprocess.STDOUT)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        client = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="testing",
                              aws_secret_access_key="testing", region_name="us-east-1")
        deadline = time.monotonic() + 30
        while True:
            try:
                client.create_bucket(Bucket="dapt-test")
                break
            except Exception:  # noqa: BLE001 - the server is still starting
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError(f"moto's S3 server did not start (see {log.name})") from None
                time.sleep(0.2)
        yield S3Server(endpoint, "dapt-test")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
