"""The `dapt` command: user mistakes give one line on stderr and exit 2, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dapt.cli import main

REPO = Path(__file__).resolve().parents[2]


def test_stages_lists_the_chain_in_order(capsys):
    assert main(["stages"]) == 0
    names = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert names[:3] == ["sample", "curate", "quality"]
    assert names.index("pretrain") < names.index("eval") < names.index("report")


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["curate", "--curate.min_wordz=3"], "curate.min_wordz: unknown key"),
        (["run", "configs/does-not-exist.yaml"], "config file not found"),
        (["curate", "--curate.sources.0.paths=[/nonexistent/corpus-*.jsonl]"], "/nonexistent/corpus-*.jsonl"),
        (["run", "--from", "pretrain", "--until", "curate"], "comes after"),
        (["run", "--data-from", "/nonexistent/run"], "--data-from /nonexistent/run: no such run directory"),
    ],
)
def test_user_mistakes_exit_2_with_one_line(argv, fragment, tmp_path, capsys):
    assert main([*argv, "--run-dir", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    errors = [line for line in err.splitlines() if line.startswith("dapt: error:")]
    assert len(errors) == 1 and err.splitlines()[-1] == errors[0]  # one line, last, after any progress log
    assert fragment in errors[0]
    assert "Traceback" not in err


def test_missing_upstream_output_is_a_user_error(tmp_path, capsys):
    assert main(["mix", "--run-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "dapt: error:" in err and "tokens/manifest.json" in err and "Traceback" not in err


def test_no_traceback_from_the_console_script(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "dapt", "pretrain", "--pretrain.model.n_heads=5", "--run-dir", str(tmp_path)],
        capture_output=True, text=True, cwd=REPO, timeout=300,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "n_heads=5 must divide d_model" in proc.stderr


def test_sample_stage_is_cached_until_its_config_changes(tmp_path, capsys):
    run_dir = str(tmp_path)
    assert main(["run", "--until", "sample", "--run-dir", run_dir]) == 0
    marker = json.loads((tmp_path / "raw" / "_SUCCESS.json").read_text())
    assert main(["run", "--until", "sample", "--run-dir", run_dir]) == 0
    assert ["sample", "cached"] in [line.split()[:2] for line in capsys.readouterr().out.splitlines()]
    assert main(["run", "--until", "sample", "--run-dir", run_dir, "--sample.seed=7"]) == 0
    changed = json.loads((tmp_path / "raw" / "_SUCCESS.json").read_text())
    assert changed["fingerprint"] != marker["fingerprint"]
    assert ["sample", "ran"] in [line.split()[:2] for line in capsys.readouterr().out.splitlines()]


def test_deepspeed_launcher_local_rank_argument_is_accepted(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LOCAL_RANK", "unset")  # registers the variable so monkeypatch restores its absence
    monkeypatch.delenv("LOCAL_RANK")
    assert main(["--local_rank=0", "run", "--until", "sample", "--run-dir", str(tmp_path)]) == 0
    assert (tmp_path / "raw" / "_SUCCESS.json").is_file()
    assert os.environ["LOCAL_RANK"] == "0"


def test_fingerprint_ignores_settings_left_at_their_defaults(tmp_path):
    from dapt.config import load_config
    from dapt.run import fingerprint
    from dapt.stages import stage

    plain = load_config(REPO / "configs" / "tiny.yaml", run_dir=tmp_path)
    explicit = load_config(REPO / "configs" / "tiny.yaml", {"tokenize.batch_max": 1024}, run_dir=tmp_path)
    changed = load_config(REPO / "configs" / "tiny.yaml", {"tokenize.batch_max": 512}, run_dir=tmp_path)
    tokenize = stage("tokenize")
    assert fingerprint(tokenize, plain, tmp_path) == fingerprint(tokenize, explicit, tmp_path)
    assert fingerprint(tokenize, plain, tmp_path) != fingerprint(tokenize, changed, tmp_path)


QUIET_SCRIPT = """
import logging, sys
from dapt.cli import _setup_logging
_setup_logging(quiet=False)
import apache_beam.io.gcp.internal.clients.bigquery  # noqa: F401  (what Beam's gcp IO imports)
from transformers import AutoTokenizer
tok = AutoTokenizer.from_pretrained(sys.argv[1])
tok.model_max_length = 16
tok("a long held-out document " * 50)  # longer than a context, as every document may be
from lm_eval.tasks import TaskManager
from dapt.eval.taskset import TASKS_DIR
TaskManager(include_path=str(TASKS_DIR), include_defaults=False).load(["dapt_fpb"])
# what simple_evaluate logs for each of our tasks (no default shot count) when eval.num_fewshot is applied
logging.getLogger("lm_eval.evaluator").warning("Overwriting default num_fewshot of dapt_fpb from None to 0")
logging.getLogger("lm_eval.evaluator").warning("Overwriting default num_fewshot of mine from 5 to 0")
logging.getLogger("transformers.tokenization_utils_base").warning("a real transformers warning still shows")
import tempfile, apache_beam as beam
from dapt.pipeline.results import HandBack
from dapt.pipeline.storage import Location
with beam.Pipeline() as p:  # a step that found nothing hands back nothing
    p | beam.Create([]) | HandBack(Location(tempfile.mkdtemp()) / "none")
