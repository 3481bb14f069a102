"""Functions the task YAMLs name with ``!function utils.<name>`` (the harness resolves them beside the YAML).

Where the harness already ships the preprocessing of a published benchmark (HellaSwag, WinoGrande)
we call its function, so our local-file tasks score exactly as its hub tasks do.
"""

from __future__ import annotations

from pathlib import Path

from lm_eval.tasks.hellaswag.utils import process_docs as hellaswag_process_docs  # noqa: F401
from lm_eval.tasks.winogrande.preprocess_winogrande import (  # noqa: F401
    doc_to_choice as winogrande_doc_to_choice,
    doc_to_target as winogrande_doc_to_target,
    doc_to_text as winogrande_doc_to_text,
)

TASKS_DIR = Path(__file__).resolve().parent


def local_json(data_files: dict[str, str], **_metadata):
    """The task's JSON Lines splits through datasets' json loader (what ``dataset_path: json`` does), with a
    relative path read beside this file rather than the working directory: ``lm_eval --include_path`` on
    this folder works from anywhere, and so does the copy in the installed package. The harness calls it
    with the task's metadata too (``custom_dataset``), which it ignores."""
    import datasets

    files = {split: str(Path(p) if Path(p).is_absolute() else TASKS_DIR / p) for split, p in data_files.items()}
    return datasets.load_dataset("json", data_files=files)


FIQA_CHOICES = ["negative", "neutral", "positive"]
# FiQA-SA (Maia et al. 2018, task 1) releases a continuous score in [-1, 1]; BloombergGPT (Wu et al.
# 2023, §5.3.1) scores it as 3-way classification. The 0.1 band around zero for "neutral" is our choice,
# stated here so a user comparing with other papers knows to check theirs.
FIQA_NEUTRAL_BAND = 0.1


def fiqa_label(doc: dict) -> int:
    """Index into FIQA_CHOICES of a FiQA-SA record's ``sentiment_score`` (a number in [-1, 1])."""
    score = float(doc["sentiment_score"])
    if not -1.0 <= score <= 1.0:
        raise ValueError(f"sentiment_score {score} is outside [-1, 1]")
    if score < -FIQA_NEUTRAL_BAND:
        return 0
    if score > FIQA_NEUTRAL_BAND:
        return 2
    return 1
