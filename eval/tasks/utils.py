"""Functions the task YAMLs name with ``!function utils.<name>`` (the harness resolves them beside the YAML).

Where the harness already ships the preprocessing of a published benchmark (HellaSwag, WinoGrande)
we call its function, so our local-file tasks score exactly as its hub tasks do.
"""

from __future__ import annotations

from lm_eval.tasks.hellaswag.utils import process_docs as hellaswag_process_docs  # noqa: F401
from lm_eval.tasks.winogrande.preprocess_winogrande import (  # noqa: F401
    doc_to_choice as winogrande_doc_to_choice,
    doc_to_target as winogrande_doc_to_target,
    doc_to_text as winogrande_doc_to_text,
)

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
