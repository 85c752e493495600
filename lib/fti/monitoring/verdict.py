"""The verdicts and the retrain rule: is there enough data, did the data drift, did the
champion's performance drop, and does that call for a new model?

Two verdicts, each given only on enough data (:class:`Minimum`):

- **drift** on the current window (the flights that were served a prediction):
  ``"ok"``, ``"drifted"`` or ``"not enough data"``;
- **performance** of the champion on its own labelled predictions, against its own
  holdout ROC AUC: ``"ok"``, ``"degraded"``, ``"not enough data"``, or ``"earlier model"``
  when the champion made none of the window's predictions (they belong to an earlier
  version, which a retrain would not replace: monitoring waits for the champion's).

Retraining is recommended only on ``"drifted"`` or ``"degraded"``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from fti.errors import ParameterError

DRIFT_VERDICTS = ("ok", "drifted", "not enough data")
PERFORMANCE_VERDICTS = ("ok", "degraded", "not enough data", "earlier model")


@dataclass(frozen=True)
class Minimum:
    """The least data a verdict rests on: ``rows`` rows spread over ``days`` days."""

    rows: int
    days: int

    def __post_init__(self) -> None:
        if int(self.rows) < 1 or int(self.days) < 1:
            raise ParameterError(f"A minimum of {self.rows} rows over {self.days} days: both "
                                 f"must be at least 1 (e.g. 2000 rows over 7 days).")

    def met(self, rows: int, days: int) -> bool:
        return int(rows) >= self.rows and int(days) >= self.days

    def shortfall(self, what: str, rows: int, days: int) -> str:
        """A sentence: how much data there is, and how much a verdict needs."""
        return (f"{rows:,} {what} over {days} day{'s' * (days != 1)}; a verdict needs at "
                f"least {self.rows:,} over {self.days} days")


@dataclass(frozen=True)
class Recommendation:
    """The two verdicts, whose figures the performance verdict is about, and whether to
    retrain, with the sentences that say why (or why not)."""

    drift: str
    performance: str
    judged_version: int | None
    retrain: bool
    reasons: list[str]


def _known(value: float | None) -> bool:
    return value is not None and not math.isnan(float(value))


def judged_version(versions: Sequence[int], champion: int) -> int | None:
    """The version whose performance is judged: the champion if it made any of the
    window's predictions, else the newest version that did (None without predictions)."""
    present = sorted(int(v) for v in versions)
    if champion in present:
        return champion
    return present[-1] if present else None


def drift_verdict(drift_share: float, drift_share_threshold: float,
                  drifted_columns: Sequence[str], rows: int, days: int,
                  minimum: Minimum) -> tuple[str, str]:
    """The drift verdict on a current window of ``rows`` served flights over ``days``
    days, and its sentence."""
    if not 0 <= drift_share_threshold <= 1:
        raise ParameterError(f"drift_share_threshold={drift_share_threshold} must be a share "
                             f"between 0 and 1, e.g. 0.3.")
    names = ", ".join(drifted_columns) or "none"
    if not minimum.met(rows, days):
        return "not enough data", ("not enough data yet for a drift verdict: "
                                   + minimum.shortfall("predicted flights", rows, days))
    if not _known(drift_share):
        return "not enough data", "drift could not be measured"
    if drift_share > drift_share_threshold:
        return "drifted", (f"{drift_share:.0%} of the monitored features drifted, more than "
                           f"the {drift_share_threshold:.0%} allowed: {names}.")
    return "ok", f"drift share {drift_share:.2f} <= {drift_share_threshold:.2f} (drifted: {names})"


