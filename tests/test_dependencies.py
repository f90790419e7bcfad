"""Declared dependency ranges, the lock file and what is installed agree."""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent


def declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return [
        Requirement(line)
        for line in project["dependencies"]
        + project["optional-dependencies"]["dev"]
        + project["optional-dependencies"]["milvus"]
        + project["optional-dependencies"]["postgres"]
    ]


def locked() -> dict[str, Version]:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            pins[canonicalize_name(name)] = Version(version)
    return pins


def test_every_declared_dependency_is_locked_inside_its_range() -> None:
    pins = locked()
    for requirement in declared():
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement.name} is not in requirements.lock (scripts/lock.py)"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"requirements.lock pins {name}=={pins[name]}, outside pyproject's {requirement}"
        )


def test_installed_versions_are_the_locked_ones() -> None:
    """The environment the tests run in is the one the lock describes (bootstrap uses it)."""
    pins = locked()
    for requirement in declared():
        name = canonicalize_name(requirement.name)
        installed = Version(metadata.version(requirement.name))
        assert Version(installed.public) == pins[name], (
            f"{name} {installed} is installed but requirements.lock pins {pins[name]}: "
            "run scripts/bootstrap.py, or scripts/lock.py after testing a new version"
        )
