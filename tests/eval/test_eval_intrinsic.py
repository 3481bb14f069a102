"""Intrinsic eval through lm-evaluation-harness: finite results, bits/byte checked against a direct computation."""

from __future__ import annotations

import json
import math

import pytest
import torch

from dapt.errors import UserError
from dapt.eval.config import EvalConfig
from dapt.eval.run import run_eval
from dapt.pipeline.documents import iter_documents


@pytest.fixture(scope="module")
def evaluated(tiny_models, heldout, tmp_path_factory):
    out = tmp_path_factory.mktemp("eval")
    summary = run_eval(EvalConfig(batch_size=4, tasks=[]), tiny_models, heldout, out)
    return out, summary


def test_results_are_finite_for_every_model_and_group(evaluated):
    out, summary = evaluated
    results = json.loads((out / "results.json").read_text())
    assert set(results["intrinsic"]) == {"domain", "general"}
    for groups in results["intrinsic"].values():
        assert set(groups) == {"domain", "general"}
        for row in groups.values():
            for metric in ("bits_per_byte", "byte_perplexity", "word_perplexity"):
                assert math.isfinite(row[metric]) and row[metric] > 0
    # The whitespace-only document is skipped and counted, not scored.
    assert results["heldout"]["general"]["docs"] == 4
    assert results["heldout"]["general"]["empty_skipped"] == 1
    assert (out / "report.png").stat().st_size > 0
    assert json.loads((out / "manifest.json").read_text())["stage"] == "eval"


def test_report_numbers_are_the_harness_numbers(evaluated):
    out, _ = evaluated
    results = json.loads((out / "results.json").read_text())
    report = (out / "report.md").read_text()
    for model, groups in results["intrinsic"].items():
        for group, row in groups.items():
            raw = results["harness"][model]["results"][f"dapt_ppl_{group}"]
            assert row["bits_per_byte"] == raw["bits_per_byte,none"]
            assert row["word_perplexity"] == raw["word_perplexity,none"]
            assert f"| {model} | {group} | {row['bits_per_byte']:.4f} |" in report


def test_bits_per_byte_has_bootstrap_intervals_and_a_paired_difference(evaluated):
    out, _ = evaluated
    results = json.loads((out / "results.json").read_text())
    ref = results["reference"]
    for groups in results["intrinsic"].values():
        for row in groups.values():
            lo, hi = row["bits_per_byte_ci95"]
            assert lo <= row["bits_per_byte"] <= hi and lo < hi
    # the per-document numbers the bootstrap reads add up to the harness's own bits per byte
    for model, groups in results["intrinsic_vs_reference"].items():
        assert model != ref
        for group, cmp in groups.items():
            expected = results["intrinsic"][model][group]["bits_per_byte"] - results["intrinsic"][ref][group]["bits_per_byte"]
            assert cmp["diff"] == pytest.approx(expected, rel=1e-9)
            assert cmp["ci95"][0] <= cmp["diff"] <= cmp["ci95"][1]
    assert set(results["intrinsic_vs_reference"]) == set(results["models"]) - {ref}
    assert all("samples" not in raw for raw in results["harness"].values())  # documents stay out of results.json
    assert "95 % interval (paired)" in (out / "report.md").read_text()


