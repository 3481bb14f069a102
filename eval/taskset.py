"""Benchmark tasks: resolve names and tags to harness task configs over local files, and check the files.

Task definitions are the harness's own YAML (eval/tasks/*.yaml, usable with ``lm_eval --include_path``).
Here we only (1) point each task's ``dataset_kwargs.data_files`` at the files named in the config (or the
shipped synthetic examples), (2) fail early with a one-line UserError naming the file and field when a
file is missing, empty, lacks a released field, or holds a label outside the task's choices, and
(3) build the harness Task objects once, so every model is scored on the very same objects.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import logging
from pathlib import Path
from typing import Any

from dapt.errors import UserError
from dapt.eval.config import EvalConfig

log = logging.getLogger(__name__)

TASKS_DIR = Path(__file__).resolve().parent / "tasks"
# Shipped YAMLs name their data relative to their own folder (read there by utils.local_json, so
# `lm_eval --include_path` on it works from any directory); we resolve them the same way.
GROUP_TAGS = {"dapt_domain": "domain", "dapt_general": "general"}
AREA_TAGS = {"dapt_finance": "finance", "dapt_medicine": "medicine", "dapt_law": "law"}


@dataclasses.dataclass
class TaskSpec:
    """One task ready for the harness: its config dict, its Task object, where its data came from."""

    name: str
    group: str  # domain | general | other (from the YAML's tags)
    area: str | None  # finance | medicine | law for domain tasks
    config: dict[str, Any]
    files: dict[str, Path]
    eval_split: str
    fewshot_split: str | None
    task: Any = None  # lm_eval.api.task.Task, built by build_tasks

    def summary(self) -> dict:
        return {"group": self.group, "area": self.area, "eval_split": self.eval_split,
                "fewshot_split": self.fewshot_split, "files": {k: str(v) for k, v in self.files.items()},
                "examples": len(self.task.eval_docs) if self.task is not None else None,
                "synthetic": all(p.is_relative_to(TASKS_DIR / "data") for p in self.files.values())}


def task_manager(cfg: EvalConfig):
    """A TaskManager over our task folder and the user's (the harness's ~10k bundled YAMLs are skipped)."""
    from lm_eval.tasks import TaskManager

    paths = [str(TASKS_DIR)] + [str(Path(p)) for p in cfg.include_path]
    return TaskManager(include_path=paths, include_defaults=False)


def expand_names(cfg: EvalConfig, manager) -> list[str]:
    """Task names from cfg.tasks, with tags (dapt_domain, dapt_general, dapt_finance, ...) expanded."""
    from lm_eval.tasks._index import Kind

    names: list[str] = []
    for name in cfg.tasks:
        entry = manager.task_index.get(name)
        if entry is None:
            known = ", ".join(n for n in manager.all_tasks if n.startswith("dapt_"))
            raise UserError(f"eval.tasks: unknown task or tag {name!r}; known here: {known} "
                            f"(add your own YAML folder with eval.include_path)")
        if entry.kind == Kind.GROUP:
            raise UserError(f"eval.tasks: {name!r} is a harness group; list its tasks, or tag them and name the tag")
        members = sorted(entry.tags) if entry.kind == Kind.TAG else [name]
        names += [m for m in members if m not in names]
    return names


def resolve_tasks(cfg: EvalConfig, manager=None) -> list[TaskSpec]:
    """Loads each task's YAML, points it at its files, checks them; builds the harness Task objects."""
    from lm_eval.tasks._yaml_loader import load_yaml

    manager = manager if manager is not None else task_manager(cfg)
    unknown = set(cfg.task_data) - set(expand_names(cfg, manager)) if cfg.task_data else set()
    if unknown:
        raise UserError(f"eval.task_data names tasks not in eval.tasks: {sorted(unknown)}; add them to eval.tasks")
    specs = []
    for name in expand_names(cfg, manager):
        entry = manager.task_index[name]
        if entry.yaml_path is None:
            raise UserError(f"eval.tasks: {name!r} has no YAML file; dapt runs YAML tasks only")
        config = load_yaml(entry.yaml_path, resolve_func=True)
        specs.append(_spec(cfg, name, Path(entry.yaml_path), config))
    build_tasks(specs, manager)
    for spec in specs:
        check_labels(spec)
    return specs


