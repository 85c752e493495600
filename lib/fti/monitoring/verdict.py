"""The retrain rule: when drift or a drop in ROC AUC calls for a new model."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from fti.errors import ParameterError


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

