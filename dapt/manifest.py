"""The one manifest writer and reader. Every stage describes its output folder in ``manifest.json``: what it
holds, its counts, the config and hashes of what it read (STYLE: stages talk through files, each with a small
manifest). One format for all of them: strict JSON (NaN and inf as null), sorted keys, a trailing newline.

A folder is a local ``Path`` or a ``Location`` on any Beam filesystem; both join names with ``/`` and read
and write text. Imports nothing of the stages, so every stage may use it.
"""

from __future__ import annotations

import json
from typing import Any

from dapt.errors import UserError
from dapt.summary import strict_json

MANIFEST = "manifest.json"


def _plain(value: Any) -> Any:
    """numpy scalars as numbers; anything else JSON does not know (paths, locations) as text."""
    item = getattr(value, "item", None)
    return item() if callable(item) else str(value)


def write_manifest(folder: Any, manifest: dict[str, Any], name: str = MANIFEST) -> None:
    """Writes ``folder/name``."""
    (folder / name).write_text(json.dumps(strict_json(manifest, _plain), indent=2, sort_keys=True) + "\n")


def read_manifest(folder: Any, missing: str | None = None, name: str = MANIFEST) -> dict[str, Any]:
    """``folder/name`` as a dict. When absent: {} if ``missing`` is None, else a UserError that says so and
    ends with ``missing`` (what to do, e.g. "run `dapt tokenize` first")."""
    path = folder / name
    if not path.is_file():
        if missing is None:
            return {}
        raise UserError(f"{path} is missing; {missing}")
    return json.loads(path.read_text())
