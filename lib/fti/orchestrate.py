"""The chain of pipelines: one pipeline, a production day, a simulated period, the demo.

A production day D runs, in order:

1. the feature pipeline for D (the day's schedule and weather, yesterday's labels);
2. the inference pipeline for D with the champion model;
3. the monitoring pipeline, when due (every ``monitor_every_days`` days counted from the
   simulation's first day, once a full week of predictions lies behind it);
4. the training pipeline (promote only if better) when monitoring recommends retraining
   for D, or every ``retrain_every_days`` days if that is set.

With ``Options.features_ahead`` = N (``--features-ahead N``) a simulated period runs on two
kernels, each step starting as soon as everything it reads is final (:class:`_TwoKernels`):
a second thread with a kernel of its own runs the feature pipelines in day order, up to N
days ahead, and shares the inference runs with the main thread between monitoring days;
monitoring of D runs beside the inference of D; a training run gets both cores. The
results do not change: a feature run reads only the raw source, and the feature run of
D + k writes the partitions of D + k and the labels of D + k - 1, which no step of day D
reads (inference reads the days up to D, monitoring and training the days up to D - 1;
every read is a range of days); inference of D waits for every decision before D, so it
uses the champion a run of one notebook at a time would use. It pays with a free core and
costs a second kernel's memory (see docs/performance.md).

With ``Options.daily_figures`` False (``--no-daily-figures``) the daily feature and
inference runs get ``figures=False``: their figures become small tables. The backfill,
training and monitoring keep theirs; the stored results are the same.

Each notebook execution is a step of :mod:`fti.runs` with a stable name
(``2013-06-03/inference``); resuming a run folder skips the steps that are ``ok`` there.
Notebooks talk only through the store and the registry; the one thing the chain reads
back is monitoring's retrain recommendation.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sys
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from fti import config
from fti.dates import check_range, days, parse_day
from fti.errors import FTIError, ParameterError
from fti.runs import (
    PIPELINES,
    PipelineFailed,
    StepResult,
    finished_steps,
    new_run_dir,
    notebook_path,
    read_manifest,
    record_skipped,
    run_notebook,
    update_manifest,
)

__all__ = ["Options", "PipelineFailed", "StepResult", "demo", "run_day", "run_notebook",
           "run_pipeline", "simulate"]

#: The demo: a backfilled history, then four weeks of production in the summer storms.
DEMO_HISTORY = ("2013-01-01", "2013-05-31")
DEMO_PRODUCTION = ("2013-06-01", "2013-06-28")


@dataclass(frozen=True)
class Options:
    """Settings of the chain; empty paths mean the defaults of :mod:`fti.config`."""

    data_dir: str = ""
    reports_dir: str = ""
    source_dir: str = ""
    model_name: str = "flight_delay"
    threshold: float = 0.5
    window_days: int = 7
    monitor_every_days: int = 7  # 0: never
    retrain_every_days: int = 0  # 0: only when monitoring recommends it
    history_start: str = config.FIRST_DAY  # first day of every training range
    holdout_days: int = 14
    label_delay_days: int = 1
    inject_fault: str = ""  # '' = none; else a kind fti.source.FAULTS knows
    fault_start: str = ""  # '' = the feature notebook's default
    export_html: bool = True
    engine: str = "warm"  # "warm": one kernel reused, reset per notebook; "papermill": plain
    features_ahead: int = 0  # N > 0: two kernels, features up to N days ahead
    daily_figures: bool = True  # False: daily feature and inference runs show tables instead

    @property
    def data_path(self) -> str:
        """The data root, absolute: passed to every notebook, so none falls back to data/."""
        return str(config.data_root(self.data_dir))

    @property
    def reports_path(self) -> str:
        return str(config.reports_root(self.reports_dir))


# --- the parameters each pipeline gets -----------------------------------------------------
def feature_parameters(start: dt.date, end: dt.date, options: Options) -> dict[str, Any]:
    params: dict[str, Any] = {
        "start_date": start.isoformat(), "end_date": end.isoformat(),
        "label_delay_days": options.label_delay_days, "data_dir": options.data_path,
        "source_dir": str(Path(options.source_dir).resolve()) if options.source_dir else "",
        "inject_fault": options.inject_fault,
    }
    if options.fault_start:
        params["fault_start"] = options.fault_start
    if start == end and not options.daily_figures:
        params["figures"] = False
    return params


def training_parameters(start: dt.date, end: dt.date, options: Options) -> dict[str, Any]:
    return {"train_start": start.isoformat(), "train_end": end.isoformat(),
            "holdout_days": options.holdout_days, "model_name": options.model_name,
            "promote": "if_better", "data_dir": options.data_path}


def inference_parameters(day: dt.date, options: Options) -> dict[str, Any]:
    params = {"run_date": day.isoformat(), "model_name": options.model_name,
              "model_alias": "champion", "model_version": 0, "threshold": options.threshold,
              "data_dir": options.data_path}
    if not options.daily_figures:
        params["figures"] = False
    return params


def monitoring_parameters(day: dt.date, options: Options) -> dict[str, Any]:
    return {"run_date": day.isoformat(), "window_days": options.window_days,
            "model_name": options.model_name, "data_dir": options.data_path,
            "reports_dir": options.reports_path}


# --- decisions -----------------------------------------------------------------------------
def is_due(day: dt.date, first_day: dt.date | None, every_days: int) -> bool:
    """Every ``every_days`` days after ``first_day`` (not on it); always for a lone day."""
    if every_days <= 0:
        return False
    if first_day is None:
        return True
    since = (day - first_day).days
    return since > 0 and since % every_days == 0


def read_monitoring_history(data_dir: str) -> Any:
    """Monitoring's results, one row per run date (a DataFrame; see fti.monitoring)."""
    from fti.monitoring import read_history
    from fti.store import FeatureStore

    return read_history(FeatureStore(config.data_root(data_dir)))


