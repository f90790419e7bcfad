"""👍 / 👎 under an answer; a 👎 asks why (wrong passage, outdated, not in the docs, other, with
optional words), which the server's admins see in ``/docs gaps`` and the report."""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING, Any, cast

import discord

from bot.discord.utils.errors import report_error
from bot.discord.utils.replies import EXPIRED, say
from bot.state.answers import place_of
from bot.state.feedback import DOWN, MAX_REASON_CHARS, REASONS, UP

if TYPE_CHECKING:
    from bot.discord.client import CitebotBot

REASON_TIMEOUT_S = 900.0
"""How long the reason form of a 👎 can be sent (Discord's follow-up window)."""


def _bot(interaction: discord.Interaction[Any]) -> CitebotBot:
    return cast("CitebotBot", interaction.client)


class VoteButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"citebot:vote:(?P<key>[A-Za-z0-9_-]{1,40}):(?P<vote>up|down)",
):
    """👍 / 👎 on an answer, stored in the feedback database."""

    def __init__(self, key: str, vote: str) -> None:
        super().__init__(
            discord.ui.Button(
                emoji="👍" if vote == "up" else "👎",
                style=discord.ButtonStyle.secondary,
                custom_id=f"citebot:vote:{key}:{vote}",
            )
        )
        self.key = key
        self.vote = vote

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str]
    ) -> VoteButton:
        return cls(match["key"], match["vote"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        try:
            vote = UP if self.vote == "up" else DOWN
            await handle_vote(_bot(interaction), interaction, self.key, vote)
        except Exception as error:
            await report_error(interaction, error)


class ReasonForm(discord.ui.Modal):
    """Why a 👎: one reason, and optional words (the 👎 itself is already recorded)."""

    def __init__(self, key: str) -> None:
        super().__init__(
            title="What was wrong with this answer?",
            timeout=REASON_TIMEOUT_S,
            custom_id=f"citebot:reason:{key}",
        )
        self.key = key
        self.reason: discord.ui.Select[Any] = discord.ui.Select(
            custom_id="reason",
            options=[
                discord.SelectOption(label=label, value=name) for name, label in REASONS.items()
            ],
        )
        self.words: discord.ui.TextInput[Any] = discord.ui.TextInput(
            custom_id="words",
            style=discord.TextStyle.paragraph,
            required=False,
            max_length=MAX_REASON_CHARS,
            placeholder="What did you expect? Which page is outdated?",
        )
        self.add_item(discord.ui.Label(text="Reason", component=self.reason))
        self.add_item(discord.ui.Label(text="Anything to add? (optional)", component=self.words))

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        reason = self.reason.values[0] if self.reason.values else "other"
        if reason not in REASONS:  # a forged submission: keep the vote, take no reason
            reason = "other"
        saved = await asyncio.to_thread(
            _bot(interaction).feedback.give_reason,
            answer_key=self.key,
            user_id=interaction.user.id,
            reason=reason,
            text=self.words.value or "",
        )
        if saved:
            await say(interaction, "Thanks, the reason for your 👎 was recorded.")
        else:
            await say(interaction, "Your 👎 on that answer is no longer there; nothing was saved.")

    async def on_error(  # type: ignore[override]  # Modal's own signature has no item
        self, interaction: discord.Interaction[Any], error: Exception, /
    ) -> None:
        await report_error(interaction, error)


async def handle_vote(
    bot: CitebotBot, interaction: discord.Interaction[Any], key: str, vote: int
) -> None:
    """👍 / 👎: store the vote (keyed user hash, never the id); thank a 👍, and ask a 👎 why
    (the form's answer is optional: the 👎 counts either way)."""
    context = await asyncio.to_thread(bot.answers.get, key)
    if context is None or context.place != place_of(interaction.guild_id):
        await say(interaction, EXPIRED)
        return
    await asyncio.to_thread(
        bot.feedback.record,
        answer_key=key,
        question=context.question,
        passage_ids=context.passage_ids,
        vote=vote,
        user_id=interaction.user.id,
    )
    if vote == UP:
        await say(interaction, "Thanks, your 👍 was recorded.")
        return
    await interaction.response.send_modal(ReasonForm(key))
