"""Monitoring: drift verdicts from Evidently, late labels, performance, the retrain
recommendation and the idempotent monitoring history."""

from __future__ import annotations

import datetime as dt
import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from fti import monitoring
from fti.config import TIME_DTYPE
from fti.dates import day_start_utc
from fti.errors import NotEnoughDataError, ParameterError
from fti.features import LABELS
from fti.inference import PREDICTIONS
from fti.store import FeatureStore

# Evidently's own imports warn about deprecated numpy and litestar APIs; not ours to fix.
pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning:evidently.*"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:litestar.*"),
]
NUMERICAL = ["temp", "distance", "probability"]
CATEGORICAL = ["carrier", "origin"]


def flights(n: int, seed: int) -> pd.DataFrame:
    """A small frame shaped like monitored features: weather in Fahrenheit, routes, scores."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "temp": rng.normal(60, 15, n),
            "distance": rng.gamma(4, 250, n),
            "probability": rng.beta(2, 6, n),
            "carrier": rng.choice(["UA", "B6", "EV", "DL", "AA"], n, p=[.3, .2, .2, .2, .1]),
            "origin": rng.choice(["EWR", "JFK", "LGA"], n),
        }
    )


def test_same_distribution_raises_no_alarm():
    result = monitoring.drift(flights(3000, 1), flights(2000, 2), NUMERICAL, CATEGORICAL)
    assert result.share_drifted < 0.3
    assert result.drifted_columns == []
    assert list(result.columns["column"]) == NUMERICAL + CATEGORICAL
    assert (result.columns["score"] < result.columns["threshold"]).all()  # distances here


def test_a_fahrenheit_to_celsius_switch_flags_exactly_that_column(tmp_path):
    current = flights(2000, 2)
    current["temp"] = (current["temp"] - 32) * 5 / 9
    html = tmp_path / "reports" / "drift.html"
    result = monitoring.drift(flights(3000, 1), current, NUMERICAL, CATEGORICAL, html_path=html)
    assert result.drifted_columns == ["temp"]
    assert result.share_drifted == pytest.approx(1 / 5)
    assert result.score("temp") > 1
    assert result.columns.set_index("column").loc["temp", "method"].startswith("Wasserstein")
    assert html.stat().st_size > 10_000 and "<html" in html.read_text()[:2000].lower()
    assert not list(html.parent.glob(".*.tmp"))  # the temporary file was renamed


def test_columns_without_values_are_reported_not_evaluated_instead_of_crashing():
    reference, current = flights(1500, 1), flights(1500, 2)
    reference["gust"], current["gust"] = np.nan, 10.0
    reference["wind"], current["wind"] = 5.0, np.inf
    current["origin"] = pd.Series([None] * len(current), dtype="str")
    result = monitoring.drift(reference, current, [*NUMERICAL, "gust", "wind"], CATEGORICAL)
    table = result.columns.set_index("column")
    assert table.loc["gust", "note"] == "not evaluated: no values in the reference data"
    assert table.loc["wind", "note"] == "not evaluated: no values in the current data"
    assert table.loc["origin", "note"] == "not evaluated: no values in the current data"
    assert not table.loc[["gust", "wind", "origin"], "drifted"].any()
    assert math.isnan(result.score("gust"))
    assert len(result.columns) == 7 and result.share_drifted == 0.0  # out of 4 evaluated


def test_drift_refuses_missing_columns_and_empty_data_with_a_hint():
    with pytest.raises(ParameterError, match="lacks column"):
        monitoring.drift(flights(50, 1), flights(50, 2), ["nope"], [])
    with pytest.raises(ParameterError, match="list them as categorical"):
        monitoring.drift(flights(50, 1), flights(50, 2), ["carrier"], [])
    with pytest.raises(NotEnoughDataError, match="no rows"):
        monitoring.drift(flights(50, 1), flights(0, 2), NUMERICAL, [])


def test_sample_reference_is_deterministic_and_bounded():
    frame = flights(500, 3)
    a, b = (monitoring.sample_reference(frame, n=100, seed=7) for _ in range(2))
    assert len(a) == 100 and a.equals(b)
    assert not a.equals(monitoring.sample_reference(frame, n=100, seed=8))
    assert len(monitoring.sample_reference(frame, n=1000)) == 500


def predictions(ids: list[str], probabilities: list[float]) -> pd.DataFrame:
    n = len(ids)
    frame = pd.DataFrame(
        {
            "flight_id": ids, "sched_dep_utc": [day_start_utc(dt.date(2013, 6, 1))] * n,
            "carrier": "UA", "origin": "EWR", "dest": "ORD", "sched_hour": 9,
            "probability": probabilities, "flag": [p > 0.5 for p in probabilities],
            "threshold": 0.5, "model_name": "flight_delay", "model_version": 1,
            "run_date": "2013-06-01",
        }
    )  # fmt: skip
    return frame.astype(dict(PREDICTIONS.schema))


def labels(rows: list[tuple[str, float, dt.date]]) -> pd.DataFrame:
    """(flight_id, dep_delay, day its label is published) -> a flight_labels batch."""
    frame = pd.DataFrame(
        {
            "flight_id": [r[0] for r in rows],
            "sched_dep_utc": [day_start_utc(dt.date(2013, 6, 1))] * len(rows),
            "label_available_at": [day_start_utc(r[2]) for r in rows],
            "dep_delay": [r[1] for r in rows],
            "delayed": [r[1] > 15 for r in rows],
        }
    )
    return frame.astype(dict(LABELS.schema))


JUNE_2, JUNE_3 = dt.date(2013, 6, 2), dt.date(2013, 6, 3)


def test_join_labels_counts_a_label_published_after_as_of_as_not_arrived():
    preds = predictions(["a", "b", "c", "d"], [0.1, 0.8, 0.3, 0.6])
    labs = labels([("a", 0.0, JUNE_2), ("b", 60.0, JUNE_2), ("c", 30.0, JUNE_3), ("x", 1, JUNE_2)])
    joined = monitoring.join_labels(preds, labs, day_start_utc(JUNE_2))
    assert list(joined["flight_id"]) == ["a", "b", "c", "d"]  # every prediction, in order
    assert list(joined["labelled"]) == [True, True, False, False]
    assert joined["delayed"].isna().tolist() == [False, False, True, True]
    assert joined["label_available_at"].dtype == TIME_DTYPE
    later = monitoring.join_labels(preds, labs, day_start_utc(JUNE_3))
    assert list(later["labelled"]) == [True, True, True, False]


def test_join_labels_wants_a_utc_timestamp():
    with pytest.raises(ParameterError, match="time zone"):
        monitoring.join_labels(predictions(["a"], [0.5]), labels([]), "2013-06-02")


def test_performance_without_labels_gives_counts_and_nans():
    joined = monitoring.join_labels(predictions(["a", "b"], [0.2, 0.7]), labels([]),
                                    day_start_utc(JUNE_2))  # fmt: skip
    perf = monitoring.performance(joined)
    assert (perf["n_predictions"], perf["n_labelled"], perf["n_unlabelled"]) == (2, 0, 2)
    for key in ("roc_auc", "brier", "log_loss", "base_rate", "mean_prediction"):
        assert math.isnan(perf[key]), key


def test_performance_on_arrived_labels_only():
    preds = predictions(["a", "b", "c", "d", "e"], [0.1, 0.8, 0.3, 0.9, 0.4])
    labs = labels([("a", 0.0, JUNE_2), ("b", 60.0, JUNE_2), ("c", 30.0, JUNE_2),
                   ("d", 0.0, JUNE_3), ("e", 5.0, JUNE_2)])  # fmt: skip
    perf = monitoring.performance(monitoring.join_labels(preds, labs, day_start_utc(JUNE_2)))
    assert (perf["n_predictions"], perf["n_labelled"], perf["n_unlabelled"]) == (5, 4, 1)
    assert perf["roc_auc"] == pytest.approx(0.75)  # d's wrong 0.9 has not arrived yet
    assert perf["base_rate"] == pytest.approx(0.5)
    assert perf["mean_prediction"] == pytest.approx(0.4)
    assert perf["brier"] == pytest.approx((0.01 + 0.04 + 0.49 + 0.16) / 4)
    one_class = monitoring.join_labels(preds, labs, day_start_utc(JUNE_2)).iloc[[1, 2]]
    assert math.isnan(monitoring.performance(one_class)["roc_auc"])


def test_classification_report_needs_both_classes(tmp_path):
    rng = np.random.default_rng(0)
    p = rng.uniform(size=300)
    ids = [f"f{i}" for i in range(300)]
    preds = predictions(ids, list(p))
    delays = np.where(rng.uniform(size=300) < p, 60.0, 0.0)
    labs = labels([(i, d, JUNE_2) for i, d in zip(ids, delays, strict=True)])
    joined = monitoring.join_labels(preds, labs, day_start_utc(JUNE_2))
    snapshot = monitoring.classification_report(joined)
    monitoring.save_html(snapshot, tmp_path / "cls.html")
    assert (tmp_path / "cls.html").stat().st_size > 10_000
    values = {m["metric_name"].split("(")[0]: m["value"] for m in snapshot.dict()["metrics"]
              if isinstance(m.get("value"), float)}
    assert values["RocAuc"] == pytest.approx(monitoring.performance(joined)["roc_auc"])
    early = monitoring.join_labels(preds, labs, day_start_utc(dt.date(2013, 6, 1)))
    assert monitoring.classification_report(early) is None


def history_row(run_date: str, retrain: bool = False) -> dict:
    return {
        "run_date": run_date, "window_start": "2013-05-26", "window_end": "2013-06-01",
        "model_name": "flight_delay", "champion_version": 3, "model_version": 3,
        "window_versions": "3", "current_rows": 900, "current_days": 1, "n_predictions": 900,
        "n_labelled": 0, "n_unlabelled": 900, "labelled_days": 0, "drift_share": 0.1,
        "roc_auc": None, "holdout_roc_auc": 0.72, "drifted_columns": ["wx_temp"],
        "drift_verdict": "not enough data", "performance_verdict": "not enough data",
        "retrain_recommended": retrain, "reasons": ["No retrain: calm."],
    }  # fmt: skip


def test_history_is_empty_with_its_schema_before_any_run(tmp_path):
    history = monitoring.read_history(FeatureStore(tmp_path))
    assert history.empty
    assert {c: str(t) for c, t in history.dtypes.items()} == dict(monitoring.HISTORY.schema)


def test_history_keeps_one_row_per_run_date_sorted(tmp_path):
    store = FeatureStore(tmp_path)
    monitoring.write_history(store, history_row("2013-06-02"))
    monitoring.write_history(store, history_row("2013-06-02", retrain=True))  # a re-run
    monitoring.write_history(store, history_row("2013-06-01"))
    history = monitoring.read_history(store)
    assert list(history["run_date"]) == ["2013-06-01", "2013-06-02"]
    assert {c: str(t) for c, t in history.dtypes.items()} == dict(monitoring.HISTORY.schema)
    assert history["run_at"].iloc[1] == day_start_utc(JUNE_2)
    assert history["drifted_columns"].iloc[0] == "wx_temp"
    assert math.isnan(history["roc_auc"].iloc[0]) and math.isnan(history["brier"].iloc[0])
    assert bool(monitoring.run_of(history, "2013-06-02")["retrain_recommended"])
    assert monitoring.run_of(history, "2013-06-03") is None


def test_history_refuses_an_incomplete_row_or_an_unknown_verdict(tmp_path):
    row = history_row("2013-06-02")
    del row["model_version"]
    with pytest.raises(ParameterError, match="model_version"):
        monitoring.write_history(FeatureStore(tmp_path), row)
    with pytest.raises(ParameterError, match="drift_verdict"):
        monitoring.write_history(FeatureStore(tmp_path),
                                 {**history_row("2013-06-02"), "drift_verdict": "fine"})
    assert monitoring.read_history(FeatureStore(tmp_path)).empty


def test_importing_monitoring_does_not_import_evidently():
    code = "import fti.monitoring, sys; assert 'evidently' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_drift_verdicts_are_read_from_the_test_status_not_from_the_score():
    # The shape of snapshot.json(): a p-value method flags drift when the score is *small*.
    snapshot = {
        "metrics": [
            {"id": "m1", "config": {"type": "evidently:metric_v2:ValueDrift", "column": "temp",
                                    "method": "K-S p_value", "threshold": 0.05}, "value": 0.001},
            {"id": "m2", "config": {"type": "evidently:metric_v2:DriftedColumnsCount"},
             "value": {"count": 1.0, "share": 1.0}},
        ],
        "tests": [{"metric_config": {"metric_id": "m1"}, "status": "FAIL"}],
    }  # fmt: skip
    verdicts = monitoring.datadrift._read_verdicts(snapshot)
    assert verdicts == {"temp": ("K-S p_value", 0.001, 0.05, True)}