def _spec(cfg: EvalConfig, name: str, yaml_path: Path, config: dict) -> TaskSpec:
    tags = config.get("tag") or []
    tags = [tags] if isinstance(tags, str) else list(tags)
    group = next((GROUP_TAGS[t] for t in tags if t in GROUP_TAGS), "other")
    area = next((AREA_TAGS[t] for t in tags if t in AREA_TAGS), None)
    if config.get("dataset_path") != "json":
        raise UserError(f"{yaml_path}: dataset_path is {config.get('dataset_path')!r}; dapt eval reads local "
                        f"JSONL files, so set dataset_path: json and dataset_kwargs.data_files")
    shipped = yaml_path.resolve().is_relative_to(TASKS_DIR)
    base = TASKS_DIR if shipped else Path.cwd()
    data_files = dict((config.get("dataset_kwargs") or {}).get("data_files") or {})
    # Files named in the config replace the YAML's, split by split; a split the user leaves out keeps the
    # shipped file only when the user names no file for this task at all (never mix theirs and ours).
    if name in cfg.task_data:
        data_files = {split: Path(p) for split, p in cfg.task_data[name].items()}
    else:
        data_files = {split: base / p for split, p in data_files.items()}
    eval_split = config.get("test_split") or config.get("validation_split")
    where = f"eval.task_data.{name}" if name in cfg.task_data else str(yaml_path)
    if not eval_split or eval_split not in data_files:
        raise UserError(f"{where}: task {name} scores split {eval_split!r} but no file is given for it; "
                        f"name one (e.g. eval.task_data.{name}.{eval_split or 'test'}=path/to/test.jsonl)")
    fewshot_split = config.get("fewshot_split") or config.get("training_split") or config.get("validation_split")
    if fewshot_split not in data_files:
        fewshot_split = None
    if cfg.num_fewshot > 0:
        if fewshot_split is None:
            raise UserError(f"{where}: eval.num_fewshot={cfg.num_fewshot} needs a few-shot split for task {name}; "
                            f"give a train file (eval.task_data.{name}.train) or set eval.num_fewshot=0")
        if fewshot_split == eval_split or data_files[fewshot_split] == data_files[eval_split]:
            raise UserError(f"{where}: task {name} would draw few-shot examples from the scored split "
                            f"{eval_split!r}; give a separate train file")
    fields = list((config.get("metadata") or {}).get("fields") or [])
    for split, path in data_files.items():
        check_file(name, split, path, fields)

    config = dict(config)
    config["dataset_kwargs"] = {**(config.get("dataset_kwargs") or {}),
                                "data_files": {s: str(p.resolve()) for s, p in data_files.items()}}
    config["training_split"] = fewshot_split
    config["fewshot_split"] = fewshot_split
    config["validation_split"] = None
    config["test_split"] = eval_split
    return TaskSpec(name, group, area, config, {s: p.resolve() for s, p in data_files.items()},
                    eval_split, fewshot_split)


def check_file(task: str, split: str, path: Path, fields: list[str]) -> int:
    """A split file must exist, be JSON Lines, hold records, and every record must have the released fields."""
    if not path.is_file():
        raise UserError(f"task {task}: {split} file {path} does not exist; fix eval.task_data.{task}.{split}")
    n = 0
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise UserError(f"task {task}: {path} line {lineno} is not JSON ({err.msg}); "
                                f"files must be JSON Lines, one record a line") from err
            if not isinstance(record, dict):
                raise UserError(f"task {task}: {path} line {lineno} is not a JSON object")
            missing = [f for f in fields if f not in record]
            if missing:
                raise UserError(f"task {task}: {path} line {lineno} has no field {missing[0]!r} "
                                f"(the released format has fields {', '.join(fields)})")
            n += 1
    if n == 0:
        raise UserError(f"task {task}: {split} split {path} is empty; give a file with at least one record")
    return n


