"""Training: the model, its baseline, a time-based holdout, metrics and the promotion rule.

The training data and the model's feature list come from the feature view
(:data:`fti.features.FLIGHT_VIEW`), the same code that inference uses; nothing here
computes a feature.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fti.dates import local_day
from fti.errors import NotEnoughDataError, ParameterError
from fti.features import FLIGHT_VIEW
from fti.progress import bar, counting, trees
from fti.registry import ModelRecord, ModelRegistry, package_versions
from fti.snapshots import TrainingDataset
from fti.store import FeatureStore
from fti.views import FeatureView

#: The model's inputs, as the feature view defines them, and which of them are categories.
FEATURES = FLIGHT_VIEW.features
CATEGORICAL = list(FLIGHT_VIEW.categorical)
TARGET = "delayed"
#: The baseline's one input: the carrier's share of delayed flights over the last 7 days.
BASELINE_FEATURE = "carrier_delayed_share_7d"
PROMOTION_POLICIES = ("if_better", "always", "never")
PRIMARY_METRIC = "roc_auc"


@dataclass(frozen=True)
class Split:
    """A time-based split: train on the earlier days, evaluate on the last ``holdout_days``."""

    train: pd.DataFrame
    holdout: pd.DataFrame
    holdout_start: dt.date
    holdout_end: dt.date


def flight_day(frame: pd.DataFrame) -> pd.Series:
    """The local day of each flight (from its scheduled departure)."""
    return local_day(frame["sched_dep_utc"])


def split_by_time(frame: pd.DataFrame, holdout_days: int, train_start: dt.date,
                  train_end: dt.date) -> Split:
    """Hold out the last ``holdout_days`` days that have labels; refuse too little data."""
    feature_cmd = "run the feature pipeline (notebooks/01_feature_pipeline.ipynb)"
    if frame.empty:
        raise NotEnoughDataError(
            f"No labelled flights between {train_start} and {train_end}. Labels arrive a day "
            f"after each flight: {feature_cmd} with start_date={train_start} and "
            f"end_date={train_end + dt.timedelta(days=1)} first."
        )
    day = flight_day(frame)
    labelled_days = sorted(day.unique())
    if len(labelled_days) <= holdout_days:
        raise NotEnoughDataError(
            f"Only {len(labelled_days)} day(s) with labels between {train_start} and "
            f"{train_end}, but holdout_days={holdout_days} needs more days than that to "
            f"leave something to train on. Lower holdout_days, or {feature_cmd} for more days."
        )
    holdout_start = labelled_days[-holdout_days]
    in_holdout = (day >= holdout_start).to_numpy()
    split = Split(frame[~in_holdout].reset_index(drop=True),
                  frame[in_holdout].reset_index(drop=True),
                  holdout_start, labelled_days[-1])
    for part, rows in (("training", split.train), ("holdout", split.holdout)):
        if rows[TARGET].nunique() < 2:
            raise NotEnoughDataError(
                f"The {part} part has only one class (delayed={bool(rows[TARGET].iloc[0])}): "
                f"metrics need both. Use a longer range: {feature_cmd} for more days."
            )
    return split


def build_model(seed: int, max_iter: int, learning_rate: float = 0.05):
    """A scikit-learn Pipeline: categories encoded in place, gradient-boosted trees.

    ``max_iter`` is the most trees it grows; early stopping (on a random 10 % of the
    training rows) may stop sooner. The fit's time grows with the trees and the rows.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OrdinalEncoder

    encode = ColumnTransformer(
        [("categories", OrdinalEncoder(handle_unknown="use_encoded_value",
                                       unknown_value=np.nan, encoded_missing_value=np.nan),
          CATEGORICAL)],
        remainder="passthrough",
        verbose_feature_names_out=False,
    )
    trees = HistGradientBoostingClassifier(
        categorical_features=list(range(len(CATEGORICAL))),
        learning_rate=learning_rate,
        max_iter=max_iter,
        max_leaf_nodes=31,
        l2_regularization=1.0,
        early_stopping=True,
        validation_fraction=0.1,
        n_iter_no_change=20,
        random_state=seed,
    )
    return Pipeline([("encode", encode), ("trees", trees)])


