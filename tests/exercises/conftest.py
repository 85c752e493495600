"""The lessons' "Try it" exercises, run as a student runs them: the notebook through
papermill (the warm engine), with the exercise's parameters, in a temporary store; each test
asserts what the exercise's text promises, so an exercise cannot rot.

They share one small lab store, built once per test session (every file of this folder runs
on the same worker, see tests/isolation.py): the lesson path of notebooks 01 to 03 on fewer
weeks, which 04's defaults then monitor. Features of 1 May to 8 June 2013, a champion
trained on 1 to 31 May with a 7-day holdout and few trees, and its predictions of 1 to
7 June. A test that changes a
store works on its own copy (:func:`copy_of`). The exercises' promises hold on this shorter
range as on the notebooks' defaults: they name directions and messages, not figures that
depend on the range.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fti import inference
from fti.features import FLIGHT_VIEW, run_feature_pipeline
from fti.registry import ModelRegistry
from fti.run.plan import notebook_defaults
from fti.run.runs import run_notebook
from fti.source import FlightSource
from fti.store import FeatureStore

FIRST_DAY, LAST_DAY = dt.date(2013, 5, 1), dt.date(2013, 6, 8)
PREDICTED = [dt.date(2013, 6, d) for d in range(1, 8)]
#: The lab's training run: notebook 02's defaults, on fewer weeks and with fewer trees.
TRAINING = {"train_start": "2013-05-01", "train_end": "2013-05-31", "holdout_days": 7,
            "max_trees": 40, "importance_rows": 300}


@dataclass(frozen=True)
class Lab:
    data: Path  # the shared store: read it, or copy it (copy_of) to change it


@dataclass(frozen=True)
class Executed:
    """A notebook run: what it printed and displayed (text), and the output notebook."""

    text: str
    output: Path


def printed(output: Path) -> str:
    """Everything an executed notebook printed or displayed as text, in cell order."""
    parts = []
    for cell in json.loads(output.read_text())["cells"]:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                parts.append("".join(out["text"]))
            elif "data" in out and "text/plain" in out["data"]:
                parts.append("".join(out["data"]["text/plain"]))
            elif out.get("output_type") == "error":
                parts.append(f"{out['ename']}: {out['evalue']}")
    return "\n".join(parts)


@pytest.fixture(scope="session")
def run(tmp_path_factory) -> Callable[..., Executed]:
    """Run a lesson notebook with parameters on a data folder (the warm engine, no HTML)."""

    def execute(notebook: str, data: Path, **parameters: Any) -> Executed:
        run_dir = tmp_path_factory.mktemp("run")
        result = run_notebook(notebook, {"data_dir": str(data), **parameters}, run_dir,
                              notebook, export_html=False, engine="warm")
        return Executed(printed(result.output), result.output)

    return execute


@pytest.fixture(scope="session")
def lab(tmp_path_factory, run) -> Lab:
    data = tmp_path_factory.mktemp("lab") / "data"
    store = FeatureStore(data)
    run_feature_pipeline(store, FlightSource(), FIRST_DAY, LAST_DAY)
    run("training", data, **TRAINING)
    registry = ModelRegistry(data)
    record = registry.get("flight_delay", alias="champion")
    model = registry.load(record)
    threshold = notebook_defaults("inference")["threshold"]
    for day in PREDICTED:  # what notebook 03 writes for each day
        frame = inference.features_for_day(store, FLIGHT_VIEW, day)
        inference.write_predictions(store, day,
                                    inference.score(model, record, frame, threshold, day))
    return Lab(data)


@pytest.fixture
def copy_of(tmp_path) -> Callable[[Lab], Path]:
    """A copy of the lab's store that a test may change."""

    def copy(lab: Lab) -> Path:
        target = tmp_path / "data"
        shutil.copytree(lab.data, target)
        return target

    return copy


def files(root: Path) -> dict[str, bytes]:
    """Every file of a store but the lock file (relative path -> bytes)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.name != ".lock"}
