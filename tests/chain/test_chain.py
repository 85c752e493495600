"""The real notebooks chained by the command line, end to end, in temporary folders:
a backfill, a first model, then five production days with monitoring on the third and the
fifth (the daily runs without figures, on two kernels as --features-ahead runs them).

Then issue 18's reproduction on that store: a new model is made champion by hand and the
last monitoring day is run again; it must still judge the predictions by the model that
made them. Last, the Evidently UI serves the monitoring runs the chain left in the
workspace (issue 17). The chain runs once for the module; the tests read what it left.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

import pytest

from fti import config, monitoring
from fti.dates import day_start_utc
from fti.features import FLIGHT_VIEW
from fti.inference import read_predictions
from fti.monitoring import read_history, workspace
from fti.registry import ModelRegistry
from fti.run import cli, ui
from fti.run.runs import read_manifest
from fti.store import FeatureStore

pytestmark = pytest.mark.slow
MONITORED = ("2013-01-24", "2013-01-26")  # every 2 days from the first production day
LAST = dt.date(2013, 1, 26)


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("chain")
    data, reports, run_dir = tmp / "data", tmp / "reports", tmp / "run"
    common = ["--data-dir", str(data), "--reports-dir", str(reports), "--no-html"]
    monitoring_options = ["--window-days", "2", "--min-rows", "1000", "--min-days", "2"]
    sources = {p: p.read_bytes() for p in config.notebooks_dir().glob("*.ipynb")}

    assert cli.main(["run", "feature", "-p", "start_date=2013-01-01",
                     "-p", "end_date=2013-01-21", *common]) == 0
    assert cli.main(["run", "training", "-p", "train_start=2013-01-01",
                     "-p", "train_end=2013-01-20", "-p", "holdout_days=5", *common]) == 0
    assert cli.main(["simulate", "--start", "2013-01-22", "--end", "2013-01-26",
                     "--monitor-every", "2", *monitoring_options, "--holdout-days", "5",
                     "--features-ahead", "2", "--no-daily-figures",
                     "--run-dir", str(run_dir), *common]) == 0
    space = workspace.workspace_dir(data)
    project = workspace.find_project(space, "flight_delay")
    before = {p.name: p.read_bytes() for p in (space / str(project) / "snapshots").glob("*")}
    champion_before = ModelRegistry(data).champion("flight_delay").version
    history_before = read_history(FeatureStore(data))

    # issue 18: a new champion by hand, then the last monitoring day again, unchanged
    assert cli.main(["run", "training", "-p", "train_start=2013-01-01",
                     "-p", "train_end=2013-01-25", "-p", "holdout_days=5", "-p",
                     "promote=always", "-p", "max_trees=30", "-p", "importance_rows=100",
                     *common]) == 0
    assert cli.main(["run", "monitoring", "-p", f"run_date={LAST}", "-p", "window_days=2",
                     "-p", "min_rows=1000", "-p", "min_days=2", "--run-dir",
                     str(tmp / "again"), *common]) == 0
    return {"data": data, "reports": reports, "run_dir": run_dir, "sources": sources,
            "again": tmp / "again", "workspace": space, "project": project,
            "files_before": before, "champion_before": champion_before,
            "history_before": history_before}


def test_the_pipelines_run_day_after_day_through_papermill(chain):
    run_dir, data, reports = chain["run_dir"], chain["data"], chain["reports"]
    steps = read_manifest(run_dir)["steps"]
    names = [s["name"] for s in steps]
    assert names[0] == "2013-01-22/feature"  # nothing can start before it; after it, the
    # two kernels start 23/feature and 22/inference together (their order in the manifest
    # is a race; test_orchestrate checks every start against what it depends on)
    daily_steps = {f"2013-01-{d}/{p}" for d in range(22, 27) for p in ("feature", "inference")}
    assert daily_steps <= set(names)
    assert {f"{d}/monitoring" for d in MONITORED} <= set(names)
    assert {s["status"] for s in steps} <= {"ok", "skipped"}
    assert all((run_dir / s["output"]).exists() for s in steps if s["status"] == "ok")
    outputs = {s["name"]: (run_dir / s["output"]).read_text() for s in steps if s["output"]}
    daily = [text for name, text in outputs.items() if name.endswith(("/feature", "/inference"))]
    assert len(daily) == 10 and not any("image/png" in text for text in daily)  # tables
    assert "mean_probability" in outputs["2013-01-23/inference"]
    assert "image/png" in outputs["2013-01-24/monitoring"]  # monitoring keeps its figures

    store = FeatureStore(data)
    predictions = read_predictions(store, dt.date(2013, 1, 22), LAST)
    assert sorted(predictions["run_date"].unique()) == [f"2013-01-{d}" for d in range(22, 27)]
    history = chain["history_before"]
    assert history["run_date"].tolist() == list(MONITORED)
    assert (history["n_labelled"] > 1000).all()  # the window's two days of labels arrived
    assert (history["labelled_days"] == 2).all() and (history["current_days"] == 2).all()
    assert "not enough data" not in set(history["performance_verdict"])
    page = (reports / "index.html").read_text()
    assert "make monitor" in page and f"/projects/{chain['project']}" in page
    assert {p: p.read_bytes() for p in chain["sources"]} == chain["sources"]  # untouched


def test_monitoring_judges_the_predictions_by_the_model_that_made_them(chain):
    data = chain["data"]
    registry, store = ModelRegistry(data), FeatureStore(data)
    champion = registry.champion("flight_delay").version
    assert champion > chain["champion_before"]  # the hand-made champion is in charge now
    window = (LAST - dt.timedelta(days=2), LAST - dt.timedelta(days=1))
    predictions = read_predictions(store, *window)
    makers = sorted(predictions["model_version"].unique())
    assert champion not in makers  # it made none of the window's predictions

    row = monitoring.run_of(read_history(store), LAST)
    judged = int(row["model_version"])
    assert judged == makers[-1] and int(row["champion_version"]) == champion
    assert row["window_versions"] == ",".join(map(str, makers))
    assert row["performance_verdict"] == "earlier model" and not row["retrain_recommended"]
    # v1's own figures: its predictions against their labels, and its own holdout
    joined = monitoring.join_labels(predictions[predictions["model_version"] == judged],
                                    FLIGHT_VIEW.labels(store, *window), day_start_utc(LAST))
    assert row["roc_auc"] == pytest.approx(monitoring.performance(joined)["roc_auc"])
    assert row["holdout_roc_auc"] == registry.get(
        "flight_delay", version=judged).metrics["holdout"]["roc_auc"]
    before = monitoring.run_of(chain["history_before"], LAST)
    assert row["roc_auc"] == before["roc_auc"]  # the same figures as before the promotion
    output = next(chain["again"].glob("*.ipynb")).read_text()
    assert f"made by v{judged}, not by the champion v{champion}" in output


def test_the_evidently_ui_serves_the_runs_and_the_dashboard(chain):
    space, project = chain["workspace"], str(chain["project"])
    files = {p.name: p.read_bytes() for p in (space / project / "snapshots").glob("*")}
    assert files.keys() == chain["files_before"].keys()  # the re-run replaced, added nothing
    with ui.start(space, log=chain["reports"] / "ui.log") as server:
        listed = server.get("/api/projects")
        assert [(p["name"], p["id"]) for p in listed] == [("flight_delay", project)]
        runs = server.get(f"/api/projects/{project}/snapshots")
        per_day = Counter((r["metadata"]["run_date"], kind) for r in runs
                          for kind in r["tags"] if kind in workspace.KINDS)
        assert set(per_day) == {(d, k) for d in MONITORED for k in workspace.KINDS}
        assert set(per_day.values()) == {1}  # one run per day and kind: no duplicates
        last = [r for r in runs if r["metadata"]["run_date"] == str(LAST)]
        assert {r["metadata"]["performance_verdict"] for r in last} == {"earlier model"}
        assert sorted(r["timestamp"] for r in runs)[0] == "2013-01-24T00:00:00"

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
    assert Path(server.log).read_text()  # and it logged where it ran
