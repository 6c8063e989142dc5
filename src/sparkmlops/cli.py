"""`sparkmlops …`: the one console script (also what jobs/*.py and run_pipeline.sh call).

Exit codes: 0 ok, 2 bad usage or config, 3 data missing or invalid, 4 gate failed,
5 a monitoring policy failed the run, 1 anything else. Expected failures print one paragraph (what, why, what to do).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap
import traceback
from pathlib import Path
from typing import Sequence

from sparkmlops import config as config_module
from sparkmlops.errors import EXIT_OK, EXIT_OTHER, EXIT_USAGE, GateError, SparkMlopsError, UsageError
from sparkmlops.logs import attach_log_file, configure, get_logger, log_file, write_to_log_file
from sparkmlops.tasks.catalog import display
from sparkmlops.window import parse_month, previous_complete_month

STAGES = ("pre_train", "post_train", "post_predict")


DESCRIPTION = """\
Monthly Spark ML retraining: read a month of data from the lake, train a candidate model,
score it and the current model on the same test month, promote the candidate when at
least 2 of 3 metrics improve, predict, and write JSON reports. Every subcommand works on
one use case (conf/usecases/NAME.yaml)."""

EPILOG = """\
examples:
  sparkmlops demo --usecase taxi_fare
  sparkmlops train --usecase taxi_fare --test-month 2023-06
  sparkmlops predict --usecase taxi_fare --test-month 2023-06
  sparkmlops train --help            (options of one subcommand)

