"""The sequential chain: one pipeline, a production day, a simulated period, the demo.

Each day follows the plan of :mod:`fti.run.plan` (features, inference, monitoring when
due, training when asked for), one notebook at a time; with ``Options.features_ahead`` a
simulated period runs on two kernels instead (:mod:`fti.run.two_kernels`), with the same
results.

With ``Options.daily_figures`` False (``--no-daily-figures``) the daily feature and
inference runs get ``figures=False``: their figures become small tables. The backfill,
training and monitoring keep theirs; the stored results are the same.

Each notebook execution is a step of :mod:`fti.run.runs` with a stable name
(``2013-06-03/inference``); resuming a run folder skips the steps that are ``ok`` there,
with the options the run started with (:mod:`fti.run.resume`).
Notebooks talk only through the store and the registry; the one thing the chain reads
back is monitoring's retrain recommendation.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Any

from tqdm import tqdm

from fti.dates import check_range, days, last_labelled_day, parse_day
from fti.errors import FTIError, ParameterError
from fti.run.plan import (
    Chain,
    Options,
    champion_version,
    check_days,
    check_parameters,
    feature_parameters,
    inference_parameters,
    is_due,
    monitoring_parameters,
    setting,
    training_due,
    training_parameters,
    version_label,
)
from fti.run.resume import check, recorded
from fti.run.runs import (
    PipelineFailed,
    StepResult,
    new_run_dir,
    notebook_path,
    read_manifest,
    run_notebook,
    update_manifest,
)

__all__ = ["Options", "PipelineFailed", "StepResult", "demo", "run_day", "run_pipeline",
           "simulate"]

#: The demo: a backfilled history, then four weeks of production in the summer storms.
DEMO_HISTORY = ("2013-01-01", "2013-05-31")
DEMO_PRODUCTION = ("2013-06-01", "2013-06-28")


def _cycle(chain: Chain, day: dt.date, first_day: dt.date | None) -> list[StepResult]:
    """The production cycle of one day (see :mod:`fti.run.plan`)."""
    o, d = chain.options, day.isoformat()
    results = [chain.step(f"{d}/feature", "feature", feature_parameters(day, day, o)),
               chain.step(f"{d}/inference", "inference", inference_parameters(day, o))]
    monitored = is_due(day, first_day, o.monitor_every_days)
    if monitored:
        results.append(chain.step(f"{d}/monitoring", "monitoring", monitoring_parameters(day, o)))
    retrain, why = training_due(day, first_day, o, monitored)
    if retrain:
        results.append(chain.train(day, why))
    elif monitored:
        results.append(chain.skip(f"{d}/training", "training", why))
    return results


def _days(chain: Chain, start: dt.date, end: dt.date, first_day: dt.date | None
          ) -> list[StepResult]:
    depth = int(chain.options.features_ahead)
    with tqdm(total=(end - start).days + 1, unit="day", desc="days", file=sys.stderr) as bar:
        if depth > 0 and end > start:
            from fti.run.two_kernels import TwoKernels, kernels_for_two

            with kernels_for_two():
                return TwoKernels(chain, start, end, first_day, depth).run(bar)
        results: list[StepResult] = []
        for day in days(start, end):
            bar.set_postfix_str(day.isoformat())
            try:
                results += _cycle(chain, day, first_day)
            except PipelineFailed:
                chain.say(f"stopped on {day}. Fix the cause, then continue where it "
                          f"stopped with --resume --run-dir {chain.run_dir}")
                raise
            bar.update(1)
        return results


def _start(run_dir: Path, resume: bool, options: Options, **fields: Any) -> None:
    """Refuse to mix two runs in one folder by accident, or to resume one with other
    options than it started with; note what this run is (its options with their folders
    resolved, so that a resume uses the same ones)."""
    manifest = read_manifest(run_dir)
    if manifest["steps"] and not resume:
        raise FTIError(f"{run_dir} already holds a run ({len(manifest['steps'])} steps). Add "
                       f"--resume to continue it, or choose another --run-dir.")
    if resume and "options" in manifest:
        check(manifest["options"], recorded(options), run_dir)
    update_manifest(run_dir, options=recorded(options), **fields)


def run_day(day: str | dt.date, run_dir: Path, options: Options,
            first_day: str | dt.date | None = None, resume: bool = False) -> list[StepResult]:
    """The production cycle of ``day``. Without ``first_day`` (a lone day) monitoring runs;
    with it, monitoring and scheduled retraining follow the simulation's schedule."""
    day = parse_day(day, "day")
    first = parse_day(first_day, "first_day") if first_day else None
    check_days(day, day, options)
    manifest = read_manifest(run_dir)
    if resume and manifest.get("day", day.isoformat()) != day.isoformat():
        raise FTIError(f"{run_dir} holds the run of {manifest['day']}, not of {day}: resume "
                       f"it with that date, or run {day} in another --run-dir.")
    if resume and "options" in manifest:
        check(manifest["options"], recorded(options), run_dir)
    update_manifest(run_dir, kind="day", options=recorded(options), day=day.isoformat())
    return _cycle(Chain(run_dir, options, resume), day, first)


