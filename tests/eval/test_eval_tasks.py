"""Benchmark tasks through lm-evaluation-harness: scoring vs a direct computation, report numbers, bad input."""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path

import pytest
import torch

from dapt.errors import UserError
from dapt.eval.config import EvalConfig
from dapt.eval.intervals import MIN_EXAMPLES, newcombe_paired, wilson
from dapt.eval.run import run_eval
from dapt.eval.synthetic import synthetic_examples, write_synthetic
from dapt.eval.taskset import TASKS_DIR, resolve_tasks
from dapt.pipeline.documents import Document, write_documents

TASKS = ["dapt_fpb", "dapt_medqa", "dapt_arc", "dapt_winogrande", "dapt_lambada"]
DATA = TASKS_DIR / "data"


@pytest.fixture(scope="module")
def train_docs(tmp_path_factory) -> Path:
    """Training documents that contain one scored MedQA question verbatim (planted contamination)."""
    root = tmp_path_factory.mktemp("train")
    planted = json.loads((DATA / "medqa" / "test.jsonl").read_text().splitlines()[2])["question"]
    write_documents(root / "part-0.jsonl.gz", [
        Document("t0", "Board review notes. " + planted + " Review the options below.", "med", "medical"),
        Document("t1", "The river flooded the lower town twice last spring.", "web", "general"),
    ])
    return root


@pytest.fixture(scope="module")
def evaluated(tiny_models, heldout, train_docs, tmp_path_factory):
    out = tmp_path_factory.mktemp("eval_tasks")
    cfg = EvalConfig(batch_size=8, tasks=TASKS, max_docs=2)
    summary = run_eval(cfg, tiny_models, heldout, out, train_docs=train_docs)
    results = json.loads((out / "results.json").read_text())
    report = json.loads((out / "report.json").read_text())
    return out, summary, results, report


def _ll(model, tok, context: str, continuation: str) -> float:
    """log P(continuation | context), encoded as the harness does: whole string, then split at the context."""
    whole = tok(context + continuation, add_special_tokens=False)["input_ids"]
    ctx = tok(context, add_special_tokens=False)["input_ids"]
    cont = whole[len(ctx):]
    ids = torch.tensor([whole])
    with torch.no_grad():
        logprobs = torch.log_softmax(model(ids).logits[0].double(), dim=-1)
    return sum(logprobs[len(ctx) - 1 + i, t].item() for i, t in enumerate(cont))