def retrain_decision(day: dt.date, options: Options) -> tuple[bool, str]:
    """Whether monitoring's row for ``day`` recommends retraining, and its reasons."""
    history = read_monitoring_history(options.data_dir)
    if history is None or "run_date" not in getattr(history, "columns", ()):
        return False, "monitoring has no results yet"
    rows = history[history["run_date"].astype(str) == day.isoformat()]
    if rows.empty:
        return False, f"monitoring wrote no result for {day}"
    row = rows.iloc[-1]
    reasons = str(row.get("reasons", "") or "").strip()
    if bool(row["retrain_recommended"]):
        return True, "monitoring recommends retraining" + (f": {reasons}" if reasons else "")
    return False, "monitoring sees no need to retrain" + (f" ({reasons})" if reasons else "")


def champion_version(options: Options) -> int | None:
    """The registry's current champion version, if any (for progress lines only)."""
    try:
        from fti.registry import ModelRegistry

        version = ModelRegistry(options.data_path).aliases(options.model_name).get("champion")
        return None if version is None else int(version)
    except Exception:  # progress lines must never fail a run
        return None


def _v(version: int | None) -> str:
    return "none" if version is None else f"v{version}"


# --- the chain -----------------------------------------------------------------------------
class _Chain:
    """Steps run one after another into one run folder; with resume, ok steps are reused."""

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
            extra = f"champion: {_v(after)}" + ("" if after == before else f" (was {_v(before)})")
        self.say(f"  {name:<32} ok {result.duration_s:8.1f} s  {extra}".rstrip())
        return result

    def skip(self, name: str, pipeline: str, note: str) -> StepResult:
        self.say(f"  {name:<32} skipped     {note}")
        return record_skipped(self.run_dir, name, PIPELINES[pipeline], note)


