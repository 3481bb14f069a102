"""What every stage prints and writes at its end: a table (terminal or Markdown) and strict JSON.

A leaf like dapt/errors.py: it imports nothing of the project, so every stage and the CLI may use it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any


def format_table(head: Sequence[Any], rows: Sequence[Sequence[Any]], align: str = "", markdown: bool = False) -> str:
    """Columns as wide as their widest cell, two spaces apart; or a Markdown table.

    ``align`` has one letter per column, ``l`` or ``r`` (numbers); columns it does not cover are ``l``.
    """
    cells = [[str(c) for c in row] for row in (head, *rows)]
    right = [i < len(align) and align[i] == "r" for i in range(len(head))]
    if markdown:
        sep = ["---:" if r else "---" for r in right]
        return "\n".join("| " + " | ".join(row) + " |" for row in (cells[0], sep, *cells[1:]))
    widths = [max(len(row[i]) for row in cells) for i in range(len(head))]
    return "\n".join(
        "  ".join(c.rjust(w) if r else c.ljust(w) for c, w, r in zip(row, widths, right)).rstrip() for row in cells
    )


def strict_json(obj: Any, default: Callable[[Any], Any] = str) -> Any:
    """``obj`` as plain JSON values: NaN and inf become null (json.dumps would write bare NaN, which
    strict readers refuse), keys become strings, anything else goes through ``default``."""
    if isinstance(obj, dict):
        return {str(k): strict_json(v, default) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [strict_json(v, default) for v in obj]
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if obj is None or isinstance(obj, (str, int, bool)):
        return obj
    return strict_json(default(obj), default)
