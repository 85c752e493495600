"""The class set-up's lock file: ``requirements.lock`` pins every dependency of
pyproject.toml to one version inside its range, for the Python the project supports, so a
dependency changed in pyproject.toml without ``make lock`` fails here, not in a class."""

from __future__ import annotations

import tomllib

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from fti.config import repo_root

#: Where a class runs: Python 3.11 on Linux (the lock is universal; these are checked).
TARGETS = {
    "python 3.11 on linux": {"python_version": "3.11", "python_full_version": "3.11.7",
                             "sys_platform": "linux", "platform_system": "Linux",
                             "os_name": "posix", "platform_machine": "x86_64"},
    "python 3.12 on macOS": {"python_version": "3.12", "python_full_version": "3.12.4",
                             "sys_platform": "darwin", "platform_system": "Darwin",
                             "os_name": "posix", "platform_machine": "arm64"},
}


def declared() -> list[Requirement]:
    project = tomllib.loads((repo_root() / "pyproject.toml").read_text())["project"]
    extras = [r for group in project["optional-dependencies"].values() for r in group]
    return [Requirement(r) for r in project["dependencies"] + extras]  # make locks every extra


def pins(environment: dict[str, str]) -> dict[str, str]:
    """The lock's exact version per package for an environment (markers evaluated)."""
    found: dict[str, str] = {}
    for line in (repo_root() / "requirements.lock").read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        requirement = Requirement(line)
        if requirement.marker is None or requirement.marker.evaluate(environment):
            (spec,) = requirement.specifier
            assert spec.operator == "==", f"not an exact pin: {line}"
            assert canonicalize_name(requirement.name) not in found, f"pinned twice: {line}"
            found[canonicalize_name(requirement.name)] = spec.version
    return found


@pytest.mark.parametrize("target", TARGETS)
def test_the_lock_pins_every_dependency_inside_its_range(target):
    environment = {**default_environment(), **TARGETS[target]}
    locked = pins(environment)
    for requirement in declared():
        name = canonicalize_name(requirement.name)
        assert name in locked, f"{requirement} is not in requirements.lock: run make lock"
        assert requirement.specifier.contains(locked[name], prereleases=True), (
            f"requirements.lock pins {name}=={locked[name]}, outside {requirement}: "
            f"run make lock")


def test_the_lock_says_how_to_regenerate_it():
    head = (repo_root() / "requirements.lock").read_text().splitlines()[:3]
    assert any("make lock" in line for line in head)
