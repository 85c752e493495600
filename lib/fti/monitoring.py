"""Monitoring: data drift against the training reference, late-arriving labels, model
performance, a retrain recommendation and a history of daily runs.

Evidently is imported inside the functions that run a report (importing it takes seconds),
and scikit-learn inside :func:`performance`, so ``import fti.monitoring`` stays cheap for
the other pipelines and for the chain's own process, which reads the monitoring history: there
importing scikit-learn would also set two ``KMP_*`` environment variables, and a change of
environment restarts the warm kernels (:mod:`fti.engine`).

How a drift verdict is read: ``Report([ValueDrift(column=c) for c in ...],
include_tests=True)`` gives one ``ValueDrift`` metric per column in
``snapshot.dict()["metrics"]`` (its ``config`` holds ``column``, ``method`` and
``threshold``; its ``value`` is the score) and one test per column in
``snapshot.dict()["tests"]``, linked by ``metric_config.metric_id``, whose ``status`` is
``FAIL`` when Evidently detected drift. The verdict is that status, never our
own comparison of score and threshold: with more than 1000 reference rows the score is a
distance (drift when large), with fewer a p-value (drift when small).
"""

from __future__ import annotations

import datetime as dt
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fti.cache import Recent
from fti.config import TIME_DTYPE
from fti.dates import day_start_utc, parse_day
from fti.errors import FTIError, NotEnoughDataError, ParameterError
from fti.store import FeatureGroup, FeatureStore, atomic_write_text

HISTORY = FeatureGroup(
    name="monitoring_history",
    version=1,
    description="One row per monitoring run: the window, the model, drift, performance on "
    "the labels that had arrived, and the retrain recommendation. Partition: the run date. "
    "Event time: the start (local midnight, in UTC) of the run date.",
    schema={
        "run_date": "str", "run_at": TIME_DTYPE, "window_start": "str", "window_end": "str",
        "model_name": "str", "model_version": "int64", "n_predictions": "int64",
        "n_labelled": "int64", "n_unlabelled": "int64", "drift_share": "float64",
        "prediction_drift_score": "float64", "roc_auc": "float64", "brier": "float64",
        "log_loss": "float64", "base_rate": "float64", "mean_prediction": "float64",
        "champion_roc_auc": "float64", "drifted_columns": "str",
        "retrain_recommended": "bool", "reasons": "str",
    },  # fmt: skip
    primary_key=("run_date",),
    event_time="run_at",
)
#: History metrics a row may leave out or set to None (stored as NaN), e.g. before labels.
OPTIONAL_METRICS = ("prediction_drift_score", "roc_auc", "brier", "log_loss", "base_rate",
                    "mean_prediction", "champion_roc_auc")  # fmt: skip
_DRIFT_COLUMNS = {"column": "str", "kind": "str", "method": "str", "score": "float64",
                  "threshold": "float64", "drifted": "bool", "note": "str"}  # fmt: skip


def _write_html(text: str, path: Path) -> None:
    """Write a report atomically (temporary file in the same folder, then rename)."""
    atomic_write_text(path, text)


def sample_reference(frame: pd.DataFrame, n: int = 20000, seed: int = 0) -> pd.DataFrame:
    """At most ``n`` rows of ``frame``, drawn with a fixed seed and kept in their order."""
    if int(n) < 1:
        raise ParameterError(f"n={n!r}: the reference sample needs at least one row.")
    if len(frame) <= n:
        return frame.reset_index(drop=True)
    return frame.sample(n=int(n), random_state=seed).sort_index().reset_index(drop=True)


def reference_data(store: FeatureStore, champion: Any, model: Any, n: int = 20000,
                   seed: int = 0) -> pd.DataFrame:
    """The champion's reference: a sample of its training snapshot (:func:`sample_reference`)
    with the champion's own predictions for it in :data:`PREDICTION_COLUMN`.

    ``champion`` is the registry record (:class:`fti.registry.ModelRecord`), ``model`` the
    model loaded from it. Snapshots and registered models never change, so the result is
    kept per process, keyed by the snapshot's content hash and the model file's sha256: in
    a warm kernel only the first monitoring run of a champion loads and scores it.
    """
    snap = champion.info["lineage"]["training_dataset"]
    dataset = store.load_training_dataset(snap["name"], snap["version"])
    key = (dataset.metadata.get("content_hash"), champion.info.get("sha256"),
           tuple(champion.features), int(n), int(seed))

    def scored() -> pd.DataFrame:
        reference = sample_reference(dataset.load(), n, seed)
        reference[PREDICTION_COLUMN] = model.predict_proba(reference[champion.features])[:, 1]
        return reference

    if None in key[:2]:  # an old record without hashes: nothing safe to key it by
        return scored()
    return _REFERENCES.get(key, scored).copy()


