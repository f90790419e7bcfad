"""Showing a build started from Discord: the progress message (edited at most every few
seconds), the result as text, and its delivery, in the channel once the interaction's token has
expired (also used by ``/reindex``)."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any, cast

import discord

from bot.core.builds import BuildOutcome
from bot.discord.utils.render import CONTENT_LIMIT, clip, escape_clipped
from bot.discord.utils.replies import NO_MENTIONS

if TYPE_CHECKING:
    from bot.discord.client import CitebotBot
    from bot.settings import Settings

log = logging.getLogger("citebot.discord")

PROGRESS_EDIT_SECONDS = 3.0
"""Least time between two edits of a progress message (Discord rate-limits edits)."""
# Interaction tokens (and so follow-ups and edits) expire after 15 minutes; a minute's margin.
FOLLOWUP_LIFETIME = 14 * 60.0
DEFAULT_BUILD_KEY = "default"  # the build queue's key for the shared index (servers: "guild-<id>")
INVALID_WEBHOOK_TOKEN = 50027  # Discord's error code for an expired or unknown token
MAX_SKIPPED_SHOWN = 10
REASON_CHARS = 300
FAILURE_CHARS = 600


class BuildProgress:
    """The interaction's original response, edited to show where a build is: queued behind
    others, then embedding. Edits run in the background (a slow edit never holds up the build)
    and at most one every ``PROGRESS_EDIT_SECONDS``; none once the token is about to expire."""

    def __init__(self, bot: CitebotBot, interaction: discord.Interaction[Any], title: str):
        self.bot = bot
        self.interaction = interaction
        self.title = title
        self.started = bot.clock()
        self._last_edit = time.monotonic()  # the first response counts as one
        self._edit: asyncio.Task[None] | None = None
        self._stopped = False

    def queued(self, ahead: int) -> None:
        """The build waits behind ``ahead`` others."""
        if ahead > 0:
            self._show(f"{self.title}\nQueued: {ahead} build(s) ahead…", force=True)

    def on_progress(self, done: int, total: int) -> None:
        """The build has embedded ``done`` of ``total`` passages (a BuildQueue listener)."""
        self._show(f"{self.title}\nEmbedding {done}/{total}…")

    def show(self, text: str) -> None:
        """Show ``text`` (a crawl's pages so far), within the same pace as the build's edits."""
        self._show(text)

    async def finish(self) -> None:
        """No more edits; wait for one in flight (so the result comes after it)."""
        self._stopped = True
        if self._edit is not None:
            await asyncio.gather(self._edit, return_exceptions=True)

    def _show(self, text: str, force: bool = False) -> None:
        now = time.monotonic()
        if self._stopped or (self._edit is not None and not self._edit.done()):
            return
        if not force and now - self._last_edit < PROGRESS_EDIT_SECONDS:
            return
        if self.bot.clock() - self.started >= FOLLOWUP_LIFETIME:
            return
        self._last_edit = now
        self._edit = asyncio.create_task(self._send(clip(text, CONTENT_LIMIT)))

    async def _send(self, text: str) -> None:
        try:
            await self.interaction.edit_original_response(content=text,
                                                          allowed_mentions=NO_MENTIONS)
        except discord.HTTPException as error:
            log.info("progress edit refused (%s %s); no more edits", error.status, error.code)
            self._stopped = True


async def queued_build(
    bot: CitebotBot, interaction: discord.Interaction[Any], title: str, collection: str | None
) -> BuildOutcome:
    """Queue a build — of a server's ``collection``, or (None) of the shared index the default
    engine serves — show its progress in the interaction's response until it ends, and serve the
    new index at once when it went live."""
    key = collection or DEFAULT_BUILD_KEY
    progress = BuildProgress(bot, interaction, title)
    # The shared index is the one the default engine serves; a collection's, under the bot's.
    settings = bot.engine.settings if collection is None else bot.settings
    done = bot.builds.submit(key=key, settings=settings, on_progress=progress.on_progress,
                             collection=collection)
    progress.queued(bot.builds.position(key))
    try:
        outcome = await done
    finally:
        await progress.finish()
    if outcome.ok:
        if collection is None:
            await bot.in_worker(serve_new_default, bot)
        else:
            bot.collections.unload(collection)  # the next question loads the new index at once
    return outcome


def serve_new_default(bot: CitebotBot) -> None:
    """Serve the shared index just built (blocking: the search worker runs it)."""
    if bot.engine.loaded:
        bot.engine.refresh(min_interval=0.0)
    else:
        bot.ensure_loaded()


def public_message(message: str, settings: Settings, collection: str) -> str:
    """A build's message with the bot's folders named in words (users never see server paths)."""
    from bot.core.collections import collection_settings

    own = collection_settings(settings, collection)
    for path, words in (
        (own.source_dir, "this server's documents"),
        (own.index_dir, "this server's index"),
        (settings.collections_dir, "the bot's storage"),
    ):
        for form in {str(path.resolve()), str(path)}:
            message = message.replace(form, words)
    return message


def skipped_of(outcome: BuildOutcome) -> dict[str, str]:
    """The files a successful build skipped: name -> reason."""
    skipped = (outcome.report or {}).get("skipped") or []
    return {str(path): str(reason) for path, reason in skipped}


def render_rebuilt(outcome: BuildOutcome, leave_out: str | None = None) -> str:
    """The counts of a successful build and the files it skipped (but ``leave_out``)."""
    report = outcome.report or {}
    text = (
        f"This server's index now has {report.get('documents', 0)} document(s), "
        f"{report.get('chunks', 0)} chunk(s) (built in {float(report.get('seconds', 0)):.1f} s)."
    )
    skipped = [reason for path, reason in skipped_of(outcome).items() if path != leave_out]
    if skipped:
        text += f"\nSkipped {len(skipped)} file(s) that could not be read:"
        for reason in skipped[:MAX_SKIPPED_SHOWN]:  # a reason starts with the file's name
            text += f"\n- {escape_clipped(reason, REASON_CHARS)}"
        if len(skipped) > MAX_SKIPPED_SHOWN:
            text += f"\n- and {len(skipped) - MAX_SKIPPED_SHOWN} more"
    return text


def render_failure(outcome: BuildOutcome, settings: Settings, collection: str) -> str:
    """Why a build failed, in words a user may see, and that the old index still answers."""
    message = public_message(outcome.message or "unknown problem", settings, collection)
    text = f"The rebuild failed: {escape_clipped(message, FAILURE_CHARS)}"
    if not text.endswith((".", "…")):
        text += "."
    if "previous index" not in message:
        text += "\nThe previous index (if there was one) still answers."
    return text


async def deliver(
    bot: CitebotBot,
    interaction: discord.Interaction[Any],
    text: str,
    started: float,
    command: str,
) -> None:
    """Send ``text`` as an ephemeral follow-up while the interaction's token lives (15 minutes);
    after that, or when Discord refuses it, post it in the channel; failing that, log it. A bot
    that is stopping (its HTTP session closed) only logs it."""
    if bot.is_closed():  # the build was stopped by the bot's shutdown: Discord is out of reach
        log.warning("the bot stopped before the %s result could be sent: %s", command, text)
        return
    if bot.clock() - started < FOLLOWUP_LIFETIME:
        try:
            await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_MENTIONS)
            return
        except discord.HTTPException as error:
            expired = error.code == INVALID_WEBHOOK_TOKEN
            log.warning(
                "%s follow-up refused (%s %s%s); posting the result in the channel",
                command,
                error.status,
                error.code,
                ", token expired" if expired else "",
            )
    channel = bot.get_partial_messageable(
        cast(int, interaction.channel_id), guild_id=interaction.guild_id
    )
    notice = f"The {command} started by <@{interaction.user.id}> has finished:\n"
    try:
        await channel.send(clip(notice + text, CONTENT_LIMIT), allowed_mentions=NO_MENTIONS)
    except discord.HTTPException as error:
        log.error(
            "could not deliver the %s result to channel %s (%s %s): %s",
            command,
            interaction.channel_id,
            error.status,
            error.code,
            text,
        )
