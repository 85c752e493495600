"""Performance as far as the labels allow: predictions joined with the labels that have
arrived, their metrics per model version, and Evidently's classification report.

A prediction is judged against the model version that made it (the predictions table
records ``model_version``): :func:`performance_by_version` gives one row per version, and
:func:`with_holdout` adds that version's own holdout ROC AUC as its yardstick.

scikit-learn is imported inside :func:`performance`, so that the runner's process, which
reads monitoring's history through this package, never imports it: the import sets two
``KMP_*`` environment variables, and a change of environment restarts the warm kernels.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from fti.errors import FTIError, ParameterError

#: The figures of :func:`performance`, in order.
FIGURES = ("n_predictions", "n_labelled", "n_unlabelled", "labelled_days", "n_delayed",
           "roc_auc", "roc_auc_se", "brier", "log_loss", "base_rate", "mean_prediction")


def join_labels(
    predictions: pd.DataFrame, labels: pd.DataFrame, as_of: pd.Timestamp | str
) -> pd.DataFrame:
    """Every prediction with its label if that label was published by ``as_of`` (UTC).

    Labels published later count as not yet arrived. Adds ``label_available_at``,
    ``dep_delay``, ``delayed`` (nullable boolean) and ``labelled``; keeps every prediction,
    in order.
    """
    as_of = pd.Timestamp(as_of)
    if as_of.tzinfo is None:
        raise ParameterError(f"as_of={as_of} has no time zone: pass a UTC timestamp, e.g. "
                             f"fti.dates.day_start_utc(run_date).")
    if labels["flight_id"].duplicated().any():
        raise FTIError("The labels hold a flight_id twice: re-run the feature pipeline for "
                       "the affected days so that each flight has one label.")
    known = labels.loc[labels["label_available_at"] <= as_of.tz_convert("UTC"),
                       ["flight_id", "label_available_at", "dep_delay", "delayed"]]
    known = known.assign(delayed=known["delayed"].astype("boolean"))
    joined = predictions.merge(known, on="flight_id", how="left", validate="many_to_one")
    joined["labelled"] = predictions["flight_id"].isin(known["flight_id"]).to_numpy()
    return joined


def auc_standard_error(auc: float, n_delayed: float, n_on_time: float) -> float:
    """The standard error of a ROC AUC measured on ``n_delayed`` positives and
    ``n_on_time`` negatives (Hanley and McNeil, 1982); NaN without both classes.

    It shrinks with the number of labels: at an AUC of 0.72 and a base rate of 0.2 it is
    about 0.015 on 2,000 labels and 0.03 on 500. It treats flights as independent; flights
    of one day share their weather, so the day-to-day spread adds to it.
    """
    if not (n_delayed > 0 and n_on_time > 0) or not 0 <= auc <= 1:
        return math.nan
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    variance = (auc * (1 - auc) + (n_delayed - 1) * (q1 - auc**2)
                + (n_on_time - 1) * (q2 - auc**2)) / (n_delayed * n_on_time)
    return math.sqrt(max(variance, 0.0))


def performance(joined: pd.DataFrame) -> dict[str, float | int]:
    """Counts and quality metrics of the labelled rows of a :func:`join_labels` frame.

    ``roc_auc`` (and its standard error) is NaN unless both classes arrived; ``brier``,
    ``log_loss``, ``base_rate`` (share delayed) and ``mean_prediction`` are NaN without
    labels. ``labelled_days`` counts the run dates with at least one label. Missing labels
    never raise.
    """
    from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

    done = joined.loc[joined["labelled"]]
    y = done["delayed"].astype(bool).to_numpy()
    p = done["probability"].to_numpy(dtype="float64")
    nan = math.nan
    days = done["run_date"].nunique() if "run_date" in done else 0
    out: dict[str, float | int] = {
        "n_predictions": len(joined), "n_labelled": len(done),
        "n_unlabelled": len(joined) - len(done), "labelled_days": int(days),
        "n_delayed": int(y.sum()), "roc_auc": nan, "roc_auc_se": nan, "brier": nan,
        "log_loss": nan, "base_rate": nan, "mean_prediction": nan,
    }  # fmt: skip
    if len(done):
        out["brier"] = float(brier_score_loss(y, p, pos_label=True))
        out["log_loss"] = float(log_loss(y, p, labels=[False, True]))
        out["base_rate"], out["mean_prediction"] = float(y.mean()), float(p.mean())
    if len(np.unique(y)) == 2:
        out["roc_auc"] = float(roc_auc_score(y, p))
        out["roc_auc_se"] = auc_standard_error(out["roc_auc"], int(y.sum()), int((~y).sum()))
    return out


def performance_by_version(joined: pd.DataFrame) -> pd.DataFrame:
    """:func:`performance` of each model version's predictions, indexed by
    ``model_version`` (oldest first); empty, with the columns, without predictions."""
    rows = {int(v): performance(part) for v, part in joined.groupby("model_version", sort=True)}
    table = pd.DataFrame.from_dict(rows, orient="index", columns=list(FIGURES))
    return table.rename_axis("model_version")


def with_holdout(table: pd.DataFrame, registry: Any, model_name: str) -> pd.DataFrame:
    """``table`` with each version's holdout ROC AUC from its registry record, the yardstick
    that version's own predictions are judged against."""
    holdout = [registry.get(model_name, version=int(v)).metrics.get("holdout", {})
               .get("roc_auc", math.nan) for v in table.index]
    return table.assign(holdout_roc_auc=pd.Series(holdout, index=table.index, dtype="float64"))