def simulate(start: str | dt.date, end: str | dt.date, run_dir: Path, options: Options,
             resume: bool = False) -> list[StepResult]:
    """Run the production cycle day by day; stop at the first failure (PipelineFailed).

    With ``resume`` the steps already ``ok`` in ``run_dir``'s manifest are not redone.
    """
    first, last = parse_day(start, "start"), parse_day(end, "end")
    check_range(first, last, "start", "end")
    check_days(first, last, options)
    _start(run_dir, resume, options, kind="simulate",
           simulation={"start": first.isoformat(), "end": last.isoformat()})
    chain = Chain(run_dir, options, resume)
    chain.say(f"simulating {first} to {last} into {chain.run_dir}")
    return _days(chain, first, last, first)


def demo(options: Options, run_dir: Path | None = None, resume: bool = False, *,
         history: tuple[str, str] = DEMO_HISTORY,
         production: tuple[str, str] = DEMO_PRODUCTION) -> Path:
    """The whole story in one command; returns the run folder.

    Backfill the store with January to May, train the first champion, then live through
    June 1 to 28, when the summer storms raise the delayed share from about .23 to .29:
    weekly monitoring should notice and ask for retraining, and a new model becomes
    champion only if it beats the old one on the same recent holdout. ``history`` and
    ``production`` change the two periods (the benchmarks replay June to December).
    """
    from fti.run.report import build_index

    run_dir = Path(run_dir) if run_dir else new_run_dir(options.reports_dir, "demo")
    hist = tuple(parse_day(d) for d in history)
    prod = tuple(parse_day(d) for d in production)
    check_range(*hist, "history start", "history end")
    check_range(*prod, "production start", "production end")
    labelled = last_labelled_day(hist[1], setting(options, "label_delay_days"))
    check_parameters("feature", feature_parameters(*hist, options))
    check_parameters("training", training_parameters(labelled, options))
    check_days(*prod, options)
    _start(run_dir, resume, options, kind="demo",
           simulation={"start": prod[0].isoformat(), "end": prod[1].isoformat()})
    chain = Chain(run_dir, options, resume)
    chain.say(f"demo run folder: {chain.run_dir}\ndata: {options.data_path}")
    if champion_version(options) is not None and not resume:
        chain.say("note: this data folder already has a champion; the demo adds to its "
                  "history. Use --data-dir with an empty folder for a fresh story.")
    span = f"{hist[0]}..{hist[1]}"
    chain.say(f"[1/4] backfill the feature store, {hist[0]} to {hist[1]} (one feature run)")
    chain.step(f"{span}/feature", "feature", feature_parameters(*hist, options))
    # the last day whose labels have arrived (the outcomes of hist[1] come a day later)
    chain.say(f"[2/4] train the first model on {setting(options, 'history_start')}..{labelled} "
              f"(labels up to then; {setting(options, 'holdout_days')}-day holdout)")
    chain.step(f"{span}/training", "training", training_parameters(labelled, options))
    chain.say(f"[3/4] production {prod[0]} to {prod[1]}: daily features and predictions, "
              f"monitoring every {options.monitor_every_days} days, retraining on demand")
    _days(chain, prod[0], prod[1], prod[0])
    index = build_index(options.reports_dir, options.data_dir)
    chain.say(f"[4/4] report: {index}  (champion now: {version_label(champion_version(options))})")
    return chain.run_dir


def run_pipeline(pipeline: str, parameters: dict[str, Any], run_dir: Path,
                 options: Options) -> StepResult:
    """Run one pipeline notebook with ``parameters`` (what ``fti run`` does).

    The notebook's ``data_dir``/``reports_dir``/``source_dir`` parameters get the options'
    folders unless ``parameters`` sets them; a parameter the notebook lacks is refused.
    """
    import papermill

    source = notebook_path(pipeline)
    declared = papermill.inspect_notebook(str(source))
    unknown = sorted(set(parameters) - set(declared))
    if unknown:
        raise ParameterError(f"{source.name} has no parameter {', '.join(unknown)}; its "
                             f"parameters are: {', '.join(declared) or 'none'}.")
    folders = {"data_dir": options.data_path, "reports_dir": options.reports_path}
    if options.source_dir:
        folders["source_dir"] = str(Path(options.source_dir).resolve())
    params = {k: v for k, v in folders.items() if k in declared} | dict(parameters)
    check_parameters(source.stem, params)
    taken = {s["name"] for s in read_manifest(run_dir)["steps"]}
    name, n = source.stem, 1
    while name in taken:
        n += 1
        name = f"{source.stem}-{n}"
    return run_notebook(source.stem, params, run_dir, name, export_html=options.export_html,
                        engine=options.engine)