exit codes: 0 ok, 2 bad usage or config, 3 data missing or invalid, 4 gate failed,
5 a monitoring policy failed the run (report and decision written), 1 anything else.
Spark's own log lines go to the run's log file next to its report (--verbose also shows
them here)."""

# subcommand -> (one line for the command list, what it does, one example)
SUBCOMMANDS = {
    "generate": (
        "write synthetic months with the real schema into the lake",
        "Write synthetic months for the use case into its lake (real column names, types and "
        "quirks, a known noise floor), one YYYY/MM folder per month plus _manifests/YYYY-MM.json.",
        "sparkmlops generate --usecase taxi_fare --months 2023-01:2023-06 --rows-per-month 50000",
    ),
    "ingest": (
        "put a real source (Parquet, CSV, an adapter's files) into its lake month(s)",
        "Check a source (data.source in the YAML: a Parquet or CSV file or folder, e.g. the TLC's "
        "yellow_tripdata_2023-01.parquet or weatherAUS.csv, or the files a source adapter reads, e.g. "
        "SECOM's), normalise column spelling and types as the use case's YAML describes, and write it "
        "to the lake: to one month with --month or a YYYY-MM in the file name, else split into months "
        "by the timestamp column (the months it covers are replaced). Nothing is written when the "
        "source is unusable.",
        "sparkmlops ingest --usecase rain_tomorrow --source weatherAUS.csv",
    ),
    "train": (
        "train, score candidate and current, decide, report",
        "Train a candidate on the train months, score it and the current model on the test "
        "month, promote it when the promotion rule and the post-train gate allow, and write "
        "reports/NAME/MONTH/train_report.json. Rerunning a decided month changes nothing.",
        "sparkmlops train --usecase taxi_fare --test-month 2023-06 --skip-missing",
    ),
    "predict": (
        "score a month with the current model and write predictions",
        "Score the test month with the current model and write the predictions to "
        "<lake root>/predictions/NAME/YYYY/MM/ and reports/NAME/MONTH/predict_report.json.",
        "sparkmlops predict --usecase taxi_fare --test-month 2023-06",
    ),
    "registry": (
        "show | history | rollback | promote --force",
        "Inspect or operate the model registry: show the current and candidate models, list "
        "every decision, roll back to the previous current model, or force a promotion.",
        "sparkmlops registry history --usecase taxi_fare",
    ),
    "report": (
        "print a report as JSON, or render the HTML report",
        "json (default): print a train or predict report, the latest one or the test month's with "
        "--test-month. html: render every month of the use case (up to --test-month) into one "
        "self-contained HTML file, by default reports/NAME/MONTH/report.html next to the newest "
        "month's reports, and refresh reports/index.html (all use cases).",
        "sparkmlops report html --usecase taxi_fare",
    ),
    "dashboard": (
        "start the read-only dashboard on 127.0.0.1",
        "Start a read-only Streamlit app over the reports, the registry and the lake: pick a use "
        "case and a month; the views of the HTML report plus a sample of the month's predictions, "
        "largest errors first. Needs the dashboard extra (pip install 'sparkmlops[dashboard]').",
        "sparkmlops dashboard --port 8501",
    ),
    "gate": (
        "run a gate's checks on a run's artifact",
        "Run one gate (a pytest script under tests/gates) on what a step wrote: pre_train on a "
        "`train --dry-run --checks-out FILE` result, post_train and post_predict on the month's reports.",
        "sparkmlops gate --usecase taxi_fare --stage post_train --test-month 2023-06",
    ),
    "cluster": (
        "start | stop | status of a local Spark standalone cluster",
        "Start, stop or inspect a Spark standalone cluster (one master and N workers on "
        "127.0.0.1) whose pid files and logs live in --run-dir. No --usecase needed.",
        "sparkmlops cluster start --workers 2 --memory 2g",
    ),
    "demo": (
        "generate a small lake and run three months (the quick start)",
        "Generate six months of synthetic data for the use case and train three consecutive "
        "test months, then print one line per month.",
        "sparkmlops demo --usecase taxi_fare --rows-per-month 30000",
    ),
}


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the descriptions' line breaks and gives options room to breathe."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=34, width=100)


def _common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("options every subcommand takes")
    group.add_argument("--usecase", metavar="NAME", help="use case: conf/usecases/NAME.yaml (e.g. taxi_fare)")
    group.add_argument("--config", metavar="FILE", help="a use case YAML to use instead of conf/usecases/NAME.yaml")
    group.add_argument("--test-month", metavar="YYYY-MM", help="the month to score (default: the previous complete month)")
    group.add_argument("--train-months", metavar="A,B,C",
                       help="comma-separated train months (default: the window.train_months months before the test month)")
    group.add_argument("--model-registry-path", metavar="PATH", help="registry root (default: paths.registry in the YAML)")
    group.add_argument("--data-base-path", metavar="PATH",
                       help="lake root of the use case: folder, file:// or s3a:// (default: data.base_path in the YAML)")
    group.add_argument("--reports-dir", metavar="PATH", help="reports root (default: paths.reports in the YAML)")
    group.add_argument("--dry-run", action="store_true", help="check window, schema and cleaning; train and write nothing")
    group.add_argument("--skip-missing", action="store_true",
                       help="train on the available months of the window (at least 2) instead of stopping")
    group.add_argument("--master", metavar="URL", help="Spark master, e.g. spark://127.0.0.1:7077 (default: spark-submit's, else local[*])")
    group.add_argument("--log-format", choices=("text", "json"), default="text",
                       help="json: JSON lines, each with the run id (default: text)")
    group.add_argument("--verbose", action="store_true",
                       help="also show Spark's own log lines and tracebacks here (they always go to the run's log file)")
    group.add_argument("--result-file", metavar="FILE",
                       help="write the outcome (status, exit code, error, run id) here as JSON when the command ends")
    tracking = group.add_mutually_exclusive_group()
    tracking.add_argument("--tracking-uri", metavar="URI",
                          help="MLflow tracking server or store, e.g. http://mlflow:5000 (default: $MLFLOW_TRACKING_URI, "
                               "else paths.tracking in the YAML: a local sqlite store under mlruns/)")
    tracking.add_argument("--no-tracking", action="store_true", help="log nothing to MLflow (also: SPARKMLOPS_TRACKING=off)")
    return common


def _subcommand(sub, name: str, common: argparse.ArgumentParser) -> argparse.ArgumentParser:
    summary, description, example = SUBCOMMANDS[name]
    return sub.add_parser(name, parents=[common], help=summary, description=textwrap.fill(description, 92, break_on_hyphens=False),
                          epilog=f"example:\n  {example}", formatter_class=_HelpFormatter)


def build_parser() -> argparse.ArgumentParser:
    common = _common_options()
    parser = argparse.ArgumentParser(prog="sparkmlops", description=DESCRIPTION, epilog=EPILOG, formatter_class=_HelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="SUBCOMMAND", title="subcommands")

    gen = _subcommand(sub, "generate", common)
    gen.add_argument("--months", required=True, metavar="A:B", help="YYYY-MM:YYYY-MM (both included) or one YYYY-MM")
    gen.add_argument("--rows-per-month", type=int, default=50_000, metavar="N", help="rows per month (default: 50000)")
    gen.add_argument("--seed", type=int, default=7, help="random seed (default: 7)")

    ing = _subcommand(sub, "ingest", common)
    ing.add_argument("--source", required=True, metavar="PATH",
                     help="a Parquet or CSV file or folder (data.source.format), or an adapter's folder; local or s3a://")
    ing.add_argument("--month", metavar="YYYY-MM",
                     help="write everything to this month (default: the YYYY-MM in the file name; "
                          "without one, split into months by the timestamp column)")

    train = _subcommand(sub, "train", common)
    train.add_argument("--force", action="store_true", help="promote the candidate whatever the metrics and gates say")
    train.add_argument("--checks-out", metavar="FILE", help="with --dry-run: write the input checks as JSON to this file")

    _subcommand(sub, "predict", common)

    reg = _subcommand(sub, "registry", common)
    reg.add_argument("action", choices=("show", "history", "rollback", "promote"), help="what to do")
    reg.add_argument("--force", action="store_true", help="required by promote: it bypasses the rule and the gates")
    reg.add_argument("--reason", default="", help="recorded with rollback / promote")

    rep = _subcommand(sub, "report", common)
    rep.add_argument("format", nargs="?", choices=("json", "html"), default="json",
                     help="json: print one report (default); html: render the use case's HTML report")
    rep.add_argument("--kind", choices=("train", "predict"), default="train", help="json: which report (default: train)")
    rep.add_argument("--out", metavar="FILE", help="html: where to write it (default: reports/NAME/<newest month>/report.html)")

    dash = _subcommand(sub, "dashboard", common)
    dash.add_argument("--port", type=int, default=8501, help="port (default: 8501)")
    dash.add_argument("--host", default="127.0.0.1",
                      help="address to listen on (default: 127.0.0.1); the docker image uses 0.0.0.0 inside its container")

    gate = _subcommand(sub, "gate", common)
    gate.add_argument("--stage", choices=STAGES, required=True, help="which gate")
    gate.add_argument("--input", metavar="FILE", help="artifact to check (default: the month's report; required for pre_train)")

    cluster = _subcommand(sub, "cluster", common)
    cluster.add_argument("action", choices=("start", "stop", "status"), help="what to do")
    cluster.add_argument("--run-dir", default="runs/cluster", metavar="DIR", help="pid files, logs and work dirs (default: runs/cluster)")
    cluster.add_argument("--workers", type=int, default=2, help="number of workers (default: 2)")
    cluster.add_argument("--cores", type=int, default=1, help="cores per worker (default: 1)")
    cluster.add_argument("--memory", default="2g", help="memory per worker (default: 2g)")
    cluster.add_argument("--master-port", type=int, default=7077, metavar="PORT", help="master RPC port (default: 7077)")
    cluster.add_argument("--webui-port", type=int, default=8080, metavar="PORT",
                         help="master web UI port; worker i uses PORT+i (default: 8080)")

    demo = _subcommand(sub, "demo", common)
    demo.add_argument("--rows-per-month", type=int, default=30_000, metavar="N", help="rows per month (default: 30000)")
    demo.add_argument("--seed", type=int, default=7, help="random seed (default: 7)")
    return parser


def load_config(args: argparse.Namespace) -> config_module.UsecaseConfig:
    """YAML, then command-line overrides (re-validated)."""
    config = config_module.load(args.usecase, args.config)
    train_months = None
    if args.train_months:
        train_months = [parse_month(m.strip(), "--train-months") for m in args.train_months.split(",") if m.strip()]
    test_month = parse_month(args.test_month) if args.test_month else None
    config = config_module.apply_overrides(config, {
        "data.base_path": args.data_base_path,
        "paths.registry": args.model_registry_path,
        "paths.reports": args.reports_dir,
        "window.strict": False if args.skip_missing else None,
        "run.test_month": test_month,
        "run.train_months": train_months,
        "run.dry_run": args.dry_run or None,
        "run.force": getattr(args, "force", False) or None,
    })
    return with_tracking_choice(config, "off" if args.no_tracking else args.tracking_uri)


def with_tracking_choice(config: config_module.UsecaseConfig, choice: str | None) -> config_module.UsecaseConfig:
    """``run.tracking`` from the command line; the report's config_overrides shows the URI without credentials."""
    if choice is None:
        return config
    from sparkmlops.tracking.settings import redact_uri

    return config.model_copy(update={"run": config.run.model_copy(update={"tracking": choice}),
                                     "overrides": {**config.overrides, "run.tracking": redact_uri(choice)}})


