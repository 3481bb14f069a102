"""The `dapt` command: `dapt run` for the whole chain, one subcommand per stage.

    dapt run [CONFIG] [--from STAGE] [--until STAGE] [--fresh] [--data-from RUN_DIR] [--section.key=value ...]
    dapt curate [CONFIG] [--section.key=value ...] [-- --runner=DataflowRunner ...]
    dapt tokenizer [train|report] [CONFIG] [--baseline DIR]
    dapt eval [CONFIG] [--model NAME=DIR ...]
    dapt plan [CONFIG] [--preset bloomberggpt | --n-params N | --flops F] [--plan.key=value ...]
    dapt config [SECTION]          every config key, its default and one line of help
    dapt study CONFIG [--dry-run] [--skip-data] [--only RUN ...]   frontier, ladder, seeds, continued (issue 17)

CONFIG defaults to the shipped configs/tiny.yaml (the embedded sample corpus, CPU, minutes).
Everything after a bare ``--`` is passed to Beam as standard pipeline options.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import warnings
from pathlib import Path

from dapt.errors import StageFailed, UserError

STAGE_COMMANDS = {
    "sample": ["sample"],
    "curate": ["curate"],
    "quality": ["quality"],
    "select": ["select"],
    "tokenize": ["tokenize"],
    "plan": ["plan"],
    "mix": ["mix"],
    "pretrain": ["pretrain"],
    "baseline": ["baseline_tokens", "baseline_mix", "baseline_pretrain"],
    "eval": ["eval"],
    "report": ["report"],
}
TOKENIZER_ACTIONS = {"train": ["tokenizer", "tokenizer_general"], "report": ["tokenizer_report"]}


def _parser() -> argparse.ArgumentParser:
    from dapt.stages import STAGE_NAMES

    parser = argparse.ArgumentParser(
        prog="dapt",
        description="Domain-adaptation pre-training: curate (Beam) -> tokenizer -> tokenize/mix -> "
        "plan -> pretrain (DeepSpeed ZeRO) -> eval (lm-evaluation-harness).",
        epilog="Config overrides: --section.key=value (e.g. --pretrain.lr=3e-4). "
        "Beam pipeline options go after a bare `--`.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("config", nargs="?", help="YAML run config (default: the shipped configs/tiny.yaml)")
        p.add_argument("--run-dir", help="run directory (default: run.dir of the config)")
        p.add_argument("-q", "--quiet", action="store_true", help="only warnings and the final summary")

    run = sub.add_parser("run", help="run the whole chain into one run directory (cached stages are skipped)")
    common(run)
    run.add_argument("--from", dest="start", choices=STAGE_NAMES, metavar="STAGE",
                     help="re-run from this stage on, even if cached")
    run.add_argument("--until", choices=STAGE_NAMES, metavar="STAGE", help="stop after this stage")
    run.add_argument("--fresh", action="store_true",
                     help="training stages that run start over (old checkpoints set aside) instead of resuming")
    run.add_argument("--data-from", metavar="RUN_DIR",
                     help="share this run directory's finished data stages where their fingerprint matches (sweeps)")

    for name in STAGE_COMMANDS:
        p = sub.add_parser(name, help=f"run the {name} stage alone (reads upstream outputs from the run dir)")
        common(p)
        if name in ("pretrain", "baseline"):
            p.add_argument("--fresh", action="store_true",
                           help="start training over (old checkpoints set aside) instead of resuming")
        if name == "plan":
            p.add_argument("--preset", choices=["bloomberggpt"],
                           help="plan a published run (budget, data, shape) instead of this run's model")
            p.add_argument("--n-params", type=float, metavar="N",
                           help="plan a model of N parameters without this run's data (e.g. 7e9)")
            p.add_argument("--flops", type=float, metavar="F",
                           help="plan for a model-FLOPs budget F (6ND) without this run's data (e.g. 1e23)")
            p.add_argument("--out", metavar="DIR", help="where --preset/--n-params/--flops write plan.json "
                           "(default: <run_dir>/plan_<preset> or <run_dir>/plan_only)")
        if name == "eval":
            p.add_argument("--model", action="append", default=[], metavar="NAME=DIR",
                           help="evaluate these Hugging Face model folders instead of the run's models")

    tok = sub.add_parser("tokenizer", help="train the domain (and general baseline) tokenizer, or report on it")
    tok.add_argument("action", nargs="?", choices=sorted(TOKENIZER_ACTIONS), default="train")
    common(tok)
    tok.add_argument("--baseline", help="tokenizer folder to compare against (report; default: general-only)")

    study = sub.add_parser("study", help="many runs over one set of data stages: mixture frontier, size ladder, "
                           "seeds, continued pre-training (a config with a study: section, e.g. configs/scale.yaml)")
    common(study)
    study.add_argument("--dry-run", action="store_true", help="run the data stages, print every run's size and token target, train nothing")
    study.add_argument("--skip-data", action="store_true", help="use the run directory's finished tokenize outputs as they are")
    study.add_argument("--only", action="append", default=[], metavar="RUN", help="train only this run id (repeatable)")
    study.add_argument("--report-only", action="store_true",
                       help="train nothing: write the report from the runs finished so far (a partial study says so)")

    sub.add_parser("stages", help="list the stages of `dapt run` in order")
    cfg_p = sub.add_parser("config", help="print every config key with its default and one line of help")
    cfg_p.add_argument("section", nargs="?", help="only this section (e.g. pretrain, plan.gpu_type)")
    return parser


# Third-party warnings a tiny run triggers that call for no action (logger -> message text), dropped at
# the logger that emits them; every other warning of these libraries still shows.
QUIET_MESSAGES = {
    # apache_beam.io.gcp imports a BigQuery client it does not need for local files; it warns on the root logger.
    "": ("apitools not found, and bigquery client libraries are not available",),
    # A data job hands back nothing for a step that found nothing (no routed pages, no benchmark hits), and
    # Beam's text sink, told to skip empty output, says so (pipeline/results.py).
    "apache_beam.io.filebasedsink": ("No shards found to finalize",),
    # Documents are longer than a context by design: token files and rolling windows cut them, not the tokenizer.
    "transformers.tokenization_utils_base": ("Token indices sequence length is longer than the specified maximum",),
    # The shipped tasks read their files through custom_dataset (eval/tasks/utils.local_json), which takes no kwargs.
    "lm_eval.api.task": ("Custom kwargs can be passed to `--metadata`",),
    # Our tasks set no default shot count, so eval.num_fewshot replacing "None" changes nothing a user chose.
    "lm_eval.evaluator": ("from None to",),
}


class _DropMessages(logging.Filter):
    def __init__(self, prefixes: tuple[str, ...]) -> None:
        super().__init__()
        self.prefixes = prefixes

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(p in message for p in self.prefixes)


def quiet_library_warnings() -> None:
    """Installs the QUIET_MESSAGES filters (once per logger)."""
    for name, prefixes in QUIET_MESSAGES.items():
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropMessages) for f in logger.filters):
            logger.addFilter(_DropMessages(prefixes))


def _setup_logging(quiet: bool) -> None:
    rank0 = os.environ.get("RANK", "0") == "0"
    level = logging.INFO if rank0 and not quiet else logging.WARNING
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True)
    # Library chatter that says nothing to a dapt user.
    for noisy in ("apache_beam", "DeepSpeed", "deepspeed", "lm-eval", "lm_eval", "datasets", "httpx", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    quiet_library_warnings()
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def main(argv: list[str] | None = None) -> int:
    argv = _strip_local_rank(list(sys.argv[1:] if argv is None else argv))
    quiet_library_warnings()  # before the parser imports the stages: Beam warns as it is imported
    beam_args: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, beam_args = argv[:cut], argv[cut + 1 :]
    parser = _parser()
    args, rest = parser.parse_known_args(argv)
    try:
        return _dispatch(args, rest, beam_args)
    except UserError as exc:
        print(f"dapt: error: {exc}", file=sys.stderr)
        return 2
    except StageFailed as exc:
        print(f"dapt: failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("dapt: interrupted; run the same command again to continue where it stopped", file=sys.stderr)
        return 130


def _strip_local_rank(argv: list[str]) -> list[str]:
    """The `deepspeed` launcher appends --local_rank=N to every rank's command; we read LOCAL_RANK instead."""
    kept: list[str] = []
    skip = False
    for i, arg in enumerate(argv):
        if skip:
            skip = False
            continue
        name, sep, value = arg.partition("=")
        if name in ("--local_rank", "--local-rank"):
            if not sep and i + 1 < len(argv):
                value, skip = argv[i + 1], True
            os.environ.setdefault("LOCAL_RANK", value)
            continue
        kept.append(arg)
    return kept


