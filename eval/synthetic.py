"""The project's own synthetic examples for every task format in eval/tasks (for tests and the demo run).

They are written by this generator from small templates, not taken from the benchmarks: each record
has the published benchmark's field names and a ``synthetic-`` id, so a task that reads them reads a
real release unchanged. Numbers on them say nothing about a model's quality; they show the plumbing.
Regenerate the shipped files with ``python -m dapt.eval.synthetic``.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

TASKS_DIR = Path(__file__).resolve().parent / "tasks"
SPLITS = {"train": 3, "test": 6}  # few-shot source and scored split, never the same examples

_COMPANIES = ["Northwind Metals", "Acme Freight", "Bluefin Bank", "Orchard Foods", "Keystone Power", "Lumen Retail"]
_SENT = {
    "negative": ["{c} cut its full-year guidance after EBITDA fell {p}% on weaker demand.",
                 "{c} shares slid {p}% as the lender warned of rising loan losses."],
    "neutral": ["{c} will publish its quarterly report on the {p}th of next month.",
                "{c} appointed a new chief financial officer effective {p} March."],
    "positive": ["{c} raised its dividend by {p}% after record operating cash flow.",
                 "{c} beat consensus as net interest margin widened by {p} basis points."],
}
_DRUGS = ["atorvastatin", "metformin", "amoxicillin", "lisinopril", "ibuprofen", "omeprazole"]
_MARKS = [("\"Apple\" for computers", "arbitrary"), ("\"Kodak\" for cameras", "fanciful"),
          ("\"Bicycle\" for bicycles", "generic"), ("\"Quick Print\" for printing services", "descriptive"),
          ("\"Coppertone\" for sunscreen", "suggestive"), ("\"Zorbix\" for software", "fanciful"),
          ("\"Penguin\" for refrigerators", "suggestive"), ("\"Soft Soap\" for liquid soap", "descriptive"),
          ("\"Camel\" for cigarettes", "arbitrary")]
_HOLDINGS = [
    "holding that res judicata bars a claim that could have been raised in the earlier action",
    "holding that mens rea must be proved for each element of the offense",
    "holding that a warrantless search of a vehicle requires probable cause",
    "holding that the statute of limitations begins when the injury is discovered",
    "holding that a contract without consideration is unenforceable",
    "holding that hearsay is admissible when offered to show the listener's state of mind",
]
_NOUNS = ["kettle", "ladder", "garden", "bicycle", "window", "notebook", "lantern", "blanket"]


def _fpb(rng: random.Random, i: int) -> dict:
    label = i % 3
    name = ["negative", "neutral", "positive"][label]
    text = rng.choice(_SENT[name]).format(c=rng.choice(_COMPANIES), p=rng.randint(2, 30))
    return {"sentence": text, "label": label}


def _fiqa(rng: random.Random, i: int) -> dict:
    name = ["negative", "neutral", "positive"][i % 3]
    company = rng.choice(_COMPANIES)
    score = {"negative": -0.6, "neutral": 0.0, "positive": 0.55}[name] + rng.choice([-0.05, 0.0, 0.05])
    text = rng.choice(_SENT[name]).format(c=company, p=rng.randint(2, 30))
    return {"sentence": text, "target": company, "sentiment_score": round(score, 2)}


def _headlines(rng: random.Random, i: int) -> dict:
    up = i % 2
    verb = rng.choice(["climbs", "jumps", "rises"]) if up else rng.choice(["slips", "falls", "eases"])
    return {"News": f"gold {verb} ${rng.randint(3, 25)} an ounce as dollar {'weakens' if up else 'firms'}",
            "Price Direction Up": up}


def _pubmedqa(rng: random.Random, i: int) -> dict:
    drug = rng.choice(_DRUGS)
    decision = ["yes", "no", "maybe"][i % 3]
    finding = {"yes": "reduced", "no": "did not change", "maybe": "showed a non-significant trend in"}[decision]
    return {"QUESTION": f"Does {drug} reduce myalgia in adults with chronic pain?",
            "CONTEXTS": [f"We randomised {rng.randint(40, 400)} adults to {drug} or placebo, 1 tab po qid.",
                         f"At twelve weeks {drug} {finding} myalgia scores compared with placebo."],
            "final_decision": decision}


def _medqa(rng: random.Random, i: int) -> dict:
    drugs = rng.sample(_DRUGS, 4)
    key = "ABCD"[i % 4]
    return {"question": f"A {rng.randint(30, 80)}-year-old presents with the indication on the label of "
                        f"{drugs['ABCD'.index(key)]}. Which drug is the first-line choice?",
            "options": dict(zip("ABCD", drugs)), "answer_idx": key}


def _medmcqa(rng: random.Random, i: int) -> dict:
    drugs = rng.sample(_DRUGS, 4)
    cop = i % 4
    return {"question": f"Which drug is taken with meals and at bedtime (pc & hs) in case {i} of {drugs[cop]}?",
            "opa": drugs[0], "opb": drugs[1], "opc": drugs[2], "opd": drugs[3], "cop": cop}


def _casehold(rng: random.Random, i: int) -> dict:
    holdings = rng.sample(_HOLDINGS, 5)
    label = i % 5
    return {"citing_prompt": f"The court agreed with the appellee. See Doe v. Roe, {rng.randint(100, 999)} F.3d "
                             f"{rng.randint(1, 999)} (<HOLDING>). The claim was therefore dismissed.",
            **{f"holding_{k}": h for k, h in enumerate(holdings)}, "label": label}


def _abercrombie(rng: random.Random, i: int) -> dict:
    mark, answer = _MARKS[i % len(_MARKS)]
    return {"text": f"The mark {mark}.", "answer": answer}


def _hellaswag(rng: random.Random, i: int) -> dict:
    noun = rng.choice(_NOUNS)
    endings = [f"carries the {noun} to the shed.", "sings to the moon.", "eats the table.", "flies to work."]
    label = i % 4
    endings[0], endings[label] = endings[label], endings[0]
    return {"activity_label": "Home chores", "ctx_a": f"A man picks up a {noun} in the yard.",
            "ctx_b": "he", "endings": endings, "label": str(label)}


def _arc(rng: random.Random, i: int) -> dict:
    right = rng.choice(["water boils", "ice melts", "metal expands"])
    options = [right, "the moon shrinks", "rocks sing", "shadows weigh more"]
    k = i % 4
    options[0], options[k] = options[k], options[0]
    return {"question": "Which happens when something is heated?",
            "choices": {"text": options, "label": list("ABCD")}, "answerKey": "ABCD"[k]}


def _piqa(rng: random.Random, i: int) -> dict:
    noun = rng.choice(_NOUNS)
    good, bad = f"Wipe the {noun} with a damp cloth.", f"Bury the {noun} in sand for a week."
    label = i % 2
    return {"goal": f"How do you clean a dusty {noun}?", "sol1": bad if label else good,
            "sol2": good if label else bad, "label": label}


def _boolq(rng: random.Random, i: int) -> dict:
    answer = bool(i % 2)
    noun = rng.choice(_NOUNS)
    return {"question": f"is the {noun} in the kitchen", "title": "Synthetic house",
            "passage": f"The {noun} is kept {'in the kitchen' if answer else 'in the attic'} all year.",
            "answer": answer}


def _winogrande(rng: random.Random, i: int) -> dict:
    answer = "1" if i % 2 == 0 else "2"
    small, big = "cup", "bucket"
    return {"sentence": f"The water did not fit in the {small} because the _ was too small.",
            "option1": small if answer == "1" else big, "option2": big if answer == "1" else small,
            "answer": answer}


def _lambada(rng: random.Random, i: int) -> dict:
    noun = rng.choice(_NOUNS)
    return {"text": f"She left the {noun} by the door so that in the morning she would not forget the {noun}"}


GENERATORS = {
    "fpb": _fpb, "fiqa_sa": _fiqa, "headlines": _headlines, "pubmedqa": _pubmedqa, "medqa": _medqa,
    "medmcqa": _medmcqa, "casehold": _casehold, "legalbench_abercrombie": _abercrombie,
    "hellaswag": _hellaswag, "arc": _arc, "piqa": _piqa, "boolq": _boolq, "winogrande": _winogrande,
    "lambada": _lambada,
}


def synthetic_examples(task: str, split: str, seed: int = 0, n: int | None = None) -> list[dict]:
    """The synthetic records of one task's split (deterministic; train and test use different seeds);
    n overrides the shipped count (the benchmark writes larger files)."""
    rng = random.Random(f"{seed}-{task}-{split}")
    count = SPLITS[split] if n is None else n
    return [{"id": f"synthetic-{task}-{split}-{i}", **GENERATORS[task](rng, i)} for i in range(count)]


def write_synthetic(out_dir: Path = TASKS_DIR / "data", seed: int = 0, n: dict[str, int] | None = None) -> list[Path]:
    """Writes data/<task>/<split>.jsonl for every task; returns the files."""
    paths = []
    for task in GENERATORS:
        for split in SPLITS:
            path = Path(out_dir) / task / f"{split}.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
            records = synthetic_examples(task, split, seed, (n or {}).get(split))
            lines = [json.dumps(rec, ensure_ascii=False) for rec in records]
            path.write_text("\n".join(lines) + "\n", encoding="utf-8")
            paths.append(path)
    return paths


if __name__ == "__main__":
    for p in write_synthetic():
        print(p)