def fit(model, train: pd.DataFrame, progress: bool = False):
    """Fit the pipeline on the training rows (only the model's features); with
    ``progress``, a bar counts the trees as they grow (the model is the same)."""
    features, target = train[FEATURES], train[TARGET].astype(int)
    if not progress:
        return model.fit(features, target)
    with trees(model[-1], desc="fit"):
        return model.fit(features, target)


def predict(model, frame: pd.DataFrame, features: list[str] | None = None) -> np.ndarray:
    """Probability of a delay for each row."""
    return model.predict_proba(frame[features or FEATURES])[:, 1]


def baseline_predict(frame: pd.DataFrame, fallback: float) -> np.ndarray:
    """The baseline: each flight gets its carrier's delayed share of the last 7 days."""
    return frame[BASELINE_FEATURE].fillna(fallback).to_numpy(dtype=float)


def evaluate(y_true: pd.Series | np.ndarray, proba: np.ndarray) -> dict[str, float]:
    """Holdout metrics; NaN where a metric is undefined (one class only)."""
    from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

    y = np.asarray(y_true, dtype=int)
    p = np.clip(np.asarray(proba, dtype=float), 1e-6, 1 - 1e-6)
    both = len(np.unique(y)) == 2
    return {
        "n": int(len(y)),
        "roc_auc": float(roc_auc_score(y, p)) if both else float("nan"),
        "average_precision": float(average_precision_score(y, p)) if both else float("nan"),
        "brier": float(brier_score_loss(y, p)) if len(y) else float("nan"),
        "log_loss": float(log_loss(y, p, labels=[0, 1])) if len(y) else float("nan"),
        "base_rate": float(y.mean()) if len(y) else float("nan"),
        "mean_prediction": float(p.mean()) if len(y) else float("nan"),
    }


def importance(model, holdout: pd.DataFrame, seed: int, n_rows: int, n_repeats: int = 2,
               progress: bool = False) -> pd.DataFrame:
    """Permutation importance (drop in ROC AUC) on a deterministic sample of ``n_rows``
    holdout rows; its time grows with the rows and the features (a bar counts the
    scorings with ``progress``)."""
    from sklearn.inspection import permutation_importance
    from sklearn.metrics import get_scorer

    sample = holdout.sample(min(n_rows, len(holdout)), random_state=seed)
    scorings = 1 + len(FEATURES) * n_repeats  # the baseline, then each feature shuffled
    with bar(total=scorings, desc="importance", unit="scoring", disable=not progress) as done:
        result = permutation_importance(
            model, sample[FEATURES], sample[TARGET].astype(int),
            scoring=counting(get_scorer("roc_auc"), done), n_repeats=n_repeats,
            random_state=seed)
    table = pd.DataFrame({"feature": FEATURES, "importance": result.importances_mean,
                          "std": result.importances_std})
    return table.sort_values("importance", ascending=False, ignore_index=True)


@dataclass(frozen=True)
class Decision:
    """Whether the challenger becomes champion, and why (recorded in the registry)."""

    promote: bool
    reason: str


def days_trained_on(record: ModelRecord) -> tuple[dt.date, dt.date] | None:
    """The days whose flights a registered model was fit on: from its first training day to
    the day before its own holdout (which it never saw); None if its lineage lacks them."""
    lineage = record.info.get("lineage", {})
    start, holdout = lineage.get("train_start"), lineage.get("holdout_start")
    if not start or not holdout:
        return None
    return dt.date.fromisoformat(start), dt.date.fromisoformat(holdout) - dt.timedelta(days=1)


@dataclass(frozen=True)
class Overlap:
    """The days of a challenger's holdout that the champion was trained on."""

    champion_version: int
    first: dt.date
    last: dt.date
    trained_to: dt.date  # the champion's last training day


