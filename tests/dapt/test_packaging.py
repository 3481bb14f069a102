"""The wheel installs one import name, and the stage packages import each other only the allowed way."""

from __future__ import annotations

import ast
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
STAGES = ("pipeline", "tokenizer", "pretrain", "eval")
CLI = ("dapt.cli", "dapt.stages", "dapt.run", "dapt.report", "dapt.config")
# What each stage may not import (STYLE.md, "How the rooms connect").
FORBIDDEN = {
    "pipeline": ("dapt.pretrain", "dapt.eval", "dapt.tokenizer") + CLI,
    "tokenizer": ("dapt.pretrain", "dapt.eval") + CLI,
    "pretrain": ("dapt.eval",) + CLI,
    "eval": ("dapt.pretrain", "dapt.tokenizer") + CLI,
}


def _python_files() -> list[Path]:
    out = subprocess.run(["git", "ls-files", "*.py"], cwd=REPO, capture_output=True, text=True, check=True)
    return [REPO / line for line in out.stdout.split()]


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def test_no_bare_stage_imports_anywhere():
    """Inside a checkout `import pipeline` still resolves, to a second copy of every class: none may exist."""
    bad = [f"{p.relative_to(REPO)}:{line}: import {name}" for p in _python_files()
           for line, name in _imports(p) if name.split(".")[0] in STAGES]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("stage", STAGES)
def test_stage_import_rules(stage):
    bad = [f"{p.relative_to(REPO)}:{line}: import {name}" for p in sorted((REPO / stage).rglob("*.py"))
           for line, name in _imports(p) if name.startswith(FORBIDDEN[stage])]
    assert not bad, "\n".join(bad)


def test_errors_module_is_a_leaf():
    assert not [name for _, name in _imports(REPO / "dapt" / "errors.py") if name.startswith("dapt")]


@pytest.mark.slow
def test_wheel_installs_only_dapt(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(REPO)],
                   check=True, capture_output=True)
    (wheel,) = tmp_path.glob("dapt-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names}
    assert {t for t in top if not t.endswith(".dist-info")} == {"dapt"}
    for member in ("dapt/pipeline/curate/main.py", "dapt/pretrain/train.py", "dapt/eval/tasks/arc.yaml",
                   "dapt/tokenizer/train.py", "dapt/configs/tiny.yaml", "dapt/pipeline/sample/corpus.py"):
        assert member in names


def test_no_module_imports_a_test_file():
    """Toy inputs shared by tests and bench/ live in the package (dapt.pretrain.tiny, dapt.eval.tiny)."""
    bad = [f"{p.relative_to(REPO)}:{line}: import {name}" for p in _python_files()
           for line, name in _imports(p) if name.split(".")[0].startswith("test_")]
    assert not bad, "\n".join(bad)
