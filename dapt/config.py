"""The run config: one YAML file composed of one typed section per stage, plus dotted CLI overrides.

Two layers only: the file, then ``--section.key=value`` overrides. Strings may use ``{run_dir}``
(the resolved run directory) so a config can point stages at files another stage wrote there.
The resolved config is written beside every output (``<run_dir>/config.resolved.yaml``).
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from dapt.errors import UserError
from dapt.eval.config import EvalConfig
from dapt.pipeline.curate.config import CurateConfig
from dapt.pipeline.sample.corpus import SampleConfig
from dapt.pipeline.select.config import SelectConfig
from dapt.pipeline.tokens.config import TokenizeConfig
from dapt.pretrain.config import PretrainConfig
from dapt.pretrain.mixture import MixConfig
from dapt.pretrain.plan import PlanConfig
from dapt.tokenizer.config import TokenizerConfig

if TYPE_CHECKING:
    from dapt.pipeline.storage import Location

DEFAULT_CONFIG = "tiny.yaml"



class RunConfig(BaseModel):
    """Where the run lives. Seeds are per stage (sample.seed, pretrain.seed, eval.seed, ...)."""

    model_config = ConfigDict(extra="forbid")

    name: str = "tiny"
    dir: str = Field("runs/{name}", description="run directory; {name} is replaced by run.name")


class BaselineConfig(BaseModel):
    """The general-only baseline: same model shape and token budget, general sources only."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    # "domain" reuses the domain tokenizer (isolates the data effect); "general" trains the
    # baseline its own general-only tokenizer, as a team without a domain tokenizer would have.
    tokenizer: Literal["domain", "general"] = "domain"


class DaptConfig(BaseModel):
    """Every stage's section; a section left out of the YAML takes that stage's defaults."""

    model_config = ConfigDict(extra="forbid")

    run: RunConfig = RunConfig()
    sample: SampleConfig | None = None
    curate: CurateConfig = CurateConfig()
    select: SelectConfig = SelectConfig()
    tokenizer: TokenizerConfig = TokenizerConfig()
    tokenize: TokenizeConfig = TokenizeConfig()
    plan: PlanConfig = PlanConfig()
    mix: MixConfig = MixConfig()
    pretrain: PretrainConfig = PretrainConfig()
    baseline: BaselineConfig = BaselineConfig()
    eval: EvalConfig = EvalConfig()

    @model_validator(mode="after")
    def _stated_once(self) -> DaptConfig:
        """The context length is pretrain.model.seq_len and the training precision pretrain.precision; a
        second statement of either (tokenizer.model_max_length, plan.precision) may only repeat it."""
        seq_len, max_len = self.pretrain.model.seq_len, self.tokenizer.model_max_length
        if max_len is not None and max_len != seq_len:
            raise UserError(f"tokenizer.model_max_length={max_len} but pretrain.model.seq_len={seq_len}: the "
                             "context length is pretrain.model.seq_len (the exported tokenizer states it); drop "
                             "tokenizer.model_max_length")
        trained = self.pretrain.precision
        if trained != "auto":
            if "precision" not in self.plan.model_fields_set:
                self.plan = self.plan.model_copy(update={"precision": trained})
            elif self.plan.precision != trained:
                raise UserError(f"plan.precision={self.plan.precision} but pretrain.precision={trained}: the "
                                 "planner plans the precision the trainer uses; drop plan.precision")
        return self

    @property
    def run_location(self) -> Location:
        """The run directory as given: a local folder or a URL on any Beam filesystem (s3://, gs://)."""
        from dapt.pipeline.storage import Location  # Beam loads only for commands that touch a run

        return Location(self.run.dir)

    @property
    def run_dir(self) -> Path:
        """The run directory on local (or shared) disk, where training, eval and the report work."""
        where = self.run_location
        if not where.is_local:
            raise UserError(
                f"run.dir {where} is a URL: only the Beam data stages run there (dapt run --until tokenize); "
                "train and evaluate from a local or shared run.dir (README: Running at scale)"
            )
        return where.local


