"""Lesson 00's pipelines before FTI: the deliberate skews of the inference copy, the
monolith's need for history, and the parity check that finds the skew of act 3 while the FTI
path (feature store + feature view) passes. The slow tests check, on the real data and the
notebook's own defaults, what the notebook and its exercises promise."""

from __future__ import annotations

import ast
import datetime as dt

import pandas as pd
import pytest

from fti import config, inference, monolith
from fti.errors import ParameterError
from fti.features import FLIGHT_VIEW, STATS_WINDOW_DAYS, run_feature_pipeline
from fti.params import PrologueParams, prologue_params
from fti.parity import ParityError, check_parity, compare
from fti.source import FlightSource
from fti.store import FeatureStore
from fti.training import FEATURES

SEVEN_DAY_STATS = {"carrier_delayed_share_7d", "carrier_mean_delay_7d",
                   "origin_delayed_share_7d", "origin_mean_delay_7d"}


def _schedule() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Three flights on 15 January 2013 (New York is UTC-5), and their planes."""
    local_hours = [6, 12, 21]
    utc = pd.to_datetime(["2013-01-15 11:00", "2013-01-15 17:00", "2013-01-16 02:00"], utc=True)
    schedule = pd.DataFrame({
        "year": 2013, "month": 1, "day": 15, "hour": local_hours, "minute": [0, 30, 5],
        "time_hour": utc, "carrier": ["UA", "B6", "AA"], "flight": [1, 2, 3],
        "tailnum": ["N1", "N2", "N3"], "origin": ["EWR", "JFK", "LGA"],
        "dest": ["ORD", "BOS", "MIA"], "distance": [719.0, 187.0, 1096.0],
    })
    planes = pd.DataFrame({"tailnum": ["N1", "N2"], "year": [2001, 2010], "seats": [200, 150]})
    return schedule, planes


def test_the_utc_hour_copy_differs_from_the_original_only_in_the_scheduled_hour():
    schedule, planes = _schedule()
    original = monolith.ORIGINAL.schedule_features(schedule, planes)
    skewed = monolith.SKEWS["utc_hour"].schedule_features(schedule, planes)
    assert original["sched_hour"].tolist() == [6, 12, 21]
    assert skewed["sched_hour"].tolist() == [11, 17, 2]  # the UTC hours: the deliberate bug
    report = compare(original, skewed, "flight_id")
    assert report.skewed == ["sched_hour"]
    assert list(skewed.columns) == list(original.columns)
    assert skewed.dtypes.equals(original.dtypes)


def test_the_parity_check_refuses_the_utc_hour_copy_naming_the_feature_and_its_share():
    schedule, planes = _schedule()
    training_copy = monolith.ORIGINAL.schedule_features(schedule, planes)
    inference_copy = monolith.SKEWS["utc_hour"].schedule_features(schedule, planes)
    # one flight served by the faithful code, two by the copy with the bug
    served = pd.concat([training_copy.iloc[:1], inference_copy.iloc[1:]], ignore_index=True)
    with pytest.raises(ParityError, match=r"feature 'sched_hour' differs on 66\.7% of the 3 "):
        check_parity(training_copy, served, "flight_id")


def test_every_skew_is_labelled_as_a_deliberate_bug():
    assert not monolith.ORIGINAL.bug
    for copy in monolith.SKEWS.values():
        assert copy.bug
    assert monolith.SKEWS["stats_window"].stats_window_days == STATS_WINDOW_DAYS + 1


def test_the_monolith_knows_only_train_and_infer():
    with pytest.raises(ParameterError, match="mode='serve': the monolith knows 'train' and"):
        monolith.monolith(None, "serve", dt.date(2013, 6, 1), 7)  # type: ignore[arg-type]


@pytest.mark.parametrize(("short", "long", "expected"), [
    (7, 28, [7, 14, 28]), (7, 50, [7, 14, 28, 50]), (7, 7, [7]), (7, 10, [7, 10])])
def test_timed_history_lengths_double_from_short_up_to_long(short, long, expected):
    assert monolith.history_lengths(short, long) == expected


# --- parameters ---------------------------------------------------------------------------
def test_prologue_params_turn_strings_into_values_and_place_the_store_under_lessons(tmp_path):
    p = prologue_params("2013-06-01", "28", "7", "7", "stats_window", "1", str(tmp_path))
    assert isinstance(p, PrologueParams)
    assert (p.history_start, p.eval_end) == (dt.date(2013, 5, 4), dt.date(2013, 6, 7))
    assert p.store_dir == tmp_path.resolve() / "lessons" / "00_from_monolith_to_fti"


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"skew": "typo"}, r"skew='typo' is unknown; use one of \['stats_window', 'utc_hour'\]"),
    ({"holdout_days": 21}, "holdout_days=21 leaves nothing to train on in history_days=21"),
    ({"history_days": 3}, "history_days=3 is too small: it must be at least 7"),
    ({"run_date": "2013-01-10"}, "starts before 2013-01-01, where the data begins"),
    ({"run_date": "2013-12-30", "eval_days": 7}, "the data covers 2013-01-01 to 2013-12-31"),
])
def test_prologue_params_refuse_bad_values_with_a_sentence_that_says_what_to_do(kwargs, message):
    values = {"run_date": "2013-06-01", **kwargs}
    with pytest.raises(ParameterError, match=message):
        prologue_params(**values)


# --- on the real data, with the notebook's defaults ---------------------------------------
@pytest.fixture(scope="module")
def lesson() -> PrologueParams:
    """The notebook's own defaults, read from its parameters cell (one home for them)."""
    import papermill

    path = config.notebooks_dir() / "00_from_monolith_to_fti.ipynb"
    defaults = {name: ast.literal_eval(spec["default"])
                for name, spec in papermill.inspect_notebook(str(path)).items()}
    return prologue_params(**defaults)


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


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
def test_exercise_2_one_day_of_history_changes_exactly_the_7_day_statistics(inferred):
    report = compare(inferred[1].predictions, inferred[STATS_WINDOW_DAYS].predictions,
                     "flight_id", FEATURES)
    assert set(report.skewed) == SEVEN_DAY_STATS
    assert report.share(report.skewed[0]) > 0.95


@pytest.mark.slow
def test_raw_weather_glitches_are_set_to_missing_as_the_feature_pipeline_does(source):
    glitch_day = dt.date(2013, 2, 12)  # a 1048 mph wind at Newark in the real data
    assert source.published_at(glitch_day).weather()["wind_speed"].max() > 1000
    raw = monolith.read_raw(source, glitch_day, 0)
    assert raw.weather["wind_speed"].max() < 150
    assert raw.weather["wind_speed"].isna().sum() == 1
