"""The real notebooks chained by the command line, end to end, in temporary folders:
a backfill, a first model, then three production days with monitoring on the third (the
daily runs without figures, on two kernels as --features-ahead runs them)."""

from __future__ import annotations

import datetime as dt

import pytest

from fti import config
from fti.inference import read_predictions
from fti.monitoring import read_history
from fti.registry import ModelRegistry
from fti.run import cli
from fti.run.runs import read_manifest
from fti.store import FeatureStore

pytestmark = pytest.mark.slow


def test_the_pipelines_run_day_after_day_through_papermill(tmp_path):
    data, reports, run_dir = tmp_path / "data", tmp_path / "reports", tmp_path / "run"
    common = ["--data-dir", str(data), "--reports-dir", str(reports), "--no-html"]
    sources = {p: p.read_bytes() for p in config.notebooks_dir().glob("*.ipynb")}

    assert cli.main(["run", "feature", "-p", "start_date=2013-01-01",
                     "-p", "end_date=2013-01-21", *common]) == 0
    assert cli.main(["run", "training", "-p", "train_start=2013-01-01",
                     "-p", "train_end=2013-01-20", "-p", "holdout_days=5", *common]) == 0
    assert cli.main(["simulate", "--start", "2013-01-22", "--end", "2013-01-24",
                     "--monitor-every", "2", "--window-days", "2", "--holdout-days", "5",
                     "--features-ahead", "2", "--no-daily-figures",
                     "--run-dir", str(run_dir), *common]) == 0

    steps = read_manifest(run_dir)["steps"]
    names = [s["name"] for s in steps]
    assert names[0] == "2013-01-22/feature"  # nothing can start before it; after it, the
    # two kernels start 23/feature and 22/inference together (their order in the manifest
    # is a race; test_orchestrate checks every start against what it depends on)
    daily_steps = {f"2013-01-{d}/{p}" for d in (22, 23, 24) for p in ("feature", "inference")}
    assert daily_steps <= set(names)
    assert "2013-01-24/monitoring" in names
    assert {s["status"] for s in steps} <= {"ok", "skipped"}
    assert all((run_dir / s["output"]).exists() for s in steps if s["status"] == "ok")
    outputs = {s["name"]: (run_dir / s["output"]).read_text() for s in steps if s["output"]}
    daily = [text for name, text in outputs.items() if name.endswith(("/feature", "/inference"))]
    assert len(daily) == 6 and not any("image/png" in text for text in daily)  # tables instead
    assert "mean_probability" in outputs["2013-01-23/inference"]
    assert "image/png" in outputs["2013-01-24/monitoring"]  # monitoring keeps its figures

    store = FeatureStore(data)
    predictions = read_predictions(store, dt.date(2013, 1, 22), dt.date(2013, 1, 24))
    assert sorted(predictions["run_date"].unique()) == ["2013-01-22", "2013-01-23", "2013-01-24"]
    history = read_history(store)
    assert history["run_date"].tolist() == ["2013-01-24"]
    assert history["n_labelled"].iloc[0] > 0  # the labels of 22 and 23 January had arrived
    assert ModelRegistry(data).champion("flight_delay") is not None
    assert (reports / "index.html").exists()
    assert {p: p.read_bytes() for p in sources} == sources  # papermill never wrote the sources