_REFERENCES: Recent[pd.DataFrame] = Recent(2)


@dataclass(frozen=True, eq=False)
class DriftResult:
    """Per-column drift verdicts and their summary.

    ``columns`` has one row per monitored column: column, kind (numerical or categorical),
    method, score, threshold, drifted, and a note saying why a column was not evaluated
    ("" if it was). ``share_drifted`` is the share of the *evaluated* columns that drifted.
    """

    columns: pd.DataFrame
    share_drifted: float
    drifted_columns: list[str]

    def score(self, column: str) -> float:
        """The drift score of one column (NaN if it was not evaluated or not monitored)."""
        row = self.columns.loc[self.columns["column"] == column, "score"]
        return float(row.iloc[0]) if len(row) else math.nan


def _why_not_evaluable(frames: Mapping[str, pd.DataFrame], column: str, numeric: bool) -> str:
    for name, frame in frames.items():
        values = frame[column].replace([np.inf, -np.inf], np.nan) if numeric else frame[column]
        if values.isna().all():
            return f"not evaluated: no values in the {name} data"
    return ""


def drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    numerical: list[str],
    categorical: list[str],
    html_path: Path | None = None,
    thresholds: Mapping[str, float] | None = None,
) -> DriftResult:
    """Compare ``current`` with ``reference`` column by column with Evidently's ValueDrift.

    One ``ValueDrift`` metric per column, not the ``DataDriftPreset``: the verdicts are the
    same (the preset adds these metrics too), but the preset computes every column's drift
    twice more and renders a summary table whose plots took about 40 % of a monitoring run;
    the notebook draws its own summary (:func:`fti.plots.drift_scores`).

    ``thresholds`` sets per-column drift thresholds (see :mod:`fti.calibration`); numerical
    columns are then tested with the normed Wasserstein distance those thresholds are made
    for. Without it Evidently's defaults apply.

    A column without values in either frame cannot be tested (Evidently would raise): it is
    listed with ``drifted=False`` and a note, and left out of ``share_drifted``. With
    ``html_path`` the Evidently report is written there (atomically, folders created).

    Raises:
        ParameterError: a column is missing, listed twice, or not numeric when it should be.
        NotEnoughDataError: a frame has no rows, or no column has values in both frames.
    """
    frames = {"reference": reference, "current": current}
    kinds = {**{c: "numerical" for c in numerical}, **{c: "categorical" for c in categorical}}
    if len(kinds) < len(numerical) + len(categorical):
        raise ParameterError(f"A column is listed twice in numerical={numerical} or "
                             f"categorical={categorical}: list each column once.")
    for name, frame in frames.items():
        missing = [c for c in kinds if c not in frame.columns]
        if missing:
            raise ParameterError(f"The {name} data lacks column(s) {missing}: monitor only "
                                 f"columns that both the reference and the current data have.")
        if frame.empty:
            raise NotEnoughDataError(f"The {name} data has no rows: run the pipeline that "
                                     f"writes it (inference, or training for the reference).")
        wrong = [c for c in numerical if not pd.api.types.is_numeric_dtype(frame[c])]
        if wrong:
            raise ParameterError(f"Column(s) {wrong} are listed as numerical but hold "
                                 f"non-numbers in the {name} data: list them as categorical.")
    notes = {c: _why_not_evaluable(frames, c, k == "numerical") for c, k in kinds.items()}
    tested = [c for c in kinds if not notes[c]]
    if not tested:
        raise NotEnoughDataError(f"No monitored column has values in both the reference and the "
                                 f"current data ({notes}); check the feature pipeline's output.")

    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import ValueDrift

    definition = DataDefinition(numerical_columns=[c for c in tested if kinds[c] == "numerical"],
                                categorical_columns=[c for c in tested if c in categorical])
    cur, ref = (Dataset.from_pandas(f[tested].reset_index(drop=True), data_definition=definition)
                for f in (current, reference))  # fmt: skip
    thresholds = thresholds or {}
    metrics = [ValueDrift(column=c, method="wasserstein", threshold=float(thresholds[c]))
               if kinds[c] == "numerical" and c in thresholds else ValueDrift(column=c)
               for c in tested]  # fmt: skip
    with warnings.catch_warnings():  # Evidently's correlations warn on constant or tiny data
        warnings.filterwarnings("ignore", category=RuntimeWarning, module="numpy")
        snapshot = Report(metrics, include_tests=True).run(cur, ref)
    verdicts = _read_verdicts(snapshot.dict())
    lost = [c for c in tested if c not in verdicts]
    if lost:
        raise FTIError(f"Evidently returned no drift verdict for {lost}. The project expects "
                       f"evidently 0.7.x: reinstall the pinned environment (make clean install).")
    rows = [(c, k, *verdicts.get(c, ("", math.nan, math.nan, False)), notes[c])
            for c, k in kinds.items()]  # fmt: skip
    table = pd.DataFrame(rows, columns=list(_DRIFT_COLUMNS)).astype(_DRIFT_COLUMNS)
    drifted = table.loc[table["drifted"], "column"].tolist()
    if html_path is not None:
        _write_html(snapshot.get_html_str(as_iframe=False), Path(html_path))
    return DriftResult(table, len(drifted) / len(tested), drifted)


