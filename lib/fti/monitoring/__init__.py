"""Monitoring: is the champion still right about recent flights? (notebook 04)

One module per job:

- ``inputs``       the reference (the champion's training snapshot, scored) and the window
- ``datadrift``    data and prediction drift per column, with Evidently
- ``quality``      predictions joined with the labels that have arrived, metrics per version
- ``verdict``      enough data?, the drift and performance verdicts, the retrain rule
- ``history``      the monitoring_history table, and the decision the runner reads from it
- ``reports``      Evidently reports as HTML files, and the labels count
- ``workspace``    the Evidently workspace: a project per model, runs per day, the UI's files
- ``dashboard``    the project's dashboard panels, made by code

The names below are the package's API, so a notebook writes ``monitoring.drift(...)``
(and ``monitoring.workspace.record_day(...)``).
Evidently and scikit-learn are imported only inside the functions that need them.
"""

from fti.monitoring import workspace
from fti.monitoring.datadrift import DriftResult, drift, feature_drift_share, monitored_columns
from fti.monitoring.history import (
    HISTORY,
    OPTIONAL_METRICS,
    decision,
    read_history,
    record_run,
    run_of,
    write_history,
)
from fti.monitoring.inputs import (
    PREDICTION_COLUMN,
    coverage,
    current_window,
    reference_data,
    sample_reference,
    served,
)
from fti.monitoring.quality import (
    auc_standard_error,
    by_day,
    classification_report,
    join_labels,
    performance,
    performance_by_version,
    with_holdout,
)
from fti.monitoring.reports import labels_report, save_html, where
from fti.monitoring.verdict import Minimum, Recommendation, judged_version, next_step, recommend

__all__ = [
    "HISTORY", "OPTIONAL_METRICS", "PREDICTION_COLUMN", "DriftResult", "Minimum",
    "Recommendation", "auc_standard_error", "by_day", "classification_report", "coverage",
    "current_window", "decision", "drift", "feature_drift_share", "join_labels", "judged_version",
    "labels_report", "monitored_columns", "next_step", "performance", "performance_by_version",
    "read_history", "record_run", "recommend", "reference_data", "run_of",
    "sample_reference", "save_html", "served", "where", "with_holdout", "workspace",
    "write_history",
]  # fmt: skip
