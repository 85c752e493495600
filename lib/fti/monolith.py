"""Lesson 00's pipelines before FTI: an experiment, a monolith, and training and inference
split into two pipelines that each carry their own copy of the feature code.

Teaching code for ``notebooks/00_from_monolith_to_fti.ipynb`` (the system itself is the
FTI pipelines of notebooks 01-04). It reuses the project's raw source, its pure feature
functions and its feature view's join definitions: what differs is *where* and *when*
features are computed (from raw data, inside each pipeline, on every call). One copy of the
feature code has a **deliberate bug** (:data:`SKEWS`), so that the lesson can measure
training/serving skew and catch it with :mod:`fti.parity`.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from fti import features, training
from fti.dates import day_start_utc, days
from fti.errors import ParameterError
from fti.expectations import check_weather
from fti.features import FLIGHT_VIEW, SCHEDULE, STATS_WINDOW_DAYS
from fti.progress import bar
from fti.source import FlightSource
from fti.views import pit_join

#: The lesson's model: the training pipeline's model, with fewer, larger boosting steps so
#: that the lesson trains in a second or two (02 trains the real one).
LESSON_MODEL = {"max_iter": 60, "learning_rate": 0.15}
MODES = ("train", "infer")


def one_thread() -> threadpool_limits:
    """Run the lesson's small model on one thread: on a busy 2-core machine, OpenMP's second
    thread mostly waits, and a fit can take ten times as long (the results are the same).
    The limit reaches only libraries loaded before it: import scikit-learn's model first."""
    return threadpool_limits(1)


# --- the feature code, and its copies ---------------------------------------------------------
@dataclass(frozen=True)
class FeatureCode:
    """One copy of the feature code, as a pipeline that computes its own features carries it.

    Attributes:
        name: what to call this copy in tables and messages.
        schedule_features: the function that turns the raw schedule into flight features.
        stats_window_days: the days of outcomes behind the rolling delay statistics.
        bug: empty for a faithful copy; else what is deliberately wrong with it.
    """

    name: str
    schedule_features: Callable[[pd.DataFrame, pd.DataFrame], pd.DataFrame]
    stats_window_days: int = STATS_WINDOW_DAYS
    bug: str = ""


def schedule_features_utc_hour(schedule: pd.DataFrame, planes: pd.DataFrame) -> pd.DataFrame:
    """A copy of :func:`fti.features.schedule_features` with a DELIBERATE BUG, for the lesson.

    Whoever copied the function took the scheduled hour from the departure timestamp
    ``time_hour``, which the source gives in UTC, instead of the local ``hour`` column: a
    flight at 08:00 in New York gets ``sched_hour`` 13 (12 in summer time). Everything else
    is the original; the copy is written as the original plus the one line that differs, so
    that the difference is plain to see.
    """
    out = features.schedule_features(schedule, planes)
    out["sched_hour"] = schedule["time_hour"].dt.hour.astype("int64").to_numpy()  # the bug
    return out


#: The feature code as the project has it (the monolith's, and the training pipeline's copy).
ORIGINAL = FeatureCode("original", features.schedule_features)
#: Inference copies with a deliberate bug each: realistic slips a code review would miss.
SKEWS = {
    "utc_hour": FeatureCode(
        "inference copy", schedule_features_utc_hour,
        bug="the scheduled hour is taken in UTC instead of New York time"),
    "stats_window": FeatureCode(
        "inference copy", features.schedule_features, STATS_WINDOW_DAYS + 1,
        bug=f"the '{STATS_WINDOW_DAYS}-day' delay statistics cover {STATS_WINDOW_DAYS + 1} "
            f"days (the window is off by one)"),
}


# --- reading raw data and computing features from it ------------------------------------------
@dataclass(frozen=True)
class RawHistory:
    """The raw data a pipeline reads at the start of ``run_day``: the schedules and weather
    forecasts from ``first`` to ``run_day`` and the outcomes published by then (those of the
    flights up to ``label_delay_days`` before ``run_day``)."""

    first: dt.date
    run_day: dt.date
    label_delay_days: int
    schedule: pd.DataFrame
    weather: pd.DataFrame
    outcomes: pd.DataFrame