def performance_verdict(table: pd.DataFrame, champion: int, auc_drop_threshold: float,
                        minimum: Minimum) -> tuple[str, int | None, str]:
    """The performance verdict, the version it is about, and its sentence.

    ``table`` is :func:`fti.monitoring.performance_by_version` with ``holdout_roc_auc``:
    one row per model version that made predictions in the window.
    """
    if not auc_drop_threshold >= 0:
        raise ParameterError(f"auc_drop_threshold={auc_drop_threshold} must be >= 0, e.g. 0.05.")
    version = judged_version(table.index, champion)
    if version is None:
        return "not enough data", None, "no predictions in the window to judge"
    row = table.loc[version]
    if version != champion:
        shown = (f"v{version}'s ROC AUC {row['roc_auc']:.3f} against its holdout's "
                 f"{row['holdout_roc_auc']:.3f}" if _known(row["roc_auc"]) else
                 f"v{version}'s figures")
        return "earlier model", version, (
            f"the window's predictions were made by v{version}, not by the champion "
            f"v{champion}: {shown} are shown, and monitoring waits for labelled "
            f"predictions of v{champion} before it judges the champion")
    n, days = int(row["n_labelled"]), int(row["labelled_days"])
    if not minimum.met(n, days):
        return "not enough data", version, (
            f"not enough data yet for a performance verdict on v{version}: "
            + minimum.shortfall("labelled predictions", n, days))
    auc, holdout = row["roc_auc"], row["holdout_roc_auc"]
    if not _known(auc):
        return "not enough data", version, (f"no ROC AUC for v{version} (labels of both "
                                            f"classes have not arrived)")
    if not _known(holdout):
        return "not enough data", version, (f"v{version} has no holdout ROC AUC to compare "
                                            f"its {auc:.3f} with")
    if holdout - auc > auc_drop_threshold:
        return "degraded", version, (
            f"ROC AUC of v{version} on the arrived labels is {auc:.3f}, {holdout - auc:.3f} "
            f"below its holdout's {holdout:.3f} (more than the {auc_drop_threshold:.3f} "
            f"allowed).")
    return "ok", version, (f"ROC AUC {auc:.3f} of v{version} is within "
                           f"{auc_drop_threshold:.3f} of its holdout's {holdout:.3f}")


def recommend(*, drift_share: float, drift_share_threshold: float,
              drifted_columns: Sequence[str], current_rows: int, current_days: int,
              performance: pd.DataFrame, champion: int, auc_drop_threshold: float,
              minimum: Minimum) -> Recommendation:
    """Both verdicts and the retrain rule: retrain if more than ``drift_share_threshold``
    of the features drifted, or if the champion's ROC AUC on its arrived labels is more
    than ``auc_drop_threshold`` below its holdout's; never without enough data."""
    drift, drift_why = drift_verdict(drift_share, drift_share_threshold, drifted_columns,
                                     current_rows, current_days, minimum)
    perf, version, perf_why = performance_verdict(performance, champion, auc_drop_threshold,
                                                  minimum)
    alarms = [why for verdict, why in ((drift, drift_why), (perf, perf_why))
              if verdict in ("drifted", "degraded")]
    if alarms:
        return Recommendation(drift, perf, version, True, alarms)
    return Recommendation(drift, perf, version, False,
                          [f"No retrain: {drift_why} and {perf_why}."])


def next_step(advice: Recommendation, champion: int, last_labelled: str) -> str:
    """What to do after this monitoring run, in one sentence a student can follow."""
    if advice.retrain:
        return (f"Retrain: run 02_training_pipeline.ipynb with train_end='{last_labelled}' (the "
                f"last day whose labels have arrived). The new model becomes champion only if "
                f"it beats v{champion} on the same holdout.")
    if advice.performance == "earlier model":
        return (f"Wait for the champion v{champion}: the window's predictions came from "
                f"v{advice.judged_version}. Predict the next days with v{champion} "
                f"(01 and 03 for them, or `fti simulate`), then monitor again once their labels "
                f"have arrived.")
    if "not enough data" in (advice.drift, advice.performance):
        return ("Wait for more data: predict and label more days (01 and 03 for the next days, "
                "or `fti simulate`), then monitor again. This run's figures rest on too little "
                "data to ask for a new model.")
    return (f"Nothing to do: v{champion} holds up. In production the system simply runs on "
            f"(`fti simulate` continues day by day, with monitoring every 7 days).")
