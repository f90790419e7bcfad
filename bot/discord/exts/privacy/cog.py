"""The ``privacy`` feature: ``/privacy forget``, for anyone, anywhere the bot answers."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import discord
from discord import app_commands

from bot.core.privacy import forget_person
from bot.discord.utils.feature import Feature, SlashCommand
from bot.discord.utils.places import everywhere, placed
from bot.discord.utils.replies import NO_MENTIONS

if TYPE_CHECKING:
    from bot.discord.client import CitebotBot



def policy(bot: CitebotBot) -> str:
    """What is kept, for how long, and who sees it, in two sentences."""
    settings = bot.settings
    return (
        "What citebot keeps: the questions asked in a server (for "
        f"{settings.question_log_days} days, unless the server turned its log off), shown to "
        "the server's managers without the asker's name; votes and their reasons (the question "
        f"text for {settings.feedback_retention_days} days), both under a keyed hash of your "
        "id, never the id; your conversations (so follow-ups work) for "
        f"{settings.conversation_minutes} minutes."
    )


async def forget_command(interaction: discord.Interaction[CitebotBot]) -> None:
    """/privacy forget: delete the questions you asked (in every server's log), your 👍 / 👎 with
    their reasons, and your conversations; only you see the reply."""
    bot = interaction.client
    await interaction.response.defer(thinking=True, ephemeral=True)
    forgotten = await asyncio.to_thread(
        forget_person,
        interaction.user.id,
        questions=bot.questions,
        feedback=bot.feedback,
        conversations=bot.conversations,
        servers=bot.servers,
    )
    if forgotten.total == 0:
        text = f"citebot keeps nothing of yours: nothing to delete.\n{policy(bot)}"
    else:
        text = (
            "Deleted what citebot kept of yours: "
            f"{forgotten.questions} logged question(s), {forgotten.votes} vote(s) with their "
            f"reasons, {forgotten.conversations} conversation turn(s)"
            + (
                f", who marked {forgotten.solved_marks} thread(s) solved (they stay solved)"
                if forgotten.solved_marks
                else ""
            )
            + f".\n{policy(bot)}"
        )
    await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_MENTIONS)


class Privacy(Feature):
    """``/privacy forget``."""

    def slash_commands(self) -> list[SlashCommand]:
        group = app_commands.Group(
            name="privacy", description="What citebot keeps of yours, and erasing it"
        )
        group.add_command(
            app_commands.Command(
                name="forget",
                description="Delete your logged questions, votes and conversations",
                callback=forget_command,
            )
        )
        return [placed(group, everywhere(self.bot.settings))]
