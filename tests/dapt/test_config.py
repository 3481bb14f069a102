"""The run config: shipped tiny.yaml, dotted overrides, {run_dir} substitution, one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from dapt.config import builtin_config_path, load_config, parse_overrides
from dapt.errors import UserError

REPO = Path(__file__).resolve().parents[2]


def test_shipped_tiny_config_is_the_repository_file():
    assert builtin_config_path().read_text() == (REPO / "configs" / "tiny.yaml").read_text()


@pytest.mark.parametrize("name", ["tiny.yaml", "finance.yaml", "legal.yaml", "medical.yaml"])
def test_every_shipped_config_validates(name):
    path = REPO / "configs" / name
    if not path.is_file():
        pytest.skip(f"{name} not shipped")
    cfg = load_config(path)
    assert cfg.run.name


def test_run_dir_is_substituted_everywhere(tmp_path):
    cfg = load_config(REPO / "configs" / "tiny.yaml", run_dir=tmp_path / "r")
    assert cfg.run_dir == tmp_path / "r"
    assert cfg.curate.sources[0].paths == [f"{tmp_path / 'r'}/raw/legal.jsonl.gz"]
    assert all("{run_dir}" not in p for s in cfg.curate.sources for p in s.paths)


def test_overrides_keep_types_and_reach_nested_keys_and_list_items(tmp_path):
    overrides = parse_overrides(
        ["--pretrain.lr=1e-4", "--pretrain.model.n_layers", "3", "--baseline.enabled=false",
         "--curate.sources.1.paths=[a.jsonl, b.jsonl]"]
    )
    cfg = load_config(REPO / "configs" / "tiny.yaml", overrides, run_dir=tmp_path)
    assert cfg.pretrain.lr == pytest.approx(1e-4)
    assert cfg.pretrain.model.n_layers == 3
    assert cfg.baseline.enabled is False
    assert cfg.curate.sources[1].paths == ["a.jsonl", "b.jsonl"]


@pytest.mark.parametrize(
    "override, fragment",
    [
        ("--pretrain.lrr=1", "pretrain.lrr: unknown key; valid keys here:"),
        ("--pretrain.model.n_layer=2", "pretrain.model.n_layer: unknown key"),
        ("--pretrain.zero_stage=7", "pretrain.zero_stage"),
        ("--pretrainn.lr=1", "pretrainn: unknown key"),
        ("--curate.sources.9.paths=x", "not an index"),
    ],
)
def test_bad_overrides_name_the_key(override, fragment, tmp_path):
    with pytest.raises(UserError) as err:
        load_config(REPO / "configs" / "tiny.yaml", parse_overrides([override]), run_dir=tmp_path)
    message = str(err.value)
    assert fragment in message
    assert "\n" not in message


def test_unknown_key_lists_the_valid_ones(tmp_path):
    with pytest.raises(UserError) as err:
        load_config(REPO / "configs" / "tiny.yaml", {"pretrain.lrr": 1}, run_dir=tmp_path)
    assert "lr" in str(err.value).split("valid keys here:")[1]


def test_missing_and_malformed_config_files(tmp_path):
    with pytest.raises(UserError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("run: [unclosed\n")
    with pytest.raises(UserError, match="not valid YAML"):
        load_config(bad)


def test_argument_that_is_not_an_override_is_refused():
    with pytest.raises(UserError, match="--section.key=value"):
        parse_overrides(["--verbose"])


def test_run_has_no_seed_of_its_own(tmp_path):
    """Every stage states its own seed; a run-wide one that nothing read is refused, naming the stage keys."""
    with pytest.raises(UserError, match=r"run\.seed: unknown key; valid keys here: dir, name$"):
        load_config(REPO / "configs" / "tiny.yaml", parse_overrides(["--run.seed=7"]), run_dir=tmp_path)


def test_tokenizer_report_stage_uses_the_configured_baseline(tmp_path, monkeypatch):
    import dapt.tokenizer.report
    from dapt.stages import STAGES, Context

    seen = []
    monkeypatch.setattr(dapt.tokenizer.report, "report_tokenizer", lambda cfg, tok, base, held, out: seen.append(base))
    stage = next(s for s in STAGES if s.name == "tokenizer_report")
    for override, expected in ([], tmp_path / "tokenizer_general"), (["--tokenizer.report.baseline_dir=/base"], Path("/base")):
        stage.execute(Context(cfg=load_config(None, parse_overrides(override), run_dir=tmp_path), run_dir=tmp_path))
        assert seen.pop() == expected


@pytest.mark.parametrize("override, key, valid", [
    ("--curate.rules.gopher_quality.min_wrds=10", "curate.rules.gopher_quality.min_wrds", "min_words"),
    ("--curate.sources.0.rules.c4.min_sentence=3", "curate.sources.0.rules.c4.min_sentence", "min_sentences"),
])
def test_a_typo_inside_curate_rules_is_one_line_naming_the_key(override, key, valid, tmp_path):
    with pytest.raises(UserError) as err:
        load_config(REPO / "configs" / "tiny.yaml", parse_overrides([override]), run_dir=tmp_path)
    message = str(err.value)
    assert "\n" not in message
    assert f"{key}: unknown key; valid keys here:" in message and valid in message


def test_context_length_and_precision_are_stated_once():
    """Issue 16: the context length is pretrain.model.seq_len and the precision pretrain.precision; the
    tokenizer's model_max_length and the planner's precision may only repeat them."""
    cfg = load_config(REPO / "configs" / "tiny.yaml")
    assert cfg.tokenizer.model_max_length is None  # tiny.yaml states the length once
    assert load_config(REPO / "configs" / "tiny.yaml", {"tokenizer.model_max_length": 128}).tokenizer.model_max_length == 128
    with pytest.raises(UserError, match="tokenizer.model_max_length=64 but pretrain.model.seq_len=128"):
        load_config(REPO / "configs" / "tiny.yaml", {"tokenizer.model_max_length": 64})
    assert load_config(REPO / "configs" / "finance.yaml").plan.precision == "bf16"  # stated twice, alike: accepted
    trained_bf16 = {"pretrain.precision": "bf16"}
    unstated = load_config(REPO / "configs" / "tiny.yaml", {**trained_bf16, "plan": {"gpu_type": "a100-80gb"}})
    assert unstated.plan.precision == "bf16"  # a plan that states no precision takes the trainer's
    with pytest.raises(UserError, match="plan.precision=fp32 but pretrain.precision=bf16"):
        load_config(REPO / "configs" / "tiny.yaml", trained_bf16)  # tiny.yaml's plan says fp32
