"""Where things live, and the constants of simulated time.

One place resolves paths; every other module asks it. Nothing here touches the file system
at import time.

- repo root: the folder holding ``pyproject.toml`` (the project is installed editable);
- data root: ``<repo>/data``, or ``$FTI_DATA_DIR``, or a notebook's ``data_dir`` parameter;
  a local folder or an object-store prefix ``s3://bucket/prefix`` (a :class:`~fti.files.
  Location`; endpoint and credentials from the AWS environment variables);
- reports root: ``<repo>/reports``, or ``$FTI_REPORTS_DIR``, or a ``reports_dir`` parameter.
"""

from __future__ import annotations

import os
from pathlib import Path

from fti.location import Location, location

#: The data is New York's: a "day" is a local calendar day, as in the data's year/month/day.
TIMEZONE = "America/New_York"
#: Every event time in the store has this one dtype (pandas 3 will not merge [s] with [us]).
TIME_DTYPE = "datetime64[us, UTC]"
#: A flight is "delayed" when it leaves more than this many minutes late.
DELAY_THRESHOLD_MINUTES = 15
#: The simulated year.
FIRST_DAY = "2013-01-01"
LAST_DAY = "2013-12-31"


def repo_root() -> Path:
    """The repository checkout this package is installed from (editable install)."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "pyproject.toml").is_file() and (parent / "lib" / "fti").is_dir():
            return parent
    return Path.cwd()


def _resolve(override: str | os.PathLike[str] | None, env_var: str, default: str) -> Path:
    if override not in (None, ""):
        return Path(override).expanduser().resolve()
    from_env = os.environ.get(env_var, "")
    if from_env:
        return Path(from_env).expanduser().resolve()
    return repo_root() / default


def data_root(override: str | os.PathLike[str] | Location | None = None) -> Location:
    """The feature store and model registry root: override, else $FTI_DATA_DIR, else data/.

    A local folder (made absolute) or ``s3://bucket/prefix``; nothing is opened here.
    """
    if override not in (None, ""):
        return location(override)  # type: ignore[arg-type]
    return location(os.environ.get("FTI_DATA_DIR", "") or repo_root() / "data")


def reports_root(override: str | os.PathLike[str] | None = None) -> Path:
    """Where reports and run folders go: override, else $FTI_REPORTS_DIR, else reports/."""
    return _resolve(override, "FTI_REPORTS_DIR", "reports")


def notebooks_dir() -> Path:
    """The source notebooks (never written to by the orchestration)."""
    return repo_root() / "notebooks"