"""


def test_library_warnings_of_a_tiny_run_are_silenced_and_others_kept(tmp_path):
    """Beam's BigQuery-client warning, transformers' sequence-length warning and the harness's custom_dataset
    note say nothing to a dapt user; a run's log must not be buried in them. Other warnings still show."""
    from dapt.eval.tiny import build_tiny_model

    model = build_tiny_model(tmp_path / "m", ["the court held that the claim was barred"] * 20)
    run = subprocess.run([sys.executable, "-c", QUIET_SCRIPT, str(model)], capture_output=True, text=True,
                         timeout=300, env={**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"})
    assert run.returncode == 0, run.stderr[-2000:]
    log = run.stdout + run.stderr
    for message in ("apitools not found", "Token indices sequence length", "Custom kwargs can be passed", "from None to",
                    "No shards found to finalize"):
        assert message not in log, message
    assert "a real transformers warning still shows" in log and "mine from 5 to 0" in log


@pytest.mark.parametrize("argv", [["--help"], ["plan", "--n-params", "1e6", "--out", "{tmp}"]])
def test_a_command_prints_no_library_import_warning(argv, tmp_path):
    """Beam warns about a BigQuery client as it is imported, before any command has set up logging: every
    `dapt` command, `--help` included, printed that line first."""
    argv = [a.replace("{tmp}", str(tmp_path / "plan")) for a in argv]
    run = subprocess.run([sys.executable, "-m", "dapt", *argv], capture_output=True, text=True, timeout=300,
                         cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "usage: dapt" in run.stdout or "token target" in run.stdout + run.stderr
    assert "apitools" not in run.stdout + run.stderr


def test_in_memory_beam_configs_run_one_worker():
    """Beam warns when direct_running_mode is in_memory and direct_num_workers is not 1."""
    from dapt.config import load_config

    from dapt.study import load_study

    for path in sorted((REPO / "configs").glob("*.yaml")):
        study = "\nstudy:" in path.read_text()  # a `dapt study` config: the run config plus its study section
        cfg = (load_study if study else load_config)(path, run_dir=REPO / "runs" / "unused")
        cfg = cfg[0] if study else cfg
        if cfg.curate.direct_running_mode == "in_memory":
            assert cfg.curate.direct_num_workers == 1, path.name


def test_fingerprints_do_not_depend_on_the_run_directory(tmp_path):
    """What a stage computes is the same in runs/a and runs/b: their data stages can be shared (--data-from)."""
    from dapt.config import load_config
    from dapt.run import fingerprint
    from dapt.stages import STAGES

    a = load_config(REPO / "configs" / "tiny.yaml", run_dir=tmp_path / "a")
    b = load_config(REPO / "configs" / "tiny.yaml", run_dir=tmp_path / "b")
    assert str(tmp_path / "a" / "raw") in a.curate.sources[0].paths[0]  # the config does name the run dir
    for stage in STAGES:
        assert fingerprint(stage, a, a.run_dir) == fingerprint(stage, b, b.run_dir), stage.name
    other = load_config(REPO / "configs" / "tiny.yaml", {"curate.sources.0.paths": ["/elsewhere/legal.jsonl.gz"]},
                        run_dir=tmp_path / "a")
    assert fingerprint(STAGES[1], other, other.run_dir) != fingerprint(STAGES[1], a, a.run_dir)  # a path outside still counts
