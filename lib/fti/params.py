"""Notebook parameters, validated.

Papermill injects parameters loosely typed (a date is a string, a number may arrive as a
string from the command line). Each notebook passes its raw parameters to one function
here and gets back a frozen dataclass, or a :class:`~fti.errors.ParameterError` whose
message a student can act on. The functions have no defaults: a parameter's default lives
in the notebook's ``parameters`` cell only.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from fti.config import FIRST_DAY, LAST_DAY, data_root, reports_root
from fti.dates import check_range, parse_day
from fti.errors import ParameterError
from fti.location import Location
from fti.source import FAULTS, Fault


def _int(value: object, name: str, minimum: int | None = None) -> int:
    try:
        number = int(str(value).strip()) if not isinstance(value, bool) else None
    except ValueError:
        number = None
    if number is None:
        raise ParameterError(f"{name}={value!r} is not a whole number.")
    if minimum is not None and number < minimum:
        raise ParameterError(f"{name}={number} is too small: it must be at least {minimum}.")
    return number


def _fraction(value: object, name: str) -> float:
    try:
        number = float(str(value).strip())
    except ValueError:
        raise ParameterError(f"{name}={value!r} is not a number.") from None
    if not 0.0 <= number <= 1.0:
        raise ParameterError(f"{name}={number} must be between 0 and 1.")
    return number


def _name(value: object, name: str) -> str:
    text = str(value).strip()
    if not text or not text.replace("_", "").replace("-", "").isalnum():
        raise ParameterError(
            f"{name}={value!r}: use letters, digits, '-' and '_' only (it names a folder)."
        )
    return text


def _flag(value: object, name: str) -> bool:
    """A yes/no parameter: a bool, or its spelling from a command line ("true", "False")."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "false"):
        return text == "true"
    raise ParameterError(f"{name}={value!r} is not True or False.")


def _in_year(day: dt.date, name: str) -> dt.date:
    first, last = dt.date.fromisoformat(FIRST_DAY), dt.date.fromisoformat(LAST_DAY)
    if not first <= day <= last:
        raise ParameterError(f"{name}={day}: the data covers {first} to {last} only.")
    return day


@dataclass(frozen=True)
class FeatureParams:
    start: dt.date
    end: dt.date
    label_delay_days: int
    source_dir: Path | None
    data_dir: Location
    fault: Fault | None
    figures: bool
    engine: str
    spark_master: str  # the resolved master URL with engine "spark", else ""


#: The feature pipeline's engines: where the days of a backfill are computed.
ENGINES = {"pandas": "in this process, one day after the other",
           "spark": "on Apache Spark's executors (local[*] or a cluster)"}


def _engine(engine: object, spark_master: object) -> tuple[str, str]:
    name = str(engine).strip().lower()
    if name not in ENGINES:
        known = "; ".join(f"'{k}' ({v})" for k, v in ENGINES.items())
        raise ParameterError(f"engine={engine!r} is unknown; use {known}.")
    master = str(spark_master).strip()
    if name != "spark":
        if master:
            raise ParameterError(
                f"spark_master={master!r} is set but engine={engine!r}: set engine='spark' to "
                f"run the backfill on Spark, or leave spark_master empty."
            )
        return name, ""
    from fti.spark import resolve_master

    return name, resolve_master(master)


def feature_params(start_date: str, end_date: str, label_delay_days: int, source_dir: str,
                   data_dir: str, inject_fault: str, fault_start: str,
                   figures: bool, engine: str, spark_master: str) -> FeatureParams:
    start = _in_year(parse_day(start_date, "start_date"), "start_date")
    end = _in_year(parse_day(end_date, "end_date"), "end_date")
    check_range(start, end, "start_date", "end_date")
    fault = None
    if inject_fault:
        if inject_fault not in FAULTS:
            raise ParameterError(
                f"inject_fault={inject_fault!r} is unknown; use '' or one of {sorted(FAULTS)}."
            )
        fault = Fault(inject_fault, parse_day(fault_start, "fault_start"))
    return FeatureParams(start, end, _int(label_delay_days, "label_delay_days", 1),
                         Path(source_dir) if source_dir else None, data_root(data_dir), fault,
                         _flag(figures, "figures"), *_engine(engine, spark_master))


@dataclass(frozen=True)
class TrainingParams:
    train_start: dt.date
    train_end: dt.date
    holdout_days: int
    model_name: str
    promote: str
    seed: int
    max_trees: int
    importance_rows: int
    data_dir: Location


def training_params(train_start: str, train_end: str, holdout_days: int, model_name: str,
                    promote: str, seed: int, max_trees: int, importance_rows: int,
                    data_dir: str) -> TrainingParams:
    from fti.training import PROMOTION_POLICIES

    start = _in_year(parse_day(train_start, "train_start"), "train_start")
    end = _in_year(parse_day(train_end, "train_end"), "train_end")
    check_range(start, end, "train_start", "train_end")
    if promote not in PROMOTION_POLICIES:
        raise ParameterError(f"promote={promote!r}: use one of {list(PROMOTION_POLICIES)}.")
    return TrainingParams(start, end, _int(holdout_days, "holdout_days", 1),
                          _name(model_name, "model_name"), promote, _int(seed, "seed"),
                          _int(max_trees, "max_trees", 1),
                          _int(importance_rows, "importance_rows", 100), data_root(data_dir))