def direct_accuracy(model_dir: Path, examples: list[tuple[str, list[str], int]]) -> tuple[float, float]:
    """acc and acc_norm (log-likelihood / choice length in characters, the harness's definition) by hand."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    acc = acc_norm = 0
    for context, choices, gold in examples:
        lls = [_ll(model, tok, context, " " + c) for c in choices]
        acc += max(range(len(lls)), key=lambda i: lls[i]) == gold
        acc_norm += max(range(len(lls)), key=lambda i: lls[i] / len(choices[i])) == gold
    return acc / len(examples), acc_norm / len(examples)


def test_multiple_choice_scoring_agrees_with_direct_loglikelihoods(evaluated, tiny_models):
    _, _, results, _ = evaluated
    fpb = [(f"{r['sentence']}\nQuestion: Is the sentiment of this financial news negative, neutral or positive?"
            "\nAnswer:", ["negative", "neutral", "positive"], r["label"]) for r in synthetic_examples("fpb", "test")]
    arc = [(f"Question: {r['question']}\nAnswer:", r["choices"]["text"], r["choices"]["label"].index(r["answerKey"]))
           for r in synthetic_examples("arc", "test")]
    for model, path in tiny_models.items():
        for task, examples in (("dapt_fpb", fpb), ("dapt_arc", arc)):
            acc, acc_norm = direct_accuracy(path, examples)
            raw = results["harness"][model]["results"][task]
            assert raw["acc,none"] == pytest.approx(acc)
            assert raw["acc_norm,none"] == pytest.approx(acc_norm)


def test_report_numbers_come_from_the_harness(evaluated):
    out, summary, results, report = evaluated
    ref, other = "domain", "general"
    assert report["reference"] == ref
    md = (out / "report.md").read_text()
    for row in report["tasks"]:
        for model in (ref, other):
            raw = results["harness"][model]["results"][row["task"]]
            assert row["scores"][model]["value"] == raw[f"{row['metric']},none"]
            assert row["scores"][model]["stderr"] == raw[f"{row['metric']}_stderr,none"]
        cmp = row["vs_reference"][other]
        a, b = row["scores"][ref], row["scores"][other]
        assert cmp["diff"] == pytest.approx(b["value"] - a["value"])
        # paired: from the two models' answers to the same examples, as the harness logged them
        per_a, per_b = (results["per_example"][m][row["task"]] for m in (ref, other))
        assert cmp["paired"] and per_a["doc_ids"] == per_b["doc_ids"] and len(per_a["doc_ids"]) == row["n"]
        d = [y - x for x, y in zip(per_a[row["metric"]], per_b[row["metric"]], strict=True)]
        assert sum(per_a[row["metric"]]) / len(d) == pytest.approx(a["value"])
        # right-or-wrong answers: Newcombe's paired interval, inside [-1, 1] and never of zero width
        assert cmp["ci95"] == pytest.approx(newcombe_paired(per_a[row["metric"]], per_b[row["metric"]]))
        assert -1.0 <= cmp["ci95"][0] < cmp["ci95"][1] <= 1.0
        assert cmp["verdict"] == f"too few examples (n={row['n']} < {MIN_EXAMPLES})"  # the synthetic sets are tiny
        assert a["ci95"] == pytest.approx(wilson(round(a["value"] * row["n"]), row["n"]))
        assert f"{a['value']:.3f} [{a['ci95'][0]:.3f}, {a['ci95'][1]:.3f}]" in md
    # WinoGrande reports acc only (its options share one continuation), LAMBADA acc and perplexity.
    metrics = {(r["task"], r["metric"]) for r in report["tasks"]}
    assert ("dapt_winogrande", "acc") in metrics and ("dapt_winogrande", "acc_norm") not in metrics
    # BloombergGPT-style averages: the plain mean of the harness's per-task numbers in each group.
    for group, tasks in (("domain", ["dapt_fpb", "dapt_medqa"]),
                         ("general", ["dapt_arc", "dapt_winogrande", "dapt_lambada"])):
        avg = report["averages"]["acc"][group]
        assert sorted(avg["tasks"]) == sorted(tasks)
        for model in (ref, other):
            values = [results["harness"][model]["results"][t]["acc,none"] for t in tasks]
            assert avg["scores"][model]["value"] == pytest.approx(sum(values) / len(values))
    assert summary["averages"] == report["averages"]
    assert "**domain average**" in md and "**general average**" in md
    assert (out / "report.png").stat().st_size > 0


def test_contamination_finds_the_planted_example(evaluated):
    _, _, _, report = evaluated
    contam = report["contamination"]
    assert contam["ngram"] == 13 and contam["train_docs_scanned"] == 2
    # Independently: the scored MedQA examples sharing a word 13-gram with the planted training text
    # (the synthetic questions share template wording, so more than the planted one may match).
    from dapt.pipeline.rules.ngrams import words

    def grams(text):
        toks = words(text)
        return {tuple(toks[i:i + 13]) for i in range(len(toks) - 12)}

    planted = grams(json.loads((DATA / "medqa" / "test.jsonl").read_text().splitlines()[2])["question"])
    expected = sum(bool(grams(f"Question: {r['question']}\nAnswer: {r['options'][r['answer_idx']]}") & planted)
                   for r in synthetic_examples("medqa", "test"))
    assert expected >= 1
    assert contam["tasks"]["dapt_medqa"]["contaminated"] == expected
    assert contam["tasks"]["dapt_fpb"]["contaminated"] == 0


def test_intrinsic_and_tasks_in_one_run(evaluated):
    _, _, results, _ = evaluated
    assert set(results["harness"]["domain"]["results"]) == {"dapt_ppl_domain", "dapt_ppl_general", *TASKS}
    assert results["heldout"]["domain"]["docs"] == 2  # max_docs
    assert results["tasks"]["dapt_fpb"]["synthetic"] is True


def test_fewshot_examples_come_from_the_train_split():
    specs = resolve_tasks(EvalConfig(tasks=["dapt_fpb", "dapt_boolq"], num_fewshot=2))
    for spec in specs:
        train = {json.dumps(r, sort_keys=True) for r in synthetic_examples(spec.name.removeprefix("dapt_"), "train")}
        shots = [{k: d[k] for k in json.loads(next(iter(train)))} for d in spec.task.fewshot_docs()]
        assert {json.dumps(s, sort_keys=True) for s in shots} == train
        doc = spec.task.eval_docs[0]
        context = spec.task.fewshot_context(doc, 2)
        # Two shots, each a train record with its answer, then the scored example.
        assert context.count("Answer:") == 3 and context.endswith(spec.task.doc_to_text(doc))
        shots_in_context = [d for d in spec.task.fewshot_docs() if spec.task.doc_to_text(d) in context]
        assert len(shots_in_context) >= 2


def test_shipped_yaml_tasks_load_with_plain_lm_eval_include_path():
    """`lm_eval --include_path eval/tasks` sees every task and the two group tags."""
    from lm_eval.tasks import TaskManager

    manager = TaskManager(include_path=str(TASKS_DIR), include_defaults=False)
    assert {"dapt_domain", "dapt_general"} <= set(manager.all_tags)
    assert len([t for t in manager.all_subtasks if t.startswith("dapt_")]) == 14


def test_shipped_tasks_load_with_plain_lm_eval_from_any_directory(tiny_models, tmp_path):
    """`lm_eval run --include_path <tasks folder>` from a directory that is not the checkout, on a copy of the
    folder standing alone as it does in the installed package: every shipped task's files are found."""
    import subprocess
    import sys

    tasks = tmp_path / "site-packages" / "dapt" / "eval" / "tasks"
    shutil.copytree(TASKS_DIR, tasks, ignore=shutil.ignore_patterns("__pycache__"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = elsewhere / "out"
    cmd = [sys.executable, "-m", "lm_eval", "run", "--model", "hf", "--device", "cpu",
           "--model_args", f"pretrained={tiny_models['domain']}", "--include_path", str(tasks),
           "--tasks", "dapt_domain,dapt_general", "--limit", "1", "--output_path", str(out)]
    # Not the distributed environment an in-process DeepSpeed test of this session left behind (RANK,
    # MASTER_PORT, ...): lm_eval's hf model would join that port, which this process still holds (EADDRINUSE).
    env = {k: v for k, v in os.environ.items() if k not in DISTRIBUTED_ENV}
    run = subprocess.run(cmd, cwd=elsewhere, capture_output=True, text=True, timeout=600,
                         env={**env, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"})
    assert run.returncode == 0, run.stderr[-3000:]
    (results,) = out.rglob("results_*.json")
    scored = {t for t in json.loads(results.read_text())["results"] if t.startswith("dapt_")}
    assert len(scored) == 14


DISTRIBUTED_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT",
                   "CROSS_RANK", "CROSS_SIZE")


def test_shipped_examples_are_the_generator_output(tmp_path):
    for path in write_synthetic(tmp_path):
        rel = path.relative_to(tmp_path)
        assert (DATA / rel).read_text() == path.read_text(), f"regenerate with python -m dapt.eval.synthetic ({rel})"


# --- bad input: one UserError naming the file and the field -------------------------------------------


def _copy_task(tmp_path: Path, task: str, edit=None) -> dict[str, dict[str, str]]:
    """task_data pointing at an editable copy of the shipped synthetic files."""
    files = {}
    for split in ("train", "test"):
        dst = tmp_path / f"{task}_{split}.jsonl"
        shutil.copy(DATA / task / f"{split}.jsonl", dst)
        files[split] = str(dst)
    if edit is not None:
        records = [json.loads(line) for line in Path(files["test"]).read_text().splitlines()]
        edit(records)
        Path(files["test"]).write_text("".join(json.dumps(r) + "\n" for r in records))
    return files


@pytest.mark.parametrize(
    ("task", "edit", "message"),
    [
        ("fpb", lambda rs: rs[1].pop("sentence"), r"fpb_test\.jsonl line 2 has no field 'sentence'"),
        ("fpb", lambda rs: rs[2].update(label=5), r"fpb_test\.jsonl record 3: field 'label' = 5 is not one of"),
        ("fpb", lambda rs: rs[0].update(label=7), r"fpb_test\.jsonl record 1 .*field 'label'"),
        ("pubmedqa", lambda rs: rs[1].update(final_decision="perhaps"), r"record 2: field 'final_decision' = 'perhaps'"),
        ("arc", lambda rs: rs[3].update(answerKey="E"), r"arc_test\.jsonl record 4: field 'answerKey' = 'E'"),
        ("fiqa_sa", lambda rs: rs[1].update(sentiment_score=3.0), r"record 2: field 'sentiment_score' = 3\.0"),
        ("winogrande", lambda rs: rs[1].update(answer="3"), r"winogrande_test\.jsonl record 2: field 'answer' = '3'"),
        ("medqa", lambda rs: rs.clear(), r"test split .*medqa_test\.jsonl is empty"),
    ],
)
def test_bad_task_files_are_user_errors(tmp_path, task, edit, message):
    name = f"dapt_{task}"
    cfg = EvalConfig(tasks=[name], task_data={name: _copy_task(tmp_path, task, edit)})
    with pytest.raises(UserError, match=message):
        resolve_tasks(cfg)


def test_missing_task_file_and_unknown_task(tmp_path):
    with pytest.raises(UserError, match=r"test file .*nope\.jsonl does not exist"):
        resolve_tasks(EvalConfig(tasks=["dapt_fpb"], task_data={"dapt_fpb": {"test": str(tmp_path / "nope.jsonl")}}))
    with pytest.raises(UserError, match="unknown task or tag 'dapt_mmlu'"):
        resolve_tasks(EvalConfig(tasks=["dapt_mmlu"]))


def test_fewshot_needs_a_separate_split(tmp_path):
    files = _copy_task(tmp_path, "fpb")
    with pytest.raises(UserError, match="few-shot examples from the scored split"):
        resolve_tasks(EvalConfig(tasks=["dapt_fpb"], num_fewshot=1,
                                 task_data={"dapt_fpb": {"train": files["test"], "test": files["test"]}}))
    with pytest.raises(UserError, match="needs a few-shot split"):
        resolve_tasks(EvalConfig(tasks=["dapt_fpb"], num_fewshot=1, task_data={"dapt_fpb": {"test": files["test"]}}))
    # Zero-shot needs no train file.
    (spec,) = resolve_tasks(EvalConfig(tasks=["dapt_fpb"], task_data={"dapt_fpb": {"test": files["test"]}}))
    assert spec.fewshot_split is None and len(spec.task.eval_docs) == 6


@pytest.mark.parametrize(
    ("ref", "other", "verdict"),
    [
        ({"value": 0.50, "stderr": 0.05}, {"value": 0.55, "stderr": 0.05}, "within noise"),
        ({"value": 0.50, "stderr": 0.02}, {"value": 0.60, "stderr": 0.02}, "B better"),
        ({"value": 0.70, "stderr": 0.02}, {"value": 0.60, "stderr": 0.02}, "A better"),
        ({"value": 1.00, "stderr": 0.00}, {"value": 0.00, "stderr": 0.00}, "A better (stderr 0: interval degenerate)"),
        ({"value": 0.50, "stderr": None}, {"value": 0.60, "stderr": 0.02}, "no stderr"),
    ],
)
def test_difference_verdicts(ref, other, verdict):
    from dapt.eval.report import compare

    cmp = compare(ref, other, "A", "B")
    assert cmp["verdict"] == verdict
    assert cmp["diff"] == pytest.approx(other["value"] - ref["value"])


def test_paired_difference_resolves_what_unpaired_intervals_cannot():
    """B answers every example A gets right, and 12 of A's 100 misses: +0.06 on the same 200 examples."""
    from dapt.eval.report import compare, paired_compare

    a = [1.0] * 100 + [0.0] * 100
    b = [1.0] * 112 + [0.0] * 88
    paired = paired_compare(a, b, "A", "B")
    assert paired["diff"] == pytest.approx(0.06) and paired["verdict"] == "B better"
    assert paired["stderr"] == pytest.approx(math.sqrt(0.06 * 0.94 * 200 / 199 / 200))
    se = lambda x: math.sqrt(sum((v - sum(x) / len(x)) ** 2 for v in x) / (len(x) - 1) / len(x))  # noqa: E731
    unpaired = compare({"value": 0.5, "stderr": se(a)}, {"value": 0.56, "stderr": se(b)}, "A", "B")
    assert unpaired["verdict"] == "within noise"
    assert paired_compare(a, a, "A", "B")["verdict"] == "within noise"
    assert paired_compare([1.0], [0.0], "A", "B")["verdict"] == "too few examples (n=1 < 30)"


def test_contamination_counts_and_skips_short_examples(tmp_path):
    from dapt.eval.contamination import contamination

    long_a = "the appellate court held that the statute of limitations began when the injury was discovered"
    long_b = "operating cash flow covered capital expenditure twice over during the fiscal year under review"
    write_documents(tmp_path / "train.jsonl.gz", [Document("t", f"Notes. {long_a.upper()}! More text.", "s", "legal")])
    out = contamination({"law": [long_a, "yes or no"], "fin": [long_b]}, tmp_path / "train.jsonl.gz", n=13, min_words=8)
    # Case and punctuation do not hide an overlap; a 3-word example is not checked at all.
    assert out["tasks"]["law"] == {"examples": 2, "checked": 1, "contaminated": 1, "fraction": 1.0}
    assert out["tasks"]["fin"]["contaminated"] == 0 and out["train_docs_scanned"] == 1


def test_kshot_run_end_to_end(tiny_models, tmp_path):
    cfg = EvalConfig(tasks=["dapt_fpb"], num_fewshot=2, intrinsic=False, bootstrap_iters=0)
    summary = run_eval(cfg, {"domain": tiny_models["domain"]}, {}, tmp_path)
    raw = json.loads(Path(summary["results"]).read_text())["harness"]["domain"]
    assert raw["n-shot"]["dapt_fpb"] == 2
    assert 0.0 <= raw["results"]["dapt_fpb"]["acc,none"] <= 1.0
    assert "2-shot" in (tmp_path / "report.md").read_text()


@pytest.mark.parametrize(
    ("ref", "other"),
    [
        ([0.0] * 6, [1.0, 1.0, 1.0, 1.0, 0.0, 0.0]),  # the tiny run's HellaSwag: normal approx. said [+0.253, +1.080]
        ([0.0] * 6, [0.0] * 6),  # both always wrong: normal approx. said [+0.000, +0.000]
        ([1.0] * 6, [1.0] * 6),
        ([1.0] * 40, [0.0] * 40),
    ],
)
def test_accuracy_difference_intervals_respect_bounds_and_have_width(ref, other):
    from dapt.eval.report import paired_compare

    cmp = paired_compare(ref, other, "A", "B")
    lo, hi = cmp["ci95"]
    assert -1.0 <= lo <= cmp["diff"] <= hi <= 1.0 and hi - lo > 0.05
    if len(ref) < MIN_EXAMPLES:
        assert cmp["verdict"] == f"too few examples (n={len(ref)} < {MIN_EXAMPLES})"
    else:
        assert cmp["verdict"] == "A better"


def test_wilson_interval_known_values():
    """Wilson (1927): at 0 of n the upper end is z^2 / (n + z^2); the interval is symmetric in k <-> n - k."""
    z2 = 1.959964 ** 2
    assert wilson(0, 6) == pytest.approx([0.0, z2 / (6 + z2)])
    lo, hi = wilson(2, 6)
    assert [1 - hi, 1 - lo] == pytest.approx(wilson(4, 6))
    assert wilson(50, 100) == pytest.approx([0.4038, 0.5962], abs=1e-4)


def test_report_plot_error_bars_end_inside_zero_and_one(evaluated):
    """The PNG's accuracy bars are the Wilson intervals: at 0 % or 100 % they still have length, never past the bounds."""
    from dapt.eval.report import accuracy_bars

    _, _, _, report = evaluated
    rows = [r for r in report["tasks"] if r["metric"] == "acc"]
    for model in report["models"]:
        xs, (below, above) = accuracy_bars(rows, model)
        for x, lo, hi in zip(xs, below, above):
            assert 0.0 <= x - lo <= x <= x + hi <= 1.0 and lo + hi > 0


def test_average_difference_interval_has_width_when_one_task_moves_all_at_once():
    """The tiny run's general average: five tasks where no example differs and one (HellaSwag) where every
    example flips; a bootstrap over examples gave [+0.167, +0.167]. Combining the tasks' Newcombe intervals
    (MOVER) keeps their width and the [-1, 1] bounds."""
    from dapt.eval.report import _average_difference, paired_compare

    tasks = [([0.0] * 36, [0.0] * 36)] * 5 + [([0.0] * 36, [1.0] * 36)]
    members = [{"n": 36, "vs_reference": {"B": {**paired_compare(a, b, "A", "B"), "paired": True}}} for a, b in tasks]
    avg = _average_difference(members, "A", "B")
    lo, hi = avg["ci95"]
    assert avg["diff"] == pytest.approx(1 / 6) and -1.0 <= lo < 1 / 6 < hi <= 1.0 and hi - lo > 0.05
    assert avg["n"] == 216 and avg["verdict"] == "B better"
