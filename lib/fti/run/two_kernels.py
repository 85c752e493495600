"""The two-kernel scheduler of long replays (``fti simulate --features-ahead N``).

The days of a simulation run on two kernels, each step starting as soon as everything it
reads is final: a second thread with a kernel of its own runs the feature pipelines in day
order, up to N days ahead, and shares the inference runs with the main thread between
monitoring days; monitoring of D runs beside the inference of D; a training run gets both
cores. The results do not change: a feature run reads only the raw source, and the feature
run of D + k writes the partitions of D + k and the labels of D + k - 1, which no step of
day D reads (inference reads the days up to D, monitoring and training the days up to
D - 1; every read is a range of days); inference of D waits for every decision before D,
so it uses the champion a run of one notebook at a time would use. It pays with a free
core and costs a second kernel's memory (see docs/performance.md). Which steps a day has,
and with which parameters, is :mod:`fti.run.plan`'s. Both kernels write the same data
folder: each write holds the folder's lock only while it writes (:mod:`fti.locks`), so
neither kernel waits for the other's notebook.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import threading
from typing import Any

from fti.dates import days
from fti.run.plan import (
    Chain,
    feature_parameters,
    inference_parameters,
    is_due,
    monitoring_parameters,
    training_due,
)
from fti.run.runs import PipelineFailed, StepResult


class TwoKernels:
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

    def __init__(self, chain: Chain, start: dt.date, end: dt.date,
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
            self.train[d] = training_due(d, first_day, o, monitored=False)[1]
        self.first_day = first_day
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
            from fti.run import kernels

            with kernels.openmp_threads(2):  # a training run has both cores
                result = self.chain.train(day, self.train[day])
        self.results[result.name] = result
        if kind == "monitoring":
            retrain, why = training_due(day, self.first_day, o, monitored=True)
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
        from fti.run import kernels

        try:
            self._work("second")
        finally:
            kernels.close(this_thread_only=True)  # the thread's kernel goes with it

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



def kernels_for_two() -> contextlib.AbstractContextManager[None]:
    """The kernels' environment while two share the cores: one OpenMP thread each."""
    from fti.run import kernels

    return kernels.kernel_environment(**_one_openmp_thread())


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

