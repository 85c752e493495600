"""Inference: same features as training, stored predictions, clear errors (real data, a week)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from fti import inference, training
from fti.errors import NotFoundError, SchemaError
from fti.features import FLIGHT_VIEW, run_feature_pipeline
from fti.registry import ModelRegistry
from fti.source import FlightSource
from fti.store import FeatureStore

pytestmark = pytest.mark.slow
FIRST, LAST = dt.date(2013, 1, 1), dt.date(2013, 1, 10)


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> FeatureStore:
    store = FeatureStore(tmp_path_factory.mktemp("store"))
    run_feature_pipeline(store, FlightSource(), FIRST, LAST)
    return store


@pytest.fixture(scope="module")
def champion(store):
    data = FLIGHT_VIEW.training_data(store, FIRST, LAST - dt.timedelta(days=1))
    model = training.fit(training.build_model(seed=0, max_iter=30), data)
    reg = ModelRegistry(store.root)
    record = reg.register("flight_delay", model, {"features": training.FEATURES})
    reg.set_alias("flight_delay", "champion", record.version, "test", at="2013-01-10")
    return reg, record, model


def test_a_flight_has_the_same_features_in_training_and_in_inference(store):
    day = LAST - dt.timedelta(days=1)
    for_training = FLIGHT_VIEW.training_data(store, FIRST, day).set_index("flight_id")
    for_inference = inference.features_for_day(store, FLIGHT_VIEW, day).set_index("flight_id")
    shared = for_inference.index.intersection(for_training.index)
    assert len(shared) > 500
    columns = FLIGHT_VIEW.feature_columns[1:]  # all but the key
    pd.testing.assert_frame_equal(for_training.loc[shared, columns],
                                  for_inference.loc[shared, columns])
    # and the operational statistics really are filled in by then
    assert for_inference["carrier_delayed_share_7d"].notna().mean() > 0.9


def test_predictions_are_stored_per_run_date_and_rerunning_replaces_them(store, champion):
    reg, record, model = champion
    features = inference.features_for_day(store, FLIGHT_VIEW, LAST)
    predictions = inference.score(model, record, features, 0.4, LAST)
    assert len(predictions) == len(features)
    assert predictions["probability"].between(0, 1).all()
    assert (predictions["flag"] == (predictions["probability"] >= 0.4)).all()
    assert set(predictions["model_version"]) == {record.version}
    path = inference.write_predictions(store, LAST, predictions)
    first = Path(path).read_bytes()
    inference.write_predictions(store, LAST, inference.score(model, record, features, 0.4, LAST))
    assert Path(path).read_bytes() == first
    stored = inference.read_predictions(store, LAST, LAST)
    pd.testing.assert_frame_equal(stored, predictions.sort_values("flight_id", ignore_index=True))


def test_a_day_without_features_says_which_pipeline_to_run(store):
    with pytest.raises(NotFoundError, match="Run the feature pipeline for that date.*2013-03-01"):
        inference.features_for_day(store, FLIGHT_VIEW, dt.date(2013, 3, 1))


def test_a_model_expecting_missing_features_is_refused(store, champion):
    reg, record, model = champion
    features = inference.features_for_day(store, FLIGHT_VIEW, LAST)
    with pytest.raises(SchemaError, match="wx_temp"):
        inference.score(model, record, features.drop(columns=["wx_temp"]), 0.5, LAST)


def test_no_champion_says_to_run_the_training_pipeline(tmp_path):
    with pytest.raises(NotFoundError, match="training pipeline"):
        ModelRegistry(tmp_path).get("flight_delay", alias="champion")


def test_catching_up_days_writes_what_the_daily_runs_write(store, champion, tmp_path):
    reg, record, model = champion
    days = [LAST - dt.timedelta(days=2), LAST - dt.timedelta(days=1), LAST]
    week = inference.score_days(model, record, inference.features_for_days(
        store, FLIGHT_VIEW, days), 0.5)
    paths = inference.write_days(store, week)
    assert len(paths) == 3 and sorted(week["run_date"].unique()) == [d.isoformat() for d in days]
    caught_up = [Path(p).read_bytes() for p in paths]
    for day in days:  # the same days, one daily run after the other
        features = inference.features_for_day(store, FLIGHT_VIEW, day)
        inference.write_predictions(store, day, inference.score(model, record, features, 0.5,
                                                                day))
    assert [Path(p).read_bytes() for p in paths] == caught_up


def test_catching_up_reads_every_day_before_scoring_any(store):
    with pytest.raises(NotFoundError, match="2013-01-11"):
        inference.features_for_days(store, FLIGHT_VIEW, [LAST, LAST + dt.timedelta(days=1)])
