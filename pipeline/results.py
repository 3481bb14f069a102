"""How a data job hands its small results (counts, summaries, histograms) back to the driver.

One way for every stage: the job writes them as JSON lines through Beam's own text sink, whose temporary
files are renamed into place when the write finalizes (a retried bundle leaves no duplicate), into a
folder of the run directory on any Beam filesystem; the driver reads them back after the job. Nothing
depends on the driver sharing a disk, a process or memory with the workers.
"""

from __future__ import annotations

import json
from typing import Any

import apache_beam as beam
from apache_beam.io.textio import WriteToText

from dapt.pipeline.storage import Location


class HandBack(beam.PTransform):
    """JSON-serialisable elements -> JSON lines below ``where``, for :func:`handed_back`."""

    def __init__(self, where: Location):
        super().__init__()
        self._prefix = str(where / "part")

    def expand(self, results):
        return (
            results
            | "ToJson" >> beam.Map(lambda item: json.dumps(item, sort_keys=True))
            # Nothing, not an empty file, for no results: Beam's S3 writer cannot finish an empty upload.
            | "Write" >> WriteToText(self._prefix, file_name_suffix=".jsonl", skip_if_empty=True)
        )


def handed_back(where: Location) -> list[Any]:
    """The elements a job handed back below ``where``, in a stable order (tuples come back as lists)."""
    lines = [line for part in where.files("part*") for line in part.read_text().splitlines() if line.strip()]
    return [json.loads(line) for line in sorted(lines)]
