"""The plan of production days: which notebooks run, with which parameters, what is due.

A production day D runs, in order:

1. the feature pipeline for D (the day's schedule and weather, yesterday's labels);
2. the inference pipeline for D with the champion model;
3. the monitoring pipeline, when due (every ``monitor_every_days`` days counted from the
   simulation's first day);
4. the training pipeline (promote only if better) when monitoring recommends retraining
   for D, or every ``retrain_every_days`` days if that is set. It trains on the days up to
   the last one whose labels have arrived.

Both schedulers follow this plan: the sequential chain (:mod:`fti.run.orchestrate`) and
the two-kernel scheduler of long replays (:mod:`fti.run.two_kernels`). Each notebook
execution is a step with a stable name (``2013-06-03/inference``) run by :class:`Chain`.

Defaults have one home: a notebook parameter that :class:`Options` leaves at None is not
passed, so the notebook uses the default of its own ``parameters`` cell; where the runner
needs such a value itself (the label delay, the first training day, the model's name) it
reads that default from the notebook (:func:`notebook_defaults`).
"""

from __future__ import annotations

import ast
import datetime as dt
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tqdm import tqdm

from fti.dates import days, last_labelled_day
from fti.run.options import NOTEBOOK_PARAMETERS, Options
from fti.run.runs import (
    PIPELINES,
    StepResult,
    finished_steps,
    notebook_path,
    record_skipped,
    run_notebook,
)

_DEFAULTS: dict[tuple[Path, int], dict[str, Any]] = {}


def notebook_defaults(pipeline: str) -> dict[str, Any]:
    """The defaults of a pipeline notebook's ``parameters`` cell, as Python values.

    Read with papermill's own parser (what ``papermill --help-notebook`` shows), so the
    runner, the command line and the tests take every default from the one place a student
    sees and changes it.
    """
    path = notebook_path(pipeline)
    key = (path, path.stat().st_mtime_ns)
    if key not in _DEFAULTS:
        import papermill

        declared = papermill.inspect_notebook(str(path))
        _DEFAULTS[key] = {name: ast.literal_eval(spec["default"])
                          for name, spec in declared.items()}
    return dict(_DEFAULTS[key])


def setting(options: Options, name: str) -> Any:
    """An option's value: the one set, else the default of the notebook it belongs to."""
    value = getattr(options, name)
    if value is None and name in NOTEBOOK_PARAMETERS:
        parameter, pipelines = NOTEBOOK_PARAMETERS[name]
        return notebook_defaults(pipelines[0])[parameter]
    return value


def _given(options: Options, pipeline: str) -> dict[str, Any]:
    """The parameters of ``pipeline`` that the options set (the rest: notebook defaults)."""
    return {parameter: getattr(options, name)
            for name, (parameter, pipelines) in NOTEBOOK_PARAMETERS.items()
            if pipeline in pipelines and getattr(options, name) is not None}


# --- the parameters each pipeline gets -----------------------------------------------------
def feature_parameters(start: dt.date, end: dt.date, options: Options) -> dict[str, Any]:
    params: dict[str, Any] = {"start_date": start.isoformat(), "end_date": end.isoformat(),
                              "data_dir": options.data_path, **_given(options, "feature")}
    if options.source_dir:
        params["source_dir"] = str(Path(options.source_dir).resolve())
    if start == end and not options.daily_figures:
        params["figures"] = False
    return params


def training_parameters(end: dt.date, options: Options) -> dict[str, Any]:
    """Training on every labelled day from the history's start to ``end``; a new model
    becomes champion only if it beats the champion on the same holdout."""
    return {**_given(options, "training"), "train_start": str(setting(options, "history_start")),
            "train_end": end.isoformat(), "promote": "if_better", "data_dir": options.data_path}


def inference_parameters(day: dt.date, options: Options) -> dict[str, Any]:
    """Predictions for ``day`` (that day alone: a daily run) by the champion."""
    params = {"run_date": day.isoformat(), "days": 1, "model_alias": "champion",
              "model_version": 0, "data_dir": options.data_path, **_given(options, "inference")}
    if not options.daily_figures:
        params["figures"] = False
    return params


def monitoring_parameters(day: dt.date, options: Options) -> dict[str, Any]:
    return {"run_date": day.isoformat(), "data_dir": options.data_path,
            "reports_dir": options.reports_path, **_given(options, "monitoring")}


# --- checking before anything runs ---------------------------------------------------------
def _checks() -> dict[str, Callable[..., object]]:
    from fti import params

    return {"feature": params.feature_params, "training": params.training_params,
            "inference": params.inference_params, "monitoring": params.monitoring_params}


