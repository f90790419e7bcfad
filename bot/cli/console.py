"""The interactive console: a REPL on a terminal, one question per line otherwise."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TextIO

from rich.console import Console
from rich.table import Table
from rich.text import Text

from bot.cli.render import answer_to_plain, answer_to_rich
from bot.core.engine import Engine
from bot.core.safe_text import printable
from index.errors import CitebotError
from index.query.conversation import Turn, turn_of

HELP = """\
Type a question and press Enter. Commands:
  :help        this help
  :k N         show N passages per answer (now {k})
  :more        the next passages for the last question
  :new         start a new conversation (questions are otherwise read with the previous ones
               when they depend on them: "Why not?", "And on March 25?")
  :sources     list the indexed documents
  :quit        leave (or Ctrl-D, or exit)"""
MAX_K = 20
# Typed alone, these leave like :quit (a question of one such word would find nothing anyway).
LEAVE_WORDS = frozenset({"exit", "quit", "exit()", "quit()"})
PROMPT = "citebot> "
# Earlier turns a conversation keeps (as on Discord).
HISTORY_TURNS = 3


class ConsoleSession:
    """A console conversation over one engine: successive questions form a conversation
    (its last HISTORY_TURNS turns), until ``:new``."""

    def __init__(self, engine: Engine, console: Console, k: int):
        self.engine = engine
        self.console = console
        self.k = k
        self.last_question: str | None = None
        self.shown = 0
        self.history: list[Turn] = []
        self._last_history: tuple[Turn, ...] = ()  # what the last question was read with

    def handle(self, line: str) -> bool:
        """Act on one input line; False means the user asked to leave."""
        line = line.strip()
        if not line:
            return True
        if line.startswith(":"):
            return self._command(line)
        if line.lower() in LEAVE_WORDS:  # what newcomers type first; never a question here
            return False
        self._ask(line, offset=0)
        return True

    def _command(self, line: str) -> bool:
        name, _, argument = line[1:].partition(" ")
        name = name.lower()
        if name in ("quit", "q", "exit"):
            return False
        if name in ("help", "h", "?"):
            self.console.print(HELP.format(k=self.k), markup=False, highlight=False)
        elif name == "k":
            self._set_k(argument.strip())
        elif name == "more":
            if self.last_question is None:
                self.console.print("Ask a question first.")
            else:
                self._ask(self.last_question, offset=self.shown)
        elif name == "sources":
            self._sources()
        elif name == "new":
            self.history.clear()
            self.last_question = None
            self.shown = 0
            self.console.print("New conversation: the next question is read on its own.")
        else:
            self.console.print(
                f"Unknown command :{printable(name)} — type :help", markup=False, highlight=False
            )
        return True

    def _set_k(self, argument: str) -> None:
        if not argument.isdigit() or not 1 <= int(argument) <= MAX_K:
            self.console.print(f"Usage: :k N, with N from 1 to {MAX_K} (now {self.k}).")
            return
        self.k = int(argument)
        self.console.print(f"Showing {self.k} passage(s) per answer.")

    def _ask(self, question: str, offset: int) -> None:
        history = self._last_history if offset else tuple(self.history[-HISTORY_TURNS:])
        try:
            answer = self.engine.search(question, self.k, offset, history=history)
        except CitebotError as error:
            self.console.print(Text(printable(str(error)), style="red"))
            return
        self.last_question = question
        self.shown = offset + len(answer.passages)
        if not offset:
            self._last_history = history
            self.history.append(turn_of(answer))
            del self.history[:-HISTORY_TURNS]
        if offset and not answer.passages:
            self.console.print("No more passages.")
            return
        if self.console.is_terminal:
            self.console.print(answer_to_rich(answer, first_rank=offset + 1))
        else:
            self.console.out(answer_to_plain(answer, first_rank=offset + 1), highlight=False)

    def _sources(self) -> None:
        # Cells are Text, never markup: a heading "[/x]" or "[draft]" is shown as written.
        table = Table("document", "sections", "chunks", title="Indexed sources")
        for source in self.engine.sources():
            sections = "\n".join(printable(section) for section in source.sections) or "—"
            table.add_row(Text(printable(source.document)), Text(sections), str(source.chunks))
        self.console.print(table)
        if self.engine.built_at:
            self.console.print(f"Built {self.engine.built_at:%Y-%m-%d %H:%M %Z}")


def run_console(engine: Engine, console: Console, k: int, stdin: TextIO | None = None) -> int:
    """Run the REPL (terminal) or answer each line of a non-terminal stdin; returns exit status."""
    stdin = stdin or sys.stdin
    session = ConsoleSession(engine, console, k)
    if not stdin.isatty():
        return _answer_lines(session, stdin)
    history = _enable_history(engine.settings.index_dir.parent / "history")
    console.print(
        f"citebot — ask about {len(engine.sources())} indexed document(s). "
        "Type :help for commands, :quit or Ctrl-D to leave.",
        highlight=False,
    )
    try:
        while True:
            try:
                line = input(PROMPT)
            except KeyboardInterrupt:
                console.print()
                continue
            except EOFError:
                console.print()
                break
            if not session.handle(line):
                break
    finally:
        history()
    return 0


def _answer_lines(session: ConsoleSession, lines: Iterable[str]) -> int:
    for line in lines:
        if not session.handle(line):
            break
    return 0


def _enable_history(path: Path) -> Callable[[], None]:
    """Load readline history; returns a function that saves it."""
    try:
        import readline
    except ImportError:  # not on every platform
        return lambda: None
    with contextlib.suppress(OSError):
        readline.read_history_file(path)
    readline.set_history_length(1000)

    def save() -> None:
        with contextlib.suppress(OSError):
            path.parent.mkdir(parents=True, exist_ok=True)
            readline.write_history_file(path)

    return save
