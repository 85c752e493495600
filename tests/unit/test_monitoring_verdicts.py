"""Monitoring's verdicts: each prediction judged against the model version that made it,
no verdict without enough data, and the history row that says which version the figures
are about."""

from __future__ import annotations

import datetime as dt
import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from fti import monitoring
from fti.dates import day_start_utc
from fti.errors import NotEnoughDataError, ParameterError
from fti.store import FeatureStore
from tests.unit.test_monitoring import labels, predictions

ENOUGH = monitoring.Minimum(rows=200, days=3)
FIRST = dt.date(2013, 6, 1)


def week(version: int, days: int = 4, per_day: int = 100, skill: float = 2.0,
         seed: int = 0, first: dt.date = FIRST) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Predictions of one model version over ``days`` days and their labels (published the
    next morning); ``skill`` sets how well the probabilities rank the delays."""
    rng = np.random.default_rng(seed)
    frames, rows = [], []
    for d in range(days):
        day = first + dt.timedelta(days=d)
        ids = [f"v{version}-{day}-{i}" for i in range(per_day)]
        late = rng.uniform(size=per_day) < 0.25
        p = 1 / (1 + np.exp(-(rng.normal(size=per_day) + skill * late - 1.5)))
        frame = predictions(ids, list(p)).assign(model_version=version, run_date=day.isoformat())
        frames.append(frame)
        rows += [(i, 60.0 if x else 0.0, day + dt.timedelta(days=1))
                 for i, x in zip(ids, late, strict=True)]
    return pd.concat(frames, ignore_index=True), labels(rows)


def registry_with(holdouts: dict[int, float]) -> SimpleNamespace:
    """Just enough of a ModelRegistry: each version's record with its holdout ROC AUC."""
    return SimpleNamespace(get=lambda name, version: SimpleNamespace(
        metrics={"holdout": {"roc_auc": holdouts[version]}}))


def judge(preds: pd.DataFrame, labs: pd.DataFrame, holdouts: dict[int, float],
          champion: int, as_of: dt.date, minimum=ENOUGH, **drift):
    joined = monitoring.join_labels(preds, labs, day_start_utc(as_of))
    table = monitoring.with_holdout(monitoring.performance_by_version(joined),
                                    registry_with(holdouts), "flight_delay")
    advice = monitoring.recommend(
        drift_share=drift.get("share", 0.0), drift_share_threshold=0.3, drifted_columns=[],
        current_rows=drift.get("rows", len(preds)), current_days=drift.get("days", 7),
        performance=table, champion=champion, auc_drop_threshold=0.05, minimum=minimum)
    return table, advice


def test_each_version_is_scored_on_its_own_predictions_against_its_own_holdout():
    old, old_labels = week(1, skill=2.5, seed=1)
    new, new_labels = week(2, skill=0.5, seed=2, first=FIRST + dt.timedelta(days=4))
    both = pd.concat([old, new], ignore_index=True)
    table, _ = judge(both, pd.concat([old_labels, new_labels]), {1: 0.75, 2: 0.70},
                     champion=2, as_of=FIRST + dt.timedelta(days=8))
    assert table.index.tolist() == [1, 2]
    alone = monitoring.performance(monitoring.join_labels(old, old_labels,
                                                          day_start_utc(FIRST + dt.timedelta(8))))
    assert table.loc[1, "roc_auc"] == pytest.approx(alone["roc_auc"])
    assert table.loc[1, "roc_auc"] > table.loc[2, "roc_auc"] + 0.1  # not a blend of both
    assert table["holdout_roc_auc"].tolist() == [0.75, 0.70]
    assert table["labelled_days"].tolist() == [4, 4] and table["n_labelled"].tolist() == [400] * 2


def test_a_window_of_an_earlier_model_is_shown_but_does_not_judge_the_new_champion():
    # the reproduction: v1 made every prediction, then v2 was promoted
    preds, labs = week(1, skill=0.3)
    table, advice = judge(preds, labs, {1: 0.755, 2: 0.90}, champion=2,
                          as_of=FIRST + dt.timedelta(days=4))
    assert advice.performance == "earlier model" and advice.judged_version == 1
    assert not advice.retrain
    assert "made by v1, not by the champion v2" in advice.reasons[0]
    assert f"{table.loc[1, 'roc_auc']:.3f} against its holdout's 0.755" in advice.reasons[0]
    assert "0.900" not in advice.reasons[0]  # v2's yardstick is not applied to v1's work


def test_the_champions_drop_below_its_own_holdout_recommends_retraining():
    preds, labs = week(2, skill=0.8)
    table, advice = judge(preds, labs, {2: 0.85}, champion=2, as_of=FIRST + dt.timedelta(4))
    assert table.loc[2, "roc_auc"] < 0.80
    assert (advice.performance, advice.judged_version, advice.retrain) == ("degraded", 2, True)
    assert "below its holdout's 0.850" in advice.reasons[0]