def read_raw(source: FlightSource, run_day: dt.date, history_days: int) -> RawHistory:
    """Read ``history_days`` days of raw history before ``run_day``, and ``run_day`` itself,
    as the source has published them at the start of ``run_day`` (no future leaks in).

    Weather readings that are physically impossible (sensor glitches) are set to missing by
    the feature pipeline's own check, so that every path starts from the same raw values.
    """
    published = source.published_at(run_day)
    first = run_day - dt.timedelta(days=history_days)
    span = list(days(first, run_day))
    schedule = pd.concat([published.schedule(d) for d in span], ignore_index=True)
    weather = pd.concat([check_weather(published.weather(d), d)[0] for d in span],
                        ignore_index=True)
    last_outcome = published.last_outcome_day
    outcomes = (published.outcomes(first, last_outcome) if first <= last_outcome
                else published.outcomes(last_outcome).iloc[:0])  # none in the history
    return RawHistory(first, run_day, source.label_delay_days, schedule, weather, outcomes)


def _day_keys(frame: pd.DataFrame) -> np.ndarray:
    return (frame["year"] * 10000 + frame["month"] * 100 + frame["day"]).to_numpy()


def _key(day: dt.date) -> int:
    return day.year * 10000 + day.month * 100 + day.day


def _stats(raw: RawHistory, entity: str, window_days: int) -> pd.DataFrame:
    """The delay statistics each morning of the history would have known, from raw outcomes."""
    keys = _day_keys(raw.outcomes)
    frames = []
    for morning in days(raw.first, raw.run_day):
        last = morning - dt.timedelta(days=raw.label_delay_days)
        first = max(raw.first, last - dt.timedelta(days=window_days - 1))
        lo = np.searchsorted(keys, _key(first), side="left")
        hi = np.searchsorted(keys, _key(last), side="right")
        if hi <= lo:  # the history holds no outcomes before this morning yet
            continue
        window = raw.outcomes.iloc[lo:hi]
        frames.append(features.delay_stats(window, entity, last, day_start_utc(morning)))
    group = features.CARRIER_STATS if entity == "carrier" else features.ORIGIN_STATS
    return pd.concat(frames, ignore_index=True) if frames else group.empty()


def feature_table(raw: RawHistory, planes: pd.DataFrame, code: FeatureCode) -> pd.DataFrame:
    """Feature rows of every flight in ``raw``, computed from the raw data with ``code``.

    The same pure feature functions as the feature pipeline, joined point-in-time as the
    feature view joins them, but all of it recomputed from raw data on every call. Flights
    early in the history see statistics of fewer days than the window: they lack history.
    """
    spine = code.schedule_features(raw.schedule, planes)
    tables = {
        features.WEATHER.name: features.weather_features(raw.weather, raw.weather.iloc[:0]),
        features.CARRIER_STATS.name: _stats(raw, "carrier", code.stats_window_days),
        features.ORIGIN_STATS.name: _stats(raw, "origin", code.stats_window_days),
    }
    event_time = {g.name: g.event_time for g in features.GROUPS}
    for join in FLIGHT_VIEW.joins:
        spine = pit_join(spine, tables[join.group], left_time=SCHEDULE.event_time,
                         right_time=event_time[join.group], by=join.on,
                         features=join.features, max_age=join.max_age, prefix=join.prefix)
    order = [SCHEDULE.event_time, *SCHEDULE.primary_key]
    return spine.sort_values(order, kind="stable").reset_index(drop=True)


def with_labels(table: pd.DataFrame, raw: RawHistory) -> pd.DataFrame:
    """The rows of ``table`` whose outcome is published in ``raw``, with the label."""
    labels = features.labels(raw.outcomes, day_start_utc(raw.run_day))
    return table.merge(labels[["flight_id", "dep_delay", "delayed"]], on="flight_id",
                       how="inner", validate="one_to_one")