def _dispatch(args: argparse.Namespace, rest: list[str], beam_args: list[str]) -> int:
    if args.command == "stages":
        from dapt.stages import STAGES

        for s in STAGES:
            print(f"{s.name:<18} {s.folder:<18} {s.description}")
        return 0

    if args.command == "config":
        from dapt.config import describe_config

        if rest:
            raise UserError(f"`dapt config` takes at most a section name, not {' '.join(rest)}")
        print(describe_config(args.section))
        return 0

    from dapt.config import load_config, parse_overrides

    overrides = parse_overrides(rest)
    _setup_logging(args.quiet)
    if args.command == "study":
        return _study(args, overrides)
    cfg = load_config(args.config, overrides, run_dir=args.run_dir)

    from dapt.run import format_rows, run_stages, select_stages
    from dapt.stages import stage

    if args.command == "run":
        stages = select_stages(cfg, args.start, args.until)
        forced = [s.name for s in stages] if args.start else []
        fresh = [s.name for s in stages] if args.fresh else forced
        data_from = Path(args.data_from) if args.data_from else None
        if data_from is not None and not data_from.is_dir():
            raise UserError(f"--data-from {data_from}: no such run directory; give the run.dir of a finished run")
        rows = run_stages(cfg, stages, beam_args=beam_args, force=forced, fresh=fresh, data_from=data_from)
    elif args.command == "plan" and (args.preset or args.n_params is not None or args.flops is not None):
        rows = [_plan_alone(cfg, args, overrides)]
    elif args.command == "eval" and args.model:
        rows = [_eval_models(cfg, args.model)]
    elif args.command == "tokenizer" and args.action == "report" and args.baseline:
        rows = [_tokenizer_report(cfg, Path(args.baseline))]
    else:
        names = TOKENIZER_ACTIONS[args.action] if args.command == "tokenizer" else STAGE_COMMANDS[args.command]
        stages = [stage(n) for n in names if stage(n).enabled(cfg)]
        if not stages:
            raise UserError(f"`dapt {args.command}` has nothing to do with this config (the stage is disabled)")
        fresh = [s.name for s in stages] if getattr(args, "fresh", False) else []
        rows = run_stages(cfg, stages, beam_args=beam_args, force=[s.name for s in stages], fresh=fresh)

    if os.environ.get("RANK", "0") == "0":
        print(format_rows(rows))
        report = cfg.run_location / "report" / "report.md"
        if any(r["stage"] == "report" for r in rows) and report.is_file():
            print(f"\nreport: {report}")
        else:
            print(f"\nrun directory: {cfg.run_location}")
    return 0