def check_parameters(pipeline: str, parameters: dict[str, Any]) -> None:
    """Refuse a step's parameters before anything runs: the notebook's defaults with
    ``parameters`` on top go through the check the notebook itself calls first.

    ``pipeline`` is a pipeline name ('inference') or a notebook stem; other notebooks than
    the four pipelines are not checked here.

    Raises:
        ParameterError: naming the notebook and the parameter; nothing has run.
    """
    from fti.errors import ParameterError

    stems = {stem: name for name, stem in PIPELINES.items()}
    check = _checks().get(stems.get(pipeline, pipeline))
    if check is None:  # a notebook that is not one of the four pipelines
        return
    try:
        check(**{**notebook_defaults(pipeline), **parameters})
    except ParameterError as exc:
        raise ParameterError(f"{notebook_path(pipeline).name}: {exc} Nothing was run.") from None


def check_days(start: dt.date, end: dt.date, options: Options) -> None:
    """Check the parameters of every step the days from ``start`` to ``end`` may run
    (monitoring and training included), before the first of them runs."""
    for day in days(start, end):
        check_parameters("feature", feature_parameters(day, day, options))
        check_parameters("inference", inference_parameters(day, options))
        check_parameters("monitoring", monitoring_parameters(day, options))
        check_parameters("training", training_parameters(training_end(day, options), options))


# --- what is due ---------------------------------------------------------------------------
def is_due(day: dt.date, first_day: dt.date | None, every_days: int) -> bool:
    """Every ``every_days`` days after ``first_day`` (not on it); always for a lone day."""
    if every_days <= 0:
        return False
    if first_day is None:
        return True
    since = (day - first_day).days
    return since > 0 and since % every_days == 0


def training_due(day: dt.date, first_day: dt.date | None, options: Options,
                 monitored: bool) -> tuple[bool, str]:
    """Whether the training pipeline runs on ``day``, and why (or why not).

    Monitoring's recommendation of the day (when it ran), else the retraining schedule.
    """
    retrain, why = False, ""
    if monitored:
        from fti.monitoring import decision
        from fti.store import FeatureStore

        retrain, why = decision(FeatureStore(options.data_path), day)
    if not retrain and is_due(day, first_day, options.retrain_every_days):
        retrain, why = True, f"scheduled retraining (every {options.retrain_every_days} days)"
    return retrain, why


def training_end(day: dt.date, options: Options) -> dt.date:
    """The last day a training run on ``day`` can use: the last one whose labels arrived."""
    return last_labelled_day(day, int(setting(options, "label_delay_days")))


def champion_version(options: Options) -> int | None:
    """The registry's current champion version, if any (for progress lines only)."""
    try:
        from fti.registry import ModelRegistry

        registry = ModelRegistry(options.data_path)
        version = registry.aliases(setting(options, "model_name")).get("champion")
        return None if version is None else int(version)
    except Exception:  # progress lines must never fail a run
        return None


def version_label(version: int | None) -> str:
    return "none" if version is None else f"v{version}"


# --- running the steps ---------------------------------------------------------------------
class Chain:
    """Steps run into one run folder; with resume, steps already ok there are reused."""

    def __init__(self, run_dir: Path, options: Options, resume: bool) -> None:
        self.run_dir = Path(run_dir).resolve()
        self.options = options
        self.done = finished_steps(self.run_dir) if resume else {}

    def say(self, text: str) -> None:
        tqdm.write(text, file=sys.stdout)

    def step(self, name: str, pipeline: str, parameters: dict[str, Any], note: str = "",
             on_start: Callable[[], object] | None = None) -> StepResult:
        if name in self.done:
            self.say(f"  {name:<32} ok      (done before, not redone)")
            if on_start is not None:
                on_start()
            return self.done[name]
        before = champion_version(self.options) if pipeline == "training" else None
        result = run_notebook(pipeline, parameters, self.run_dir, name,
                              export_html=self.options.export_html, note=note,
                              engine=self.options.engine, on_start=on_start)
        extra = note
        if pipeline == "training":
            after = champion_version(self.options)
            extra = f"champion: {version_label(after)}" + (
                "" if after == before else f" (was {version_label(before)})")
        self.say(f"  {name:<32} ok {result.duration_s:8.1f} s  {extra}".rstrip())
        return result

    def skip(self, name: str, pipeline: str, note: str) -> StepResult:
        self.say(f"  {name:<32} skipped     {note}")
        return record_skipped(self.run_dir, name, PIPELINES[pipeline], note)

    def train(self, day: dt.date, why: str) -> StepResult:
        """The training step of ``day``, on every labelled day up to then."""
        self.say(f"  {'':<32} -> {why}")
        return self.step(f"{day.isoformat()}/training", "training",
                         training_parameters(training_end(day, self.options), self.options),
                         note=why)
