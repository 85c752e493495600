"""Point-in-time joins: a feature value is the latest one known strictly before the entity's
time (and not older than max_age), never a value from the future."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fti.config import TIME_DTYPE
from fti.errors import SchemaError
from fti.views import pit_join

T0 = pd.Timestamp("2013-06-01 04:00", tz="UTC")
#: A coarse grid, so that a right row at exactly the left row's time happens often.
STEP = pd.Timedelta(minutes=30)
SLOTS = 8


def times(values: list) -> pd.Series:
    return pd.Series(pd.to_datetime(values, utc=True)).astype(TIME_DTYPE)


def join(left: pd.DataFrame, right: pd.DataFrame, max_age=None) -> pd.DataFrame:
    return pit_join(
        left, right, left_time="t", right_time="time", by=["key"],
        features=["value", "seen_at"], max_age=max_age,
    )  # fmt: skip


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[pd.DataFrame, pd.DataFrame, pd.Timedelta | None]:
    n = draw(st.integers(0, 12))
    # "c" never appears on the right; None is a left row without a key.
    keys = draw(st.lists(st.sampled_from(["a", "b", "c", None]), min_size=n, max_size=n))
    slots = draw(st.lists(st.none() | st.integers(0, SLOTS), min_size=n, max_size=n))
    index = draw(st.lists(st.integers(-99, 99), unique=True, min_size=n, max_size=n))
    left = pd.DataFrame(
        {
            "payload": np.arange(n, dtype="int64") * 10,
            "key": pd.Series(keys, dtype="str"),
            "t": times([None if s is None else T0 + s * STEP for s in slots]),
        },
        index=pd.Index(index, dtype="int64"),
    )
    pairs = draw(
        st.lists(st.tuples(st.sampled_from(["a", "b"]), st.integers(0, SLOTS)), unique=True,
                 max_size=14)  # fmt: skip
    )
    pairs = draw(st.permutations(pairs))
    seen = times([T0 + s * STEP for _, s in pairs])
    right = pd.DataFrame(
        {
            "key": pd.Series([k for k, _ in pairs], dtype="str"),
            "time": seen,
            "value": np.arange(len(pairs), dtype="float64") + 0.5,
            "seen_at": seen,
        }
    )
    max_age = draw(st.none() | st.integers(0, 4).map(lambda k: k * STEP))
    return left, right, max_age


def brute_force(left: pd.DataFrame, right: pd.DataFrame, max_age) -> list[float]:
    """For each left row, scan every right row: latest of those strictly before, in age."""
    rows = list(zip(right["key"], right["time"], right["value"], strict=True))
    found = []
    for key, t in zip(left["key"], left["t"], strict=True):
        best = None
        for r_key, r_time, r_value in rows:
            if pd.isna(key) or pd.isna(t) or r_key != key or not r_time < t:
                continue
            if max_age is not None and r_time < t - max_age:
                continue
            if best is None or r_time > best[0]:
                best = (r_time, r_value)
        found.append(np.nan if best is None else best[1])
    return found


@settings(max_examples=100, deadline=None)
@given(scenarios())
def test_pit_join_matches_a_brute_force_scan(scenario) -> None:
    left, right, max_age = scenario
    out = join(left, right, max_age)

    # left rows, order and index are kept, with their columns untouched
    assert out.index.equals(left.index)
    pd.testing.assert_frame_equal(out[list(left.columns)], left)
    # the reference
    np.testing.assert_array_equal(out["value"].to_numpy(), brute_force(left, right, max_age))

    matched = out["seen_at"].notna()
    # never a value from the future, and a tie at the event time never matches
    assert (out.loc[matched, "seen_at"] < out.loc[matched, "t"]).all()
    # not older than max_age
    if max_age is not None:
        assert (out.loc[matched, "seen_at"] >= out.loc[matched, "t"] - max_age).all()
    # the latest value: no row of the same key was known in between
    found = out.loc[matched, ["key", "seen_at", "t"]]
    for key, seen_at, t in found.itertuples(index=False):
        same = right.loc[right["key"] == key, "time"]
        assert not ((same > seen_at) & (same < t)).any()
    # keys the right side never saw, and rows without a key or a time, get nulls
    unknown = ~out["key"].isin(right["key"]) | out["key"].isna() | out["t"].isna()
    assert out.loc[unknown, "value"].isna().all()
    assert str(out["seen_at"].dtype) == TIME_DTYPE


def _example() -> tuple[pd.DataFrame, pd.DataFrame]:
    left = pd.DataFrame(
        {"key": pd.Series(["a"], dtype="str"), "t": times(["2013-06-01 10:00"])}
    )
    right = pd.DataFrame(
        {
            "key": pd.Series(["a", "a", "a"], dtype="str"),
            "time": times(["2013-06-01 07:00", "2013-06-01 10:00", "2013-06-01 11:00"]),
            "value": [7.0, 10.0, 11.0],
        }
    )
    right["seen_at"] = right["time"]
    return left, right


def test_a_value_known_at_exactly_the_event_time_is_not_used() -> None:
    left, right = _example()
    assert join(left, right)["value"].tolist() == [7.0]
    only_the_tie = right[right["value"] >= 10.0]
    assert join(left, only_the_tie)["value"].isna().all()


def test_max_age_is_inclusive_and_older_values_give_null() -> None:
    left, right = _example()
    assert join(left, right, pd.Timedelta(hours=3))["value"].tolist() == [7.0]
    assert join(left, right, pd.Timedelta(hours=3) - pd.Timedelta(microseconds=1))[
        "value"
    ].isna().all()


def test_a_key_missing_on_the_right_gives_null_not_another_keys_value() -> None:
    left, right = _example()
    left = pd.concat([left, left.assign(key="b")], ignore_index=True)
    assert join(left, right)["value"].tolist()[0] == 7.0
    assert pd.isna(join(left, right)["value"].tolist()[1])


def test_pit_join_refuses_other_time_resolutions_and_name_clashes() -> None:
    left, right = _example()
    with pytest.raises(SchemaError, match=r"column 't' is datetime64\[s, UTC\]"):
        join(left.astype({"t": "datetime64[s, UTC]"}), right)
    with pytest.raises(SchemaError, match="exist on the left already; set a prefix"):
        join(left.assign(value=1.0), right)
    prefixed = pit_join(
        left.assign(value=1.0), right, left_time="t", right_time="time", by=["key"],
        features=["value"], prefix="wx_",
    )  # fmt: skip
    assert prefixed[["value", "wx_value"]].values.tolist() == [[1.0, 7.0]]
