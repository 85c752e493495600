"""Notebook 03's exercises: a lower threshold flags more than twice as many flights and
changes no probability; a day the feature pipeline has not run is refused with nothing
written; one morning's run writes what the week's catch-up wrote, byte for byte."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from fti import inference
from fti.run.runs import PipelineFailed
from fti.store import FeatureStore
from tests.exercises.conftest import files

pytestmark = pytest.mark.slow

QUIET = {"figures": False}


def flagged(text: str) -> tuple[int, float]:
    """'935 of 6528 flights flagged (threshold 0.5)' -> (935, 0.5), from section 3."""
    found = re.search(r"(\d+) of \d+ flights flagged \(threshold ([\d.]+)\)", text)
    assert found, text
    return int(found.group(1)), float(found.group(2))


def test_exercise_1_a_lower_threshold_flags_more_than_twice_as_many_flights(lab, copy_of, run):
    data = copy_of(lab)
    week = (dt.date(2013, 6, 1), dt.date(2013, 6, 7))
    before = files(data)
    lower = run("inference", data, threshold=0.3, **QUIET)
    at_03 = inference.read_predictions(FeatureStore(data), *week)
    again = run("inference", data, **QUIET)  # threshold 0.5 again: the week as it was
    at_05 = inference.read_predictions(FeatureStore(data), *week)

    (many, low), (few, default) = flagged(lower.text), flagged(again.text)
    assert (low, default) == (0.3, 0.5)
    assert many > 2 * few > 0
    assert at_03["probability"].equals(at_05["probability"])  # only the flags change
    assert int(at_03["flag"].sum()) == many and int(at_05["flag"].sum()) == few
    assert files(data) == before


def test_exercise_2_a_day_not_yet_ingested_is_refused_and_nothing_is_written(lab, copy_of, run):
    data = copy_of(lab)
    before = files(data)
    with pytest.raises(PipelineFailed) as refused:
        run("inference", data, run_date="2013-06-08", days=2, **QUIET)
    message = str(refused.value)
    assert "NotFoundError" in message
    assert "No features for flights scheduled on 2013-06-09" in message
    assert "start_date='2013-06-09'" in message  # the feature pipeline run that fixes it
    assert files(data) == before  # not even 8 June


def test_exercise_3_one_morning_writes_what_the_weeks_catch_up_wrote(lab, copy_of, run):
    data = copy_of(lab)
    run("inference", data, **QUIET)  # the week, as 03's defaults write it
    partition = "feature_groups/predictions/v1/date=2013-06-03/part.parquet"
    week = files(data)
    morning = run("inference", data, run_date="2013-06-03", days=1, **QUIET)
    assert "flights scheduled on 2013-06-03\n" in morning.text
    assert files(data)[partition] == week[partition]
    assert files(data) == week