def on_day(table: pd.DataFrame, day: dt.date) -> pd.DataFrame:
    """The rows of the flights scheduled on ``day`` (a New York calendar day)."""
    return table[training.flight_day(table) == day].reset_index(drop=True)


# --- act 1: the experiment ---------------------------------------------------------------------
@dataclass(frozen=True)
class Experiment:
    """A trained model, and its metrics against the baseline on a time-based holdout."""

    model: object
    split: training.Split
    metrics: pd.DataFrame  # one row per scorer: the model, the baseline

    @property
    def beats_baseline(self) -> bool:
        return bool(self.metrics.loc["model", "roc_auc"] > self.metrics.loc["baseline",
                                                                              "roc_auc"])


def experiment(labelled: pd.DataFrame, holdout_days: int, seed: int) -> Experiment:
    """Train on the earlier days, score the model and the baseline on the last ones."""
    day = training.flight_day(labelled)
    split = training.split_by_time(labelled, holdout_days, day.min(), day.max())
    model = training.build_model(seed=seed, **LESSON_MODEL)  # loads OpenMP: before the limit
    with one_thread():
        training.fit(model, split.train)
        scores = {"model": training.predict(model, split.holdout),
                  "baseline": training.baseline_predict(
                      split.holdout, float(split.train[training.TARGET].mean()))}
    y = split.holdout[training.TARGET]
    metrics = pd.DataFrame({k: training.evaluate(y, p) for k, p in scores.items()}).T
    return Experiment(model, split, metrics)


# --- act 2: the monolith -----------------------------------------------------------------------
@dataclass(frozen=True)
class MonolithRun:
    """What one call of :func:`monolith` returns: a trained experiment, or predictions."""

    mode: str
    features: pd.DataFrame  # every feature row it computed (the whole history)
    experiment: Experiment | None = None
    predictions: pd.DataFrame | None = None


def monolith(source: FlightSource, mode: str, run_day: dt.date, history_days: int, *,
             model: object = None, holdout_days: int | None = None,
             seed: int | None = None) -> MonolithRun:
    """The whole ML program in one pipeline; ``mode`` chooses training or inference.

    Either way it reads the raw history before ``run_day`` and computes every feature from
    it: one feature code path for both modes. ``train`` fits a model on the labelled flights
    (the experiment, with ``holdout_days`` and ``seed``); ``infer`` scores the flights
    scheduled on ``run_day`` with ``model``.
    """
    if mode not in MODES:
        raise ParameterError(f"mode={mode!r}: the monolith knows 'train' and 'infer'.")
    if mode == "infer" and model is None:
        raise ParameterError("mode='infer' needs a model: train one first (mode='train').")
    if mode == "train" and (holdout_days is None or seed is None):
        raise ParameterError("mode='train' needs holdout_days (the days to evaluate on) and "
                             "a seed.")
    raw = read_raw(source, run_day, history_days)
    table = feature_table(raw, source.planes(), ORIGINAL)
    if mode == "train":
        return MonolithRun(mode, table, experiment(with_labels(table, raw), holdout_days, seed))
    today = on_day(table, run_day)
    with one_thread():
        today["probability"] = training.predict(model, today)
    return MonolithRun(mode, table, predictions=today)


def history_lengths(short: int, long: int) -> list[int]:
    """History lengths to time the monolith with: ``short``, doubling, up to ``long``."""
    lengths = [short]
    while lengths[-1] * 2 < long:
        lengths.append(lengths[-1] * 2)
    return [*lengths, long] if long > short else lengths


