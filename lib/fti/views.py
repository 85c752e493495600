"""Point-in-time joins and feature views: the one piece of code that assembles features,
shared by training (a time range, with labels) and inference (one day, without).

The rule that keeps the future out: for an entity at time ``t`` a joined feature takes the
latest value per key whose event time is *strictly before* ``t`` (and, with ``max_age``, not
older than ``t - max_age``); when there is none, it is null, never a later value.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fti.config import TIME_DTYPE
from fti.errors import SchemaError
from fti.store import FeatureStore

_POS = "__pit_row__"


def pit_join(
    left: pd.DataFrame,
    right: pd.DataFrame,
    *,
    left_time: str,
    right_time: str,
    by: Sequence[str],
    features: Sequence[str],
    max_age: pd.Timedelta | None = None,
    prefix: str = "",
) -> pd.DataFrame:
    """Add ``features`` of ``right`` to ``left`` as of each left row's time, strictly before.

    Returns ``left`` (same rows, same order, same index) with the new columns, named
    ``prefix + feature``.
    """
    for frame, col in ((left, left_time), (right, right_time)):
        if str(frame[col].dtype) != TIME_DTYPE:
            raise SchemaError(
                f"pit_join: column {col!r} is {frame[col].dtype}; both sides need {TIME_DTYPE} "
                f"(normalize with fti.dates.to_utc)."
            )
    by = list(by)
    names = {f: prefix + f for f in features}
    clash = [n for n in names.values() if n in left.columns]
    if clash:
        raise SchemaError(f"pit_join: columns {clash} exist on the left already; set a prefix.")

    lhs = left[[left_time, *by]].copy()
    lhs[_POS] = np.arange(len(lhs))
    known = lhs[by].notna().all(axis=1) & lhs[left_time].notna()
    if right_time == left_time or right_time in by:
        raise SchemaError("pit_join: the right time column must differ from the left's and keys.")
    rhs = right[[right_time, *by, *features]].rename(columns=names)
    rhs = rhs.dropna(subset=[right_time, *by]).sort_values(right_time, kind="stable")
    matched = pd.merge_asof(
        lhs[known].sort_values(left_time, kind="stable"),
        rhs,
        left_on=left_time,
        right_on=right_time,
        by=by,
        allow_exact_matches=False,
        tolerance=max_age,
        direction="backward",
    )
    out = left.copy()
    picked = matched.set_index(_POS).reindex(np.arange(len(left)))
    for new in names.values():
        out[new] = picked[new].set_axis(out.index)
    return out


@dataclass(frozen=True)
class Join:
    """One feature group joined onto the spine point-in-time by the ``on`` keys."""

    group: str
    version: int
    on: tuple[str, ...]
    features: tuple[str, ...]
    max_age: pd.Timedelta
    prefix: str = ""

    @property
    def lookback_days(self) -> int:
        """How many days before the range this join must read to find its values."""
        return math.ceil(self.max_age / pd.Timedelta(days=1)) + 1

    @property
    def columns(self) -> list[str]:
        return [self.prefix + f for f in self.features]


@dataclass(frozen=True)
class FeatureView:
    """A spine feature group (one row per entity) plus point-in-time joins and a label.

    ``get`` gives features for every spine row in a day range; ``training_data`` adds the
    label and keeps only labelled rows. Training and inference both call ``get``, so a
    flight's feature row is built by the same code either way.
    """

    name: str
    version: int
    spine: str
    spine_version: int
    spine_columns: tuple[str, ...]
    spine_features: tuple[str, ...]  # the spine columns a model takes as features
    categorical: tuple[str, ...]  # the features that are categories, not numbers
    joins: tuple[Join, ...]
    label_group: str
    label_version: int
    label_key: str
    label_columns: tuple[str, ...]

    def __post_init__(self) -> None:
        odd = [c for c in self.spine_features if c not in self.spine_columns]
        if odd:
            raise SchemaError(f"{self.name}: spine features {odd} are not spine columns.")
        odd = [c for c in self.categorical if c not in self.features]
        if odd:
            raise SchemaError(f"{self.name}: categorical columns {odd} are not features.")

    @property
    def features(self) -> list[str]:
        """A model's inputs, in order: the spine's features, then every joined feature."""
        return list(self.spine_features) + [c for j in self.joins for c in j.columns]

    @property
    def feature_groups(self) -> dict[str, int]:
        refs = {self.spine: self.spine_version, self.label_group: self.label_version}
        refs.update({j.group: j.version for j in self.joins})
        return refs

    @property
    def feature_columns(self) -> list[str]:
        """Every column :meth:`get` returns: the spine's, then every joined feature."""
        return list(self.spine_columns) + [c for j in self.joins for c in j.columns]

    def get(self, store: FeatureStore, start: dt.date, end: dt.date) -> pd.DataFrame:
        """Features of every spine entity whose partition day is in [start, end].

        The reads hold the data root's lock shared: a feature run of another process is
        seen whole or not at all (see :mod:`fti.locks`).
        """
        with store.lock.shared(f"read the feature view {self.name} {start}..{end}"):
            return self._get(store, start, end)

    def _get(self, store: FeatureStore, start: dt.date, end: dt.date) -> pd.DataFrame:
        spine_group = store.get_group(self.spine, self.spine_version)
        frame = store.read(spine_group, start, end)
        time_col = spine_group.event_time
        for join in self.joins:
            group = store.get_group(join.group, join.version)
            right = store.read(
                group, start - dt.timedelta(days=join.lookback_days), end,
                columns=[group.event_time, *join.on, *join.features],
            )
            frame = pit_join(
                frame, right, left_time=time_col, right_time=group.event_time, by=join.on,
                features=join.features, max_age=join.max_age, prefix=join.prefix,
            )
        key = list(spine_group.primary_key)
        return frame.sort_values([time_col, *key], kind="stable").reset_index(drop=True)

    def labels(self, store: FeatureStore, start: dt.date, end: dt.date) -> pd.DataFrame:
        """Labels of the entities of [start, end], with the time each label was published."""
        group = store.get_group(self.label_group, self.label_version)
        columns = [self.label_key, group.event_time, *self.label_columns]
        return store.read(group, start, end, columns=columns, repair=_labels_repair)

    def training_data(self, store: FeatureStore, start: dt.date, end: dt.date) -> pd.DataFrame:
        """Features joined with the labels that exist; unlabelled rows are dropped.

        Features and labels are read under one shared lock: the same set of partitions.
        """
        with store.lock.shared(f"read the training data of {self.name} {start}..{end}"):
            features = self.get(store, start, end)
            labels = self.labels(store, start, end)
        return features.merge(labels, on=self.label_key, how="inner", validate="one_to_one")


def _labels_repair(day: dt.date) -> str:
    """Labels of a flight day arrive with a later feature run: that run writes them again."""
    after = day + dt.timedelta(days=1)
    return (f"the labels of {day} arrive with the feature run of a later day, {after} with "
            f"the default label_delay_days=1 (day + label_delay_days in general): run the "
            f"feature pipeline for {after} again: fti run feature -p start_date={after} -p "
            f"end_date={after}.")