def _read_verdicts(snapshot: Mapping[str, Any]) -> dict[str, tuple[str, float, float, bool]]:
    """``{column: (method, score, threshold, drifted)}`` from a drift snapshot's ``dict()``."""
    status = {}
    for test in snapshot.get("tests", []):
        value = test.get("status")  # a TestStatus enum in dict(), a string in json()
        status[(test.get("metric_config") or {}).get("metric_id")] = str(
            getattr(value, "value", value)
        ).upper()
    verdicts = {}
    for metric in snapshot.get("metrics", []):
        config = metric.get("config") or {}
        verdict = status.get(metric.get("id"))
        if str(config.get("type")).endswith(":ValueDrift") and verdict in ("SUCCESS", "FAIL"):
            threshold = config.get("threshold")
            verdicts[config["column"]] = (str(config.get("method")), float(metric["value"]),
                                          math.nan if threshold is None else float(threshold),
                                          verdict == "FAIL")  # fmt: skip
    return verdicts


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
    _write_html(snapshot.get_html_str(as_iframe=False), Path(html_path))
    return True


@dataclass(frozen=True)
class Recommendation:
    """Whether to retrain, and the sentences that say why (or why not)."""

    retrain: bool
    reasons: list[str]


def _known(value: float | None) -> bool:
    return value is not None and not math.isnan(float(value))


def recommend(
    drift_share: float,
    drift_share_threshold: float,
    roc_auc: float | None,
    champion_roc_auc: float | None,
    auc_drop_threshold: float,
    drifted_columns: Sequence[str],
) -> Recommendation:
    """Retrain if more than ``drift_share_threshold`` of the features drifted, or if the ROC
    AUC on the arrived labels is more than ``auc_drop_threshold`` below the champion's."""
    if not 0 <= drift_share_threshold <= 1:
        raise ParameterError(f"drift_share_threshold={drift_share_threshold} must be a share "
                             f"between 0 and 1, e.g. 0.3.")
    if not auc_drop_threshold >= 0:
        raise ParameterError(f"auc_drop_threshold={auc_drop_threshold} must be >= 0, e.g. 0.05.")
    alarms, calm = [], []
    names = ", ".join(drifted_columns) or "none"
    if not _known(drift_share):
        calm.append("drift could not be measured")
    elif drift_share > drift_share_threshold:
        alarms.append(f"{drift_share:.0%} of the monitored features drifted, more than the "
                      f"{drift_share_threshold:.0%} allowed: {names}.")
    else:
        calm.append(f"drift share {drift_share:.2f} <= {drift_share_threshold:.2f} "
                    f"(drifted: {names})")
    if not _known(roc_auc):
        calm.append("no ROC AUC yet (labels of both classes have not arrived)")
    elif not _known(champion_roc_auc):
        calm.append(f"ROC AUC {roc_auc:.3f} has no champion ROC AUC to compare with")
    elif champion_roc_auc - roc_auc > auc_drop_threshold:
        alarms.append(f"ROC AUC on the arrived labels is {roc_auc:.3f}, "
                      f"{champion_roc_auc - roc_auc:.3f} below the champion's "
                      f"{champion_roc_auc:.3f} (more than the {auc_drop_threshold:.3f} allowed).")
    else:
        calm.append(f"ROC AUC {roc_auc:.3f} is within {auc_drop_threshold:.3f} of the "
                    f"champion's {champion_roc_auc:.3f}")
    if alarms:
        return Recommendation(True, alarms)
    return Recommendation(False, ["No retrain: " + " and ".join(calm) + "."])


