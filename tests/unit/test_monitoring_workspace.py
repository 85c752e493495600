"""The Evidently workspace of monitoring: runs per day and kind with fixed ids, re-runs that
replace, files Evidently itself loads and re-renders, and the dashboard made by code."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest

from fti import monitoring
from fti.dates import day_start_utc
from fti.monitoring import dashboard, workspace
from tests.unit.test_monitoring import CATEGORICAL, NUMERICAL, flights, labels, predictions

pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning:evidently.*"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:litestar.*"),
]
JUNE_8 = dt.date(2013, 6, 8)


@pytest.fixture(scope="module")
def runs() -> dict:
    """A day's three Evidently runs on tiny frames: drift, quality, labels."""
    current = flights(400, 2)
    current["temp"] = current["temp"] + 25  # a hot week: temp drifts
    result = monitoring.drift(flights(1500, 1), current, NUMERICAL, CATEGORICAL)
    ids = [f"f{i}" for i in range(200)]
    preds = predictions(ids, [0.1 + 0.8 * (i % 2) for i in range(200)])
    labs = labels([(f, 60.0 if i % 3 else 0.0, JUNE_8) for i, f in enumerate(ids[:150])])
    joined = monitoring.join_labels(preds, labs, day_start_utc(JUNE_8))
    return {"result": result, "drift": result.snapshot,
            "quality": monitoring.classification_report(joined),
            "labels": monitoring.labels_report(joined)}


def record(root, runs: dict, day=JUNE_8, champion=1, kinds=workspace.KINDS):
    return workspace.record_day(
        root, model_name="flight_delay", run_date=day,
        runs={k: runs[k] for k in kinds}, champion=champion, judged_version=1,
        window_versions=[1], drift_columns=runs["result"].columns,
        metadata={"drift_verdict": "drifted", "retrain_recommended": True})


def test_a_monitoring_day_adds_one_run_per_kind_stamped_with_the_run_date(tmp_path, runs):
    from evidently.ui.workspace import Workspace

    day = record(tmp_path, runs)
    assert sorted(day.runs) == sorted(workspace.KINDS)
    assert day.runs["drift"] == workspace.run_id(day.project, "2013-06-08", "drift")
    ws = Workspace(str(tmp_path))  # Evidently's own reader finds what was written
    assert [p.name for p in ws.list_projects()] == ["flight_delay"]
    assert sorted(map(str, ws.list_runs(day.project))) == sorted(map(str, day.runs.values()))
    stored = ws.get_run(day.project, day.runs["quality"])
    assert stored.timestamp == dt.datetime(2013, 6, 8)
    assert stored.metadata["run_date"] == "2013-06-08"
    assert stored.metadata["champion_version"] == "1"
    assert stored.metadata["retrain_recommended"] == "True"
    assert set(stored.tags) == {"quality", "champion v1", "model v1"}


def test_rerunning_a_day_replaces_its_runs_and_drops_a_kind_it_no_longer_has(tmp_path, runs):
    first = record(tmp_path, runs)
    again = record(tmp_path, runs, kinds=("drift", "labels"))  # no quality run this time
    record(tmp_path, runs, day=JUNE_8 + dt.timedelta(days=7))
    snapshots = tmp_path / str(first.project) / "snapshots"
    names = sorted(p.name for p in snapshots.iterdir())
    assert again.runs == {k: first.runs[k] for k in ("drift", "labels")}
    assert len(names) == 2 + 3  # one run per day and kind, nothing left behind
    assert f"{first.runs['quality']}.json" not in names
    assert not [n for n in names if n.startswith(".")]  # no temporary files


def test_a_stored_run_loads_and_renders_again(tmp_path, runs):
    from evidently.core.report import Snapshot

    day = record(tmp_path, runs)
    path = workspace.run_path(tmp_path, day.project, day.runs["drift"])
    loaded = Snapshot.load(path)
    assert monitoring.datadrift._read_verdicts(loaded.dict()) == \
        monitoring.datadrift._read_verdicts(runs["drift"].dict())
    html = loaded.get_html_str(as_iframe=False)
    assert "<html" in html[:2000].lower() and len(html) > 100_000  # scripts inlined: offline


def test_the_drift_run_counts_drifted_features_as_the_project_does(runs):
    counts = [m for m in runs["drift"].dict()["metrics"]
              if str(m["config"].get("type", "")).endswith("DriftedColumnsCount")]
    assert len(counts) == 1
    assert counts[0]["value"]["share"] == pytest.approx(
        monitoring.feature_drift_share(runs["result"]))


def test_the_dashboard_is_written_with_its_panels_and_rewritten_the_same(tmp_path, runs):
    from evidently.sdk.models import DashboardModel

    day = record(tmp_path, runs)
    record(tmp_path, runs, day=JUNE_8 + dt.timedelta(days=7), champion=2)
    path = tmp_path / str(day.project) / "dashboard.json"
    board = DashboardModel.parse_obj(json.loads(path.read_text()))
    titles = [p.title for p in board.panels]
    assert titles == ["How to read this dashboard", "Share of drifted features",
                      "ROC AUC on the arrived labels",
                      "Delayed share: observed vs mean prediction",
                      "Labelled and unlabelled predictions of the window",
                      "Drift scores of the most drifting features"]
    for panel in board.panels:  # Evidently tells a panel's selections apart by metric and
        keys = [(v.metric, tuple(sorted(v.metric_labels.items()))) for v in panel.values]
        assert len(set(keys)) == len(keys)  # labels, not by tags: each must differ there
    top = board.panels[-1].values
    assert top[0].metric_labels == {"column": "temp"}  # the one that drifted leads
    assert "probability" not in [v.metric_labels["column"] for v in top]
    assert board.tabs[0].panels == [p.id for p in board.panels]
    before = path.read_bytes()
    record(tmp_path, runs, day=JUNE_8 + dt.timedelta(days=7), champion=2)  # a re-run
    assert path.read_bytes() == before  # fixed ids: rewriting the same days changes nothing


def test_the_most_drifting_features_are_ranked_by_score_over_threshold():
    columns = pd.DataFrame({"column": ["a", "b", "c", "probability"],
                            "score": [0.2, 0.05, 0.3, 9.0], "threshold": [0.1, 0.1, 1.0, 0.1],
                            "note": ["", "", "", ""]})
    ratios = dashboard.drift_ratios(columns)
    assert ratios == {"a": 2.0, "b": 0.5, "c": 0.3}
    days = {"2013-06-08": {"ratios": ratios}, "2013-06-15": {"ratios": {"c": 4.0}}}
    assert dashboard.top_columns(days, k=2) == ["c", "a"]


def test_a_project_is_found_by_its_models_name(tmp_path):
    pid = workspace.project_id(tmp_path, "flight_delay")
    assert workspace.project_id(tmp_path, "flight_delay") == pid
    assert workspace.find_project(tmp_path, "other") is None
    assert workspace.project_id(tmp_path, "other") != pid