def holdout_seen_by(record: ModelRecord, split: Split) -> Overlap | None:
    """The days of this holdout that ``record`` was trained on, or None if it saw none.

    A model scores well on flights it learned from, so comparing a challenger with a
    champion on such days would favour the champion: that comparison is not made.
    """
    trained = days_trained_on(record)
    if trained is None:
        return None
    first, last = max(trained[0], split.holdout_start), min(trained[1], split.holdout_end)
    return Overlap(record.version, first, last, trained[1]) if first <= last else None


def decide_promotion(policy: str, challenger: dict[str, float],
                     champion: dict[str, float] | None, seen: Overlap | None = None) -> Decision:
    """Apply the promotion policy to holdout metrics measured on the same holdout.

    ``seen`` says which days of the holdout the champion was trained on (see
    :func:`holdout_seen_by`): then there is no fair comparison, and "if_better" does not
    promote; the reason says so and what to do.
    """
    if policy not in PROMOTION_POLICIES:
        raise ParameterError(f"promote={policy!r}: use one of {PROMOTION_POLICIES}.")
    new = challenger[PRIMARY_METRIC]
    if policy == "never":
        return Decision(False, "promote='never': registered without promotion")
    if seen is not None:
        unfair = (f"champion v{seen.champion_version} was trained on flights up to "
                  f"{seen.trained_to}, and so on {seen.first} to {seen.last} of this holdout: "
                  f"on days it learned from, it would look better than it is")
        if policy == "always":
            return Decision(True, f"promote='always', without a fair comparison ({unfair})")
        return Decision(False, f"no fair comparison, so the champion stays: {unfair}. For a "
                               f"fair one, train with a later train_end, so that the holdout "
                               f"starts after {seen.trained_to}; or set promote='always' to "
                               f"replace the champion without comparing")
    if champion is None:
        return Decision(True, f"no champion yet; the challenger ({PRIMARY_METRIC} {new:.4f}) "
                              f"becomes champion")
    old = champion[PRIMARY_METRIC]
    if policy == "always":
        return Decision(True, f"promote='always' ({PRIMARY_METRIC} {new:.4f} vs champion "
                              f"{old:.4f} on the same holdout)")
    if not np.isfinite(old) or new > old:
        return Decision(True, f"challenger beats champion on the same holdout: "
                              f"{PRIMARY_METRIC} {new:.4f} > {old:.4f}")
    return Decision(False, f"champion stays: challenger {PRIMARY_METRIC} {new:.4f} <= "
                           f"champion {old:.4f} on the same holdout")


def save_snapshot(store: FeatureStore, view: FeatureView, frame: pd.DataFrame,
                  start: dt.date, end: dt.date) -> TrainingDataset:
    """Materialize the training data as an immutable snapshot with its lineage."""
    meta = {"feature_view": f"{view.name}/v{view.version}", "start": start.isoformat(),
            "end": end.isoformat(), "feature_groups": view.feature_groups}
    return store.save_training_dataset(view.name, frame, meta)


def champion_on_holdout(registry: ModelRegistry, champion: ModelRecord,
                        holdout: pd.DataFrame) -> dict[str, float]:
    """The champion's metrics on *this* holdout (NaN if the view lacks one of its features)."""
    missing = [f for f in champion.features if f not in holdout.columns]
    if missing:
        nan = evaluate(holdout[TARGET], np.full(len(holdout), np.nan))
        return {**nan, PRIMARY_METRIC: float("nan")}
    model = registry.load(champion)
    return evaluate(holdout[TARGET], predict(model, holdout, champion.features))


