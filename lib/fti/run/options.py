"""The runner's settings (:class:`Options`) and the notebook parameters they pass on.

Kept apart from :mod:`fti.run.plan` so that ``fti --help`` can describe them without
loading pandas.
"""

from __future__ import annotations

from dataclasses import dataclass

from fti import config


@dataclass(frozen=True)
class Options:
    """Settings of a run of notebooks.

    Empty folders mean :mod:`fti.config`'s defaults. The notebook parameters the runner
    passes on (see :data:`NOTEBOOK_PARAMETERS`) are None unless set: the notebook's own
    default then applies.
    """

    data_dir: str = ""
    reports_dir: str = ""
    source_dir: str = ""
    # notebook parameters (None: the notebook's default)
    model_name: str | None = None
    threshold: float | None = None
    window_days: int | None = None
    min_rows: int | None = None  # monitoring: least data for a verdict (rows, days)
    min_days: int | None = None
    history_start: str | None = None  # first day of every training range (02's train_start)
    holdout_days: int | None = None
    label_delay_days: int | None = None
    inject_fault: str | None = None  # '' = none; else a kind fti.source.FAULTS knows
    fault_start: str | None = None
    # the runner's own settings
    monitor_every_days: int = 7  # 0: never
    retrain_every_days: int = 0  # 0: only when monitoring recommends it
    export_html: bool = True
    engine: str = "warm"  # "warm": one kernel reused, reset per notebook; "papermill": plain
    features_ahead: int = 0  # N > 0: two kernels, features up to N days ahead
    daily_figures: bool = True  # False: daily feature and inference runs show tables instead

    @property
    def data_path(self) -> str:
        """The data root, absolute: passed to every notebook, so none falls back to data/."""
        return str(config.data_root(self.data_dir))

    @property
    def reports_path(self) -> str:
        return str(config.reports_root(self.reports_dir))


#: Options that are notebook parameters: option -> (parameter, the pipelines that take it).
#: Where the runner needs the value itself, it reads the first pipeline's default.
NOTEBOOK_PARAMETERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "model_name": ("model_name", ("training", "inference", "monitoring")),
    "threshold": ("threshold", ("inference",)),
    "window_days": ("window_days", ("monitoring",)),
    "min_rows": ("min_rows", ("monitoring",)),
    "min_days": ("min_days", ("monitoring",)),
    "history_start": ("train_start", ("training",)),
    "holdout_days": ("holdout_days", ("training",)),
    "label_delay_days": ("label_delay_days", ("feature",)),
    "inject_fault": ("inject_fault", ("feature",)),
    "fault_start": ("fault_start", ("feature",)),
}
