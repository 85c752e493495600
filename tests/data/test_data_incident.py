"""The teaching incidents, on real data.

- A visibility sensor stuck at a plausible value is caught by monitoring on the first window
  that contains it, even when only the window's last day is affected, and a clean window
  raises no such alert.
- Temperatures in Kelvin are implausible: the feature pipeline refuses the batch and
  writes nothing.
"""

from __future__ import annotations

import datetime as dt

import pytest

from fti import calibration
from fti.errors import ExpectationError
from fti.features import WEATHER, WEATHER_COLUMNS, run_feature_pipeline
from fti.source import Fault, FlightSource
from fti.store import FeatureStore

pytestmark = pytest.mark.slow

REFERENCE = (dt.date(2013, 3, 1), dt.date(2013, 3, 24))
WINDOW = (dt.date(2013, 3, 25), dt.date(2013, 3, 31))


def stuck_in_window(root, fault: Fault | None):
    store = FeatureStore(root)
    run_feature_pipeline(store, FlightSource(fault=fault), REFERENCE[0], WINDOW[1])
    return calibration.stuck_sensors(store.read(WEATHER, *WINDOW), store.read(WEATHER, *REFERENCE),
                                     list(WEATHER_COLUMNS))


def test_a_stuck_visibility_sensor_is_caught_on_the_first_window_that_contains_it(tmp_path):
    assert stuck_in_window(tmp_path / "clean", None).empty
    stuck = stuck_in_window(tmp_path / "faulty", Fault("visib_stuck", WINDOW[1]))
    assert set(stuck["column"]) == {"visib"}
    assert set(stuck["day"]) == {WINDOW[1]}
    assert set(stuck["origin"]) == {"EWR", "JFK", "LGA"}


def test_temperatures_in_kelvin_are_refused_by_the_feature_pipeline(tmp_path, files):
    store = FeatureStore(tmp_path / "store")
    run_feature_pipeline(store, FlightSource(), dt.date(2013, 3, 1), dt.date(2013, 3, 2))
    before = files(store.root)
    with pytest.raises(ExpectationError, match="temp"):
        run_feature_pipeline(store, FlightSource(fault=Fault("temp_kelvin", dt.date(2013, 3, 3))),
                             dt.date(2013, 3, 1), dt.date(2013, 3, 4))
    assert files(store.root) == before