def builtin_config_path(name: str = DEFAULT_CONFIG) -> Path:
    """A config shipped with the package (the repository's configs/ folder)."""
    return Path(str(importlib.resources.files("dapt.configs").joinpath(name)))


def parse_overrides(args: list[str]) -> dict[str, Any]:
    """``["--pretrain.lr=3e-4", "--run.name", "x"]`` -> ``{"pretrain.lr": 3e-4, "run.name": "x"}``.

    Values are parsed as YAML scalars so numbers, booleans and lists keep their types.
    """
    overrides: dict[str, Any] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        if not arg.startswith("--") or "." not in arg.split("=", 1)[0]:
            raise UserError(
                f"unrecognised argument {arg!r}; config overrides look like --section.key=value "
                "(e.g. --pretrain.lr=3e-4)"
            )
        key, sep, value = arg[2:].partition("=")
        if not sep:
            if i + 1 >= len(args):
                raise UserError(f"override --{key} has no value; write --{key}=VALUE")
            value = args[i + 1]
            i += 1
        try:
            overrides[key] = yaml.safe_load(value) if value != "" else ""
        except yaml.YAMLError:
            overrides[key] = value
        i += 1
    return overrides


def _set_dotted(tree: dict[str, Any], dotted: str, value: Any) -> None:
    node: Any = tree
    parts = dotted.split(".")
    for part in parts[:-1]:
        if isinstance(node, list):
            node = node[_list_index(node, part, dotted)]
            continue
        if node.get(part) is None:
            node[part] = {}
        node = node[part]
    last = parts[-1]
    if isinstance(node, list):
        node[_list_index(node, last, dotted)] = value
    elif isinstance(node, dict):
        node[last] = value
    else:
        raise UserError(f"override {dotted}: {'.'.join(parts[:-1])} is not a section")


def _list_index(node: list[Any], part: str, dotted: str) -> int:
    if not part.isdigit() or int(part) >= len(node):
        raise UserError(f"override {dotted}: {part!r} is not an index of a list of {len(node)}")
    return int(part)


def _substitute(value: Any, tokens: dict[str, str]) -> Any:
    if isinstance(value, str):
        for token, replacement in tokens.items():
            value = value.replace(token, replacement)
        return value
    if isinstance(value, list):
        return [_substitute(v, tokens) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v, tokens) for k, v in value.items()}
    return value


