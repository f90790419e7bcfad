"""The suite itself: a developer's environment and .env never reach the shared fixtures."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROBE = textwrap.dedent(
    """
    def test_shared_fixtures_use_defaults(engine, built_index_dir):
        settings = engine.settings
        assert settings.top_k == 3, settings.top_k
        assert settings.chunk_tokens == 256, settings.chunk_tokens
        assert settings.max_question_chars == 1000, settings.max_question_chars
        assert engine.corpus.manifest["chunker"]["max_tokens"] == 256
    """
)


def test_developer_environment_does_not_leak_into_session_fixtures(tmp_path: Path) -> None:
    """Run the real conftest in a child pytest with hostile CITEBOT_* variables and a .env."""
    (tmp_path / "test_probe.py").write_text(PROBE, encoding="utf-8")
    (tmp_path / ".env").write_text("CITEBOT_MAX_QUESTION_CHARS=50\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITEBOT_")}
    env.update(
        CITEBOT_TOP_K="7",
        CITEBOT_CHUNK_TOKENS="64",
        PYTHONPATH=str(ROOT),
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "tests.conftest",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(tmp_path),
            str(tmp_path / "test_probe.py"),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
