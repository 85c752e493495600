"""Parity checks: do two code paths give the same feature values for the same entities?

Training/serving skew is what happens when the features a model is trained on and the
features it is served with are computed by two pieces of code that drift apart. A parity
check pushes the same entities (flights) through both paths and compares the two feature
frames row by row, matched on their key. :func:`compare` measures, per feature, the share of
matched rows whose values differ; :func:`check_parity` refuses with a :class:`ParityError`
that names the feature and that share.

Two values are equal when both are missing, or when they are equal; numbers count as equal
within ``atol`` (1e-9 by default: rolling sums over different spans of the same data can
differ in the last bit, which is rounding, not skew).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fti.errors import FTIError, SchemaError

#: Numbers closer than this are equal: rounding, not skew.
ATOL = 1e-9


class ParityError(FTIError):
    """Two feature paths disagree: training/serving skew. Carries the :class:`ParityReport`."""

    def __init__(self, message: str, report: ParityReport) -> None:
        super().__init__(message)
        self.report = report


@dataclass(frozen=True)
class ParityReport:
    """The outcome of comparing two feature frames matched on a key.

    Attributes:
        left, right: names of the two paths (for messages), e.g. "training", "inference".
        rows: rows whose key is in both frames (the rows compared).
        only_left, only_right: rows whose key is in one frame only.
        differing: per feature, how many of the compared rows differ (every feature compared,
            in the order given, zero included).
        any_differing: compared rows with at least one differing feature.
    """

    left: str
    right: str
    rows: int
    only_left: int
    only_right: int
    differing: dict[str, int]
    any_differing: int

    @property
    def ok(self) -> bool:
        """True when every value of the rows in both frames agrees."""
        return self.any_differing == 0

    @property
    def same_rows(self) -> bool:
        """True when both frames hold the same keys."""
        return self.only_left == 0 and self.only_right == 0

    def share(self, feature: str) -> float:
        """The share of compared rows whose value of ``feature`` differs (0 to 1)."""
        return self.differing[feature] / self.rows if self.rows else 0.0

    @property
    def skewed(self) -> list[str]:
        """The features that differ anywhere, the most often differing first."""
        found = [f for f, n in self.differing.items() if n]
        return sorted(found, key=lambda f: -self.differing[f])

    def table(self) -> pd.DataFrame:
        """Per feature: differing rows and their share of the compared rows."""
        return pd.DataFrame({
            "feature": list(self.differing),
            "differing rows": list(self.differing.values()),
            "share": [round(self.share(f), 4) for f in self.differing],
        }).set_index("feature")

    def summary(self) -> str:
        """One paragraph: what was compared and what differs."""
        head = (f"{self.rows:,} rows compared ({self.left} vs {self.right}), "
                f"{len(self.differing)} features: ")
        found = [f"'{f}' differs on {self.share(f):.1%} of rows ({self.differing[f]:,})"
                 for f in self.skewed]
        text = head + ("; ".join(found) if found else "no differences") + "."
        if not self.same_rows:
            text += (f" Not compared: {self.only_left:,} row(s) only in {self.left}, "
                     f"{self.only_right:,} only in {self.right}.")
        return text


def _values_differ(a: pd.Series, b: pd.Series, atol: float) -> np.ndarray:
    both_missing = (a.isna() & b.isna()).to_numpy()
    numeric = pd.api.types.is_numeric_dtype(a) and pd.api.types.is_numeric_dtype(b)
    if numeric and not pd.api.types.is_bool_dtype(a):
        x, y = a.to_numpy(dtype="float64"), b.to_numpy(dtype="float64")
        with np.errstate(invalid="ignore"):
            same = np.abs(x - y) <= atol
    else:
        same = (a == b).fillna(False).to_numpy(dtype=bool)
    return ~(same | both_missing)


def compare(left: pd.DataFrame, right: pd.DataFrame, key: str | Sequence[str],
            features: Sequence[str] | None = None, *, names: tuple[str, str] = ("left", "right"),
            atol: float = ATOL) -> ParityReport:
    """Compare the feature values of two frames on the rows whose ``key`` they share.

    Args:
        left, right: feature frames, one row per key (for example per flight).
        key: the column(s) that identify a row in both frames.
        features: the columns to compare; default: every column both frames have but the key.
        names: what to call the two paths in reports and messages.
        atol: numbers closer than this count as equal.

    Raises:
        SchemaError: when a frame lacks the key or a feature, or repeats a key.
    """
    keys = [key] if isinstance(key, str) else list(key)
    if features is None:
        features = [c for c in left.columns if c in right.columns and c not in keys]
    features = list(features)
    for name, frame in zip(names, (left, right), strict=True):
        missing = [c for c in (*keys, *features) if c not in frame.columns]
        if missing:
            raise SchemaError(f"Parity check: the {name} frame has no column(s) {missing}.")
        repeated = frame.duplicated(keys)
        if repeated.any():
            raise SchemaError(
                f"Parity check: the {name} frame repeats {int(repeated.sum())} key(s) {keys}; "
                f"each row must be one entity."
            )
    matched = left[[*keys, *features]].merge(
        right[[*keys, *features]], on=keys, how="outer", suffixes=("__l", "__r"),
        indicator=True)
    both = matched[matched["_merge"] == "both"]
    differs = {f: _values_differ(both[f"{f}__l"], both[f"{f}__r"], atol) for f in features}
    any_row = np.logical_or.reduce(list(differs.values())) if differs else np.zeros(len(both))
    return ParityReport(
        left=names[0], right=names[1], rows=len(both),
        only_left=int((matched["_merge"] == "left_only").sum()),
        only_right=int((matched["_merge"] == "right_only").sum()),
        differing={f: int(d.sum()) for f, d in differs.items()},
        any_differing=int(np.count_nonzero(any_row)),
    )


def check_parity(left: pd.DataFrame, right: pd.DataFrame, key: str | Sequence[str],
                 features: Sequence[str] | None = None, *,
                 names: tuple[str, str] = ("training", "inference"),
                 atol: float = ATOL, same_rows: bool = False) -> ParityReport:
    """Like :func:`compare`, but refuse when a value differs (and, with ``same_rows``, when
    a key is in one frame only).

    Raises:
        ParityError: naming the most often differing feature and the share of rows that
            differ (and every other differing feature), or the rows missing on one side.
    """
    report = compare(left, right, key, features, names=names, atol=atol)
    if report.ok and (report.same_rows or not same_rows):
        return report
    if report.skewed:
        worst, *others = report.skewed
        also = "".join(f"; '{f}' on {report.share(f):.1%}" for f in others)
        unmatched = "" if report.same_rows else (
            f" ({report.only_left:,} row(s) only in {names[0]} and {report.only_right:,} only "
            f"in {names[1]} were not compared.)")
        message = (
            f"Training/serving skew: feature '{worst}' differs on {report.share(worst):.1%} "
            f"of the {report.rows:,} rows pushed through both paths ({names[0]} vs "
            f"{names[1]}){also}.{unmatched} The two paths compute these features with "
            f"different code: make them share one implementation (compute each feature once, "
            f"in the feature pipeline) before serving this model.")
    else:
        message = (
            f"The {names[0]} and {names[1]} paths did not produce the same rows: "
            f"{report.only_left:,} only in {names[0]}, {report.only_right:,} only in "
            f"{names[1]}. Check that both select the same entities.")
    raise ParityError(message, report)