class _TwoKernels:
    """The days of a simulation on two kernels, each step as soon as what it reads is final.

    The main thread runs monitoring, training and inference; a second thread, with a kernel
    of its own, runs the feature pipelines (in day order, at most ``depth`` days ahead of
    the latest inference started) and inference. A step starts when the steps it depends
    on have finished, which gives the same results as running the days one after another
    (see the module docstring for what each step reads):

    - feature(D): the feature run of D - 1 (one at a time, in order);
    - inference(D): feature(D), and every monitoring and training decision of the days
      before D (so it uses the champion a sequential run would use);
    - monitoring(D): feature(D) (the labels of D - 1), inference of every day before D,
      and the decisions before D;
    - training(D): monitoring(D) asked for it (or it is scheduled), feature(D) and
      inference(D) (which must still see the old champion).

    Between two monitoring days the inference runs depend only on their features, so both
    kernels share them. A training run gets both cores: the second thread starts nothing
    while it runs, and the training notebook gets two OpenMP threads instead of one (the
    models are the same). At the first failure no new step starts; the steps under way
    finish (and are recorded), then the failure is raised.
    """

    ORDER = {"feature": 0, "inference": 1, "monitoring": 2, "training": 3}

    def __init__(self, chain: _Chain, start: dt.date, end: dt.date,
                 first_day: dt.date | None, depth: int) -> None:
        o = chain.options
        self.chain, self.start, self.end, self.depth = chain, start, end, max(1, depth)
        self.days = list(days(start, end))
        self.cond = threading.Condition()
        self.feature_next = start  # the next day whose feature run may start
        self.featured = start - dt.timedelta(days=1)  # feature runs done up to this day
        self.feature_running = False
        self.inferred: set[dt.date] = set()  # finished
        self.inferring: set[dt.date] = set()  # started
        self.latest_inference = start - dt.timedelta(days=1)  # the latest day started
        # the days whose champion may change: monitoring or scheduled retraining is due
        self.monitor = {d for d in self.days if is_due(d, first_day, o.monitor_every_days)}
        scheduled = {d for d in self.days if is_due(d, first_day, o.retrain_every_days)}
        self.undecided = sorted(self.monitor | scheduled)  # decisions not yet final
        self.monitoring_started: set[dt.date] = set()
        self.train: dict[dt.date, str] = {}  # training wanted (day -> why), not yet started
        for d in scheduled - self.monitor:
            self.train[d] = f"scheduled retraining (every {o.retrain_every_days} days)"
        self.scheduled = scheduled
        self.busy = {"main": False, "second": False}
        self.training = False  # a training run holds both cores
        self.failure: tuple[dt.date, BaseException] | None = None  # the earliest
        self.results: dict[str, StepResult] = {}
        self.bar: Any = None

    # --- what may start ------------------------------------------------------------------
    def _open(self, day: dt.date) -> bool:
        """Whether a step of ``day`` may start: after a failure, only the days before it."""
        return self.failure is None or day < self.failure[0]

    def _decided_before(self, day: dt.date) -> bool:
        return not self.undecided or self.undecided[0] >= day

    def _inference_ready(self) -> dt.date | None:
        day = next((d for d in self.days if d not in self.inferring), None)
        if day is None or day > self.featured or not self._open(day):
            return None
        return day if self._decided_before(day) else None

    def _feature_ready(self) -> bool:
        day = self.feature_next
        return (not self.feature_running and day <= self.end and self._open(day)
                and day <= self.latest_inference + dt.timedelta(days=self.depth))

    def _next(self, role: str) -> tuple[str, dt.date] | None:
        """The step ``role`` ("main" or "second") should start now, if any."""
        if role == "main":
            for day in sorted(self.train):
                if (day in self.inferred and day <= self.featured and self._open(day)
                        and self._decided_before(day)):
                    return "training", day
            pending = sorted(self.monitor - self.monitoring_started)
            if pending:  # monitoring runs in day order
                day = pending[0]
                if (day <= self.featured and self._open(day) and self._decided_before(day)
                        and all(d in self.inferred for d in self.days if d < day)):
                    return "monitoring", day
            day = self._inference_ready()
            return ("inference", day) if day is not None else None
        if self.training:  # a training run has (or is waiting for) both cores
            return None
        first_open = next((d for d in self.days if d not in self.inferring), self.end)
        if self._feature_ready() and self.feature_next <= first_open + dt.timedelta(days=1):
            return "feature", self.feature_next  # needed next: before helping with inference
        day = self._inference_ready()
        if day is not None:
            return "inference", day
        return ("feature", self.feature_next) if self._feature_ready() else None

    def _take(self, role: str) -> tuple[str, dt.date] | None:
        """Wait for a step this thread may start and mark it started; None when nothing is
        left for either thread (every step done, or stopped by a failure)."""
        with self.cond:
            while True:
                if role == "main":
                    self.training = False  # main runs nothing while it is here
                task = self._next(role)
                if task is not None and task[0] == "training" and self.busy["second"]:
                    self.training = True  # the second thread starts nothing more; wait
                    task = None
                if task is not None:
                    kind, day = task
                    self.busy[role] = True
                    if kind == "feature":
                        self.feature_running, self.feature_next = True, day + dt.timedelta(1)
                    elif kind == "inference":
                        self.inferring.add(day)
                        self.latest_inference = max(self.latest_inference, day)
                    elif kind == "monitoring":
                        self.monitoring_started.add(day)
                    else:
                        self.training = True
                    return task
                if (not any(self.busy.values()) and self._next("main") is None
                        and self._next("second") is None):
                    self.cond.notify_all()  # nothing will become ready: both threads end
                    return None
                self.cond.wait()

    # --- running a step ------------------------------------------------------------------
    def _run(self, kind: str, day: dt.date) -> None:
        o, d = self.chain.options, day.isoformat()
        if kind == "feature":
            result = self.chain.step(f"{d}/feature", "feature", feature_parameters(day, day, o))
        elif kind == "inference":
            result = self.chain.step(f"{d}/inference", "inference",
                                     inference_parameters(day, o))
        elif kind == "monitoring":
            result = self.chain.step(f"{d}/monitoring", "monitoring",
                                     monitoring_parameters(day, o))
        else:
            why = self.train[day]
            self.chain.say(f"  {'':<32} -> {why}")
            end = day - dt.timedelta(days=o.label_delay_days)  # the last day with labels
            params = training_parameters(parse_day(o.history_start, "history_start"), end, o)
            from fti import engine

            with engine.openmp_threads(2):
                result = self.chain.step(f"{d}/training", "training", params, note=why)
        self.results[result.name] = result
        if kind == "monitoring":
            retrain, why = retrain_decision(day, o)
            if not retrain and day in self.scheduled:
                retrain, why = True, f"scheduled retraining (every {o.retrain_every_days} days)"
            if retrain:
                with self.cond:
                    self.train[day] = why
            else:
                skipped = self.chain.skip(f"{d}/training", "training", why)
                self.results[skipped.name] = skipped

    def _fail(self, day: dt.date, error: BaseException) -> None:
        """Keep the earliest failure; the steps of the days before it may still run."""
        if self.failure is None or day < self.failure[0]:
            self.failure = (day, error)

    def _done(self, role: str, kind: str, day: dt.date, error: BaseException | None) -> None:
        with self.cond:
            self.busy[role] = False
            if error is not None:
                self._fail(day, error)
            elif kind == "feature":
                self.featured = day
            elif kind == "inference":
                self.inferred.add(day)
                if self.bar is not None:
                    self.bar.update(1)
            elif kind == "monitoring" and day not in self.train:
                self.undecided.remove(day)  # no training: the decision is final
            elif kind == "training":
                del self.train[day]
                self.undecided.remove(day)
            if kind == "feature":
                self.feature_running = False
            if kind == "training":
                self.training = False
            self.cond.notify_all()

    def _work(self, role: str) -> None:
        while (task := self._take(role)) is not None:
            kind, day = task
            try:
                self._run(kind, day)
            except BaseException as exc:  # recorded; raised by the main thread at the end
                self._done(role, kind, day, exc)
            else:
                self._done(role, kind, day, None)

    def _second(self) -> None:
        from fti import engine

        try:
            self._work("second")
        finally:
            engine.close(this_thread_only=True)  # the thread's kernel goes with it

    def run(self, bar: Any) -> list[StepResult]:
        """Run every step; the results in the order a sequential run would give them."""
        self.bar = bar
        second = threading.Thread(target=self._second, name="fti-second-kernel")
        second.start()
        try:
            self._work("main")
        except BaseException as exc:  # interrupted while waiting: stop the other thread too
            with self.cond:
                self._fail(self.start, exc)
                self.cond.notify_all()
            raise
        finally:
            second.join()
        if self.failure is not None:
            day, error = self.failure
            if isinstance(error, PipelineFailed):
                self.chain.say(f"stopped on {day}. Fix the cause, then continue where it "
                               f"stopped with --resume --run-dir {self.chain.run_dir}")
            raise error
        return sorted(self.results.values(),
                      key=lambda r: (r.name[:10], self.ORDER.get(r.name[11:], 9)))


