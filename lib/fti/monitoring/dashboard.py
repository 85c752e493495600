"""The dashboard of a model's Evidently project, made by code from the monitoring days.

One tab, "Monitoring", one point per monitoring day in every panel:

- share of drifted features (Evidently's ``DriftedColumnsCount``);
- ROC AUC on the arrived labels (``RocAuc`` of the classification preset);
- the delayed share observed vs the mean predicted probability (``MeanValue`` of each);
- labelled and not yet labelled predictions of the window (``CategoryCount``, stacked);
- the drift scores (``ValueDrift``) of the features that came closest to, or beyond, their
  threshold over the days so far.

A panel selects values by metric and labels, and by the runs' tags (Evidently's
``PanelMetric``). Evidently 0.7 takes, for each value, the first of a panel's selections
whose metric and labels match and only then looks at the tags, so two selections that
differ only by tags (say, one line per champion) would show the first alone: the panels
select by metric and labels only. Evidently itself starts a new line where a metric's
settings change, as drift thresholds do with a new champion. The model versions behind each
point are in its run's tags and metadata (the Reports tab).

The ids are fixed per project, so rewriting the dashboard after every monitoring day
changes only what changed (the most drifting features).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping
from typing import Any

import pandas as pd

#: How many of the most drifting features get a line in the drift-score panel.
TOP_COLUMNS = 5
#: The prediction column: drift is shown for it in the reports, but it is not a feature.
_PREDICTION = "probability"

GUIDE = ("One point per monitoring day (the run date). Drift compares the window's flights "
         "with the training data of the champion of the day; a new champion brings new drift "
         "thresholds, and Evidently starts new lines. ROC AUC and the delayed shares judge the "
         "predictions by the model version that made them, once their labels arrived. The "
         "Reports tab lists every run with its versions and verdicts; its page is Evidently's "
         "full report.")


def drift_ratios(columns: pd.DataFrame | None) -> dict[str, float]:
    """Each evaluated feature's drift score divided by its threshold (above 1: drifted),
    from :class:`fti.monitoring.DriftResult`'s table; the prediction column left out."""
    if columns is None or columns.empty:
        return {}
    rows = columns[(columns["note"] == "") & (columns["column"] != _PREDICTION)]
    ratios = (rows["score"] / rows["threshold"]).to_numpy(dtype="float64")
    return {c: round(float(r), 6) for c, r in zip(rows["column"], ratios, strict=True)
            if math.isfinite(r)}


def top_columns(days: Mapping[str, Any], k: int = TOP_COLUMNS) -> list[str]:
    """The ``k`` features with the highest drift ratio on any day (ties: by name)."""
    best: dict[str, float] = {}
    for record in days.values():
        for column, ratio in (record.get("ratios") or {}).items():
            best[column] = max(best.get(column, -math.inf), float(ratio))
    return sorted(best, key=lambda c: (-best[c], c))[:k]


def build(project: uuid.UUID, days: Mapping[str, Any]) -> Any:
    """The DashboardModel of a project whose monitoring days are ``days`` (run date ->
    {"ratios": drift ratios}, as :mod:`fti.monitoring.workspace` keeps them)."""
    from evidently.sdk.models import (
        DashboardModel,
        DashboardPanelPlot,
        DashboardTabModel,
        PanelMetric,
    )

    def panel(key: str, title: str, values: list[Any], plot: str = "line",
              size: str = "half", subtitle: str | None = None, **params: Any) -> Any:
        return DashboardPanelPlot(id=uuid.uuid5(project, f"panel/{key}"), title=title,
                                  subtitle=subtitle, size=size, values=values,
                                  plot_params={"plot_type": plot, **params})

    labelled = {"column": "labelled", "value_type": "count"}
    panels = [
        panel("guide", "How to read this dashboard", [], plot="text", size="full",
              subtitle=GUIDE),
        panel("drift_share", "Share of drifted features", [
            PanelMetric(metric="DriftedColumnsCount", metric_labels={"value_type": "share"},
                        tags=["drift"], legend="share of drifted features")],
              subtitle="against the training data of the champion of the day"),
        panel("roc_auc", "ROC AUC on the arrived labels", [
            PanelMetric(metric="RocAuc", tags=["quality"], legend="ROC AUC")],
              subtitle="of the model version that made the predictions"),
        panel("base_rate", "Delayed share: observed vs mean prediction", [
            PanelMetric(metric="MeanValue", metric_labels={"column": "delayed"},
                        tags=["quality"], legend="observed delayed share"),
            PanelMetric(metric="MeanValue", metric_labels={"column": _PREDICTION},
                        tags=["quality"], legend="mean predicted probability")]),
        panel("labels", "Labelled and unlabelled predictions of the window", [
            PanelMetric(metric="CategoryCount", tags=["labels"], legend="labelled",
                        metric_labels={**labelled, "categories": "[True]"}),
            PanelMetric(metric="CategoryCount", tags=["labels"], legend="no label yet",
                        metric_labels={**labelled, "categories": "[False]"})],
              plot="bar", is_stacked=True),
        panel("top_drift", "Drift scores of the most drifting features", [
            PanelMetric(metric="ValueDrift", metric_labels={"column": c}, tags=["drift"],
                        legend="{{column}} ({{method}})") for c in top_columns(days)],
              size="full", subtitle="distance from the champion's training data; each "
              "feature has its own threshold (in the run's report): follow a line over time "
              "rather than compare lines"),
    ]
    tab = DashboardTabModel(id=uuid.uuid5(project, "tab/monitoring"), title="Monitoring",
                            panels=[p.id for p in panels])
    return DashboardModel(tabs=[tab], panels=panels)