def _study(args: argparse.Namespace, overrides: dict) -> int:
    import json

    from dapt.study import load_study, run_study

    if args.config is None:
        raise UserError("`dapt study` needs a config with a study: section, e.g. dapt study configs/scale.yaml")
    cfg, study = load_study(args.config, overrides, run_dir=args.run_dir)
    summary = run_study(cfg, study, data=not args.skip_data, dry_run=args.dry_run, only=args.only or None,
                        report_only=args.report_only)
    if os.environ.get("RANK", "0") == "0":
        print(json.dumps(summary, indent=2, default=str))
    return 0


def _eval_models(cfg, specs: list[str]) -> dict:
    import time

    from dapt.stages import Context, heldout_files
    from dapt.eval.run import run_eval

    models = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            raise UserError(f"--model {spec!r}: write it as NAME=DIR (e.g. --model mine=runs/tiny/model/hf)")
        models[name] = Path(path)
    ctx = Context(cfg=cfg, run_dir=cfg.run_location)
    t0 = time.perf_counter()
    summary = run_eval(cfg.eval, models, heldout_files(ctx), cfg.run_dir / "eval")
    return {"stage": "eval", "status": "ran", "seconds": time.perf_counter() - t0, "summary": summary}


# Plan keys that define the model's shape: under a preset, any of them replaces the published shape.
SHAPE_KEYS = {"n_params", "vocab_size", "seq_len", "tie_embeddings"}


