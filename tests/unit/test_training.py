"""Training logic on small generated data: the split, the refusals, the model, the metrics."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from fti import training
from fti.config import TIME_DTYPE
from fti.errors import NotEnoughDataError
from fti.registry import ModelRegistry
from fti.store import FeatureStore
from tests.unit.test_registry import tiny_training_frame


def with_days(frame: pd.DataFrame, n_days: int) -> pd.DataFrame:
    """Spread the rows over ``n_days`` days in January 2013 (noon, New York time)."""
    day = np.arange(len(frame)) % n_days
    times = pd.Timestamp("2013-01-01 17:00", tz="UTC") + pd.to_timedelta(day, unit="D")
    return frame.assign(sched_dep_utc=pd.Series(times).astype(TIME_DTYPE))


START, END = dt.date(2013, 1, 1), dt.date(2013, 1, 31)


def test_the_holdout_is_the_last_days_with_labels():
    frame = with_days(tiny_training_frame(), 20)
    split = training.split_by_time(frame, 5, START, END)
    assert split.holdout_start == dt.date(2013, 1, 16)
    assert split.holdout_end == dt.date(2013, 1, 20)
    assert training.flight_day(split.train).max() < split.holdout_start
    assert len(split.train) + len(split.holdout) == len(frame)


def test_no_labels_is_refused_with_the_pipeline_to_run():
    empty = with_days(tiny_training_frame(), 3).iloc[:0]
    with pytest.raises(NotEnoughDataError, match="feature pipeline.*end_date=2013-02-01"):
        training.split_by_time(empty, 5, START, END)


def test_fewer_days_than_the_holdout_is_refused():
    with pytest.raises(NotEnoughDataError, match="holdout_days=5"):
        training.split_by_time(with_days(tiny_training_frame(), 5), 5, START, END)


def test_a_holdout_with_one_class_is_refused():
    frame = with_days(tiny_training_frame(), 10)
    frame.loc[training.flight_day(frame) >= dt.date(2013, 1, 9), "delayed"] = False
    with pytest.raises(NotEnoughDataError, match="holdout part has only one class"):
        training.split_by_time(frame, 2, START, END)


def test_the_model_learns_a_signal_the_baseline_misses():
    frame = with_days(tiny_training_frame(n=3000), 20)
    split = training.split_by_time(frame, 5, START, END)
    model = training.fit(training.build_model(seed=1, max_iter=50), split.train)
    y = split.holdout["delayed"]
    model_auc = training.evaluate(y, training.predict(model, split.holdout))["roc_auc"]
    assert model_auc > 0.75
    # the generated label depends on the hour too, which the baseline does not see
    base = training.evaluate(y, training.baseline_predict(split.holdout, 0.5))["roc_auc"]
    assert model_auc > base


def test_metrics_are_nan_not_errors_with_one_class():
    metrics = training.evaluate(np.array([0, 0, 0]), np.array([0.1, 0.2, 0.3]))
    assert np.isnan(metrics["roc_auc"]) and metrics["base_rate"] == 0.0
    assert metrics["mean_prediction"] == pytest.approx(0.2)


def test_the_baseline_falls_back_when_a_carrier_has_no_history():
    frame = pd.DataFrame({"carrier_delayed_share_7d": [0.3, np.nan]})
    assert training.baseline_predict(frame, 0.2).tolist() == [0.3, 0.2]


def snapshot_and_split(store: FeatureStore, frame: pd.DataFrame, end: dt.date = END):
    """A snapshot of ``frame`` and its split with a 3-day holdout, as 02 makes them."""
    dataset = store.save_training_dataset(
        "view", frame, {"feature_view": "view/v1", "feature_groups": {"g": 1}})
    return dataset, training.split_by_time(frame, 3, START, end)


def train_and_register(registry: ModelRegistry, dataset, split: training.Split, seed: int,
                       policy: str = "if_better", end: dt.date = END,
                       auc: float | None = None):
    """Fit, evaluate (or pretend an ROC AUC) and register_and_promote, as 02 does."""
    model = training.fit(training.build_model(seed=seed, max_iter=15), split.train)
    metrics = ({"roc_auc": auc} if auc is not None else
               training.evaluate(split.holdout["delayed"], training.predict(model, split.holdout)))
    return training.register_and_promote(registry, "m", model, split, dataset, metrics,
                                         metrics, policy, START, end, seed)


def test_training_the_same_model_again_reuses_its_version_and_says_so(tmp_path):
    registry = ModelRegistry(tmp_path)
    dataset, split = snapshot_and_split(FeatureStore(tmp_path),
                                        with_days(tiny_training_frame(n=800), 10))

    def train_and_register_(seed: int, policy: str = "if_better"):
        return train_and_register(registry, dataset, split, seed, policy)

    first, decision = train_and_register_(seed=1)
    assert not first.reused and decision.promote
    assert training.registered(first).startswith("Registered m v1")
    again, decision = train_and_register_(seed=1)  # 02 re-run unchanged, or a resumed run
    assert again.reused and again.version == 1
    assert training.registered(again).startswith("Reused m v1")
    assert not decision.promote  # the rule as before: an equal challenger does not win
    _, decision = train_and_register_(seed=1, policy="always")
    assert decision.promote and "champion already" in decision.reason
    assert registry.version_numbers("m") == [1]
    assert len(registry.aliases("m")["history"]) == 1  # nothing changed, nothing recorded
    other, _ = train_and_register_(seed=2)  # another seed is another model
    assert other.version == 2 and not other.reused


def test_a_challenger_is_never_compared_on_holdout_days_the_champion_was_trained_on(tmp_path):
    """Students mix runs (the demo's champion, a notebook run by hand): a champion trained on
    the challenger's holdout days would look better than it is there. Training says so,
    does not promote on that comparison, and records the reason in the alias history."""
    store, registry = FeatureStore(tmp_path), ModelRegistry(tmp_path)
    frame = with_days(tiny_training_frame(n=1500), 20)  # flights of 1 to 20 January

    def train(end: dt.date, seed: int, policy: str = "if_better"):
        rows = frame[training.flight_day(frame) <= end].reset_index(drop=True)
        dataset, split = snapshot_and_split(store, rows, end)
        return train_and_register(registry, dataset, split, seed, policy, end)

    champion, first = train(dt.date(2013, 1, 20), seed=1)  # fit on 1-17, holdout 18-20
    assert first.promote
    assert training.days_trained_on(champion) == (START, dt.date(2013, 1, 17))

    challenger, decision = train(dt.date(2013, 1, 12), seed=2)  # holdout 10-12: seen by v1
    assert not decision.promote
    assert "no fair comparison" in decision.reason
    assert "champion v1 was trained on flights up to 2013-01-17" in decision.reason
    assert "2013-01-10 to 2013-01-12 of this holdout" in decision.reason
    assert "holdout starts after 2013-01-17" in decision.reason  # what to do instead
    assert challenger.metrics["champion_on_holdout"] is None  # not even scored there
    aliases = registry.aliases("m")
    assert aliases["champion"] == 1
    assert aliases["history"][-1] == {
        "at": "2013-01-13", "alias": "champion", "version": 1, "previous": 1,
        "reason": decision.reason, "challenger": 2, "promoted": False}

    again, same = train(dt.date(2013, 1, 12), seed=2)  # the same run again (a re-run)
    assert again.reused and same == decision
    assert len(registry.aliases("m")["history"]) == 2  # the same decision, recorded once

    _, forced = train(dt.date(2013, 1, 12), seed=2, policy="always")
    assert forced.promote and "without a fair comparison" in forced.reason
    assert registry.aliases("m")["champion"] == 2

    # v2 was fit on 1 to 9 January: a challenger held out on 18-20 January is compared
    _, fair = train(dt.date(2013, 1, 20), seed=3)
    assert "on the same holdout" in fair.reason and "fair" not in fair.reason


def test_a_challenger_that_loses_or_is_never_promoted_is_recorded_with_its_reason(tmp_path):
    registry = ModelRegistry(tmp_path)
    dataset, split = snapshot_and_split(FeatureStore(tmp_path),
                                        with_days(tiny_training_frame(n=800), 10))

    def register(seed: int, policy: str, auc: float):
        return train_and_register(registry, dataset, split, seed, policy, auc=auc)

    register(seed=1, policy="never", auc=0.9)
    assert registry.champion("m") is None
    assert registry.aliases("m")["history"][-1]["reason"].startswith("promote='never'")
    register(seed=1, policy="if_better", auc=0.9)  # no champion yet: it becomes one
    _, lost = register(seed=2, policy="if_better", auc=0.0)
    entry = registry.aliases("m")["history"][-1]
    assert (entry["challenger"], entry["version"], entry["promoted"]) == (2, 1, False)
    assert entry["reason"] == lost.reason and "champion stays" in lost.reason