def _context(config: config_module.UsecaseConfig, run_id: str):
    from sparkmlops.pipeline import RunContext, code_version

    return RunContext(run_id, config.paths.registry, config.paths.reports, code_version())


def run_log_path(config: config_module.UsecaseConfig, command: str) -> Path:
    """The run's log file: next to the month's report for train / predict, else under ``logs/``."""
    from sparkmlops.reports import month_dir

    if command in ("train", "predict"):
        month = config.run.test_month or previous_complete_month()
        name = f"{command}-dry-run" if config.run.dry_run else command
        return month_dir(config.paths.reports, config.usecase, month) / f"{name}.log"
    return Path(config.paths.reports) / config.usecase / "logs" / f"{command}.log"


def _session(args: argparse.Namespace, config: config_module.UsecaseConfig, run_id: str):
    """The SparkSession of this command, with Spark's log lines going to the run's log file."""
    from sparkmlops.session import build_session

    log_file = attach_log_file(run_log_path(config, args.command), run_id, args.log_format)
    return build_session(f"sparkmlops-{args.command}", master=args.master, log_file=log_file, verbose=args.verbose)


def _print(document: dict) -> None:
    print(json.dumps(document, indent=2, default=str, ensure_ascii=False))


def cmd_generate(args, config, run_id):
    from sparkmlops.datagen import generator_module, month_range

    generator = generator_module(config.data.generator, config.usecase)
    if args.rows_per_month < 100:
        raise UsageError(f"--rows-per-month {args.rows_per_month} is too small.", "Cleaning and metrics need at least 100 rows.", "Pass 100 or more.")
    manifest = generator.generate(_session(args, config, run_id), config, month_range(args.months), args.rows_per_month, args.seed)
    for month, info in manifest["months"].items():
        best = ", ".join(f"{display(name)} {_metric_text(value)}" for name, value in info.get("best_possible", {}).items())
        print(f"{month}: {info['rows']} rows" + (f", best possible {best}" if best else ""))
    return EXIT_OK


