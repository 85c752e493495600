"""Inference: score the flights of one day with a registered model; predictions are stored
as a partition of the ``predictions`` table, one per run date (re-running replaces it)."""

from __future__ import annotations

from fti.config import TIME_DTYPE
from fti.store import FeatureGroup

PREDICTIONS = FeatureGroup(
    name="predictions",
    version=1,
    description="Delay probability of every flight scheduled on the run date, with the model "
    "that made it. Partition: the run date. Event time: scheduled departure.",
    schema={
        "flight_id": "str", "sched_dep_utc": TIME_DTYPE, "carrier": "str", "origin": "str",
        "dest": "str", "sched_hour": "int64", "probability": "float64", "flag": "bool",
        "threshold": "float64", "model_name": "str", "model_version": "int64",
        "run_date": "str",
    },  # fmt: skip
    primary_key=("flight_id",),
    event_time="sched_dep_utc",
)
