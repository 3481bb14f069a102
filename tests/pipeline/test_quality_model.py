"""Quality model: trained in the project on labelled files, saved without pickle, used by run_select."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import pytest

from dapt.errors import UserError
from dapt.pipeline.documents import Document, iter_documents, write_documents
from dapt.pipeline.select.config import QualityModelConfig, SelectConfig
from dapt.pipeline.select.main import run_select
from dapt.pipeline.select.quality_model import QualityModel, train_quality_model

GOOD = "the court held that the contract was valid and the parties agreed to the terms of the lease".split()
BAD = "click here buy now free shipping cookie login sign up best price deal subscribe share".split()
NEWS = "the minister said on tuesday that the team would travel to the capital for talks next week".split()


def _texts(vocab: list[str], n: int, seed: int, noise: float = 0.2) -> list[str]:
    rng = random.Random(seed)
    mixed = GOOD + BAD
    return [
        " ".join(rng.choice(mixed) if rng.random() < noise else rng.choice(vocab) for _ in range(60)) for _ in range(n)
    ]


def _write_jsonl(path: Path, texts: list[str], html: bool = False, domain: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        for i, t in enumerate(texts):
            rec = {"id": str(i), "html": f"<html><body><article><p>{t}</p></article></body></html>"} if html else {
                "id": str(i), "text": t}
            if domain:
                rec["domain"] = domain
            fh.write(json.dumps(rec) + "\n")
    return path


def test_train_save_load_and_held_out_metrics(tmp_path: Path):
    pos = _write_jsonl(tmp_path / "pos.jsonl.gz", _texts(GOOD, 60, 1))
    neg = _write_jsonl(tmp_path / "neg.jsonl.gz", _texts(BAD, 60, 2), html=True)  # HTML goes through trafilatura
    cfg = QualityModelConfig(n_features=1 << 12)
    summary = train_quality_model(cfg, [pos], [neg], tmp_path / "model" / "quality.npz")
    assert summary["positive_docs"] == 60 and summary["negative_docs"] == 60
    assert summary["held_out"]["precision"] >= 0.9 and summary["held_out"]["recall"] >= 0.9
    model = QualityModel.load(tmp_path / "model" / "quality.npz")
    assert model.score(" ".join(GOOD * 3)) > 0.5 > model.score(" ".join(BAD * 3))


def test_missing_training_input_is_a_user_error(tmp_path: Path):
    with pytest.raises(UserError, match="does not exist"):
        train_quality_model(SelectConfig(), [tmp_path / "nope.jsonl"], [tmp_path / "nope2.jsonl"], tmp_path / "m.npz")
    with pytest.raises(UserError, match="positive and negative"):
        train_quality_model(SelectConfig(), [], [], tmp_path / "m.npz")


def test_run_select_keeps_best_fraction_and_routes_domain_pages(tmp_path: Path):
    legal = _write_jsonl(tmp_path / "legal.jsonl.gz", _texts(GOOD, 40, 3), domain="legal")
    news = _write_jsonl(tmp_path / "news.jsonl.gz", _texts(NEWS, 40, 6), domain="general")
    neg = _write_jsonl(tmp_path / "neg.jsonl.gz", _texts(BAD, 40, 4))
    model_path = tmp_path / "quality.npz"
    trained = train_quality_model(QualityModelConfig(n_features=1 << 12), [legal, news], [neg], model_path)
    assert trained["domain_classifier"]["domains"] == ["general", "legal"]
    assert trained["domain_classifier"]["accuracy"] >= 0.9
    # 10 web pages of equal length whose share of good words rises with i: the best 30 % are pages 7, 8, 9.
    rng = random.Random(5)
    docs = [
        Document(
            id=f"p{i}",
            text=" ".join(rng.choice(GOOD) if k % 10 < i else rng.choice(BAD) for k in range(50)),
            source="web",
            domain="general",
        )
        for i in range(10)
    ]
    write_documents(tmp_path / "curated" / "web" / "part-0.jsonl.gz", docs)
    cfg = SelectConfig(selection={"keep_token_fraction": {"web": 0.3}}, routing={"enabled": False})
    summary = run_select(cfg, tmp_path / "curated", tmp_path / "plain", quality_model=model_path)
    assert sorted(d.id for d in iter_documents(tmp_path / "plain" / "docs")) == ["p7", "p8", "p9"]
    stats = json.loads((tmp_path / "plain" / "stats.json").read_text())
    assert stats["sources"]["web"]["selection"]["achieved_token_fraction"] == pytest.approx(0.3)
    assert summary["not_selected"] == 7 and summary["reconciled"] and summary["routed"] == 0
    assert stats["routed"]["status"].startswith("off")

    # With routing (the default), pages that are mostly legal vocabulary move to the legal group and are kept
    # whole (routing.keep_token_fraction 1.0); the rest of the web is still cut to its best 30 %.
    cfg = SelectConfig(selection={"keep_token_fraction": {"web": 0.3}})
    summary = run_select(cfg, tmp_path / "curated", tmp_path / "routed", quality_model=model_path)
    kept = {d.id: d for d in iter_documents(tmp_path / "routed" / "docs")}
    routed = {i for i, d in kept.items() if "select/original_domain" in d.signals}
    assert routed and "p9" in routed and "p0" not in kept
    assert {kept[i].domain for i in routed} == {"legal"}
    assert {kept[i].signals["select/original_domain"] for i in routed} == {"general"}
    stats = json.loads((tmp_path / "routed" / "stats.json").read_text())
    web = stats["sources"]["web"]
    assert stats["routed"]["status"] == "on"
    assert web["routed"] == web["routed_kept"] == {"legal": len(routed)} and summary["routed"] == len(routed)
    assert web["selection"]["routed"]["achieved_token_fraction"] == 1.0
    rest = 10 - len(routed)
    assert 0.3 - 1 / rest <= web["selection"]["achieved_token_fraction"] <= 0.3
