"""The teaching incidents, on real data.

- A visibility sensor stuck at a plausible value is caught by monitoring on the first window
  that contains it, even when only the window's last day is affected, and a clean window
  raises no such alert.
- Temperatures in Kelvin are implausible: the feature pipeline refuses the batch and
  writes nothing.
"""

from __future__ import annotations

import datetime as dt
import shutil

import pytest

from fti import calibration
from fti.errors import ExpectationError
from fti.features import WEATHER, WEATHER_COLUMNS, run_feature_pipeline
from fti.source import Fault, FlightSource
from fti.store import FeatureStore

pytestmark = pytest.mark.slow

REFERENCE = (dt.date(2013, 3, 1), dt.date(2013, 3, 24))
WINDOW = (dt.date(2013, 3, 25), dt.date(2013, 3, 31))


def stuck_in(store: FeatureStore):
    return calibration.stuck_sensors(store.read(WEATHER, *WINDOW), store.read(WEATHER, *REFERENCE),
                                     list(WEATHER_COLUMNS))


def test_a_stuck_visibility_sensor_is_caught_on_the_first_window_that_contains_it(tmp_path):
    clean = FeatureStore(tmp_path / "clean")
    run_feature_pipeline(clean, FlightSource(), REFERENCE[0], WINDOW[1])
    assert stuck_in(clean).empty
    # the sensor sticks on the window's last day: the days before it are the clean ones
    shutil.copytree(clean.root, tmp_path / "faulty")
    faulty = FeatureStore(tmp_path / "faulty")
    run_feature_pipeline(faulty, FlightSource(fault=Fault("visib_stuck", WINDOW[1])),
                         WINDOW[1], WINDOW[1])
    stuck = stuck_in(faulty)
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
