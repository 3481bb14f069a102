"""Keep or drop never depends on the process's hash salt: on a cluster every worker draws its own PYTHONHASHSEED."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# Runs curate on the sample corpus and prints a digest of every output file (stats included).
CURATE = """
import gzip, hashlib, json, shutil, sys
from pathlib import Path
from dapt.pipeline.curate.config import CurateConfig
from dapt.pipeline.sample.corpus import SOURCE_DOMAIN, SampleConfig, write_sample_corpus
from dapt.pipeline.curate.main import run_curate
raw, out = Path(sys.argv[1]), Path(sys.argv[2])
shutil.rmtree(out, ignore_errors=True)
write_sample_corpus(SampleConfig(docs_per_domain=15, general_docs=20, web_docs=100), raw)
sources = [{"name": n, "domain": d, "paths": [str(raw / f"{n}.jsonl.gz")]} for n, d in SOURCE_DOMAIN.items()]
run_curate(CurateConfig(sources=sources), out)
# Records land in shards in the order workers finish them, so each folder is compared as its sorted lines.
folders = {}
for p in sorted(out.rglob('*')):
    if p.is_file() and p.name not in ('manifest.json', '_SUCCESS.json'):
        data = gzip.decompress(p.read_bytes()) if p.suffix == '.gz' else p.read_bytes()  # gzip headers hold a time
        if p.name == 'stats.json':  # everything but the wall-clock time
            stats = json.loads(data)
            stats.pop('seconds')
            data = json.dumps(stats, sort_keys=True).encode()
        folders.setdefault(str(p.parent.relative_to(out)), []).extend(data.splitlines())
for folder, lines in sorted(folders.items()):
    print('DIGEST', folder, len(lines), hashlib.sha256(b"\\n".join(sorted(lines))).hexdigest())
"""


def test_no_builtin_hash_in_the_data_stages():
    """Python's hash() of a str is salted per process; the data stages hash with xxhash or hashlib only."""
    bad = []
    for path in sorted((REPO / "pipeline").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            name = node if isinstance(node, ast.Name) else None
            if name is not None and name.id == "hash" and isinstance(name.ctx, ast.Load):
                bad.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert not bad, f"salted hash() used at {bad}"


def test_curate_output_is_the_same_under_two_hash_seeds(tmp_path):
    digests = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        run = subprocess.run([sys.executable, "-c", CURATE, str(tmp_path / "raw"), str(tmp_path / "out")],
                             env=env, capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, run.stderr[-2000:]
        digests.append([line for line in run.stdout.splitlines() if line.startswith("DIGEST")])
    assert len(digests[0]) > 3, digests[0]
    assert digests[0] == digests[1]
