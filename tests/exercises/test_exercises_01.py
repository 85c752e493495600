"""Notebook 01's exercises: a data incident the checks catch (temperatures in Kelvin), one
they miss (a visibility sensor stuck at a plausible value), and the repair: the day run
again, which leaves the store byte for byte as before."""

from __future__ import annotations

import datetime as dt

import pytest

from fti.features import WEATHER
from fti.run.runs import PipelineFailed
from fti.store import FeatureStore
from tests.exercises.conftest import files

pytestmark = pytest.mark.slow

#: The days of the exercises (01's text names them).
DAYS = {"start_date": "2013-06-05", "end_date": "2013-06-08", "fault_start": "2013-06-05",
        "figures": False}


def test_exercises_1_to_3_an_incident_refused_one_let_through_and_the_repair(
        lab, copy_of, run):
    data = copy_of(lab)
    before = files(data)

    # 1: Kelvin is implausible: refused in section 2, naming the check and the column
    with pytest.raises(PipelineFailed) as refused:
        run("feature", data, inject_fault="temp_kelvin", **DAYS)
    message = str(refused.value)
    assert "ExpectationError" in message and "temp" in message
    assert files(data) == before  # nothing written, not even the days before the bad one

    # 2: stuck at 2 miles is plausible: written, no glitch reported, a flat line
    stuck = run("feature", data, inject_fault="visib_stuck", **DAYS)
    assert "No glitches or empty days in this range." in stuck.text
    weather = FeatureStore(data).read(WEATHER, dt.date(2013, 6, 5), dt.date(2013, 6, 8))
    assert (weather["visib"] == 2.0).all() and weather["origin"].nunique() == 3
    assert files(data) != before

    # 3: the same days again without the fault: the store is what it was
    run("feature", data, **DAYS)
    assert files(data) == before
