"""`dapt config`: every key of every section with its default and one line of help."""

from __future__ import annotations

from pydantic import BaseModel

from dapt.cli import main
from dapt.config import DaptConfig, _model_in


def _keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    out = []
    for name, field in model.model_fields.items():
        inner = _model_in(field.annotation)
        if inner is None:
            out.append(prefix + name)
        else:
            out += _keys(inner, prefix + name + ("[i]." if "list" in str(field.annotation) else "."))
    return out


def test_config_lists_every_key_with_default_and_help(capsys):
    assert main(["config"]) == 0
    printed = capsys.readouterr().out
    lines = {line.split(" = ")[0].strip(): line for line in printed.splitlines() if " = " in line}
    assert set(_keys(DaptConfig)) <= set(lines)
    assert "  pretrain.lr = 0.0003  # " in printed or "  pretrain.lr = " in lines["pretrain.lr"]
    assert "# " in lines["plan.gpu_type"] and "a100-80gb" in lines["plan.gpu_type"]
    # help comes from the field descriptions: the plan's offload key explains itself
    assert "host memory" in lines["plan.offload_optimizer"]


def test_config_one_section_and_unknown_section(capsys):
    assert main(["config", "plan"]) == 0
    printed = capsys.readouterr().out
    assert "plan.n_params" in printed and "pretrain.lr" not in printed
    assert main(["config", "nope"]) == 2
    assert "no config key or section 'nope'" in capsys.readouterr().err


def test_shipped_configs_point_only_to_files_the_run_writes():
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    for path in (repo / "configs").glob("*.yaml"):
        assert "plan.md" not in path.read_text(), path  # plan writes plan.json and plan.png
