"""The real notebooks chained by the command line, end to end, in temporary folders:
a backfill, a first model, then three production days with monitoring on the third (the
daily runs without figures, on two kernels as --features-ahead runs them). The same chain
with its data root on S3 (a moto server on localhost) leaves the same Parquet bytes."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from fti import config
from fti.files import Location, location
from fti.inference import read_predictions
from fti.monitoring import read_history
from fti.registry import ModelRegistry
from fti.run import cli
from fti.run.runs import read_manifest
from fti.store import FeatureStore

pytestmark = pytest.mark.slow


def run_chain(data: Location | Path, reports: Path, run_dir: Path) -> None:
    """The chain: backfill three weeks, train, then three days with monitoring."""
    common = ["--data-dir", str(data), "--reports-dir", str(reports), "--no-html"]
    assert cli.main(["run", "feature", "-p", "start_date=2013-01-01",
                     "-p", "end_date=2013-01-21", *common]) == 0
    assert cli.main(["run", "training", "-p", "train_start=2013-01-01",
                     "-p", "train_end=2013-01-20", "-p", "holdout_days=5", *common]) == 0
    assert cli.main(["simulate", "--start", "2013-01-22", "--end", "2013-01-24",
                     "--monitor-every", "2", "--window-days", "2", "--holdout-days", "5",
                     "--features-ahead", "2", "--no-daily-figures",
                     "--run-dir", str(run_dir), *common]) == 0


@pytest.fixture(scope="module")
def local_chain(tmp_path_factory) -> Path:
    """The chain on a local folder, once for this module; returns its folder."""
    folder = tmp_path_factory.mktemp("chain")
    sources = {p: p.read_bytes() for p in config.notebooks_dir().glob("*.ipynb")}
    run_chain(folder / "data", folder / "reports", folder / "run")
    assert {p: p.read_bytes() for p in sources} == sources  # papermill never wrote the sources
    return folder


def test_the_pipelines_run_day_after_day_through_papermill(local_chain):
    data, reports, run_dir = (local_chain / n for n in ("data", "reports", "run"))
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


def _model_facts(root: Location) -> dict[str, object]:
    """What the registry holds, without what differs from run to run: the time of
    registration, and the model file's hash (a skops file is a zip with timestamps)."""
    registry = ModelRegistry(root)
    records = registry.versions("flight_delay")
    return {"aliases": registry.aliases("flight_delay"),
            "records": [{k: v for k, v in r.info.items()
                         if k not in ("created_at", "code_version", "sha256")}
                        for r in records]}


def test_the_same_chain_on_s3_leaves_the_same_parquet_bytes(local_chain, s3_root, files,
                                                            tmp_path):
    run_chain(s3_root, tmp_path / "reports", tmp_path / "run")
    assert {s["status"] for s in read_manifest(tmp_path / "run")["steps"]} <= {"ok", "skipped"}
    local, remote = files(local_chain / "data"), files(s3_root)
    parquet = sorted(k for k in local if k.endswith(".parquet"))
    assert len(parquet) > 100 and sorted(k for k in remote if k.endswith(".parquet")) == parquet
    assert [k for k in parquet if remote[k] != local[k]] == []  # snapshots, predictions, ...
    for name in ("schema.json", "metadata.json"):
        assert {k: json.loads(v) for k, v in remote.items() if k.endswith(name)} == {
            k: json.loads(v) for k, v in local.items() if k.endswith(name)}
    assert _model_facts(s3_root) == _model_facts(location(local_chain / "data"))
    page = (tmp_path / "reports" / "index.html").read_text()  # the report reads S3
    assert "Champion: v1" in page and "History (newest first)" in page
