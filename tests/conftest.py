"""Shared fixtures: the real bundled model and a real index of the bundled article, built once."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.core.engine import Engine
from bot.settings import Settings
from index.build.model import ModelSpec
from tests.paths import ARTICLE, ARTICLE_DIR
from tests.servers.milvus import milvus_uri  # noqa: F401  (a session fixture)

# A throwaway PostgreSQL (session) and the state database on each engine (state_url).
pytest_plugins = ["tests.servers.postgres", "tests.servers.state"]

ROOT = Path(__file__).resolve().parent.parent
SOURCE_DIR = ARTICLE_DIR
"""The suite's own source folder: the article alone (never the project's ``source_docs/``)."""


def _clear_citebot_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("CITEBOT_"):
            monkeypatch.delenv(key)
    # Builds in float32 on every machine (the default, auto, uses bfloat16 on CPUs with AMX):
    # the vectors and the scores tests record must not depend on the CPU. bfloat16 builds have
    # their own tests (tests/index/test_bfloat16_builds.py), which ask for them explicitly.
    monkeypatch.setenv("CITEBOT_BUILD_BFLOAT16", "false")


@pytest.fixture(scope="session", autouse=True)
def _isolated_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Before any session fixture builds anything: no CITEBOT_* variables, and a working
    directory without a developer's .env (session fixtures also pass ``_env_file=None``)."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        _clear_citebot_environment(monkeypatch)
        monkeypatch.chdir(tmp_path_factory.mktemp("session-cwd"))
        yield


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory):
    """Tests never read the developer's .env or CITEBOT_* variables."""
    _clear_citebot_environment(monkeypatch)
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))


def isolated_settings(**values: Any) -> Settings:
    """Settings from ``values`` and defaults only (never a .env file)."""
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture(scope="session")
def model_spec() -> ModelSpec:
    """The bundled all-MiniLM-L6-v2."""
    return ModelSpec.resolve("all-MiniLM-L6-v2")


@pytest.fixture(scope="session")
def built_index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An index of the bundled article, built once per test session (do not modify it), in
    float32 (see ``_clear_citebot_environment``)."""
    index_dir = tmp_path_factory.mktemp("index") / "index"
    engine = Engine(isolated_settings(source_dir=SOURCE_DIR, index_dir=index_dir))
    engine.load(build_if_missing=True)
    return index_dir


@pytest.fixture(scope="session")
def engine(built_index_dir: Path) -> Engine:
    """A loaded engine over the bundled article (shared: read-only use)."""
    engine = Engine(isolated_settings(source_dir=SOURCE_DIR, index_dir=built_index_dir))
    engine.load(build_if_missing=False)
    return engine


@pytest.fixture
def index_copy(built_index_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the built index that a test may damage."""
    target = tmp_path / "index"
    shutil.copytree(built_index_dir, target)
    return target


@pytest.fixture
def sources(tmp_path: Path) -> Path:
    """A source folder of the test's own holding a copy of the article."""
    folder = tmp_path / "sources"
    folder.mkdir()
    shutil.copy(ARTICLE, folder / ARTICLE.name)
    return folder


@pytest.fixture
def article_text() -> str:
    """The bundled article's text as decoded for citations."""
    return ARTICLE.read_bytes().decode("utf-8-sig")
