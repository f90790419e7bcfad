"""The suite itself: a developer's environment and .env never reach the shared fixtures, and no
test reads the project's ``source_docs/`` (users put their own documents there)."""

from __future__ import annotations

import ast
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


SOURCE_FOLDER = "source_docs"


def _names_project_sources(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and Path(node.value).parts[:1] == (SOURCE_FOLDER,)
    )


def project_source_references(source: str) -> list[int]:
    """Lines of ``source`` that name the project's ``source_docs/`` folder as a path: joined
    onto anything but a temporary folder, passed to ``Path``/``open``, or given as a
    ``source_dir``. Messages that merely mention the name are not paths and pass."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            if _names_project_sources(node.right) and "tmp" not in ast.unparse(node.left):
                lines.append(node.lineno)
        elif isinstance(node, ast.Call):
            callee = ast.unparse(node.func)
            if callee.split(".")[-1] in {"Path", "open", "PurePath"} and any(
                _names_project_sources(arg) for arg in node.args
            ):
                lines.append(node.lineno)
            lines.extend(
                node.lineno
                for keyword in node.keywords
                if keyword.arg == "source_dir" and _names_project_sources(keyword.value)
            )
    return sorted(set(lines))


def test_the_reference_finder_finds_what_it_should() -> None:
    bad = (
        'ROOT / "source_docs"\nREPO / "source_docs/a.txt"\nPath("source_docs")\n'
        'Settings(source_dir="source_docs")\nDATA.parent.parent / "source_docs" / "x.txt"\n'
    )
    assert project_source_references(bad) == [1, 2, 3, 4, 5]
    fine = (
        'tmp_path / "source_docs"\nSourceError("no .txt files in source_docs: add some")\n'
        'ARTICLE_DIR / "a.txt"\n'
    )
    assert project_source_references(fine) == []


def test_no_test_or_benchmark_reads_the_project_source_folder() -> None:
    """Users put their own documents (a PDF, a Markdown file) into ``source_docs/``; the suite
    and the benchmarks use ``tests/data/article/`` so they pass in a production folder."""
    found = [
        f"{path.relative_to(ROOT)}:{line}"
        for folder in ("tests", "benchmarks")
        for path in sorted((ROOT / folder).rglob("*.py"))
        for line in project_source_references(path.read_text(encoding="utf-8"))
    ]
    assert found == [], f"use tests.paths.ARTICLE_DIR instead of source_docs/ at {found}"