def model_info(model, split: Split, dataset: TrainingDataset, metrics: dict[str, dict],
               train_start: dt.date, train_end: dt.date, seed: int) -> dict:
    """What the registry records about a trained model: metrics, parameters, lineage."""
    trees = model[-1]
    return {
        "metrics": metrics,
        "features": FEATURES,
        "target": TARGET,
        "params": {"seed": seed, "learning_rate": trees.learning_rate,
                   "max_iter": trees.max_iter, "n_iter": int(trees.n_iter_),
                   "max_leaf_nodes": trees.max_leaf_nodes},
        "lineage": {
            "training_dataset": {"name": dataset.name, "version": dataset.version,
                                 "content_hash": dataset.metadata["content_hash"]},
            "feature_view": dataset.metadata["feature_view"],
            "feature_groups": dataset.metadata["feature_groups"],
            "train_start": train_start.isoformat(),
            "train_end": train_end.isoformat(),
            "holdout_start": split.holdout_start.isoformat(),
            "holdout_end": split.holdout_end.isoformat(),
        },
        "rows": {"train": len(split.train), "holdout": len(split.holdout)},
    }


def registration_key(model, split: Split, dataset: TrainingDataset) -> str:
    """What a trained model is made of, as a digest: the training snapshot's content, the
    holdout, the features, every parameter of the pipeline (the seed included) and the
    versions of the packages that fit it. Fitting is deterministic, so the same key means
    the same model."""
    made_of = {
        "training_dataset": dataset.metadata["content_hash"],
        "holdout": [split.holdout_start.isoformat(), split.holdout_end.isoformat()],
        "features": FEATURES, "target": TARGET,
        "params": model.get_params(deep=True), "packages": package_versions(),
    }
    text = json.dumps(made_of, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()


def register_and_promote(registry: ModelRegistry, name: str, model, split: Split,
                         dataset: TrainingDataset, metrics: dict[str, float],
                         baseline: dict[str, float], policy: str, train_start: dt.date,
                         train_end: dt.date, seed: int) -> tuple[ModelRecord, Decision]:
    """Register a trained model and decide, by ``policy``, whether it becomes champion.

    The champion (if any) is scored on the same holdout first, unless it was trained on
    some of its days (:func:`holdout_seen_by`): then there is no fair comparison and the
    challenger is not promoted on it. Every decision about a challenger is recorded in the
    alias history with its reason, dated the day after the training range (the first day
    the model could serve): a promotion moves the alias, any other decision leaves it.

    A model made from the same snapshot, holdout, parameters and seed as a registered
    version is not registered again: that version is reused (``record.reused``), and the
    decision is taken for it as for a new one (it stays champion if it is one; the same
    decision is not recorded twice). All of it holds the data root's lock, so the decision
    sees the champion it changes.
    """
    at = (train_end + dt.timedelta(days=1)).isoformat()
    with registry.lock.exclusive(f"register and promote a version of {name!r}"):
        holder = registry.champion(name)
        seen = None if holder is None else holdout_seen_by(holder, split)
        champion_metrics = (champion_on_holdout(registry, holder, split.holdout)
                            if holder is not None and seen is None else None)
        decision = decide_promotion(policy, metrics, champion_metrics, seen)
        record = registry.register(name, model, model_info(
            model, split, dataset,
            {"holdout": metrics, "baseline": baseline, "champion_on_holdout": champion_metrics},
            train_start, train_end, seed), key=registration_key(model, split, dataset))
        if holder is not None and holder.version == record.version:
            if decision.promote:
                decision = Decision(True, f"{decision.reason}; v{record.version} is the "
                                          f"champion already, so nothing changed")
        elif decision.promote:
            registry.set_alias(name, "champion", record.version, decision.reason, at=at)
        else:
            registry.record_decision(name, "champion", record.version, decision.reason, at=at)
    return record, decision


def registered(record: ModelRecord) -> str:
    """What registering did, for the notebook: a new version, or an identical one reused."""
    if record.reused:
        return (f"Reused {record.name} v{record.version} ({record.path}): it was trained on "
                f"the same snapshot and holdout with the same parameters and seed, so "
                f"nothing new was registered.")
    return f"Registered {record.name} v{record.version} at {record.path}"
