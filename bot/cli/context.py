"""What every ``citebot`` command shares: its ``Context``, the ``command`` declaration, exit
statuses, stderr lines, JSON output, the progress bar, and the engine helpers of several groups.

Imports stay light here: torch and sentence-transformers load only for commands that embed.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.console import Console

from bot.core.safe_text import UNSAFE_ABOVE_C0, printable
from bot.settings import Settings
from index.errors import CitebotError

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from bot.core.engine import Engine
    from index.build.builder import BuildReport
    from index.ingest.documents import SkippedFile

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
# What stderr lines about the run begin with (after "citebot: "), as argparse's own
# "citebot: error: …": one scheme, so a script or a person can tell them apart.
ERROR, WARNING, NOTE = "error", "warning", "note"


def say(err: Console, kind: str, message: str) -> None:
    """One line on stderr: ``citebot: KIND: message`` (the message made safe to print)."""
    err.print(f"citebot: {kind}: {printable(message)}", markup=False, highlight=False)


@dataclass(frozen=True)
class Context:
    """What every command gets: parsed arguments, settings and the two output consoles."""

    args: argparse.Namespace
    settings: Settings
    out: Console
    err: Console
    base_settings: Settings | None = None  # before --collection chose another collection's folders

    @property
    def collection(self) -> str:
        """The collection this command works on (``--collection``, else ``default``)."""
        return getattr(self.args, "collection", None) or "default"

    def new_engine(self) -> Engine:
        """An unloaded engine of this command's collection; other collections share the
        default collection's model (and its ONNX export)."""
        from bot.core.collections import Collections
        from bot.core.engine import Engine

        if self.collection == "default":
            return Engine(self.settings)
        return Collections(self.base_settings or self.settings).engine_for(self.collection)


Arguments = Callable[[argparse.ArgumentParser], None]


def no_arguments(parser: argparse.ArgumentParser) -> None:
    """For a command that takes only the global options."""


@dataclass(frozen=True)
class Command:
    """One ``citebot`` subcommand: its name, help line, arguments and the function it runs."""

    name: str
    summary: str
    arguments: Arguments
    run: Callable[[Context], int]


def command(
    name: str, summary: str, arguments: Arguments = no_arguments
) -> Callable[[Callable[[Context], int]], Command]:
    """Declare a command next to its function: ``@command("info", "…", info_arguments)``."""

    def declare(run: Callable[[Context], int]) -> Command:
        return Command(name, summary, arguments, run)

    return declare


def k_value(text: str) -> int:
    """``--k``: a number of passages from 1 to 20."""
    if not text.isdigit() or not 1 <= int(text) <= 20:
        raise argparse.ArgumentTypeError(f"must be a whole number from 1 to 20, got {text!r}")
    return int(text)


# What json.dumps(ensure_ascii=False) leaves raw but a terminal must not get (it escapes C0
# controls itself). JSON structure is ASCII, so these can only be inside strings, where a
# \uXXXX escape means the same character.
_JSON_UNSAFE = re.compile(f"[{UNSAFE_ABOVE_C0}]")


def to_json(data: object, indent: int | None = 2) -> str:
    """JSON for stdout: readable non-ASCII text, but nothing that can drive the terminal."""
    text = json.dumps(data, ensure_ascii=False, indent=indent)
    return _JSON_UNSAFE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def ready_engine(ctx: Context) -> Engine:
    """An engine with its index loaded, building it first (and saying so) when there is none."""
    from bot.core.status import source_changes

    require_collection(ctx)
    engine = ctx.new_engine()
    if engine.index_exists():
        engine.load(build_if_missing=False)
        changes = source_changes(ctx.settings, engine.index.manifest)
        if changes:
            say(
                ctx.err,
                NOTE,
                f"the sources changed since the index was built ({changes.describe()}): "
                "run `citebot build` to include the changes",
            )
        return engine
    engine.check_sources()
    ctx.err.print(
        f"No index yet: building one from {ctx.settings.source_dir} (first use, takes a moment)…",
        markup=False,
    )
    announce_export(ctx, engine)
    with progress_bar(ctx.err, "Embedding") as progress:
        report = engine.load(
            build_if_missing=True, progress=progress, on_wait=waiting_line(ctx)
        )
    if report is not None:
        warn_skipped(ctx.err, report.skipped)
        ctx.err.print(
            f"Indexed {report.documents} document(s), {report.chunks} chunks in "
            f"{report.seconds:.1f} s.",
            markup=False,
        )
    return engine


