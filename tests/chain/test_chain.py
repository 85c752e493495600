"""The real notebooks chained by the command line, end to end, in temporary folders.

1. A backfill, a first model, then two production days (the daily runs without figures,
   on two kernels as --features-ahead runs them) with monitoring on 23 January: its
   two-day window holds one predicted day, not enough data for a verdict.
2. Issue 18's reproduction: a new champion, whose holdout ROC AUC is far above the first
   model's, is registered and promoted (what 02 with promote="always" does, without a
   training run); then the production day of 24 January, whose monitoring window was
   predicted by the first model, and monitoring of 23 January again, unchanged. Both
   must judge the predictions by the model that made them, against its own holdout.
3. The Evidently UI serves the runs those monitoring days left in the workspace (issue 17):
   one per day and kind, none doubled by the re-run, and the dashboard's panels.
4. The chain of step 1 with its data root on S3 (a moto server on localhost) leaves the
   same Parquet bytes, schemas, snapshot metadata, model records and aliases (issue 15).

The chain runs once for the module; the tests read what it left.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path

import pytest

from fti import config, monitoring
from fti.dates import day_start_utc
from fti.features import FLIGHT_VIEW
from fti.files import Location, location
from fti.inference import read_predictions
from fti.monitoring import read_history, workspace
from fti.registry import ModelRegistry
from fti.run import cli, ui
from fti.run.runs import read_manifest
from fti.store import FeatureStore

pytestmark = pytest.mark.slow
MONITORED = ("2013-01-23", "2013-01-24")
LAST = dt.date(2013, 1, 24)

WINDOW = ["--window-days", "2", "--min-rows", "1000", "--min-days", "2"]


def run_chain(data: Location | Path, reports: Path, run_dir: Path) -> list[str]:
    """Step 1: backfill three weeks, train, then two production days with monitoring.
    Returns the options every later command of the chain repeats."""
    common = ["--data-dir", str(data), "--reports-dir", str(reports), "--no-html"]
    assert cli.main(["run", "feature", "-p", "start_date=2013-01-01",
                     "-p", "end_date=2013-01-21", *common]) == 0
    assert cli.main(["run", "training", "-p", "train_start=2013-01-01", "-p",
                     "train_end=2013-01-20", "-p", "holdout_days=5", "-p", "max_trees=60",
                     "-p", "importance_rows=500", *common]) == 0
    assert cli.main(["simulate", "--start", "2013-01-22", "--end", "2013-01-23",
                     "--monitor-every", "1", *WINDOW, "--holdout-days", "5",
                     "--features-ahead", "2", "--no-daily-figures",
                     "--run-dir", str(run_dir), *common]) == 0
    return common


def _store_files(root: Location | Path) -> dict[str, bytes]:
    """The data root's files, without the Evidently workspace (a local data root keeps it
    inside, an S3 one beside its reports) and the lock."""
    root = location(root)
    return {p.relative_to(root): p.read_bytes() for p in root.walk()
            if not p.relative_to(root).startswith(("evidently/", ".lock"))}


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("chain")
    data, reports, run_dir = tmp / "data", tmp / "reports", tmp / "run"
    sources = {p: p.read_bytes() for p in config.notebooks_dir().glob("*.ipynb")}
    common = run_chain(data, reports, run_dir)
    step_one = {"files": _store_files(data), "models": _model_facts(location(data))}
    history_before = read_history(FeatureStore(data))

    registry = ModelRegistry(data)
    first = registry.champion("flight_delay")
    info = {k: v for k, v in first.info.items() if k in ("features", "lineage", "params")}
    new = registry.register("flight_delay", registry.load(first), {
        **info, "metrics": {"holdout": {"roc_auc": 0.99}}})
    registry.set_alias("flight_delay", "champion", new.version, "by hand", at=str(LAST))
    assert cli.main(["day", str(LAST), "--first-day", "2013-01-22", "--monitor-every", "1",
                     *WINDOW, "--holdout-days", "5", "--no-daily-figures", "--run-dir",
                     str(tmp / "day"), *common]) == 0
    space = workspace.workspace_dir(data)
    project = workspace.find_project(space, "flight_delay")
    files_before = {p.name for p in (space / str(project) / "snapshots").glob("*")}
    assert cli.main(["run", "monitoring", "-p", f"run_date={MONITORED[0]}", "-p",
                     "window_days=2", "-p", "min_rows=1000", "-p", "min_days=2",
                     "--run-dir", str(tmp / "again"), *common]) == 0
    return {"data": data, "reports": reports, "run_dir": run_dir, "sources": sources,
            "day": tmp / "day", "workspace": space, "project": project,
            "files_before": files_before, "first": first.version, "champion": new.version,
            "history_before": history_before, "step_one": step_one}


def test_the_pipelines_run_day_after_day_through_papermill(chain):
    run_dir, data, reports = chain["run_dir"], chain["data"], chain["reports"]
    steps = read_manifest(run_dir)["steps"]
    names = [s["name"] for s in steps]
    assert names[0] == "2013-01-22/feature"  # nothing can start before it; after it, the
    # two kernels start 23/feature and 22/inference together (their order in the manifest
    # is a race; test_orchestrate checks every start against what it depends on)
    assert {f"2013-01-{d}/{p}" for d in (22, 23) for p in ("feature", "inference")} <= set(names)
    assert "2013-01-23/monitoring" in names
    day = [s["name"] for s in read_manifest(chain["day"])["steps"]]
    assert day[:3] == ["2013-01-24/feature", "2013-01-24/inference", "2013-01-24/monitoring"]
    assert {s["status"] for s in steps} <= {"ok", "skipped"}
    assert all((run_dir / s["output"]).exists() for s in steps if s["status"] == "ok")
    outputs = {s["name"]: (run_dir / s["output"]).read_text() for s in steps if s["output"]}
    daily = [text for name, text in outputs.items() if name.endswith(("/feature", "/inference"))]
    assert len(daily) == 4 and not any("image/png" in text for text in daily)  # tables
    assert "mean_probability" in outputs["2013-01-23/inference"]
    assert "image/png" in outputs["2013-01-23/monitoring"]  # monitoring keeps its figures

    store = FeatureStore(data)
    predictions = read_predictions(store, dt.date(2013, 1, 22), LAST)
    assert sorted(predictions["run_date"].unique()) == ["2013-01-22", "2013-01-23", str(LAST)]
    # 23 January: its window (21-22) holds one predicted day, too little for a verdict
    thin = monitoring.run_of(chain["history_before"], MONITORED[0])
    assert (thin["current_days"], thin["labelled_days"]) == (1, 1)
    assert (thin["drift_verdict"], thin["performance_verdict"]) == ("not enough data",) * 2
    assert not thin["retrain_recommended"] and thin["roc_auc"] > 0  # measured, not judged
    # 24 January: both days of the window predicted, and their labels arrived
    full = monitoring.run_of(read_history(store), LAST)
    assert (full["current_days"], full["labelled_days"]) == (2, 2) and full["n_labelled"] > 1000
    assert full["drift_verdict"] != "not enough data"
    page = (reports / "index.html").read_text()
    assert "make monitor" in page and f"/projects/{chain['project']}" in page
    assert {p: p.read_bytes() for p in chain["sources"]} == chain["sources"]  # untouched


def test_monitoring_judges_the_predictions_by_the_model_that_made_them(chain):
    data, first, champion = chain["data"], chain["first"], chain["champion"]
    registry, store = ModelRegistry(data), FeatureStore(data)
    history = read_history(store)
    window = (LAST - dt.timedelta(days=2), LAST - dt.timedelta(days=1))
    predictions = read_predictions(store, *window)
    assert set(predictions["model_version"]) == {first}  # none by the new champion

    row = monitoring.run_of(history, LAST)
    assert (row["model_version"], row["champion_version"]) == (first, champion)
    assert row["window_versions"] == str(first)
    # judged against the new champion's 0.99 it would have "degraded": no retrain here
    assert row["performance_verdict"] == "earlier model" and not row["retrain_recommended"]
    joined = monitoring.join_labels(predictions, FLIGHT_VIEW.labels(store, *window),
                                    day_start_utc(LAST))
    assert row["roc_auc"] == pytest.approx(monitoring.performance(joined)["roc_auc"])
    assert row["holdout_roc_auc"] == registry.get(
        "flight_delay", version=first).metrics["holdout"]["roc_auc"] != 0.99
    output = next(chain["day"].glob("*monitoring.ipynb")).read_text()
    assert f"made by v{first}, not by the champion v{champion}" in output

    again, before = (monitoring.run_of(h, MONITORED[0]) for h in (history,
                                                                 chain["history_before"]))
    assert (before["champion_version"], again["champion_version"]) == (first, champion)
    assert again["model_version"] == before["model_version"] == first
    assert again["roc_auc"] == before["roc_auc"]  # the same figures, about the same model


def test_the_evidently_ui_serves_the_runs_and_the_dashboard(chain):
    space, project = chain["workspace"], str(chain["project"])
    files = {p.name for p in (space / project / "snapshots").glob("*")}
    assert files == chain["files_before"]  # the re-run replaced its day's runs, added none
    with ui.start(space, log=chain["reports"] / "ui.log") as server:
        listed = server.get("/api/projects")
        assert [(p["name"], p["id"]) for p in listed] == [("flight_delay", project)]
        runs = server.get(f"/api/projects/{project}/snapshots")
        per_day = Counter((r["metadata"]["run_date"], kind) for r in runs
                          for kind in r["tags"] if kind in workspace.KINDS)
        assert set(per_day) == {(d, k) for d in MONITORED for k in workspace.KINDS}
        assert set(per_day.values()) == {1}  # one run per day and kind: no duplicates
        rerun = [r for r in runs if r["metadata"]["run_date"] == MONITORED[0]]
        assert {r["metadata"]["champion_version"] for r in rerun} == {str(chain["champion"])}
        assert sorted(r["timestamp"] for r in runs)[0] == f"{MONITORED[0]}T00:00:00"

        board = server.get(f"/api/v2/dashboards/{project}")
        assert [p["title"] for p in board["panels"]][1:] == [
            "Share of drifted features", "ROC AUC on the arrived labels",
            "Delayed share: observed vs mean prediction",
            "Labelled and unlabelled predictions of the window",
            "Drift scores of the most drifting features"]
        for panel in board["panels"][1:]:  # every panel has a point per monitoring day
            body = {"series_filter": [{k: v[k] for k in ("metric", "tags", "metadata",
                                                         "metric_labels")}
                                      for v in panel["values"]]}
            series = server.post(f"/api/v2/snapshots/{project}/data_series_batch", body)
            days = {s["timestamp"][:10] for s in series["sources"]}
            assert days == set(MONITORED), panel["title"]
            assert series["series"], panel["title"]
    assert server.process.poll() is not None  # stopped
    assert "Uvicorn running on http://127.0.0.1" in server.log.read_text()


def _model_facts(root: Location) -> dict[str, object]:
    """What the registry holds, without what differs from run to run: the time of
    registration, and the model file's hash (a skops file is a zip with timestamps)."""
    registry = ModelRegistry(root)
    return {"aliases": registry.aliases("flight_delay"),
            "records": [{k: v for k, v in r.info.items()
                         if k not in ("created_at", "code_version", "sha256")}
                        for r in registry.versions("flight_delay")]}


