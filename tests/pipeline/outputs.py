"""Output folders compared across runs: the same documents whatever the runner, filesystem or worker count."""

from __future__ import annotations

import gzip
import json

from dapt.pipeline.storage import Location


def folder_lines(root: Location, inputs: str) -> dict[str, list[bytes]]:
    """Every output folder's sorted lines (workers finish shards in any order), stats without the time, and
    paths below ``inputs`` written relative to it (dead letters and shard lists name where a file is, which
    differs by design)."""
    out: dict[str, list[bytes]] = {}
    for f in root.files():
        rel = f.url[len(root.url) + 1 :]
        data = f.read_bytes()
        if f.name.endswith(".gz"):
            data = gzip.decompress(data)
        if f.name == "stats.json":
            data = json.dumps(_timeless(json.loads(data)), sort_keys=True).encode()
        data = data.replace(inputs.encode(), b"<inputs>")
        if f.name not in ("manifest.json", "_SUCCESS.json"):  # they name input paths, which differ by design
            out.setdefault(rel.rsplit("/", 1)[0] if "/" in rel else rel, []).extend(data.splitlines())
    return {k: sorted(v) for k, v in sorted(out.items())}


def _timeless(value):
    """A JSON value without its wall-clock fields."""
    if isinstance(value, dict):
        return {k: _timeless(v) for k, v in value.items() if k != "seconds"}
    if isinstance(value, list):
        return [_timeless(v) for v in value]
    return value
