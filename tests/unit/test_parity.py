"""The parity check: two feature frames compared by key, skew named with its share of rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fti.errors import FTIError, SchemaError
from fti.parity import ParityError, check_parity, compare


def _frame(**changes: list) -> pd.DataFrame:
    base = {
        "flight_id": ["a", "b", "c", "d"],
        "sched_hour": [6, 9, 14, 21],
        "carrier": ["UA", "B6", "AA", "UA"],
        "delayed_share_7d": [0.2, np.nan, 0.31, 0.18],
    }
    return pd.DataFrame({**base, **changes})


def test_the_same_values_pass_and_the_report_says_so():
    report = check_parity(_frame(), _frame(), "flight_id")
    assert report.ok and report.same_rows
    assert report.rows == 4
    assert report.differing == {"sched_hour": 0, "carrier": 0, "delayed_share_7d": 0}
    assert report.summary().endswith("no differences.")


def test_a_differing_feature_is_refused_by_name_with_its_share_of_rows():
    skewed = _frame(sched_hour=[11, 9, 19, 21])  # two of four flights an hour set off
    with pytest.raises(ParityError, match=r"feature 'sched_hour' differs on 50\.0% of the 4 "
                                          r"rows") as caught:
        check_parity(_frame(), skewed, "flight_id")
    report = caught.value.report
    assert report.skewed == ["sched_hour"]
    assert report.share("sched_hour") == 0.5
    assert report.any_differing == 2
    assert isinstance(caught.value, FTIError)


def test_several_differing_features_are_named_the_most_often_differing_first():
    skewed = _frame(sched_hour=[6, 11, 14, 21], carrier=["UA", "9E", "9E", "9E"])
    with pytest.raises(ParityError) as caught:
        check_parity(_frame(), skewed, "flight_id")
    message = str(caught.value)
    assert "feature 'carrier' differs on 75.0%" in message
    assert "'sched_hour' on 25.0%" in message
    assert caught.value.report.any_differing == 3  # flight b differs in both features
    table = caught.value.report.table()
    assert table.loc["carrier", "differing rows"] == 3
    assert table.loc["delayed_share_7d", "share"] == 0.0


def test_rows_are_matched_by_key_not_by_position():
    shuffled = _frame().iloc[[3, 1, 0, 2]].reset_index(drop=True)
    assert check_parity(_frame(), shuffled, "flight_id").ok


def test_missing_on_both_sides_is_equal_but_missing_on_one_side_differs():
    one_missing = _frame(delayed_share_7d=[0.2, np.nan, np.nan, 0.18])
    report = compare(_frame(), one_missing, "flight_id")
    assert report.differing["delayed_share_7d"] == 1  # flight c only; b is missing on both


def test_rounding_in_the_last_bit_is_not_skew_but_a_real_difference_is():
    rounded = _frame(delayed_share_7d=[0.2 + 3e-17, np.nan, 0.31, 0.18])
    assert compare(_frame(), rounded, "flight_id").ok
    off = _frame(delayed_share_7d=[0.2 + 1e-6, np.nan, 0.31, 0.18])
    assert compare(_frame(), off, "flight_id").differing["delayed_share_7d"] == 1
    assert not compare(_frame(), rounded, "flight_id", atol=0.0).ok


def test_rows_in_one_frame_only_are_reported_and_refused_only_when_asked():
    fewer = _frame().iloc[:3]
    report = check_parity(_frame(), fewer, "flight_id")  # values of the shared rows agree
    assert (report.rows, report.only_left, report.only_right) == (3, 1, 0)
    assert "1 row(s) only in training, 0 only in inference" in report.summary()
    with pytest.raises(ParityError, match="did not produce the same rows: 1 only in training"):
        check_parity(_frame(), fewer, "flight_id", same_rows=True)


def test_only_the_features_asked_for_are_compared():
    skewed = _frame(carrier=["9E"] * 4)
    assert check_parity(_frame(), skewed, "flight_id", ["sched_hour"]).ok


def test_a_repeated_key_or_a_missing_column_is_refused_with_the_frame_named():
    repeated = pd.concat([_frame(), _frame().iloc[:1]], ignore_index=True)
    with pytest.raises(SchemaError, match="the right frame repeats 1 key"):
        compare(_frame(), repeated, "flight_id")
    with pytest.raises(SchemaError, match=r"the inference frame has no column\(s\) \['wx_temp'"):
        compare(_frame(wx_temp=[1.0] * 4), _frame(), "flight_id", ["wx_temp"],
                names=("training", "inference"))