def test_too_few_labels_or_days_give_not_enough_data_and_never_a_retrain():
    preds, labs = week(1, skill=0.0, days=4)  # a useless model: ROC AUC near 0.5
    one_day = judge(preds, labs, {1: 0.9}, champion=1, as_of=FIRST + dt.timedelta(days=1))[1]
    assert (one_day.performance, one_day.retrain) == ("not enough data", False)
    assert "100 labelled predictions over 1 day; a verdict needs at least 200 over 3" \
        in one_day.reasons[0]
    few_rows = judge(preds, labs, {1: 0.9}, champion=1, as_of=FIRST + dt.timedelta(days=4),
                     minimum=monitoring.Minimum(rows=1000, days=1))[1]
    assert (few_rows.performance, few_rows.retrain) == ("not enough data", False)
    enough = judge(preds, labs, {1: 0.9}, champion=1, as_of=FIRST + dt.timedelta(days=4))[1]
    assert (enough.performance, enough.retrain) == ("degraded", True)  # the same model, judged


def test_a_drift_verdict_needs_enough_current_rows_and_days():
    preds, labs = week(1)
    short = judge(preds, labs, {1: 0.6}, champion=1, as_of=FIRST + dt.timedelta(4),
                  share=0.9, rows=400, days=2)[1]
    assert (short.drift, short.retrain) == ("not enough data", False)
    assert "400 predicted flights over 2 days" in short.reasons[0]
    full = judge(preds, labs, {1: 0.6}, champion=1, as_of=FIRST + dt.timedelta(4),
                 share=0.9, rows=400, days=3)[1]
    assert (full.drift, full.retrain) == ("drifted", True)


def test_the_judged_version_is_the_champion_if_it_predicted_else_the_newest():
    assert monitoring.judged_version([1, 2, 3], champion=2) == 2
    assert monitoring.judged_version([1, 3], champion=4) == 3
    assert monitoring.judged_version([], champion=1) is None


def test_next_step_tells_to_retrain_only_when_a_verdict_calls_for_it():
    preds, labs = week(1, skill=0.0)
    thin = judge(preds, labs, {1: 0.9}, champion=1, as_of=FIRST + dt.timedelta(days=1))[1]
    assert "train_end" not in monitoring.next_step(thin, 1, "2013-06-01")
    assert "Wait for more data" in monitoring.next_step(thin, 1, "2013-06-01")
    bad = judge(preds, labs, {1: 0.9}, champion=1, as_of=FIRST + dt.timedelta(days=4))[1]
    assert "train_end='2013-06-04'" in monitoring.next_step(bad, 1, "2013-06-04")


def test_the_history_row_names_the_version_its_figures_are_about(tmp_path):
    preds, labs = week(1, skill=1.0)
    table, advice = judge(preds, labs, {1: 0.755, 2: 0.80}, champion=2,
                          as_of=FIRST + dt.timedelta(days=4))
    store = FeatureStore(tmp_path)
    monitoring.record_run(store, run_date=FIRST + dt.timedelta(days=4),
                          window=(FIRST, FIRST + dt.timedelta(days=3)),
                          model_name="flight_delay", champion_version=2, performance=table,
                          current_rows=400, current_days=4, drift_share=0.1,
                          prediction_drift_score=0.02, drifted_columns=[], advice=advice,
                          notes=["a note"])
    row = monitoring.read_history(store).iloc[0]
    assert (row["model_version"], row["champion_version"], row["window_versions"]) == (1, 2, "1")
    assert row["roc_auc"] == pytest.approx(table.loc[1, "roc_auc"])
    assert row["holdout_roc_auc"] == 0.755
    assert (row["performance_verdict"], row["drift_verdict"]) == ("earlier model", "ok")
    assert (row["n_labelled"], row["labelled_days"]) == (400, 4)
    assert row["reasons"].endswith("; a note") and not row["retrain_recommended"]
    assert monitoring.decision(store, FIRST + dt.timedelta(days=4))[0] is False


def test_the_standard_error_of_roc_auc_shrinks_with_the_labels():
    se = [monitoring.auc_standard_error(0.72, 0.2 * n, 0.8 * n) for n in (500, 2000, 8000)]
    assert se[0] == pytest.approx(0.031, abs=0.001) and se[1] == pytest.approx(0.0154, abs=5e-4)
    assert se[0] > se[1] > se[2]
    assert math.isnan(monitoring.auc_standard_error(0.7, 0, 100))


def test_the_standard_error_matches_the_spread_of_roc_auc_over_resamples():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(3)
    aucs = []
    for _ in range(300):
        y = rng.uniform(size=1000) < 0.2
        aucs.append(roc_auc_score(y, rng.normal(size=1000) + 0.8 * y))
    predicted = monitoring.auc_standard_error(float(np.mean(aucs)), 200, 800)
    assert np.std(aucs) == pytest.approx(predicted, rel=0.2)


def test_the_day_by_day_table_shows_each_days_figures():
    preds, labs = week(1, days=3)
    joined = monitoring.join_labels(preds, labs, day_start_utc(FIRST + dt.timedelta(days=2)))
    table = monitoring.by_day(joined)
    assert table.index.tolist() == ["2013-06-01", "2013-06-02"]  # the third has no labels yet
    assert table["labelled"].tolist() == [100, 100]


def test_a_window_without_any_prediction_has_nothing_to_monitor():
    window = pd.DataFrame({"flight_id": ["a"], "probability": [math.nan]})
    with pytest.raises(NotEnoughDataError, match="inference pipeline"):
        monitoring.served(window)


def test_a_minimum_must_be_positive():
    with pytest.raises(ParameterError):
        monitoring.Minimum(rows=0, days=7)