def waiting_line(ctx: Context) -> Callable[[int | None], None]:
    """What a build that waits for another one prints (once)."""

    def say(pid: int | None) -> None:
        holder = f" (process {pid})" if pid else ""
        ctx.err.print(
            f"Another build of the index at {ctx.settings.index_dir} is running{holder}: "
            "waiting for it to finish…",
            markup=False,
        )

    return say


def announce_export(ctx: Context, engine: Engine) -> None:
    """Say so before the first ONNX export of the model (it takes a while)."""
    if engine.needs_export():
        ctx.err.print(
            "Exporting the embedding model to ONNX for fast answers (once per model)…",
            markup=False,
        )


def warn_skipped(err: Console, skipped: Sequence[SkippedFile]) -> None:
    """A warning line for each source file the build skipped."""
    for item in skipped:
        say(err, WARNING, f"skipped {item.reason}")


def create_collection_folder(ctx: Context) -> None:
    """``build`` and ``add`` create a named collection's source folder."""
    if ctx.collection != "default":
        ctx.settings.source_dir.mkdir(parents=True, exist_ok=True)


def require_collection(ctx: Context) -> None:
    """``ask``, ``console`` and ``info`` on a named collection that was never created say so."""
    if ctx.collection == "default":
        return
    from bot.core.backends import open_store

    if ctx.settings.source_dir.is_dir() or open_store(ctx.settings, ctx.collection).exists():
        return
    name = ctx.collection
    raise CitebotError(
        f"collection {name} does not exist: create it with `citebot --collection {name} add FILE`"
    )


class progress_bar:  # used like a function: ``with progress_bar(err, "…") as progress``
    """A rich progress bar on a terminal; silent otherwise. Used as a Progress callback."""

    def __init__(self, console: Console, label: str):
        self.console = console
        self.label = label
        self.bar: Progress | None = None
        self.task: TaskID | None = None

    def __enter__(self) -> Callable[[int, int], None]:
        if self.console.is_terminal:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

            self.bar = Progress(
                "[progress.description]{task.description}",
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=self.console,
                transient=True,
            )
            self.bar.start()
        return self.update

    def update(self, done: int, total: int) -> None:
        """Advance the bar (created at the first call, when the total is known)."""
        if self.bar is None:
            return
        if self.task is None:
            self.task = self.bar.add_task(self.label, total=total)
        self.bar.update(self.task, completed=done, total=total)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()


def build(ctx: Context) -> BuildReport:
    """Rebuild incrementally, with progress, skipped-file warnings and the summary line."""
    create_collection_folder(ctx)
    engine = ctx.new_engine()
    engine.check_sources()  # before the model loads (or is exported): seconds, for nothing
    announce_export(ctx, engine)
    with progress_bar(ctx.err, "Embedding") as progress:
        report = engine.rebuild(progress=progress, wait=True, on_wait=waiting_line(ctx))
    warn_skipped(ctx.err, report.skipped)
    ctx.out.print(
        f"Indexed {report.documents} document(s): {report.chunks} chunks, "
        f"{report.sentences} sentences; embedded {report.embedded} text(s), re-used "
        f"{report.reused}; {report.seconds:.1f} s; index {report.index_bytes / 1024:.0f} KiB "
        f"{printable(_index_place(ctx))}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    return report


def _index_place(ctx: Context) -> str:
    """Where this command's index lives, for messages."""
    if ctx.settings.backend == "milvus":
        return f"in Milvus at {ctx.settings.milvus_uri} (collection {ctx.collection})"
    return f"at {ctx.settings.index_dir}"