def cmd_ingest(args, config, run_id):
    from sparkmlops.ingest import ingest

    _print(ingest(_session(args, config, run_id), config, args.source, args.month))
    return EXIT_OK


def cmd_train(args, config, run_id):
    from sparkmlops import pipeline

    spark = _session(args, config, run_id)
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

    report = pipeline.predict(_session(args, config, run_id), config, _context(config, run_id))
    _print({k: report[k] for k in ("predictions_uri", "model_version", "prediction_stats", "post_predict_failures")})
    return EXIT_OK


def cmd_registry(args, config, run_id):
    from sparkmlops import tracking
    from sparkmlops.registry import Registry

    registry = Registry(config.paths.registry, config.usecase)
    if args.action == "show":
        state = registry.state()
        _print({k: state.get(k) for k in ("usecase", "current", "candidate")} | {"decisions": len(state.get("history", []))})
    elif args.action == "history":
        for record in registry.history():
            print(f"{record.get('decided_at', '')}  {record.get('test_month', '-'):7}  {record.get('version', '-'):6}  "
                  f"{record['outcome']:15}  {record['reason']}")
    elif args.action == "rollback":
        with registry.lock(run_id):
            _print(registry.rollback(run_id, args.reason))
            tracking.sync_registry(config, registry)  # MLflow aliases follow the JSON registry
    else:
        if not args.force:
            raise UsageError("`registry promote` needs --force.", "It bypasses the promotion rule and the gates.", "Rerun with --force if that is what you want.")
        with registry.lock(run_id):
            _print(registry.promote_candidate(run_id, args.reason or "forced by an operator"))
            tracking.sync_registry(config, registry)
    return EXIT_OK


def cmd_report(args, config, run_id):
    from sparkmlops import reports
    from sparkmlops.reporting import contract

    if args.format == "html":
        from sparkmlops.reporting import html_report as html

        path = html.write_usecase(config.paths.reports, config.usecase, config.paths.registry, args.out, config.run.test_month)
        print(f"wrote {path} and {Path(config.paths.reports) / html.INDEX_FILE}")
        return EXIT_OK
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
    contract.parse(args.kind, document, path)  # an unreadable schema is refused, not printed as if fine
    _print(document)
    return EXIT_OK


def cmd_dashboard(args, config, run_id):
    from sparkmlops.reporting import dashboard

    reports_dir = args.reports_dir or (config.paths.reports if config else "reports")
    registry = args.model_registry_path or (config.paths.registry if config else "registry")
    return dashboard.serve(reports_dir, registry, args.port, args.usecase, args.host)


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
    from sparkmlops.datagen import generator_module, month_range
    from sparkmlops.pipeline import train
    from sparkmlops.window import shift_month

    generator = generator_module(config.data.generator, config.usecase)
    spark = _session(args, config, run_id)
    last = config.run.test_month or "2023-06"
    first = shift_month(last, -(config.window.train_months + 2))  # a full window before each of 3 test months
    generator.generate(spark, config, month_range(f"{first}:{last}"), args.rows_per_month, args.seed)
    rows = []
    for test_month in (shift_month(last, -2), shift_month(last, -1), last):
        month_config = config_module.apply_overrides(config, {"run.test_month": test_month})
        rows.append(train(spark, month_config, _context(month_config, f"{run_id}-{test_month}")))
    print(demo_table(rows))
    from sparkmlops.reporting import html_report

    page = html_report.write_usecase(config.paths.reports, config.usecase, config.paths.registry, until=last)
    print(f"\nHTML report: {page} (open it in a browser)\n"
          f"dashboard:   .venv/bin/sparkmlops dashboard  (then http://127.0.0.1:8501)")
    return EXIT_OK