def by_day(joined: pd.DataFrame) -> pd.DataFrame:
    """The labelled predictions' ROC AUC, base rate and mean prediction per run date: how
    much one day differs from the next."""
    from sklearn.metrics import roc_auc_score

    done = joined.loc[joined["labelled"]]
    rows = {}
    for day, part in done.groupby("run_date", sort=True):
        y = part["delayed"].astype(bool).to_numpy()
        rows[day] = {"labelled": len(part), "base_rate": y.mean(),
                     "mean_prediction": part["probability"].mean(),
                     "roc_auc": roc_auc_score(y, part["probability"]) if 0 < y.sum() < len(y)
                     else math.nan}
    columns = ["labelled", "base_rate", "mean_prediction", "roc_auc"]
    return pd.DataFrame.from_dict(rows, orient="index", columns=columns).rename_axis("run_date")


def classification_report(joined: pd.DataFrame, threshold: float | None = None,
                          **run: Any) -> Any:
    """Evidently's ClassificationPreset on the labelled rows of ``joined``, with the mean of
    the observed ``delayed`` and of the predicted ``probability``; a Snapshot, or None
    unless labelled rows of both classes exist.

    The class threshold is ``threshold``, else the predictions' own ``threshold`` column,
    else 0.5. ``run`` goes to ``Report.run`` (timestamp, metadata, tags, name).
    """
    done = joined.loc[joined["labelled"]]
    if done.empty or done["delayed"].nunique() < 2:
        return None
    if threshold is None:
        threshold = float(done["threshold"].mode().iloc[0]) if "threshold" in done else 0.5

    from evidently import BinaryClassification, DataDefinition, Dataset, Report
    from evidently.metrics import MeanValue
    from evidently.presets import ClassificationPreset

    # A 0/1 target: with a bool target Evidently's confusion matrix fails ("mix of binary
    # and continuous targets").
    data = pd.DataFrame({"delayed": done["delayed"].astype("int64").to_numpy(),
                         "probability": done["probability"].to_numpy(dtype="float64")})
    task = BinaryClassification(target="delayed", prediction_probas="probability", pos_label=1)
    definition = DataDefinition(numerical_columns=["probability", "delayed"],
                                classification=[task])
    report = Report([ClassificationPreset(probas_threshold=threshold),
                     MeanValue(column="delayed"), MeanValue(column="probability")])
    return report.run(Dataset.from_pandas(data, data_definition=definition), None, **run)
