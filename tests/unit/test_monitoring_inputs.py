"""Assembling monitoring's inputs: monitored columns, the current window, the drift share."""

from __future__ import annotations

import pandas as pd
import pytest

from fti import monitoring
from fti.cache import Recent
from fti.errors import NotEnoughDataError


def test_a_models_features_split_into_numerical_and_categorical_in_order():
    numerical, categorical = monitoring.monitored_columns(
        ["carrier", "distance", "origin", "wx_temp"], ["carrier", "origin", "dest"])
    assert numerical == ["distance", "wx_temp"]
    assert categorical == ["carrier", "origin"]


def test_the_current_window_carries_the_predicted_probability_where_there_is_one():
    features = pd.DataFrame({"flight_id": ["a", "b", "c"], "x": [1.0, 2.0, 3.0]})
    predictions = pd.DataFrame({"flight_id": ["c", "a"], "probability": [0.9, 0.1]})
    window = monitoring.current_window(features, predictions)
    assert window["flight_id"].tolist() == ["a", "b", "c"]
    assert window["probability"].tolist()[0::2] == [0.1, 0.9]
    assert pd.isna(window["probability"].iloc[1])


def test_an_empty_window_says_to_run_the_feature_pipeline():
    with pytest.raises(NotEnoughDataError, match="feature pipeline"):
        monitoring.current_window(pd.DataFrame({"flight_id": []}),
                                  pd.DataFrame({"flight_id": [], "probability": []}))


def test_the_prediction_and_unevaluated_columns_do_not_count_in_the_drift_share():
    columns = pd.DataFrame({
        "column": ["a", "b", "c", "probability"],
        "drifted": [True, False, False, True],
        "note": ["", "", "not evaluated: no values in the current data", ""],
    })
    result = monitoring.DriftResult(columns, 0.5, ["a", "probability"])
    assert monitoring.feature_drift_share(result) == 0.5


def test_the_reference_is_the_champions_snapshot_sample_scored_by_it_and_kept_per_champion(
        tmp_path, monkeypatch):
    from fti.registry import ModelRecord
    from fti.store import FeatureStore

    store = FeatureStore(tmp_path)
    frame = pd.DataFrame({"flight_id": [f"f{i}" for i in range(50)],
                          "x": [float(i) for i in range(50)]})
    dataset = store.save_training_dataset("view", frame, {})

    class Model:
        calls = 0

        def predict_proba(self, features):
            Model.calls += 1
            p = features["x"].to_numpy() / 100
            return pd.DataFrame({"0": 1 - p, "1": p}).to_numpy()

    def champion(sha: str) -> ModelRecord:
        return ModelRecord("m", 1, tmp_path, {"sha256": sha, "features": ["x"], "lineage": {
            "training_dataset": {"name": dataset.name, "version": dataset.version}}})

    monkeypatch.setattr(monitoring.inputs, "_REFERENCES", Recent(2))
    first = monitoring.reference_data(store, champion("a"), Model(), n=20)
    assert len(first) == 20 and first["x"].isin(frame["x"]).all()
    assert (first[monitoring.PREDICTION_COLUMN] == first["x"] / 100).all()
    first.loc[0, "x"] = -1.0  # the caller's copy
    again = monitoring.reference_data(store, champion("a"), Model(), n=20)
    assert Model.calls == 1 and again["x"].min() >= 0
    monitoring.reference_data(store, champion("b"), Model(), n=20)  # another model file
    assert Model.calls == 2