@dataclass(frozen=True)
class InferenceParams:
    run_date: dt.date
    days: int
    model_name: str
    model_alias: str
    model_version: int | None
    threshold: float
    data_dir: Location
    figures: bool

    @property
    def run_dates(self) -> list[dt.date]:
        """The days to predict: ``days`` days from ``run_date`` on."""
        return [self.run_date + dt.timedelta(days=i) for i in range(self.days)]


def inference_params(run_date: str, days: int, model_name: str, model_alias: str,
                     model_version: int, threshold: float, data_dir: str,
                     figures: bool) -> InferenceParams:
    version = _int(model_version, "model_version", 0)
    first = _in_year(parse_day(run_date, "run_date"), "run_date")
    count = _int(days, "days", 1)
    _in_year(first + dt.timedelta(days=count - 1), "the last day (run_date + days - 1)")
    return InferenceParams(first, count, _name(model_name, "model_name"),
                           _name(model_alias, "model_alias"), version or None,
                           _fraction(threshold, "threshold"), data_root(data_dir),
                           _flag(figures, "figures"))


@dataclass(frozen=True)
class MonitoringParams:
    run_date: dt.date
    window_days: int
    model_name: str
    drift_share_threshold: float
    auc_drop_threshold: float
    min_rows: int
    min_days: int
    data_dir: Location
    reports_dir: Path

    @property
    def window(self) -> tuple[dt.date, dt.date]:
        """The current window: the ``window_days`` days ending the day before the run."""
        end = self.run_date - dt.timedelta(days=1)
        return end - dt.timedelta(days=self.window_days - 1), end


def monitoring_params(run_date: str, window_days: int, model_name: str,
                      drift_share_threshold: float, auc_drop_threshold: float, min_rows: int,
                      min_days: int, data_dir: str, reports_dir: str) -> MonitoringParams:
    window, least = _int(window_days, "window_days", 1), _int(min_days, "min_days", 1)
    if least > window:
        raise ParameterError(f"min_days={least} is more than window_days={window}: no window "
                             f"could ever hold enough days for a verdict. Lower min_days or "
                             f"lengthen the window.")
    return MonitoringParams(_in_year(parse_day(run_date, "run_date"), "run_date"), window,
                            _name(model_name, "model_name"),
                            _fraction(drift_share_threshold, "drift_share_threshold"),
                            _fraction(auc_drop_threshold, "auc_drop_threshold"),
                            _int(min_rows, "min_rows", 1), least, data_root(data_dir),
                            reports_root(reports_dir))


@dataclass(frozen=True)
class PrologueParams:
    """The parameters of the first lesson, 00_from_monolith_to_fti."""

    run_date: dt.date
    history_days: int
    holdout_days: int
    eval_days: int
    skew: str
    seed: int
    data_dir: Location

    @property
    def history_start(self) -> dt.date:
        return self.run_date - dt.timedelta(days=self.history_days)

    @property
    def eval_end(self) -> dt.date:
        """The last day the split pipelines predict (from ``run_date`` on)."""
        return self.run_date + dt.timedelta(days=self.eval_days - 1)

    @property
    def store_dir(self) -> Location:
        """The lesson's own feature store, apart from the one pipelines 01-04 fill."""
        return self.data_dir / "lessons" / "00_from_monolith_to_fti"


def prologue_params(run_date: str, history_days: int, holdout_days: int, eval_days: int,
                    skew: str, seed: int, data_dir: str) -> PrologueParams:
    from fti.features import STATS_WINDOW_DAYS
    from fti.monolith import SKEWS

    day = _in_year(parse_day(run_date, "run_date"), "run_date")
    history = _int(history_days, "history_days", STATS_WINDOW_DAYS)
    holdout = _int(holdout_days, "holdout_days", 1)
    evaluate = _int(eval_days, "eval_days", 1)
    if holdout >= history:
        raise ParameterError(
            f"holdout_days={holdout} leaves nothing to train on in history_days={history}: "
            f"keep holdout_days below history_days (for example 7 of 21)."
        )
    first = dt.date.fromisoformat(FIRST_DAY)
    if day - dt.timedelta(days=history) < first:
        raise ParameterError(
            f"history_days={history} before run_date={day} starts before {first}, where the "
            f"data begins: choose a later run_date or a shorter history."
        )
    # the labels of the last predicted day arrive the day after it
    _in_year(day + dt.timedelta(days=evaluate), "run_date + eval_days")
    if skew not in SKEWS:
        raise ParameterError(f"skew={skew!r} is unknown; use one of {sorted(SKEWS)}.")
    return PrologueParams(day, history, holdout, evaluate, skew, _int(seed, "seed"),
                          data_root(data_dir))
