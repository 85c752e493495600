"""Notebook 04's exercises: a stuck sensor that monitoring catches and drift does not; a
monitoring day whose last labels have not arrived (not enough data, then min_days); a
tighter drift rule that retrains on a rainy week; and a minimum the window cannot reach."""

from __future__ import annotations

import pytest

from fti.monitoring import read_history
from fti.store import FeatureStore

pytestmark = pytest.mark.slow

QUIET = {"figures": False}


def verdicts(text: str) -> str:
    """The line of section 4 that names both verdicts."""
    lines = [line for line in text.splitlines() if line.startswith("drift: ")]
    assert len(lines) == 1, text
    return lines[0]


def figures(text: str, *names: str) -> dict[str, str]:
    """Rows of section 3's table by name, as printed: {'n_unlabelled': '179', ...}."""
    rows = [line.split() for line in text.splitlines() if line.split()[:1] in [[n] for n in names]]
    return {row[0]: row[1] for row in rows}


def test_exercise_1_monitoring_notices_the_stuck_sensor_that_drift_misses(lab, copy_of, run):
    data = copy_of(lab)
    run("feature", data, start_date="2013-06-05", end_date="2013-06-08",
        fault_start="2013-06-05", inject_fault="visib_stuck", **QUIET)  # 01's exercise 2
    done = run("monitoring", data)
    alerts = {line for line in done.text.splitlines() if line.startswith("the visib sensor")}
    assert alerts == {f"the visib sensor at {origin} reported 2 all day on 2013-06-0{day}: "
                      f"check the weather feed" for origin in ("EWR", "JFK", "LGA")
                      for day in (5, 6, 7)}
    assert verdicts(done.text) == "drift: ok; performance of v1: ok"
    assert "No retraining recommended" in done.text
    row = read_history(FeatureStore(data)).iloc[-1]
    assert "wx_visib (stuck)" in row["drifted_columns"]  # recorded in the history


def test_exercise_2_labels_not_yet_arrived_leave_no_performance_verdict(lab, copy_of, run):
    data = copy_of(lab)
    run("inference", data, run_date="2013-06-08", days=1, **QUIET)
    early = run("monitoring", data, run_date="2013-06-09")
    assert "window 2013-06-02 to 2013-06-08" in early.text
    assert figures(early.text, "n_unlabelled", "labelled_days") == {
        "n_unlabelled": "957", "labelled_days": "6"}
    assert verdicts(early.text) == "drift: ok; performance of v1: not enough data"
    assert "a verdict needs at least 2,000 over 7 days" in early.text
    assert "No retraining recommended" in early.text

    fewer_days = run("monitoring", data, run_date="2013-06-09", min_days=6)
    assert verdicts(fewer_days.text) == "drift: ok; performance of v1: ok"


def test_exercise_3_a_tighter_drift_rule_retrains_on_a_rainy_week(lab, copy_of, run):
    data = copy_of(lab)
    done = run("monitoring", data, drift_share_threshold=0.05)
    assert "7% of the features drifted: wx_precip, wx_precip_3h" in done.text
    assert verdicts(done.text) == "drift: drifted; performance of v1: ok"
    assert "RETRAIN RECOMMENDED" in done.text
    assert "run 02_training_pipeline.ipynb with train_end='2013-06-07'" in done.text


def test_exercise_4_a_minimum_the_week_cannot_reach_gives_no_verdict(lab, copy_of, run):
    """Also the defaults' 179 unlabelled predictions, which exercise 2 compares with."""
    data = copy_of(lab)
    done = run("monitoring", data, min_rows=10000)
    assert "current: 6,528 predicted flights over 7 day(s)" in done.text
    assert figures(done.text, "n_labelled", "n_unlabelled") == {
        "n_labelled": "6349", "n_unlabelled": "179"}
    assert verdicts(done.text) == "drift: not enough data; performance of v1: not enough data"
    assert "No retraining recommended" in done.text
    assert "Wait for more data" in done.text
    assert "standard error at the minimum of 10,000 labels: 0.006" in done.text