def load_config(
    path: str | Path | None = None,
    overrides: dict[str, Any] | None = None,
    run_dir: str | Path | None = None,
) -> DaptConfig:
    """Reads a YAML run config (default: the shipped tiny.yaml), applies overrides, validates it."""
    config_path = Path(path) if path is not None else builtin_config_path()
    if not config_path.is_file():
        raise UserError(f"config file not found: {config_path}; pass an existing YAML (e.g. configs/tiny.yaml)")
    try:
        raw = yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise UserError(f"config {config_path}{where} is not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(raw, dict):
        raise UserError(f"config {config_path} must be a mapping of sections (run:, curate:, ...)")
    for key, value in (overrides or {}).items():
        _set_dotted(raw, key, value)
    if run_dir is not None:
        raw.setdefault("run", {})["dir"] = str(run_dir)

    run_section = raw.get("run") or {}
    name = str(run_section.get("name", RunConfig().name))
    resolved_dir = str(run_section.get("dir", RunConfig().dir)).replace("{name}", name)
    raw.setdefault("run", {})["dir"] = resolved_dir
    raw = _substitute(raw, {"{run_dir}": resolved_dir, "{name}": name})
    try:
        return DaptConfig.model_validate(raw)
    except ValidationError as exc:
        raise UserError(describe_validation_error(exc, config_path)) from None


def describe_validation_error(exc: ValidationError, source: Path | str) -> str:
    """One line naming the key, what is wrong and what to do (the first error; a count of the rest)."""
    errors = exc.errors()
    first = errors[0]
    loc = ".".join(str(p) for p in first["loc"])
    if first["type"] == "extra_forbidden":
        parent = first["loc"][:-1]
        valid = _valid_keys(DaptConfig, parent)
        hint = f"unknown key; valid keys here: {', '.join(valid)}" if valid else "unknown key"
    elif isinstance(first.get("input"), dict):  # a check across a section's keys: the section is no help
        hint = first["msg"]
    else:
        hint = f"{first['msg']} (got {first.get('input')!r})"
    more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
    return f"config error in {source}: {loc}: {hint}{more}"


def _valid_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The field names of the model found by walking ``loc`` (skipping list indices)."""
    current: Any = model
    for part in loc:
        if isinstance(part, int) or current is None:
            continue
        field = current.model_fields.get(part)
        if field is None:
            return []
        current = _model_in(field.annotation)
    return sorted(current.model_fields) if current is not None else []


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The BaseModel inside an annotation like ``X``, ``X | None`` or ``list[X]``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def dump_config(cfg: DaptConfig, path: Path | Location) -> None:
    """Writes the resolved config (the record of the run) as YAML."""
    from dapt.pipeline.storage import Location

    Location(path).write_text(yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False))


def _default_text(field: Any) -> str:
    if field.is_required():
        return "(required)"
    value = field.get_default(call_default_factory=True)
    if isinstance(value, BaseModel):
        return "{...}"
    return yaml.safe_dump(value, default_flow_style=True, width=10**6).strip().removesuffix("...").strip()


def _type_text(annotation: Any) -> str:
    return getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")


def _source_comments(model: type[BaseModel]) -> dict[str, str]:
    """Per field, the `#` comment on its line or the comment block just above it in the class source."""
    import inspect
    import re

    try:
        source = inspect.getsource(model).splitlines()
    except (OSError, TypeError):
        return {}
    out: dict[str, str] = {}
    above: list[str] = []
    for line in source:
        text = line.strip()
        if text.startswith("#"):
            above.append(text.lstrip("# ").strip())
            continue
        m = re.match(r"(\w+)\s*:[^#]*?(?:#\s*(.*))?$", text)
        if m and m.group(1) in model.model_fields:
            comment = (m.group(2) or "").replace("noqa", "").strip() or " ".join(above)
            if comment:
                out[m.group(1)] = comment
        above = []
    return out


def _describe(model: type[BaseModel], prefix: str, lines: list[str]) -> None:
    comments = _source_comments(model)
    for name, field in model.model_fields.items():
        key = f"{prefix}{name}"
        inner = _model_in(field.annotation)
        if inner is not None:
            doc = (field.description or (inner.__doc__ or "").strip().splitlines()[0:1] or [""])
            doc = doc if isinstance(doc, str) else doc[0]
            is_list = "list" in str(field.annotation)
            lines.append(f"{key}{'[i]' if is_list else ''}:  # {doc}".rstrip(" #:") + ("" if doc else ":"))
            _describe(inner, f"{key}{'[i]' if is_list else ''}.", lines)
            continue
        help_text = field.description or comments.get(name) or f"({_type_text(field.annotation)})"
        lines.append(f"  {key} = {_default_text(field)}  # {help_text}")


def describe_config(section: str | None = None) -> str:
    """Every config key with its default and one line of help (`dapt config [SECTION]`)."""
    lines: list[str] = []
    _describe(DaptConfig, "", lines)
    if section:
        wanted = [ln for ln in lines if ln.strip().startswith((section + ".", section + ":", section + " ",
                                                              section + "["))]
        if not wanted:
            sections = ", ".join(DaptConfig.model_fields)
            raise UserError(f"no config key or section {section!r}; sections are: {sections}")
        lines = wanted
    head = ("# every key of a run config: key = default  # help. Set them in the YAML or as --section.key=value;"
            "\n# `dapt config pretrain` shows one section")
    return "\n".join([head, *lines])
