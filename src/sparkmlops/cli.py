"""`sparkmlops …`: the one console script (also what jobs/*.py and run_pipeline.sh call).

Exit codes: 0 ok, 2 bad usage or config, 3 data missing or invalid, 4 gate failed,
1 anything else. Expected failures print one paragraph (what, why, what to do).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Sequence

from sparkmlops import config as config_module
from sparkmlops.errors import EXIT_GATE, EXIT_OK, EXIT_OTHER, EXIT_USAGE, GateError, SparkMlopsError, UsageError
from sparkmlops.logs import configure, get_logger
from sparkmlops.window import parse_month

STAGES = ("pre_train", "post_train", "post_predict")


def _common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--usecase", help="use case name (conf/usecases/NAME.yaml)")
    common.add_argument("--config", help="a use case YAML file instead of conf/usecases/NAME.yaml")
    common.add_argument("--test-month", help="YYYY-MM (default: the previous complete month)")
    common.add_argument("--train-months", help="comma-separated YYYY-MM list (default: the N months before the test month)")
    common.add_argument("--model-registry-path", help="registry root (default: paths.registry in the YAML)")
    common.add_argument("--data-base-path", help="lake root of the use case: folder, file:// or s3a:// (default: data.base_path)")
    common.add_argument("--reports-dir", help="reports root (default: paths.reports in the YAML)")
    common.add_argument("--dry-run", action="store_true", help="check window, schema and cleaning; train and write nothing")
    common.add_argument("--skip-missing", action="store_true", help="train on the available months of the window (at least 2)")
    common.add_argument("--master", help="Spark master URL (default: spark-submit's or local[*])")
    common.add_argument("--log-format", choices=("text", "json"), default="text", help="json: JSON lines with the run id")
    common.add_argument("--result-file", help="write the outcome (status, exit code, error) here as JSON when the command ends; "
                        "run_pipeline.sh checks it so a failed cluster run is never read as success")
    return common


def build_parser() -> argparse.ArgumentParser:
    common = _common_options()
    parser = argparse.ArgumentParser(prog="sparkmlops", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser("generate", parents=[common], help="write a synthetic lake with the real schema")
    gen.add_argument("--months", required=True, help="YYYY-MM:YYYY-MM (inclusive) or one YYYY-MM")
    gen.add_argument("--rows-per-month", type=int, default=50_000)
    gen.add_argument("--seed", type=int, default=7)

    ing = sub.add_parser("ingest", parents=[common], help="put a real source file into the lake layout")
    ing.add_argument("--source", required=True, help="e.g. yellow_tripdata_2023-01.parquet")
    ing.add_argument("--month", help="YYYY-MM the file holds (default: from its name)")

    train = sub.add_parser("train", parents=[common], help="train, score candidate and current, decide, report")
    train.add_argument("--force", action="store_true", help="promote the candidate whatever the metrics and gates say")
    train.add_argument("--checks-out", help="with --dry-run: write the input checks as JSON to this file")

    sub.add_parser("predict", parents=[common], help="score --test-month with the current model")

    reg = sub.add_parser("registry", parents=[common], help="show | history | rollback | promote --force")
    reg.add_argument("action", choices=("show", "history", "rollback", "promote"))
    reg.add_argument("--force", action="store_true", help="required by promote")
    reg.add_argument("--reason", default="", help="recorded with rollback / promote")

    rep = sub.add_parser("report", parents=[common], help="print a report (default: the latest)")
    rep.add_argument("--kind", choices=("train", "predict"), default="train")

    gate = sub.add_parser("gate", parents=[common], help="run a gate's pytest script on a run's artifact")
    gate.add_argument("--stage", choices=STAGES, required=True)
    gate.add_argument("--input", help="artifact to check (default: the month's report; pre_train: required)")

    cluster = sub.add_parser("cluster", parents=[common], help="start | stop | status of a local Spark standalone cluster")
    cluster.add_argument("action", choices=("start", "stop", "status"))
    cluster.add_argument("--run-dir", default="runs/cluster", help="pid files, logs and work dirs (default: runs/cluster)")
    cluster.add_argument("--workers", type=int, default=2)
    cluster.add_argument("--cores", type=int, default=1, help="cores per worker")
    cluster.add_argument("--memory", default="2g", help="memory per worker, e.g. 2g")
    cluster.add_argument("--master-port", type=int, default=7077)
    cluster.add_argument("--webui-port", type=int, default=8080)

    demo = sub.add_parser("demo", parents=[common], help="generate a small lake and run three months")
    demo.add_argument("--rows-per-month", type=int, default=30_000)
    demo.add_argument("--seed", type=int, default=7)
    return parser


def load_config(args: argparse.Namespace) -> config_module.UsecaseConfig:
    """YAML, then command-line overrides (re-validated)."""
    config = config_module.load(args.usecase, args.config)
    train_months = None
    if args.train_months:
        train_months = [parse_month(m.strip(), "--train-months") for m in args.train_months.split(",") if m.strip()]
    test_month = parse_month(args.test_month) if args.test_month else None
    return config_module.apply_overrides(config, {
        "data.base_path": args.data_base_path,
        "paths.registry": args.model_registry_path,
        "paths.reports": args.reports_dir,
        "window.strict": False if args.skip_missing else None,
        "run.test_month": test_month,
        "run.train_months": train_months,
        "run.dry_run": args.dry_run or None,
        "run.force": getattr(args, "force", False) or None,
    })


def _context(config: config_module.UsecaseConfig, run_id: str):
    from sparkmlops.pipeline import RunContext, code_version

    return RunContext(run_id, config.paths.registry, config.paths.reports, code_version())


def _session(args: argparse.Namespace, name: str):
    from sparkmlops.session import build_session

    return build_session(f"sparkmlops-{name}", master=args.master)


def _print(document: dict) -> None:
    print(json.dumps(document, indent=2, default=str))


def cmd_generate(args, config, run_id):
    from sparkmlops.datagen import GENERATORS, month_range

    if config.usecase not in GENERATORS:
        raise UsageError(f"No generator for use case '{config.usecase}'.", f"Generators exist for: {', '.join(GENERATORS)}.", "Ingest real data instead.")
    if args.rows_per_month < 100:
        raise UsageError(f"--rows-per-month {args.rows_per_month} is too small.", "Cleaning and metrics need at least 100 rows.", "Pass 100 or more.")
    manifest = GENERATORS[config.usecase](_session(args, "generate"), config, month_range(args.months), args.rows_per_month, args.seed)
    for month, info in manifest["months"].items():
        print(f"{month}: {info['rows']} rows ({info['clean_rows']} clean), noise floor RMSE {info['noise_floor_rmse']:.3f}")
    return EXIT_OK


def cmd_ingest(args, config, run_id):
    from sparkmlops.ingest import ingest

    _print(ingest(_session(args, "ingest"), config, args.source, args.month))
    return EXIT_OK


def cmd_train(args, config, run_id):
    from sparkmlops import pipeline

    spark = _session(args, "train")
    ctx = _context(config, run_id)
    if config.run.dry_run:
        checks = pipeline.dry_run(spark, config, ctx)
        if args.checks_out:
            from sparkmlops.reports import write_json_atomic

            write_json_atomic(Path(args.checks_out), checks)
        _print({k: checks[k] for k in ("window", "rows")})
        return EXIT_OK
    report = pipeline.train(spark, config, ctx)
    print(summary_line(report))
    return EXIT_OK


def cmd_predict(args, config, run_id):
    from sparkmlops import pipeline

    report = pipeline.predict(_session(args, "predict"), config, _context(config, run_id))
    _print({k: report[k] for k in ("predictions_uri", "model_version", "prediction_stats", "post_predict_failures")})
    return EXIT_OK


def cmd_registry(args, config, run_id):
    from sparkmlops.registry import Registry

    registry = Registry(config.paths.registry, config.usecase)
    if args.action == "show":
        state = registry.state()
        _print({k: state.get(k) for k in ("usecase", "current", "candidate")} | {"decisions": len(state.get("history", []))})
    elif args.action == "history":
        for record in registry.history():
            print(f"{record.get('decided_at', '')}  {record.get('test_month', '-'):7}  {record.get('version', '-'):6}  "
                  f"{record['outcome']:12}  {record['reason']}")
    elif args.action == "rollback":
        with registry.lock(run_id):
            _print(registry.rollback(run_id, args.reason))
    else:
        if not args.force:
            raise UsageError("`registry promote` needs --force.", "It bypasses the promotion rule and the gates.", "Rerun with --force if that is what you want.")
        with registry.lock(run_id):
            _print(registry.promote_candidate(run_id, args.reason or "forced by an operator"))
    return EXIT_OK


def cmd_report(args, config, run_id):
    from sparkmlops import reports

    root = Path(config.paths.reports) / config.usecase
    if config.run.test_month:
        path = reports.report_path(config.paths.reports, config.usecase, config.run.test_month, args.kind)
    else:
        index = reports.read_json(root / "latest.json") or {}
        if args.kind not in index:
            raise UsageError(f"No {args.kind} report for {config.usecase} under {root}.", "", "Run train (or predict) first.")
        path = root / index[args.kind]["path"]
    document = reports.read_json(path)
    if document is None:
        raise UsageError(f"No report at {path}.", "", "Check --test-month and --reports-dir.")
    _print(document)
    return EXIT_OK


def cmd_gate(args, config, run_id):
    from sparkmlops import reports

    month = config.run.test_month
    if args.input:
        artifact = Path(args.input)
    elif args.stage == "pre_train" or not month:
        raise UsageError(f"The {args.stage} gate needs its artifact.", "pre_train checks a `train --dry-run --checks-out FILE` result; the others need --test-month.", "Pass --input FILE (and --test-month).")
    else:
        artifact = reports.report_path(config.paths.reports, config.usecase, month, "train" if args.stage == "post_train" else "predict")
    if not artifact.is_file():
        raise UsageError(f"The {args.stage} gate's artifact {artifact} does not exist.", "The gate checks what an earlier step wrote.", "Run that step first.")
    script = Path(__file__).resolve().parents[2] / "tests" / "gates" / f"test_{args.stage}.py"
    if not script.is_file():
        script = Path("tests") / "gates" / f"test_{args.stage}.py"
    env = {**os.environ, "SPARKMLOPS_GATE_ARTIFACT": str(artifact.resolve()), "SPARKMLOPS_GATE_USECASE": config.usecase}
    if args.config:
        env["SPARKMLOPS_GATE_CONFIG"] = str(Path(args.config).resolve())
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(script)], env=env)
    if result.returncode != 0:
        raise GateError(f"The {args.stage} gate failed for {config.usecase} ({artifact}).", "Its pytest output above names the failed checks.", "Fix the data or the model before this run goes further; nothing after the gate ran.")
    return EXIT_OK


def cmd_cluster(args, config, run_id):
    from sparkmlops import cluster

    run_dir = Path(args.run_dir)
    if args.action == "start":
        status = cluster.start(run_dir, workers=args.workers, cores=args.cores, memory=args.memory,
                               master_port=args.master_port, webui_port=args.webui_port)
        print(cluster.format_status(status))
    elif args.action == "stop":
        stopped = cluster.stop(run_dir)
        print(f"stopped {len(stopped)} process(es): {' '.join(map(str, stopped)) or '-'}")
    else:
        print(cluster.format_status(cluster.status(run_dir)))
    return EXIT_OK


def cmd_demo(args, config, run_id):
    from sparkmlops.datagen import GENERATORS, month_range
    from sparkmlops.pipeline import train
    from sparkmlops.window import shift_month

    spark = _session(args, "demo")
    last = config.run.test_month or "2023-06"
    first = shift_month(last, -5)
    GENERATORS[config.usecase](spark, config, month_range(f"{first}:{last}"), args.rows_per_month, args.seed)
    rows = []
    for test_month in (shift_month(last, -2), shift_month(last, -1), last):
        month_config = config_module.apply_overrides(config, {"run.test_month": test_month})
        rows.append(train(spark, month_config, _context(month_config, f"{run_id}-{test_month}")))
    print(demo_table(rows))
    return EXIT_OK


def summary_line(report: dict) -> str:
    decision = report.get("decision", {})
    metrics = report.get("metrics", {}).get("candidate", {}).get("overall", {})
    prefix = "already decided (rerun, nothing changed): " if report.get("rerun") else ""
    return (f"{report.get('window', {}).get('test_month')}: {prefix}{decision.get('reason')} "
            f"(candidate RMSE {metrics.get('rmse', float('nan')):.3f})")


def demo_table(reports: list[dict]) -> str:
    """One line per test month: rows, metrics of candidate and current, decision."""
    def fmt(value):
        return "-" if value is None else f"{value:.3f}"

    header = (f"{'month':7} {'read':>8} {'cleaned':>8} {'trained':>8}  {'RMSE cand/cur':>15} {'MAE cand/cur':>15} "
              f"{'R² cand/cur':>13}  decision")
    lines = [header, "-" * len(header)]
    for report in reports:
        rows = report["rows"]
        read = rows["train"]["rows_in"] + rows["test"]["rows_in"]
        cleaned = rows["train"]["rows_removed"] + rows["test"]["rows_removed"]
        cand = report["metrics"]["candidate"]["overall"]
        cur = (report["metrics"].get("current") or {}).get("overall", {})
        pair = lambda m: f"{fmt(cand.get(m))}/{fmt(cur.get(m))}"  # noqa: E731
        lines.append(f"{report['window']['test_month']:7} {read:>8} {cleaned:>8} {report['rows_trained_on']:>8}  "
                     f"{pair('rmse'):>15} {pair('mae'):>15} {pair('r2'):>13}  "
                     f"{'(rerun) ' if report.get('rerun') else ''}{report['decision']['reason']}")
    return "\n".join(lines)


COMMANDS = {
    "generate": cmd_generate, "ingest": cmd_ingest, "train": cmd_train, "predict": cmd_predict,
    "registry": cmd_registry, "report": cmd_report, "gate": cmd_gate, "demo": cmd_demo, "cluster": cmd_cluster,
}
WITHOUT_USECASE = {"cluster"}  # commands that need no use case config


def main(argv: Sequence[str] | None = None) -> int:
    """Parse, run one subcommand, map failures to exit codes. Returns the exit code."""
    from sparkmlops.pipeline import new_run_id

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse prints its own usage message
        return int(exit_.code or 0) and EXIT_USAGE
    run_id = new_run_id(args.usecase or "run")
    configure(run_id, args.log_format)
    error_text = ""
    try:
        config = None if args.command in WITHOUT_USECASE else load_config(args)
        code = COMMANDS[args.command](args, config, run_id)
    except SparkMlopsError as error:
        error_text = f"error: {error}"
        print(error_text, file=sys.stderr)
        code = error.exit_code
    except BaseException as error:  # unexpected (or interrupted): keep the traceback for whoever debugs it
        get_logger().exception("unexpected failure")
        error_text = (f"error: unexpected failure ({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}). "
                      "This is a bug or an environment problem; the traceback is in the log above.")
        print(error_text, file=sys.stderr)
        code = EXIT_OTHER
    if args.result_file:
        write_result(Path(args.result_file), args.command, run_id, code, error_text)
    return code


def write_result(path: Path, command: str, run_id: str, code: int, error_text: str) -> None:
    """The run's outcome marker: written last, atomically, whatever happened."""
    from datetime import datetime, timezone

    from sparkmlops.reports import write_json_atomic

    write_json_atomic(path, {
        "status": "success" if code == EXIT_OK else "failed", "exit_code": code, "command": command,
        "run_id": run_id, "error": error_text, "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    })


if __name__ == "__main__":
    sys.exit(main())
