"""The model registry: versioned models in plain files, loaded safely.

Layout under the data root (a local folder or ``s3://bucket/prefix``, :mod:`fti.files`)::

    models/<name>/v<version>/model.skops   # skops, never pickle: loading runs no code
    models/<name>/v<version>/model.json    # metrics, parameters, features, lineage, sha256
    models/<name>/aliases.json             # {"champion": 3, "history": [...]}

A model file whose sha256 differs from its record is refused, and so is one that holds a
type outside :data:`TRUSTED_TYPES` (skops lists the types a file would instantiate, before
loading it). Aliases change atomically, and every change is kept in a history with its
reason, and so is every decision not to move one (a challenger that stayed challenger). A
version appears whole or not at all: locally its folder is filled under a hidden name and
renamed; on an object store model.skops goes first and model.json last, and a version
without model.json is not a version (:func:`fti.files.new_folder`).

Writes hold the data root's lock (:mod:`fti.locks`): two processes never take the same
version number, an alias change is a read-modify-write that loses no other change, and a
registration first removes the temporary folders a killed one left behind. Registering
with a ``key`` (what the model was made from) reuses the version registered with that key
instead of adding an identical one. A damaged record, alias file or model file raises
:class:`~fti.errors.DamagedFileError`, naming the file and the repair.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fti import files, integrity
from fti.cache import Recent
from fti.config import repo_root
from fti.errors import NotFoundError, RegistryError
from fti.files import Location, location
from fti.locks import lock_for

#: Types beyond skops' defaults that our models need; nothing else may be loaded.
TRUSTED_TYPES = (
    "functools.partial",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.utils.validation.check_array",
)


@dataclass(frozen=True)
class ModelRecord:
    """What model.json says about one registered model version."""

    name: str
    version: int
    path: Location
    info: dict[str, Any]
    reused: bool = field(default=False, compare=False)  # register() found it registered

    @property
    def metrics(self) -> dict[str, Any]:
        return self.info.get("metrics", {})

    @property
    def features(self) -> list[str]:
        return list(self.info.get("features", []))

    @property
    def created_at(self) -> str:
        return str(self.info.get("created_at", ""))

    @property
    def training_range(self) -> tuple[str, str]:
        lineage = self.info.get("lineage", {})
        return (lineage.get("train_start", ""), lineage.get("train_end", ""))

    @property
    def model_file(self) -> Location:
        return self.path / "model.skops"


#: Models deserialized in this process, by the sha256 of their file and the trusted types
#: they were checked against (see ModelRegistry.load).
_LOADED: Recent[Any] = Recent(2)


_RETRAIN = "run the training pipeline (notebooks/02_training_pipeline.ipynb) to register one"


def _untrusted_types(data: bytes, source: Location) -> list[str]:
    """The types a skops file would create beyond skops' defaults; a file that is not a
    skops file (a pickle, say) raises DamagedFileError."""
    import skops.io as sio

    return integrity.read(source, lambda _: sio.get_untrusted_types(data=data),
                          "not a skops file; registry models are saved with skops, and a "
                          "pickle is never loaded because loading one runs its code",
                          f"delete the version's folder {source.parent} and {_RETRAIN}.")


def _load_trusted(data: bytes, source: Location) -> Any:
    """Deserialize skops bytes, refusing any type outside :data:`TRUSTED_TYPES`."""
    import skops.io as sio

    untrusted = _untrusted_types(data, source)
    unknown = sorted(set(untrusted) - set(TRUSTED_TYPES))
    if unknown:
        raise RegistryError(
            f"{source} would create untrusted types {unknown}; refusing to load it. Only "
            f"fti.registry.TRUSTED_TYPES are allowed."
        )
    return sio.loads(data, trusted=list(untrusted))


def code_version() -> str | None:
    """The git commit of the checkout (with '-dirty' if it has changes), if it is one."""
    try:
        root = repo_root()
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                                text=True, timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=root, capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("-dirty" if dirty.strip() else "")


def package_versions() -> dict[str, str]:
    """Versions of the packages a model depends on, for its record."""
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for package in ("scikit-learn", "skops", "pandas", "numpy", "pyarrow"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            continue
    return found


class ModelRegistry:
    """Registered model versions and aliases in plain files under ``<root>/models``."""

    def __init__(self, root: str | Path | Location) -> None:
        self.root = location(root) / "models"
        self.lock = lock_for(root)

    def _dir(self, name: str) -> Location:
        return self.root / name

    def version_numbers(self, name: str) -> list[int]:
        """The versions that are whole: their model.json is there (one listing)."""
        return files.whole_versions(self._dir(name), "model.json")

    def versions(self, name: str) -> list[ModelRecord]:
        """Every registered version of ``name``, oldest first."""
        return [self.get(name, version=v) for v in self.version_numbers(name)]

    def find(self, name: str, key: str) -> ModelRecord | None:
        """The version registered with ``key`` (see :meth:`register`), if there is one."""
        for record in self.versions(name):
            if record.info.get("registration_key") == key:
                return record
        return None

    def register(self, name: str, model: Any, info: dict[str, Any],
                 key: str | None = None) -> ModelRecord:
        """Save ``model`` with skops as the next version, with ``info`` as its record.

        With ``key`` (a digest of what the model was made from: data, parameters, seed),
        a version registered with the same key is returned instead (``reused`` True).
        """
        made_by = {"code_version": code_version(), "packages": package_versions()}  # unlocked
        with self.lock.exclusive(f"register a version of model {name!r}"):
            if key is not None and (found := self.find(name, key)) is not None:
                return ModelRecord(found.name, found.version, found.path, found.info, True)
            # of a registration that was killed
            files.remove_leftovers(self._dir(name), complete="model.json")
            return self._register(name, model, info, key, made_by)

    def _register(self, name: str, model: Any, info: dict[str, Any], key: str | None,
                  made_by: dict[str, Any]) -> ModelRecord:
        import skops.io as sio

        data = sio.dumps(model)  # checked before anything is written
        unknown = sorted(set(sio.get_untrusted_types(data=data)) - set(TRUSTED_TYPES))
        if unknown:
            raise RegistryError(
                f"The model holds types that are not in fti.registry.TRUSTED_TYPES: "
                f"{unknown}. Review them and add them there if they are safe."
            )
        folder = self._dir(name)
        taken = [int(p.name[1:]) for p in folder.glob("v*") if p.name[1:].isdigit()]
        version = max(taken, default=0) + 1
        record = {
            **info,
            "name": name,
            "version": version,
            "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "sha256": hashlib.sha256(data).hexdigest(),
            **made_by,
        }
        if key is not None:
            record["registration_key"] = key
        with files.new_folder(folder / f"v{version}") as new:
            files.write_bytes(new / "model.skops", data)
            self.lock.confirm(f"register {name} v{version}")
            files.atomic_write_json(new / "model.json", record)  # last: now it is a version
        return self.get(name, version=version)

    def get(self, name: str, version: int | None = None, alias: str | None = None) -> ModelRecord:
        """The record of a version, or of the version an alias points to."""
        if version is None:
            alias = alias or "champion"
            aliases = self.aliases(name)
            if alias not in aliases:
                raise NotFoundError(
                    f"Model {name!r} has no alias {alias!r} (aliases: "
                    f"{sorted(k for k in aliases if k != 'history') or 'none'}). Run the "
                    f"training pipeline (notebooks/02_training_pipeline.ipynb) to register "
                    f"and promote a model."
                )
            version = int(aliases[alias])
        path = self._dir(name) / f"v{version}"
        if not (path / "model.json").is_file():
            known = self.version_numbers(name)
            raise NotFoundError(
                f"Model {name!r} has no version {version} (versions: {known or 'none'}). "
                f"Run the training pipeline to register one."
            )
        info = integrity.read_json(path / "model.json", f"the record of {name} v{version}",
                                   f"restore it from a backup, or delete the folder {path} "
                                   f"and {_RETRAIN}.")
        return ModelRecord(name, int(version), path, info)

    def load(self, record: ModelRecord) -> Any:
        """Load a model after checking its hash and the types it would create.

        Every call reads the file and checks its sha256 against the record. A file whose
        bytes were loaded before in this process (same sha256) is not deserialized again:
        the caller gets a deep copy of the model loaded then, so no caller can change
        another's model. In a warm kernel that serves one notebook after another (see
        :mod:`fti.run.kernels`) the daily inference skips the skops load most days.
        """
        data = record.model_file.read_bytes()
        actual = hashlib.sha256(data).hexdigest()
        if actual != record.info.get("sha256"):
            raise RegistryError(
                f"{record.model_file} does not match its record (sha256 {actual[:12]}... vs "
                f"{str(record.info.get('sha256'))[:12]}...): the file was changed after it was "
                f"registered. Refusing to load it; retrain and register a new version."
            )
        key = (actual, TRUSTED_TYPES)  # the type check's verdict depends on both
        return copy.deepcopy(_LOADED.get(key, lambda: _load_trusted(data, record.model_file)))

    # --- aliases ------------------------------------------------------------------------
    def aliases(self, name: str) -> dict[str, Any]:
        """aliases.json: alias -> version, plus "history" of every change."""
        path = self._dir(name) / "aliases.json"
        if not path.is_file():
            return {}
        return integrity.read_json(
            path, f"the aliases of model {name!r} and their history",
            "restore it from a backup; or delete it (the promotion history is lost) and "
            "promote a version again: run notebooks/02_training_pipeline.ipynb with "
            "promote='always'.")

    def set_alias(self, name: str, alias: str, version: int, reason: str, at: str) -> None:
        """Point ``alias`` at ``version`` (atomically) and record why in the history.

        Read, change and write happen under the data root's lock, so a change made by
        another process at the same time is kept, not overwritten.
        """
        self._change(name, alias, version, {"reason": reason, "at": at}, move=True)

    def record_decision(self, name: str, alias: str, candidate: int, reason: str,
                        at: str) -> None:
        """Record in the history that ``candidate`` did not take ``alias``, and why; the
        alias stays where it is. The same decision twice in a row (a re-run) is kept once."""
        self._change(name, alias, candidate, {"reason": reason, "at": at}, move=False)

    def _change(self, name: str, alias: str, version: int, why: dict[str, str],
                move: bool) -> None:
        verb = "point" if move else "record a decision on"
        with self.lock.exclusive(f"{verb} {name!r} {alias} (v{version})"):
            self.get(name, version=version)  # must exist
            files.remove_leftovers(self._dir(name), complete="model.json")
            data = self.aliases(name)
            history = list(data.get("history", []))
            entry = {"at": why["at"], "alias": alias,
                     "version": version if move else data.get(alias),
                     "previous": data.get(alias), "reason": why["reason"]}
            if not move:
                entry.update(challenger=version, promoted=False)
                last = history[-1] if history else {}
                if all(last.get(k) == entry[k] for k in ("alias", "version", "challenger",
                                                          "reason")):
                    return
            history.append(entry)
            data.update({alias: version, "history": history} if move else {"history": history})
            self.lock.confirm(f"{verb} {name!r} {alias} (v{version})")
            files.atomic_write_json(self._dir(name) / "aliases.json", data)

    def champion(self, name: str) -> ModelRecord | None:
        """The current champion, or None when no model has been promoted yet."""
        version = self.aliases(name).get("champion")
        return None if version is None else self.get(name, version=int(version))