def infer_timings(source: FlightSource, model: object, run_day: dt.date,
                  lengths: Sequence[int], progress: bool = False) -> pd.DataFrame:
    """Time monolith inference for one day with each history length, one call each.

    The cost is the CPU time of the call, which a busy, shared machine disturbs far less than
    the time on the wall (the model runs on one thread, so CPU time is the call's own work).
    Also compares each call's features of the day with those of the longest history: a
    history shorter than the statistics window gives different (incomplete) features.
    """
    from fti.parity import compare

    rows, tables = [], {}
    for length in bar(lengths, desc="monolith infer", unit="call", disable=not progress):
        start = time.process_time()
        run = monolith(source, "infer", run_day, length, model=model)
        seconds = time.process_time() - start
        tables[length] = run.predictions
        rows.append({"history_days": length, "cpu_seconds": seconds,
                     "feature_rows_computed": len(run.features),
                     "flights_predicted": len(run.predictions)})
    reference = tables[max(lengths)]
    for row in rows:
        report = compare(reference, tables[row["history_days"]], "flight_id",
                         training.FEATURES)
        row["flights_with_other_features"] = report.any_differing / max(report.rows, 1)
    return pd.DataFrame(rows).set_index("history_days")


# --- act 3: training and inference split, each with its own feature code -------------------
def training_pipeline(source: FlightSource, run_day: dt.date, history_days: int,
                      code: FeatureCode, holdout_days: int, seed: int) -> Experiment:
    """Train on the ``history_days`` days before ``run_day``, with this pipeline's feature
    code (its copy)."""
    raw = read_raw(source, run_day, history_days)
    table = feature_table(raw, source.planes(), code)
    return experiment(with_labels(table, raw), holdout_days, seed)


def features_for_days(source: FlightSource, first: dt.date, last: dt.date,
                      code: FeatureCode) -> pd.DataFrame:
    """Feature rows of the flights from ``first`` to ``last`` as a pipeline with feature code
    ``code`` computes them from raw data, reading the history its statistics need.

    One pass over a range gives the values one run per day would give (a flight's features
    only use the window before its own day; rolling sums may differ in the last bit), and
    costs less.
    """
    history = code.stats_window_days + source.label_delay_days
    raw = read_raw(source, last, (last - first).days + history)
    table = feature_table(raw, source.planes(), code)
    day = training.flight_day(table)
    return table[(day >= first) & (day <= last)].reset_index(drop=True)


def labels_of(source: FlightSource, first: dt.date, last: dt.date) -> pd.DataFrame:
    """The labels of the flights from ``first`` to ``last``, once they are published."""
    published = source.published_at(last + dt.timedelta(days=source.label_delay_days))
    labels = features.labels(published.outcomes(first, last), published.run_day)
    return labels[["flight_id", "delayed"]]


@dataclass(frozen=True)
class SkewEffect:
    """The same labelled flights scored with features from two copies of the feature code."""

    scores: pd.DataFrame  # flight_id, delayed, consistent, skewed (probabilities)
    metrics: pd.DataFrame  # one row per copy: ROC AUC and friends

    def moved(self, by: float = 0.05) -> float:
        """The share of flights whose probability moved by more than ``by``."""
        gap = (self.scores["skewed"] - self.scores["consistent"]).abs()
        return float((gap > by).mean())


def skew_effect(model: object, consistent: pd.DataFrame, skewed: pd.DataFrame,
                labels: pd.DataFrame) -> SkewEffect:
    """Score the labelled flights with the model, once per copy of their features."""
    frame = labels.merge(consistent, on="flight_id", validate="one_to_one")
    frame = frame.merge(skewed[["flight_id", *training.FEATURES]], on="flight_id",
                        suffixes=("", "__skewed"), validate="one_to_one")
    other = frame[[f"{f}__skewed" for f in training.FEATURES]]
    other.columns = training.FEATURES
    with one_thread():
        scores = pd.DataFrame({
            "flight_id": frame["flight_id"], "delayed": frame["delayed"],
            "consistent": training.predict(model, frame),
            "skewed": training.predict(model, other)})
    metrics = pd.DataFrame({
        copy: training.evaluate(scores["delayed"], scores[copy])
        for copy in ("consistent", "skewed")}).T
    return SkewEffect(scores, metrics)
