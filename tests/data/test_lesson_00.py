"""Lesson 00 on the real data, with the notebook's own defaults: what the notebook and its
exercises promise. The parity check refuses the split inference copy of act 3 (feature and
share named) and passes the FTI path; the monolith needs at least the statistics window of
history; the window skew of exercise 1 moves the ROC AUC far less than the UTC hour."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from fti import inference, monolith
from fti.features import FLIGHT_VIEW, STATS_WINDOW_DAYS, run_feature_pipeline
from fti.params import PrologueParams, prologue_params
from fti.parity import ParityError, check_parity, compare
from fti.run.plan import notebook_defaults
from fti.source import FlightSource
from fti.store import FeatureStore
from fti.training import FEATURES

pytestmark = pytest.mark.slow

SEVEN_DAY_STATS = {"carrier_delayed_share_7d", "carrier_mean_delay_7d",
                   "origin_delayed_share_7d", "origin_mean_delay_7d"}


@pytest.fixture(scope="module")
def lesson() -> PrologueParams:
    """The notebook's own defaults, read from its parameters cell (one home for them)."""
    return prologue_params(**notebook_defaults("00_from_monolith_to_fti"))


@pytest.fixture(scope="module")
def source() -> FlightSource:
    return FlightSource()


@pytest.fixture(scope="module")
def trained(lesson, source) -> monolith.MonolithRun:
    """The monolith trained as the notebook trains it (its features cover the run date)."""
    return monolith.monolith(source, "train", lesson.run_date, lesson.history_days,
                             holdout_days=lesson.holdout_days, seed=lesson.seed)


@pytest.fixture(scope="module")
def copies(lesson, source) -> dict[str, pd.DataFrame]:
    """The notebook's evaluation days, with the features of the original code and each copy."""
    codes = {"original": monolith.ORIGINAL, **monolith.SKEWS}
    return {name: monolith.features_for_days(source, lesson.run_date, lesson.eval_end, code)
            for name, code in codes.items()}


def test_the_fti_path_passes_the_parity_check_that_refuses_the_split_inference_copy(
        lesson, source, copies, tmp_path):
    days = [lesson.run_date + dt.timedelta(days=i) for i in range(3)]
    store = FeatureStore(tmp_path / "store")
    lookback = max(join.lookback_days for join in FLIGHT_VIEW.joins)
    run_feature_pipeline(store, source, days[0] - dt.timedelta(days=lookback),
                         days[-1] + dt.timedelta(days=1))
    training_path = FLIGHT_VIEW.training_data(store, days[0], days[-1])
    inference_path = pd.concat([inference.features_for_day(store, FLIGHT_VIEW, day)
                                for day in days], ignore_index=True)

    fti = check_parity(training_path, inference_path, "flight_id", FEATURES)
    assert fti.ok and fti.rows == len(training_path) > 1000
    assert fti.only_right > 0 and fti.only_left == 0  # cancelled flights: no label, no training

    # the split pipelines' training copy computes the very values the store holds ...
    assert compare(copies["original"], inference_path, "flight_id", FEATURES).ok
    # ... and the inference copy of act 3 is refused, with the feature and the share named
    with pytest.raises(ParityError, match=r"feature 'sched_hour' differs on 100\.0% of the "):
        check_parity(training_path, copies["utc_hour"], "flight_id", FEATURES)


def test_exercise_1_the_window_skew_names_the_7_day_statistics_and_moves_auc_far_less(
        lesson, source, trained, copies):
    model = trained.experiment.model
    labels = monolith.labels_of(source, lesson.run_date, lesson.eval_end)
    auc_change, reports = {}, {}
    for name in monolith.SKEWS:
        reports[name] = compare(copies["original"], copies[name], "flight_id", FEATURES)
        effect = monolith.skew_effect(model, copies["original"], copies[name], labels)
        auc = effect.metrics["roc_auc"]
        auc_change[name] = auc["skewed"] - auc["consistent"]

    assert reports["utc_hour"].skewed == ["sched_hour"]
    assert reports["utc_hour"].share("sched_hour") == 1.0
    assert auc_change["utc_hour"] < 0  # act 3: the skew costs ranking quality
    window = reports["stats_window"]
    assert set(window.skewed) == SEVEN_DAY_STATS
    assert window.share(window.skewed[0]) > 0.95  # "differing on nearly every flight"
    assert abs(auc_change["stats_window"]) < abs(auc_change["utc_hour"]) / 3


@pytest.fixture(scope="module")
def inferred(lesson, source, trained) -> dict[int, monolith.MonolithRun]:
    """The monolith predicting the run date with 1 day and with a window's days of history."""
    return {days: monolith.monolith(source, "infer", lesson.run_date, days,
                                    model=trained.experiment.model)
            for days in (1, STATS_WINDOW_DAYS)}


def test_the_monolith_infers_one_day_by_recomputing_the_window_of_history(
        lesson, source, trained, inferred):
    day = lesson.run_date
    assert trained.predictions is None
    assert trained.experiment.split.holdout_end == day - dt.timedelta(days=1)
    run = inferred[STATS_WINDOW_DAYS]
    assert run.experiment is None
    assert len(run.predictions) == len(source.published_at(day).schedule())
    assert run.predictions["probability"].between(0, 1).all()
    assert len(run.features) > 5 * len(run.predictions)  # it computed the history's rows too
    # the window's days are enough: the same features as from the whole training history
    assert compare(monolith.on_day(trained.features, day), run.predictions, "flight_id",
                   FEATURES).ok


def test_exercise_2_one_day_of_history_changes_exactly_the_7_day_statistics(inferred):
    report = compare(inferred[1].predictions, inferred[STATS_WINDOW_DAYS].predictions,
                     "flight_id", FEATURES)
    assert set(report.skewed) == SEVEN_DAY_STATS
    assert report.share(report.skewed[0]) > 0.95


def test_raw_weather_glitches_are_set_to_missing_as_the_feature_pipeline_does(source):
    glitch_day = dt.date(2013, 2, 12)  # a 1048 mph wind at Newark in the real data
    assert source.published_at(glitch_day).weather()["wind_speed"].max() > 1000
    raw = monolith.read_raw(source, glitch_day, 0)
    assert raw.weather["wind_speed"].max() < 150
    assert raw.weather["wind_speed"].isna().sum() == 1