def _cycle(chain: _Chain, day: dt.date, first_day: dt.date | None) -> list[StepResult]:
    """The production cycle of one day (see the module docstring)."""
    o, d = chain.options, day.isoformat()
    results = [chain.step(f"{d}/feature", "feature", feature_parameters(day, day, o)),
               chain.step(f"{d}/inference", "inference", inference_parameters(day, o))]
    retrain, why = False, ""
    monitored = is_due(day, first_day, o.monitor_every_days)
    if monitored:
        results.append(chain.step(f"{d}/monitoring", "monitoring", monitoring_parameters(day, o)))
        retrain, why = retrain_decision(day, o)
    if not retrain and is_due(day, first_day, o.retrain_every_days):
        retrain, why = True, f"scheduled retraining (every {o.retrain_every_days} days)"
    if retrain:
        chain.say(f"  {'':<32} -> {why}")
        end = day - dt.timedelta(days=o.label_delay_days)  # the last day with labels
        params = training_parameters(parse_day(o.history_start, "history_start"), end, o)
        results.append(chain.step(f"{d}/training", "training", params, note=why))
    elif monitored:
        results.append(chain.skip(f"{d}/training", "training", why))
    return results


def _days(chain: _Chain, start: dt.date, end: dt.date, first_day: dt.date | None
          ) -> list[StepResult]:
    depth = int(chain.options.features_ahead)
    with tqdm(total=(end - start).days + 1, unit="day", desc="days", file=sys.stderr) as bar:
        if depth > 0 and end > start:
            with _kernels_for_two():
                return _TwoKernels(chain, start, end, first_day, depth).run(bar)
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


