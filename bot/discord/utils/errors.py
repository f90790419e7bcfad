"""The one error path for commands, buttons and mentions: a fixed, short message for the user
(never exception text: it can name server paths), the details in the log."""

from __future__ import annotations

import logging
from typing import Any

import discord
from discord import app_commands

from bot.core.builds import TIMED_OUT, BuildOutcome
from bot.discord.monitoring.metrics import Metrics
from bot.discord.utils.checks import Refusal
from bot.discord.utils.replies import (
    BAD_QUESTION,
    BUILD_FAILED,
    BUILD_TIMED_OUT,
    GENERIC_ERROR,
    INDEX_NOT_WRITTEN,
    INDEX_SERVER_DOWN,
    INDEX_UNAVAILABLE,
    NO_PERMISSION,
    REBUILD_RUNNING,
    SERVER_ONLY,
    SOURCE_PROBLEM,
    say,
)
from index.backends.local_store import IndexWriteError
from index.build.build_lock import BuildInProgressError
from index.errors import (
    BackendError,
    CitebotError,
    IndexCorruptError,
    IndexMismatchError,
    IndexMissingError,
    ModelError,
    QuestionError,
    SourceError,
)

log = logging.getLogger("citebot.discord")


# What Discord users are told about an engine error, by its class (the first that matches): a
# fixed text, never the error's message. Questions, builds queued in a child and searches share it.
_ERROR_MESSAGES: tuple[tuple[type[CitebotError], str], ...] = (
    (QuestionError, BAD_QUESTION),
    (BuildInProgressError, REBUILD_RUNNING),
    (IndexWriteError, INDEX_NOT_WRITTEN),
    (SourceError, SOURCE_PROBLEM),
    (BackendError, INDEX_SERVER_DOWN),
)


def engine_error_message(error: CitebotError) -> str:
    """What Discord users are told about an engine error (a fixed text, never its message)."""
    for kind, message in _ERROR_MESSAGES:
        if isinstance(error, kind):
            return message
    if isinstance(error, IndexMissingError | IndexCorruptError | IndexMismatchError | ModelError):
        return INDEX_UNAVAILABLE
    return GENERIC_ERROR


def build_failure_message(outcome: BuildOutcome) -> str:
    """What users are told about a failed queued build (a fixed text, never its message); the
    child reports its error's class name as the outcome's ``error_kind``."""
    if outcome.error_kind == TIMED_OUT:
        return BUILD_TIMED_OUT
    for kind, message in _ERROR_MESSAGES:
        if kind.__name__ == outcome.error_kind:
            return message
    return BUILD_FAILED


def user_message(error: Exception, where: str, metrics: Metrics | None = None) -> str:
    """The message for ``error`` raised in ``where`` (a command, a button, a mention), logging
    what the operator needs: engine errors as one line, anything unexpected with its traceback.
    Errors (not refusals or failed checks) are counted in ``metrics`` by kind."""
    original = error.original if isinstance(error, app_commands.CommandInvokeError) else error
    kind = error_kind(original)
    if kind is not None and metrics is not None:
        metrics.error(kind)
    if isinstance(original, Refusal):
        return str(original)
    if isinstance(original, app_commands.MissingPermissions):
        return NO_PERMISSION
    if isinstance(original, app_commands.NoPrivateMessage):
        return SERVER_ONLY
    if isinstance(original, CitebotError):
        log.warning("%s: %s", type(original).__name__, original)
        return engine_error_message(original)
    if isinstance(original, app_commands.CheckFailure):
        return "You can't use that command here."
    log.error("error in %s", where, exc_info=original)
    return GENERIC_ERROR


def error_kind(error: BaseException) -> str | None:
    """What kind of error ``error`` is, for the errors metric: a CitebotError's class name,
    ``Unexpected`` for anything else; None for a refusal or a failed check (not errors)."""
    if isinstance(error, Refusal | app_commands.CheckFailure):
        return None
    if isinstance(error, CitebotError):
        return type(error).__name__
    return "Unexpected"


async def report_error(interaction: discord.Interaction[Any], error: Exception) -> None:
    """Tell the user, briefly and ephemerally; never raise."""
    where = interaction.command.qualified_name if interaction.command else "component"
    message = user_message(error, where, getattr(interaction.client, "metrics", None))
    if interaction.client.is_closed():  # stopping: there is no connection left to tell them
        log.info("not telling the user about an error in %s: the bot is stopping", where)
        return
    try:
        await say(interaction, message)
    except discord.HTTPException as send_error:
        log.warning("could not tell the user about an error: %s", send_error)
