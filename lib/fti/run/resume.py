"""Resuming a run: its options come from its manifest, and a contradicting one is refused.

A run folder's manifest records the :class:`~fti.run.options.Options` the run started
with, its folders resolved to absolute paths (an empty ``--data-dir`` means
``$FTI_DATA_DIR`` or ``data/`` *at the start*, which is what must be used again). A resumed
run takes every option from there: ``fti simulate --resume --run-dir R`` needs nothing
else. An option given again on the command line must agree with the recorded one (a
notebook parameter recorded as None stands for the notebook's default); otherwise the
resume is refused, naming the option, because half a run with one setting and half with
another would be neither.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fti import config
from fti.errors import FTIError
from fti.run.options import NOTEBOOK_PARAMETERS, Options
from fti.run.runs import MANIFEST, read_manifest

#: Options that name folders: compared as the absolute paths they resolve to.
_FOLDERS = {"data_dir": config.data_root, "reports_dir": config.reports_root}


def recorded(options: Options) -> dict[str, Any]:
    """The options as a manifest records them: folders absolute, the rest as set."""
    entry = dataclasses.asdict(options)
    entry["data_dir"], entry["reports_dir"] = options.data_path, options.reports_path
    if options.source_dir:
        entry["source_dir"] = str(Path(options.source_dir).resolve())
    return entry


def _from_manifest(entry: Mapping[str, Any]) -> Options:
    known = {f.name for f in dataclasses.fields(Options)}
    return Options(**{k: v for k, v in entry.items() if k in known})


def _same(name: str, given: Any, stored: Any) -> bool:
    if name in _FOLDERS:
        return _FOLDERS[name](given) == _FOLDERS[name](stored)
    if name == "source_dir":
        return (Path(given).resolve() if given else None) == (
            Path(stored).resolve() if stored else None)
    if name in NOTEBOOK_PARAMETERS and (given is None or stored is None):
        from fti.run.plan import setting

        default = Options()
        given = setting(default, name) if given is None else given
        stored = setting(default, name) if stored is None else stored
    return given == stored


def contradictions(run: Mapping[str, Any], given: Mapping[str, Any]) -> list[str]:
    """The given options that differ from the recorded ones, as 'option: given (run: x)'."""
    return [f"{name}: {value!r} (the run has {run.get(name)!r})"
            for name, value in given.items()
            if name in run and not _same(name, value, run[name])]


def run_manifest(run_dir: Path | None, kind: str) -> dict[str, Any]:
    """The manifest of the run to resume; refused if there is none or it is another kind."""
    command = {"simulate": "fti simulate --start DATE --end DATE",
               "demo": "fti demo", "day": "fti day DATE"}[kind]
    if run_dir is None:
        raise FTIError("--resume continues a run: give its folder with --run-dir (one "
                       "under reports/runs/).")
    if not (Path(run_dir) / MANIFEST).is_file():
        where = "does not exist" if not Path(run_dir).exists() else f"holds no {MANIFEST}"
        raise FTIError(f"There is no run to resume in {run_dir}: the folder {where}. Give the "
                       f"folder of an earlier run (they are under reports/runs/, or the "
                       f"--reports-dir it used), or start a new run without --resume: "
                       f"{command}.")
    manifest = read_manifest(Path(run_dir))
    if manifest.get("kind", kind) != kind:
        raise FTIError(f"{run_dir} holds a run of `fti {manifest['kind']}`, not of "
                       f"`fti {kind}`: resume it with fti {manifest['kind']} --resume.")
    return manifest


def resumed_options(run_dir: Path | None, kind: str, given: Mapping[str, Any]) -> Options:
    """The options of the run in ``run_dir``; ``given`` (the options set on the command
    line) must agree with them."""
    manifest = run_manifest(run_dir, kind)
    run = manifest.get("options")
    if run is None:  # a manifest from before options were recorded: the given ones apply
        return _from_manifest(given)
    check(run, given, run_dir)
    return _from_manifest(run)


def check(run: Mapping[str, Any], given: Mapping[str, Any], run_dir: Path | None) -> None:
    """Refuse a resume whose options contradict the run's."""
    wrong = contradictions(run, given)
    if wrong:
        raise FTIError(
            f"The run in {run_dir} was started with other options than given now:\n  "
            + "\n  ".join(wrong) + "\nA resumed run takes its options from its manifest: "
            "leave these out (or give the run's values), or start a new run in another "
            "--run-dir to use new ones.")


def resumed_period(manifest: Mapping[str, Any], start: str | None, end: str | None,
                   run_dir: Path | None) -> tuple[str, str]:
    """The period of the run being resumed; dates given again must be the same."""
    stored = manifest.get("simulation", {})
    run = {"start": stored.get("start"), "end": stored.get("end")}
    wrong = [f"--{k} {v} (the run has {run[k]})" for k, v in (("start", start), ("end", end))
             if v and run[k] and v != run[k]]
    if wrong:
        raise FTIError(f"The run in {run_dir} covers {run['start']} to {run['end']}; "
                       f"resuming it with {', '.join(wrong)} would mix two periods. Leave the "
                       f"dates out, or start a new run in another --run-dir.")
    return start or run["start"], end or run["end"]
