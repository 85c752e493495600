"""Lesson 00's pipelines before FTI, on tiny frames: the deliberate skew of the inference
copy, found by the parity check with the feature named and its share of rows; the monolith's
toggle; the lesson's parameters. (On the real data: tests/data/test_lesson_00.py.)"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from fti import monolith
from fti.errors import ParameterError
from fti.features import STATS_WINDOW_DAYS
from fti.params import PrologueParams, prologue_params
from fti.parity import ParityError, check_parity, compare
from fti.run.plan import notebook_defaults

LESSON = "00_from_monolith_to_fti"


def _params(**given) -> PrologueParams:
    return prologue_params(**{**notebook_defaults(LESSON), **given})


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
    assert Path(p.store_dir) == tmp_path.resolve() / "lessons" / "00_from_monolith_to_fti"


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"skew": "typo"}, r"skew='typo' is unknown; use one of \['stats_window', 'utc_hour'\]"),
    ({"holdout_days": 21, "history_days": 21},
     "holdout_days=21 leaves nothing to train on in history_days=21"),
    ({"history_days": 3}, "history_days=3 is too small: it must be at least 7"),
    ({"run_date": "2013-01-10"}, "starts before 2013-01-01, where the data begins"),
    ({"run_date": "2013-12-30", "eval_days": 7}, "the data covers 2013-01-01 to 2013-12-31"),
])
def test_prologue_params_refuse_bad_values_with_a_sentence_that_says_what_to_do(kwargs, message):
    with pytest.raises(ParameterError, match=message):
        _params(**kwargs)
