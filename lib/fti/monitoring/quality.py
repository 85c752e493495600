"""Performance as far as the labels allow: predictions joined with the labels that have
arrived, their metrics, and Evidently's classification report.

scikit-learn is imported inside :func:`performance`, so that the runner's process, which
reads monitoring's history through this package, never imports it: the import sets two
``KMP_*`` environment variables, and a change of environment restarts the warm kernels.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from fti.errors import FTIError, ParameterError
from fti.files import atomic_write_text


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


def performance(joined: pd.DataFrame) -> dict[str, float | int]:
    """Counts and quality metrics of the labelled rows of a :func:`join_labels` frame.

    ``roc_auc`` is NaN unless both classes arrived; ``brier``, ``log_loss``, ``base_rate``
    (share delayed) and ``mean_prediction`` are NaN without labels. Missing labels never raise.
    """
    from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

    done = joined.loc[joined["labelled"]]
    y = done["delayed"].astype(bool).to_numpy()
    p = done["probability"].to_numpy(dtype="float64")
    nan = math.nan
    out: dict[str, float | int] = {
        "n_predictions": len(joined), "n_labelled": len(done),
        "n_unlabelled": len(joined) - len(done), "roc_auc": nan, "brier": nan, "log_loss": nan,
        "base_rate": nan, "mean_prediction": nan,
    }  # fmt: skip
    if len(done):
        out["brier"] = float(brier_score_loss(y, p, pos_label=True))
        out["log_loss"] = float(log_loss(y, p, labels=[False, True]))
        out["base_rate"], out["mean_prediction"] = float(y.mean()), float(p.mean())
    if len(np.unique(y)) == 2:
        out["roc_auc"] = float(roc_auc_score(y, p))
    return out


def classification_html(
    joined: pd.DataFrame, html_path: Path, threshold: float | None = None
) -> bool:
    """Write Evidently's ClassificationPreset report on the labelled rows of ``joined``.

    The class threshold is ``threshold``, else the predictions' own ``threshold`` column,
    else 0.5. Writes nothing and returns False unless labelled rows of both classes exist.
    """
    done = joined.loc[joined["labelled"]]
    if done.empty or done["delayed"].nunique() < 2:
        return False
    if threshold is None:
        threshold = float(done["threshold"].mode().iloc[0]) if "threshold" in done else 0.5

    from evidently import BinaryClassification, DataDefinition, Dataset, Report
    from evidently.presets import ClassificationPreset

    # A 0/1 target: with a bool target Evidently's confusion matrix fails ("mix of binary
    # and continuous targets").
    data = pd.DataFrame({"delayed": done["delayed"].astype("int64").to_numpy(),
                         "probability": done["probability"].to_numpy(dtype="float64")})
    task = BinaryClassification(target="delayed", prediction_probas="probability", pos_label=1)
    definition = DataDefinition(numerical_columns=["probability"], classification=[task])
    report = Report([ClassificationPreset(probas_threshold=threshold)])
    snapshot = report.run(Dataset.from_pandas(data, data_definition=definition), None)
    atomic_write_text(Path(html_path), snapshot.get_html_str(as_iframe=False))
    return True

