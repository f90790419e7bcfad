"""Document text reaches the terminal literally: never as rich markup, never as control codes.

A real index is built from a source folder whose file names, headings and passages hold rich
markup (``[/x]`` used to crash, ``[draft]`` used to vanish) and terminal control sequences.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from bot.cli.console import ConsoleSession
from bot.cli.main import main
from bot.core.engine import Engine
from bot.core.safe_text import printable
from tests.conftest import isolated_settings

CLEAR_SCREEN = "\x1b[2J"
RIGHT_TO_LEFT_OVERRIDE = "\u202e"
MARKUP = ("[/x]", "[draft]", "[bold red]")
PLAN_QUESTION = "What state is the launch plan in?"


@pytest.fixture(scope="module")
def hostile_sources(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(source folder, built index): names, headings and passages full of markup and controls."""
    root = tmp_path_factory.mktemp("hostile")
    sources = root / "src"
    (sources / "[").mkdir(parents=True)  # the document "[/x].txt"
    (sources / "notes [draft] [bold red].md").write_text(
        "# Plan [/x]\n\n"
        f"The launch plan [/x] is in [draft] state and [bold red]urgent{CLEAR_SCREEN} now, "
        f"says the {RIGHT_TO_LEFT_OVERRIDE}memo\x07 from the board.\n\n"
        "## [draft] Budget [bold red]\n\n"
        "The budget [bold red] is twelve thousand euros for the [draft] year.\n",
        encoding="utf-8",
    )
    (sources / "[" / "x].txt").write_text(
        "Bread is baked at two hundred degrees [/x] for forty minutes.\n", encoding="utf-8"
    )
    index = root / "index"
    Engine(isolated_settings(source_dir=sources, index_dir=index)).load(build_if_missing=True)
    return sources, index


@pytest.fixture(scope="module")
def hostile_engine(hostile_sources: tuple[Path, Path]) -> Engine:
    sources, index = hostile_sources
    engine = Engine(isolated_settings(source_dir=sources, index_dir=index))
    engine.load(build_if_missing=False)
    return engine


def assert_literal(text: str) -> None:
    """Markup shown as written; control sequences escaped, never raw."""
    for markup in MARKUP:
        assert markup in text, (markup, text)
    assert CLEAR_SCREEN not in text and RIGHT_TO_LEFT_OVERRIDE not in text and "\x07" not in text
    assert "Traceback" not in text


def cli(hostile_sources: tuple[Path, Path], *args: str) -> list[str]:
    sources, index = hostile_sources
    return ["--source-dir", str(sources), "--index-dir", str(index), *args]


def test_printable_escapes_controls_and_bidi_but_keeps_text() -> None:
    assert printable("a\x1b[31mb\r\x07\u202ec\u2066\x9b\ud800") == (
        "a\\x1b[31mb\\x0d\\x07\\u202ec\\u2066\\x9b\\ud800"
    )
    assert printable("line\nnext\ttab", keep="\n\t") == "line\nnext\ttab"
    assert printable("Привет, 世界 👍🏽 e\u0301 [b]") == "Привет, 世界 👍🏽 e\u0301 [b]"


def test_info_shows_names_literally(hostile_sources, capsys) -> None:
    assert main(cli(hostile_sources, "info")) == 0
    out, err = capsys.readouterr()
    assert "[/x].txt" in out and "notes [draft] [bold red].md" in out
    assert "Traceback" not in out + err


@pytest.mark.parametrize("terminal", [False, True], ids=["plain", "rich"])
def test_ask_shows_headings_and_passages_literally(
    hostile_sources, capsys, monkeypatch, terminal
) -> None:
    monkeypatch.setenv("COLUMNS", "400")
    if terminal:
        monkeypatch.setenv("FORCE_COLOR", "1")  # rich treats stdout as a terminal
    assert main(cli(hostile_sources, "ask", "--k", "3", PLAN_QUESTION)) == 0
    out, err = capsys.readouterr()
    assert_literal(out)
    assert "notes [draft] [bold red].md › Plan [/x] › ¶1" in out
    assert "\\x1b[2J" in out and "\\u202e" in out
    assert ("\x1b[" in out) is terminal  # rich styled the terminal output, nothing else did
    assert "Traceback" not in err


def test_ask_json_escapes_bidi_controls(hostile_sources, capsys) -> None:
    assert main(cli(hostile_sources, "ask", "--json", PLAN_QUESTION)) == 0
    out = capsys.readouterr().out
    assert RIGHT_TO_LEFT_OVERRIDE not in out and "\x1b" not in out
    passages = json.loads(out)["passages"]
    assert any(RIGHT_TO_LEFT_OVERRIDE in p["text"] and CLEAR_SCREEN in p["text"] for p in passages)


@pytest.mark.parametrize("terminal", [False, True], ids=["plain", "rich"])
def test_console_sources_and_answers_literally(hostile_engine, terminal) -> None:
    output = io.StringIO()
    console = Console(file=output, force_terminal=terminal, width=400, highlight=False)
    session = ConsoleSession(hostile_engine, console, k=3)
    for line in (":sources", PLAN_QUESTION, ":more", "What does the budget [bold red] cover?"):
        assert session.handle(line)
    text = output.getvalue()
    assert_literal(text)
    assert "[/x].txt" in text and "Plan [/x]" in text and "[draft] Budget [bold red]" in text
    assert "\\x1b[2J" in text and "\\x07" in text