def direct_bits_per_byte(model_dir, files) -> float:
    """Bits/byte from the model's own cross-entropy loss (what a trainer logs), converted by tokens/bytes."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    nll_nats, n_bytes = 0.0, 0
    for doc in iter_documents(files):
        if not doc.text.strip():
            continue
        # The first token is predicted from the eos token, as the harness's rolling windows do.
        ids = [tok.eos_token_id] + tok(doc.text, add_special_tokens=False)["input_ids"]
        input_ids = torch.tensor([ids])
        with torch.no_grad():
            loss = model(input_ids=input_ids, labels=input_ids).loss.item()  # mean nats per predicted token
        nll_nats += loss * (len(ids) - 1)
        n_bytes += len(doc.text.encode("utf-8"))
    return nll_nats / n_bytes / math.log(2)


def test_bits_per_byte_agrees_with_direct_loss(evaluated, tiny_models, heldout):
    out, _ = evaluated
    results = json.loads((out / "results.json").read_text())
    for model, path in tiny_models.items():
        for group, files in heldout.items():
            direct = direct_bits_per_byte(path, files)
            assert results["intrinsic"][model][group]["bits_per_byte"] == pytest.approx(direct, rel=1e-4)


def test_models_differ(evaluated):
    """Two random models give different numbers: the results are per model, not shared."""
    out, _ = evaluated
    intrinsic = json.loads((out / "results.json").read_text())["intrinsic"]
    assert intrinsic["domain"]["domain"]["bits_per_byte"] != intrinsic["general"]["domain"]["bits_per_byte"]


def test_missing_model_folder_is_a_user_error(heldout, tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        run_eval(EvalConfig(tasks=[]), {"m": tmp_path / "nope"}, heldout, tmp_path / "out")


def test_folder_without_config_is_a_user_error(heldout, tmp_path):
    (tmp_path / "m").mkdir()
    with pytest.raises(UserError, match="config.json"):
        run_eval(EvalConfig(tasks=[]), {"m": tmp_path / "m"}, heldout, tmp_path / "out")


def test_empty_heldout_group_is_a_user_error(tiny_models, tmp_path):
    from dapt.pipeline.documents import write_documents

    write_documents(tmp_path / "empty.jsonl.gz", [])
    with pytest.raises(UserError, match="'general' has no non-empty documents"):
        run_eval(EvalConfig(tasks=[]), tiny_models, {"general": [tmp_path / "empty.jsonl.gz"]}, tmp_path / "out")


def test_missing_heldout_file_is_a_user_error(tiny_models, tmp_path):
    with pytest.raises(UserError, match="no document shards"):
        run_eval(EvalConfig(tasks=[]), tiny_models, {"domain": [tmp_path / "missing.jsonl.gz"]}, tmp_path / "out")


def test_config_rejects_unknown_keys_and_devices():
    with pytest.raises(ValueError):
        EvalConfig(batchsize=4)
    with pytest.raises(ValueError, match="eval.device"):
        EvalConfig(device="gpu")
    assert EvalConfig().max_docs == 1000


def test_unloadable_model_is_a_user_error(heldout, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "config.json").write_text('{"model_type": "no-such-architecture"}')
    (bad / "tokenizer.json").write_text("{}")
    with pytest.raises(UserError, match="cannot be loaded"):
        run_eval(EvalConfig(tasks=[]), {"bad": bad}, heldout, tmp_path / "out")


def test_max_docs_takes_documents_from_every_source(tmp_path):
    from dapt.eval.config import EvalConfig
    from dapt.eval.run import write_heldout
    from dapt.pipeline.documents import Document, write_documents

    files = []
    for source in ("financial", "legal", "medical"):
        path = tmp_path / f"{source}.jsonl.gz"
        write_documents(path, [Document(f"{source}-{i}", f"{source} text {i}.", source, source) for i in range(5)])
        files.append(path)
    held = write_heldout(EvalConfig(max_docs=6), {"domain": files}, tmp_path / "out")
    lines = (tmp_path / "out" / "domain.jsonl").read_text().splitlines()
    assert held["domain"]["docs"] == 6
    assert sorted({json.loads(line)["source"] for line in lines}) == ["financial", "legal", "medical"]


def test_special_token_strings_in_scored_text_are_scored_as_text(tiny_models):
    """WikiText writes unknown words as "<unk>"; a page may quote "<|endoftext|>": the harness's encoder (what
    rolling log-likelihood and the benchmarks score) must see characters, not the model's control tokens."""
    from dapt.eval.run import load_lm

    lm = load_lm(EvalConfig(device="cpu", batch_size=1), tiny_models["domain"])
    special_ids = set(lm.tokenizer.all_special_ids)
    for token in lm.tokenizer.all_special_tokens:
        text = f"the river <unk> rose {token} and fell"
        ids = lm.tok_encode(text)
        assert not set(ids) & special_ids, token
        assert lm.tok_decode(ids) == text


def test_bits_per_byte_per_domain_adds_up_to_the_pooled_groups(evaluated):
    """The domain group pools legal and financial documents; each gets its own bits/byte, and the
    byte-weighted per-domain figures give back the harness's pooled number."""
    out, _ = evaluated
    results = json.loads((out / "results.json").read_text())
    report = (out / "report.md").read_text()
    for model, domains in results["intrinsic_by_domain"].items():
        assert set(domains) == {"legal", "financial", "general"}
        pooled = results["intrinsic"][model]["domain"]
        parts = [domains["legal"], domains["financial"]]
        assert sum(p["docs"] for p in parts) == pooled["docs"] and sum(p["bytes"] for p in parts) == pooled["bytes"]
        weighted = sum(p["bits_per_byte"] * p["bytes"] for p in parts) / pooled["bytes"]
        assert weighted == pytest.approx(pooled["bits_per_byte"], rel=1e-6)
        for row in parts:
            lo, hi = row["bits_per_byte_ci95"]
            assert lo <= row["bits_per_byte"] <= hi
    assert set(results["intrinsic_by_domain_vs_reference"]["general"]) == {"legal", "financial", "general"}
    assert "### Bits per byte per domain" in report and report.count("**Sign convention**") == 1
