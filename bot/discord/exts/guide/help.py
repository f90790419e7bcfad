"""``/help``: what citebot is (quotes only, never text of its own), the commands that work where
it is asked (listed from the command tree, so the list never drifts), and how to ask a follow-up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands

from bot.discord.utils.places import everywhere, placed
from bot.discord.utils.render import COLOUR_FOUND, FOOTER
from bot.discord.utils.replies import NO_MENTIONS
from bot.settings import Settings

if TYPE_CHECKING:
    from bot.discord.client import CitebotBot

TITLE = "citebot: answers quoted from the sources"
ABOUT = (
    "I answer only with passages quoted word for word from the indexed documents, each with its "
    "citation (document › section › page › paragraph), the best sentence in **bold**. I never "
    "write text of my own: when the documents do not answer a question I say **Not in the "
    "source**. Check the citation before relying on a passage."
)
MENTION = "Mention me with a question in a channel (or write to me in a DM, if DMs are on)"
FOLLOW_UPS = (
    "A question can continue the previous one (\"What did he say next?\"):\n"
    "• **reply** to one of my answers, mentioning me;\n"
    "• or press **Ask a follow-up** under an answer: it opens a thread, where you mention me or "
    "use `/ask`;\n"
    "• in a DM, each question continues your previous one.\n"
    "The answer then says *Read together with your previous question*; every word is still a "
    "quote. A plain `/ask` or mention starts afresh. Conversations are per person and forgotten "
    "{minutes} minutes after their last question."
)
UNDER_ANSWERS = "Under an answer: **More** (the next passages), 👍 / 👎, **Ask a follow-up**."


def command_lines(tree: app_commands.CommandTree[Any], in_server: bool) -> list[str]:
    """``/name — description`` for every command usable here (servers-only ones left out of a
    DM), subcommands by their full name."""
    lines = []
    # Slash commands only: a context menu (none yet) has no description to list.
    for command in tree.get_commands(type=discord.AppCommandType.chat_input):
        contexts = command.allowed_contexts
        if not in_server and contexts is not None and not contexts.dm_channel:
            continue
        items = command.walk_commands() if isinstance(command, app_commands.Group) else [command]
        lines += [f"`/{item.qualified_name}` — {item.description}" for item in items]
    return lines


FIELD_VALUE_LIMIT = 1024  # Discord's limit for one embed field's value


def field_values(lines: list[str]) -> list[str]:
    """``lines`` joined into as few field values as fit Discord's limit, never splitting a line
    (each command line is far shorter than the limit)."""
    values: list[str] = []
    for line in lines:
        if values and len(values[-1]) + 1 + len(line) <= FIELD_VALUE_LIMIT:
            values[-1] += "\n" + line
        else:
            values.append(line[:FIELD_VALUE_LIMIT])
    return values


def render_help(
    tree: app_commands.CommandTree[Any], in_server: bool, minutes: float
) -> discord.Embed:
    """The /help message: what citebot is, its commands, follow-ups."""
    embed = discord.Embed(title=TITLE, description=ABOUT, colour=COLOUR_FOUND)
    lines = [*command_lines(tree, in_server), f"{MENTION}.", UNDER_ANSWERS]
    for number, value in enumerate(field_values(lines)):
        embed.add_field(name="Commands" if number == 0 else "More commands", value=value,
                        inline=False)
    embed.add_field(name="Follow-up questions", value=FOLLOW_UPS.format(minutes=f"{minutes:g}"),
                    inline=False)
    embed.set_footer(text=FOOTER)
    return embed


async def help_command(interaction: discord.Interaction[CitebotBot]) -> None:
    """/help: what citebot is, its commands, and how to ask a follow-up (only you see it)."""
    bot = interaction.client
    embed = render_help(bot.tree, interaction.guild_id is not None,
                        bot.settings.conversation_minutes)
    await interaction.response.send_message(embed=embed, ephemeral=True,
                                            allowed_mentions=NO_MENTIONS)


def commands(settings: Settings) -> list[app_commands.Command[Any, ..., Any]]:
    """This feature's slash commands (fresh objects: each bot gets its own), with where
    they may run."""
    return [
        placed(
            app_commands.Command(
                name="help",
                description="What citebot is, its commands, and how to ask a follow-up",
                callback=help_command,
            ),
            everywhere(settings),
        )
    ]