def _kernels_for_two() -> contextlib.AbstractContextManager[None]:
    """The kernels' environment while two share the cores: one OpenMP thread each."""
    from fti import engine

    return engine.kernel_environment(**_one_openmp_thread())


def _one_openmp_thread() -> dict[str, str]:
    """Kernel environment for two kernels sharing the cores: one OpenMP thread each.

    scikit-learn's OpenMP loops spin while they wait for each other, and with the other
    kernel on the second core inference's predict took about 6 times longer and a fit
    twice as long; with one thread both are quicker and the models are the same. OpenBLAS
    would read OMP_NUM_THREADS too, but a BLAS sum over fewer threads may differ in the
    last bit (a drift score did), so OpenBLAS keeps the thread count it has here.
    """
    variables = {"OMP_NUM_THREADS": "1"}
    if "OPENBLAS_NUM_THREADS" not in os.environ:
        import numpy  # noqa: F401  (loads OpenBLAS, so that its thread count can be read)
        from threadpoolctl import threadpool_info

        counts = [i["num_threads"] for i in threadpool_info() if i["internal_api"] == "openblas"]
        variables["OPENBLAS_NUM_THREADS"] = str(max(counts, default=os.cpu_count() or 1))
    return variables


def _start(run_dir: Path, resume: bool, **fields: Any) -> None:
    """Refuse to mix two runs in one folder by accident; note what this run is."""
    steps = read_manifest(run_dir)["steps"]
    if steps and not resume:
        raise FTIError(f"{run_dir} already holds a run ({len(steps)} steps). Add --resume to "
                       f"continue it, or choose another --run-dir.")
    update_manifest(run_dir, **fields)


