"""Calibrated drift thresholds and stuck-sensor detection on tiny generated frames."""

from __future__ import annotations

import numpy as np
import pandas as pd

from fti import calibration
from fti.cache import Recent
from fti.config import TIME_DTYPE


def hourly(values: dict[str, list[float]], start: str = "2013-06-01 04:00") -> pd.DataFrame:
    """Hourly readings per station from local midnight (04:00 UTC in June)."""
    frames = []
    for station, series in values.items():
        times = pd.date_range(start, periods=len(series), freq="h", tz="UTC")
        frames.append(pd.DataFrame({"origin": station, "time_hour": times.astype(TIME_DTYPE),
                                    "visib": series}))
    return pd.concat(frames, ignore_index=True)


def test_a_station_holding_an_unusual_value_all_day_is_stuck():
    reference = hourly({"EWR": [10.0] * 20 + [3.0, 5.0, 2.0, 8.0]})
    readings = hourly({"EWR": [2.0] * 24, "JFK": [10.0] * 24, "LGA": [9.0, 8.0] * 12})
    stuck = calibration.stuck_sensors(readings, reference, ["visib"])
    assert stuck[["origin", "value"]].values.tolist() == [["EWR", 2.0]]


def test_the_usual_value_all_day_is_not_a_stuck_sensor():
    reference = hourly({"EWR": [10.0] * 20 + [3.0, 5.0, 2.0, 8.0]})
    assert calibration.stuck_sensors(hourly({"EWR": [10.0] * 24}), reference, ["visib"]).empty


def test_a_few_identical_hours_are_not_a_stuck_sensor():
    reference = hourly({"EWR": [10.0] * 24})
    readings = hourly({"EWR": [2.0] * (calibration.MIN_READINGS - 1)})
    assert calibration.stuck_sensors(readings, reference, ["visib"]).empty


def seasonal_reference(days: int = 120, seed: int = 0) -> pd.DataFrame:
    """A temperature that climbs through the reference period, like spring."""
    rng = np.random.default_rng(seed)
    day = np.repeat(np.arange(days), 50)
    times = pd.Timestamp("2013-01-01 12:00", tz="UTC") + pd.to_timedelta(day, unit="D")
    return pd.DataFrame({"sched_dep_utc": pd.Series(times).astype(TIME_DTYPE),
                         "temp": 30 + 0.3 * day + rng.normal(0, 5, len(day)),
                         "noise": rng.normal(0, 1, len(day))})


def test_thresholds_grow_with_how_much_normal_weeks_differ():
    thresholds = calibration.drift_thresholds(seasonal_reference(), ["temp", "noise"],
                                              "sched_dep_utc", window_days=7)
    # stationary: only sampling noise between weeks, so the threshold stays small
    assert calibration.MIN_THRESHOLD <= thresholds["noise"] < 0.3
    assert thresholds["temp"] > 1.0  # seasonal: one week is far from the whole period


def test_a_week_like_the_reference_weeks_stays_below_its_threshold_and_a_jump_does_not():
    reference = seasonal_reference()
    thresholds = calibration.drift_thresholds(reference, ["temp"], "sched_dep_utc", 7)
    whole = reference["temp"].to_numpy()
    first_week = whole[:350]
    assert calibration.normed_wasserstein(whole, first_week) < thresholds["temp"]
    assert calibration.normed_wasserstein(whole, first_week + 100) > thresholds["temp"]


def test_thresholds_are_calibrated_once_per_reference_and_recomputed_when_it_changes(
        monkeypatch):
    monkeypatch.setattr(calibration, "_THRESHOLDS", Recent(4))
    calls = []
    real = calibration._calibrate
    monkeypatch.setattr(calibration, "_calibrate",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    reference = seasonal_reference()
    first = calibration.drift_thresholds(reference, ["temp"], "sched_dep_utc", 7)
    first["temp"] = -1.0  # the caller's copy: changing it must not change the next answer
    again = calibration.drift_thresholds(reference.copy(), ["temp"], "sched_dep_utc", 7)
    assert len(calls) == 1 and again == real(reference, ["temp"], "sched_dep_utc", 7,
                                             calibration.MARGIN)
    calibration.drift_thresholds(reference, ["temp"], "sched_dep_utc", 14)  # another window
    changed = reference.assign(temp=reference["temp"] + 0.5)
    calibration.drift_thresholds(changed, ["temp"], "sched_dep_utc", 7)  # other values
    assert len(calls) == 3
