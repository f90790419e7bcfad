"""Importing the engine package is cheap: its names load on first use."""

from __future__ import annotations

import subprocess
import sys

import index


def _modules_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print('\\n'.join(sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return set(result.stdout.split())


def test_importing_the_errors_loads_no_numpy() -> None:
    loaded = _modules_after("import index.errors")
    assert "numpy" not in loaded
    assert "index.query.search" not in loaded


def test_every_public_name_still_resolves() -> None:
    for name in index.__all__:
        value = getattr(index, name)
        assert value.__module__.startswith("index."), name
    assert set(index.__all__) <= set(dir(index))