def run_day(day: str | dt.date, run_dir: Path, options: Options,
            first_day: str | dt.date | None = None, resume: bool = False) -> list[StepResult]:
    """The production cycle of ``day``. Without ``first_day`` (a lone day) monitoring runs;
    with it, monitoring and scheduled retraining follow the simulation's schedule."""
    day = parse_day(day, "day")
    first = parse_day(first_day, "first_day") if first_day else None
    update_manifest(run_dir, kind="day", options=asdict(options))
    return _cycle(_Chain(run_dir, options, resume), day, first)


def simulate(start: str | dt.date, end: str | dt.date, run_dir: Path, options: Options,
             resume: bool = False) -> list[StepResult]:
    """Run the production cycle day by day; stop at the first failure (PipelineFailed).

    With ``resume`` the steps already ``ok`` in ``run_dir``'s manifest are not redone.
    """
    first, last = parse_day(start, "start"), parse_day(end, "end")
    check_range(first, last, "start", "end")
    _start(run_dir, resume, kind="simulate", options=asdict(options),
           simulation={"start": first.isoformat(), "end": last.isoformat()})
    chain = _Chain(run_dir, options, resume)
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
    from fti.report import build_index

    run_dir = Path(run_dir) if run_dir else new_run_dir(options.reports_dir, "demo")
    hist = tuple(parse_day(d) for d in history)
    prod = tuple(parse_day(d) for d in production)
    check_range(*hist, "history start", "history end")
    check_range(*prod, "production start", "production end")
    _start(run_dir, resume, kind="demo", options=asdict(options),
           simulation={"start": prod[0].isoformat(), "end": prod[1].isoformat()})
    chain = _Chain(run_dir, options, resume)
    chain.say(f"demo run folder: {chain.run_dir}\ndata: {options.data_path}")
    if champion_version(options) is not None and not resume:
        chain.say("note: this data folder already has a champion; the demo adds to its "
                  "history. Use --data-dir with an empty folder for a fresh story.")
    span = f"{hist[0]}..{hist[1]}"
    chain.say(f"[1/4] backfill the feature store, {hist[0]} to {hist[1]} (one feature run)")
    chain.step(f"{span}/feature", "feature", feature_parameters(*hist, options))
    # the last day whose labels have arrived: the outcomes of hist[1] come a day later
    labelled = hist[1] - dt.timedelta(days=options.label_delay_days)
    chain.say(f"[2/4] train the first model on {options.history_start}..{labelled} "
              f"(labels up to then; {options.holdout_days}-day holdout)")
    chain.step(f"{span}/training", "training",
               training_parameters(parse_day(options.history_start), labelled, options))
    chain.say(f"[3/4] production {prod[0]} to {prod[1]}: daily features and predictions, "
              f"monitoring every {options.monitor_every_days} days, retraining on demand")
    _days(chain, prod[0], prod[1], prod[0])
    index = build_index(options.reports_dir, options.data_dir)
    chain.say(f"[4/4] report: {index}  (champion now: {_v(champion_version(options))})")
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
    taken = {s["name"] for s in read_manifest(run_dir)["steps"]}
    name, n = source.stem, 1
    while name in taken:
        n += 1
        name = f"{source.stem}-{n}"
    return run_notebook(source.stem, params, run_dir, name, export_html=options.export_html,
                        engine=options.engine)