def _plan_alone(cfg, args: argparse.Namespace, overrides: dict) -> dict:
    """`dapt plan --preset NAME | --n-params N | --flops F`: the planner without this run's data.

    The run config's plan section is the base (a preset's fields replace it); --plan.KEY overrides
    apply on top, and overrides of any other section are refused (they would change nothing).
    """
    import time

    from dapt.pretrain.plan import PRESETS, PlanConfig, run_plan

    other = sorted(k for k in overrides if not k.startswith(("plan.", "run.")))
    if other:
        raise UserError(f"`dapt plan` without the run's data uses only --plan.KEY overrides; "
                        f"{', '.join('--' + k for k in other)} would change nothing: drop them")
    mine = {k.split(".", 1)[1]: v for k, v in overrides.items() if k.startswith("plan.")}
    if args.n_params is not None:
        mine["n_params"] = int(args.n_params)
    if args.flops is not None:
        mine["flops"] = args.flops
    budget_keys = ("flops", "pf_days", "hours", "gpu_hours")
    if args.preset:
        fields, shape = PRESETS[args.preset]
        fields = dict(fields)
        if any(k in mine for k in budget_keys):  # one budget: the user's replaces the preset's
            for k in budget_keys:
                fields.pop(k, None)
        if SHAPE_KEYS & set(mine):
            shape = None  # the user's size (or vocabulary, context) replaces the published shape
        base, stem = fields, f"plan_{args.preset}"
    else:
        base = cfg.plan.model_dump(exclude_unset=True)
        if "flops" in mine:
            for k in budget_keys:
                base.pop(k, None)
        if "available_tokens" not in mine:
            base.pop("available_tokens", None)
        shape, stem = None, "plan_only"
    try:
        plan_cfg = PlanConfig(**{**base, **mine})
    except ValueError as exc:
        raise UserError(f"plan: {exc}".replace("\n", " ")) from None
    out = Path(args.out) if args.out else cfg.run_dir / stem
    t0 = time.perf_counter()
    summary = run_plan(plan_cfg, out, shape=shape)
    return {"stage": f"plan ({args.preset or 'no data'})", "status": "ran", "seconds": time.perf_counter() - t0,
            "summary": {"token_target": summary["token_target"], "n_params": summary["n_params"]}}


def _tokenizer_report(cfg, baseline: Path) -> dict:
    import time

    from dapt.tokenizer.report import report_tokenizer

    run_dir = cfg.run_dir
    t0 = time.perf_counter()
    summary = report_tokenizer(
        cfg.tokenizer, run_dir / "tokenizer", baseline, run_dir / "tokens" / "val_text", run_dir / "tokenizer_report"
    )
    return {"stage": "tokenizer_report", "status": "ran", "seconds": time.perf_counter() - t0, "summary": summary}


if __name__ == "__main__":
    sys.exit(main())