def build_tasks(specs: list[TaskSpec], manager) -> None:
    """The harness builds each task (loading its files with datasets' json loader) exactly once."""
    import jinja2

    for spec in specs:
        try:
            loaded = manager.load([spec.config])
        except (ValueError, KeyError, IndexError, TypeError, jinja2.exceptions.UndefinedError) as err:
            # The harness renders the first scored record while building the task; a bad label or a
            # field of the wrong shape fails there first.
            label_field = (spec.config.get("metadata") or {}).get("label_field", "label")
            raise UserError(f"task {spec.name}: {spec.files[spec.eval_split]} record 1 cannot be scored "
                            f"({type(err).__name__}: {err}); check field {label_field!r} against the "
                            f"task's choices") from err
        spec.task = loaded["tasks"][spec.name]


@contextlib.contextmanager
def compiled_templates_cached():
    """The harness compiles a task's Jinja template on every call (lm_eval.utils.apply_template); while we
    check labels, compile each template once and reuse it. Same environment, same render, same strings;
    restored before any scoring, so the harness's own run is untouched."""
    import lm_eval.utils as lm_utils

    original = lm_utils.apply_template
    compile_once = functools.lru_cache(maxsize=256)(lm_utils.env.from_string)
    lm_utils.apply_template = lambda template, doc: compile_once(template).render(**doc)
    try:
        yield
    finally:
        lm_utils.apply_template = original


def check_labels(spec: TaskSpec) -> None:
    """Every scored and few-shot record's gold label must name one of its choices (asked of the harness)."""
    with compiled_templates_cached():
        _check_labels(spec)


def _check_labels(spec: TaskSpec) -> None:
    import jinja2

    task = spec.task
    if task.OUTPUT_TYPE != "multiple_choice":
        return
    label_field = (spec.config.get("metadata") or {}).get("label_field", "label")
    splits = [(spec.eval_split, task.eval_docs)]
    if spec.fewshot_split:
        splits.append((spec.fewshot_split, task.fewshot_docs()))
    for split, docs in splits:
        for i, doc in enumerate(docs):
            where = f"task {spec.name}: {spec.files[split]} record {i + 1}"
            try:
                choices = task.doc_to_choice(doc)
                gold = task.doc_to_text(doc) if task.multiple_input else task.doc_to_target(doc)
            except (ValueError, KeyError, IndexError, TypeError, jinja2.exceptions.UndefinedError) as err:
                raise UserError(f"{where}: field {label_field!r} = {doc.get(label_field)!r} cannot be "
                                f"scored ({err}); it must name one of the task's choices") from err
            ok = (isinstance(gold, int) and not isinstance(gold, bool) and 0 <= gold < len(choices)) or (
                isinstance(gold, str) and gold in choices)
            if not ok:
                raise UserError(f"{where}: field {label_field!r} = {doc.get(label_field)!r} is not one of the "
                                f"{len(choices)} choices {choices}")


def example_texts(spec: TaskSpec) -> list[str]:
    """The text of each scored example as the model sees it (context and gold answer), for contamination."""
    with compiled_templates_cached():
        return _example_texts(spec)


def _example_texts(spec: TaskSpec) -> list[str]:
    task = spec.task
    texts: list[str] = []
    for doc in task.eval_docs:
        ctx, target = task.doc_to_text(doc), task.doc_to_target(doc)
        if task.OUTPUT_TYPE == "multiple_choice":
            choices = task.doc_to_choice(doc)
            if isinstance(ctx, int):  # WinoGrande-style: the options are the contexts
                texts.append(f"{choices[ctx]} {target}")
                continue
            gold = target if isinstance(target, int) else choices.index(target)
            texts.append(f"{ctx} {choices[gold]}")
        else:
            texts.append(f"{ctx}{target}")
    return texts
