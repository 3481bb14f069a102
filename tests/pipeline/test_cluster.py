"""The data stages run the way a cluster runs them: Beam's portable runner (the job API Dataflow, Flink and
Spark serve), SDK workers in an external worker pool that cannot see the launcher's disk, and inputs and the
run directory on S3 (moto's S3 server). Their outputs equal the DirectRunner's on local disk.

Everything listens on 127.0.0.1 and is stopped by the test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dapt.pipeline.storage import Location
from outputs import folder_lines

HERE = Path(__file__).resolve().parent
# The chain of data stages of the shipped tiny config: sample, curate, quality, select, tokenizer,
# tokenizer_general, tokenize.
UNTIL = "tokenize"


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_port(port: int, proc: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[:4]} exited {proc.returncode}: {log.read_text()[-2000:]}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.3)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout}s: {log.read_text()[-2000:]}")


def _can_unshare() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-m", "--map-root-user", "sh", "-c", "mount -t tmpfs none /mnt"],
                           capture_output=True)
    return probe.returncode == 0


@pytest.fixture()
def cluster(tmp_path_factory, s3_server) -> Iterator[list[str]]:
    """Beam's job service and an external worker pool; yields the Beam options that submit to them."""
    hidden = tmp_path_factory.getbasetemp()  # every launcher-side folder of the test session
    logs = tmp_path_factory.mktemp("cluster-logs", numbered=True)
    boot = logs / "boot.sh"  # the worker pool's "container": sdk_boot.py with this interpreter
    boot.write_text(f"#!/bin/sh\nexec {sys.executable} {HERE / 'sdk_boot.py'} \"$@\"\n")
    boot.chmod(0o755)
    job_port, pool_port = _free_port(), _free_port()
    pool = [sys.executable, "-m", "apache_beam.runners.worker.worker_pool_main", f"--service_port={pool_port}",
            f"--container_executable={boot}"]
    if _can_unshare():
        # The workers' own mount namespace, with an empty tmpfs over the launcher's temporary folders: what
        # they read and write must come through S3, as on a cluster. The boot script lives there too, so
        # it moves to a folder the namespace keeps.
        private_boot = Path("/dev/shm") / f"dapt-boot-{os.getpid()}.sh"
        shutil.copy(boot, private_boot)
        pool[-1] = f"--container_executable={private_boot}"
        pool = ["unshare", "-m", "--map-root-user", "sh", "-c",
                f'mount -t tmpfs none "{hidden}" && cd / && exec "$@"', "worker-pool", *pool]
    else:
        private_boot = None
        print("unshare -m is not available: the workers run from / and only S3 holds the run")
    started = []
    try:
        for name, port, argv in (
            ("job_service", job_port, [sys.executable, "-m",
                                        "apache_beam.runners.portability.local_job_service_main", f"--port={job_port}"]),
            ("worker_pool", pool_port, pool),
        ):
            log = logs / f"{name}.log"
            proc = subprocess.Popen(argv, stdout=log.open("w"), stderr=subprocess.STDOUT, cwd="/")
            started.append(proc)
            _wait_for_port(port, proc, log)
        yield ["--runner=PortableRunner", f"--job_endpoint=127.0.0.1:{job_port}", "--environment_type=EXTERNAL",
               f"--environment_config=127.0.0.1:{pool_port}", *s3_server.beam_args]
    finally:
        for proc in started:
            proc.terminate()
        for proc in started:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        if private_boot is not None:
            private_boot.unlink(missing_ok=True)


def _dapt(*argv: str, cwd: Path) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "dapt", *argv], capture_output=True, text=True, cwd=cwd,
                          timeout=1500)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc


@pytest.mark.slow
def test_data_stages_on_a_portable_runner_with_isolated_workers_and_s3(cluster, s3_server, tmp_path):
    local = tmp_path / "local"
    _dapt("run", "--until", UNTIL, "--run-dir", str(local), cwd=tmp_path)
    remote = Location(f"s3://{s3_server.bucket}/cluster-run")
    _dapt("run", "--until", UNTIL, "--run-dir", str(remote), "--", *cluster, cwd=tmp_path)

    for folder in ("raw", "curated", "quality", "selected", "tokenizer", "tokenizer_general", "tokens"):
        assert (remote / folder / "_SUCCESS.json").is_file(), folder
    for folder in ("curated", "selected"):  # documents: the same, in whatever shard order workers finished
        assert folder_lines(remote / folder, str(remote)) == folder_lines(Location(local / folder), str(local)), folder
    # models, tokenizers and token files: the same bytes
    same_bytes = ["quality/model.npz", "tokenizer/tokenizer.json", "tokenizer_general/tokenizer.json"]
    same_bytes += [f.url[len(str(local)) + 1 :] for f in Location(local / "tokens").files()
                   if f.name.endswith((".bin", ".idx"))]
    assert len(same_bytes) > 10
    for name in same_bytes:
        assert (remote / name).read_bytes() == (local / name).read_bytes(), name
    assert not any(p.name.startswith("s3:") for p in tmp_path.iterdir())

    # The control: a run directory on the launcher's disk is out of the workers' sight. Curate then reads
    # nothing, and says so with one line instead of succeeding with 0 documents.
    proc = subprocess.run([sys.executable, "-m", "dapt", "run", "--until", "curate", "--run-dir",
                           str(tmp_path / "launcher-only"), "--", *cluster], capture_output=True, text=True,
                          cwd=tmp_path, timeout=900)
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert proc.stderr.strip().splitlines()[-1].startswith("dapt: failed: curate")