def _metric_text(value) -> str:
    return "-" if value is None or value != value else f"{value:.3f}"  # value != value: NaN


def summary_line(report: dict) -> str:
    """``2023-06: <decision reason> (candidate RMSE 4.021, MAE 1.834, R² 0.971)`` — the promotion metrics."""
    decision = report.get("decision", {})
    overall = report.get("metrics", {}).get("candidate", {}).get("overall", {})
    metrics = ", ".join(f"{display(m)} {_metric_text(overall.get(m))}" for m in report.get("promotion_metrics", []))
    prefix = "already decided (rerun, nothing changed): " if report.get("rerun") else ""
    line = f"{report.get('window', {}).get('test_month')}: {prefix}{decision.get('reason')}"
    return line + (f" (candidate {metrics})" if metrics else "")


def demo_table(reports: list[dict]) -> str:
    """One line per test month: rows, the promotion metrics of candidate and current, decision."""
    metrics = reports[0].get("promotion_metrics", []) if reports else []
    header = f"{'month':7} {'read':>8} {'cleaned':>8} {'trained':>8}  " + " ".join(
        f"{display(m) + ' cand/cur':>17}" for m in metrics) + "  decision"
    lines = [header, "-" * len(header)]
    for report in reports:
        rows = report["rows"]
        read = rows["train"]["rows_in"] + rows["test"]["rows_in"]
        cleaned = rows["train"]["rows_removed"] + rows["test"]["rows_removed"]
        cand = report["metrics"]["candidate"]["overall"]
        cur = (report["metrics"].get("current") or {}).get("overall", {})
        pairs = " ".join(f"{_metric_text(cand.get(m)) + '/' + _metric_text(cur.get(m)):>17}" for m in metrics)
        lines.append(f"{report['window']['test_month']:7} {read:>8} {cleaned:>8} {report['rows_trained_on']:>8}  {pairs}  "
                     f"{'(rerun) ' if report.get('rerun') else ''}{report['decision']['reason']}")
    return "\n".join(lines)


COMMANDS = {
    "generate": cmd_generate, "ingest": cmd_ingest, "train": cmd_train, "predict": cmd_predict,
    "registry": cmd_registry, "report": cmd_report, "gate": cmd_gate, "demo": cmd_demo, "cluster": cmd_cluster,
    "dashboard": cmd_dashboard,
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
    configure(run_id, args.log_format, args.verbose)
    error_text = ""
    try:
        needs_config = args.command not in WITHOUT_USECASE and (args.command != "dashboard" or args.usecase)
        config = load_config(args) if needs_config else None
        code = COMMANDS[args.command](args, config, run_id)
    except SparkMlopsError as error:
        error_text = f"error: {error}"
        print(error_text, file=sys.stderr)
        write_to_log_file(error_text)  # so the run's log file says why it stopped
        code = error.exit_code
    except BaseException as error:  # unexpected (or interrupted): the traceback goes to the run's log file
        known = known_failure(error)
        if known is not None:
            error_text = f"error: {known}"
            print(error_text, file=sys.stderr)
            write_to_log_file(error_text)
            code = known.exit_code
        else:
            get_logger().exception("unexpected failure")
            if log_file() is None:  # failed before the run had a log file: the traceback must go somewhere
                traceback.print_exc(file=sys.stderr)
            where = f"in {log_file()}" if log_file() else "above"
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
            error_text = (f"error: unexpected failure ({type(error).__name__}: {first_line}). This is a bug or an "
                          f"environment problem; the traceback is {where}. Rerun with --verbose to see it here.")
            print(error_text, file=sys.stderr)
            code = EXIT_OTHER
    if args.result_file:
        write_result(Path(args.result_file), args.command, run_id, code, error_text)
    return code


def known_failure(error: BaseException) -> SparkMlopsError | None:
    """An expected failure that surfaced as a raw Spark/Java error (e.g. no S3A connector), or None."""
    from sparkmlops.spark_install import missing_connector_error

    return missing_connector_error(error) if isinstance(error, Exception) else None


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
