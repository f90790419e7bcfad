"""What the bot tells users, and the two ways it says short things (ephemeral or as a reply)."""

from __future__ import annotations

from typing import Any

import discord

NO_MENTIONS = discord.AllowedMentions.none()
MAX_QUESTION_CHARS = 500
MAX_K = 5

GENERIC_ERROR = "Sorry, something went wrong on my side. Please try again in a moment."
EXPIRED = "This answer is too old for that button; please ask the question again."
OWNERS_ONLY = "Only the bot's owners can rebuild the index."
NO_PERMISSION = "You don't have permission to use that command."
SERVER_ONLY = "That command only works in a server."
NOT_HERE = "I'm not enabled in this channel; please ask in one of the channels set up for me."
NO_DMS = "I don't answer in direct messages; please ask in a server channel."
REBUILD_RUNNING = "A rebuild is already running; you'll be able to start another when it finishes."
EMPTY_QUESTION = "Ask me a question after the mention, or use `/ask`."
BAD_QUESTION = "Please ask a question with some words in it."
SOURCE_PROBLEM = (
    "The rebuild failed because of a problem with the source documents; the bot's log names "
    "the file and what to do. The previous index is still answering."
)
INDEX_NOT_WRITTEN = (
    "The rebuild failed: the new index could not be written on the bot's server (out of disk "
    "space or no permission; the bot's log says which). The previous index is still answering."
)
BUILD_TIMED_OUT = (
    "The rebuild took longer than the bot allows (CITEBOT_BUILD_TIMEOUT_MINUTES) and was "
    "stopped. The previous index is still answering."
)
BUILD_FAILED = (
    "The rebuild failed; the bot's log says why. The previous index is still answering."
)
INDEX_SERVER_DOWN = (
    "The search service is not answering right now. Please try again in a minute; the bot's "
    "log has the details for its administrator."
)
INDEX_UNAVAILABLE = (
    "The index is unavailable (missing, damaged, or built with another model). An administrator "
    "can rebuild it with /reindex or `citebot build`; details are in the bot's log."
)
NO_DOCUMENTS_HERE = (
    "This server has no documents yet and does not search the bot's shared documents. A "
    "server manager can add one with `/docs add`, or turn the shared documents back on with "
    "`/docs settings include_default:True`."
)
BUSY = "I'm busy with other questions right now; please try again in a few seconds."
RESTARTING = "I'm restarting; please ask again in a moment."
TOO_LONG = f"Questions can be at most {MAX_QUESTION_CHARS} characters."


async def say(interaction: discord.Interaction[Any], message: str) -> None:
    """A short ephemeral message, as the response or as a follow-up if already responded."""
    if interaction.response.is_done():
        await interaction.followup.send(message, ephemeral=True, allowed_mentions=NO_MENTIONS)
    else:
        await interaction.response.send_message(
            message, ephemeral=True, allowed_mentions=NO_MENTIONS
        )


async def reply(message: discord.Message, content: str, **kwargs: Any) -> discord.Message:
    """Reply to a message without pinging anyone (not even its author); returns the reply."""
    if kwargs.get("view") is None:
        kwargs.pop("view", None)
    return await message.channel.send(
        content,
        reference=message.to_reference(fail_if_not_exists=False),
        allowed_mentions=NO_MENTIONS,
        **kwargs,
    )