def test_the_same_chain_on_s3_leaves_the_same_parquet_bytes(chain, s3_root, tmp_path):
    reports = tmp_path / "reports"
    run_chain(s3_root, reports, tmp_path / "run")
    assert {s["status"] for s in read_manifest(tmp_path / "run")["steps"]} <= {"ok", "skipped"}
    local, remote = chain["step_one"]["files"], _store_files(s3_root)
    parquet = sorted(k for k in local if k.endswith(".parquet"))
    assert len(parquet) > 100 and sorted(k for k in remote if k.endswith(".parquet")) == parquet
    assert [k for k in parquet if remote[k] != local[k]] == []  # snapshots, predictions, ...
    for name in ("schema.json", "metadata.json"):
        assert {k: json.loads(v) for k, v in remote.items() if k.endswith(name)} == {
            k: json.loads(v) for k, v in local.items() if k.endswith(name)}
    assert _model_facts(s3_root) == chain["step_one"]["models"]
    page = (reports / "index.html").read_text()  # the report reads S3
    assert "Champion: v1" in page and "History (newest first)" in page
    assert f"fti monitor --data-dir {s3_root} --reports-dir {reports}" in page
    # Evidently's workspace is local files: for an S3 data root it is kept beside the reports
    space = workspace.workspace_dir(s3_root, reports)
    assert space.is_relative_to(reports) and workspace.find_project(space, "flight_delay")