def write_history(store: FeatureStore, row: Mapping[str, Any]) -> None:
    """Store one monitoring run as the partition of its run date (a re-run replaces it).

    ``row`` holds every history column but ``run_at`` (derived from ``run_date``); the
    :data:`OPTIONAL_METRICS` may be left out or None. ``drifted_columns`` and ``reasons`` may
    be lists (stored joined by "," and "; ").
    """
    expected = set(HISTORY.schema) - {"run_at"}
    missing = sorted(expected - set(row) - set(OPTIONAL_METRICS))
    extra = sorted(set(row) - expected)
    if missing or extra:
        raise ParameterError(f"A monitoring history row needs {sorted(expected)}; this one "
                             f"lacks {missing} and has unknown {extra}.")
    day = parse_day(row["run_date"], "run_date")
    values = {**{c: row.get(c) for c in expected}, "run_date": day.isoformat(),
              "run_at": day_start_utc(day)}  # fmt: skip
    for col, sep in (("drifted_columns", ","), ("reasons", "; ")):
        if not isinstance(values[col], str):
            values[col] = sep.join(values[col])
    columns = {}
    for col, dtype in HISTORY.schema.items():
        value = math.nan if col in OPTIONAL_METRICS and values[col] is None else values[col]
        if value is None or (dtype != "float64" and pd.isna(value)):
            raise ParameterError(f"History column {col!r} is empty: give it a {dtype} value.")
        try:
            columns[col] = pd.Series([value]).astype(dtype)
        except (TypeError, ValueError) as exc:
            raise ParameterError(f"History column {col!r}={value!r} is not {dtype}.") from exc
    store.register(HISTORY)
    store.write(HISTORY, day, pd.DataFrame(columns))


def read_history(store: FeatureStore) -> pd.DataFrame:
    """All monitoring runs sorted by run date; an empty frame with the schema if none."""
    found = store.days(HISTORY)
    if not found:
        return HISTORY.empty()
    frame = store.read(HISTORY, found[0], found[-1])
    return frame.sort_values("run_date", kind="stable").reset_index(drop=True)


def run_of(history: pd.DataFrame, run_date: str | dt.date) -> pd.Series | None:
    """The history row of ``run_date`` from :func:`read_history`, or None without one."""
    rows = history.loc[history["run_date"] == parse_day(run_date, "run_date").isoformat()]
    return rows.iloc[-1] if len(rows) else None


# --- assembling the monitoring inputs ------------------------------------------------------
PREDICTION_COLUMN = "probability"


def monitored_columns(features: Sequence[str],
                      categorical: Sequence[str]) -> tuple[list[str], list[str]]:
    """Split a model's feature list into the numerical and categorical columns to monitor."""
    cats = [f for f in features if f in categorical]
    return [f for f in features if f not in cats], cats


def current_window(features: pd.DataFrame, predictions: pd.DataFrame) -> pd.DataFrame:
    """The window's feature rows with the probability predicted for them (NaN if none was)."""
    if features.empty:
        raise NotEnoughDataError(
            "No features in the monitoring window: run the feature pipeline "
            "(notebooks/01_feature_pipeline.ipynb) for the days of the window first."
        )
    scored = predictions[["flight_id", PREDICTION_COLUMN]]
    return features.merge(scored, on="flight_id", how="left", validate="one_to_one")


def feature_drift_share(result: DriftResult) -> float:
    """Share of drifted *features*: the prediction column is reported, but not counted."""
    rows = result.columns[(result.columns["column"] != PREDICTION_COLUMN)
                          & (result.columns["note"] == "")]
    return float(rows["drifted"].mean()) if len(rows) else math.nan
