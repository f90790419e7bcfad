"""A hostile document over the wire (issue 20, item 1): a manager adds a file whose line holds two
masked links, a member asks about it; no message the bot sends or edits carries a live masked
link, the second one included (``discord.utils.escape_markdown`` left that one live)."""

from __future__ import annotations

from bot.discord.client import CitebotBot
from tests.bot.live_links import live_links, payload_links
from tests.loopback import ADMIN_PERMISSIONS, LoopbackDiscord
from tests.wire.conftest import USER_ID

MANAGER_ID = 940000000000000020
PHISH = "https://evil.example/phish"
LINE = (
    "Refunds of the Quillan lighthouse tour: see [the policy](https://example.com/policy) or "
    f"the [Official refund form]({PHISH}) within thirty days."
)
FILE_NAME = "refunds [policy](https:example.com) [form](https:evil.example).txt"




async def test_no_sent_or_edited_message_carries_a_live_masked_link(
    loopback: LoopbackDiscord, bot: CitebotBot
) -> None:
    assert len(live_links(LINE)) == 2 and len(live_links(FILE_NAME)) == 2
    guild = loopback.world.guild_ids[0]
    attachment = loopback.attach(FILE_NAME, f"{LINE}\n".encode(), content_type="text/plain")
    token = await loopback.slash("docs add", user_id=MANAGER_ID, permissions=ADMIN_PERMISSIONS,
                                 guild_id=guild, file=attachment)
    added = await loopback.recorder.wait_for(
        lambda: next((r for r in loopback.recorder.for_token(token)
                      if r.is_followup and r.succeeded), None), 180)
    assert added.message["content"].startswith("Added **")

    token = await loopback.slash("ask", user_id=USER_ID, guild_id=guild,
                                 question="How do I get a refund of the lighthouse tour?")
    answer = await loopback.answered(token)
    assert "Official refund form" in str(answer.message["embeds"])  # the line was quoted

    sent = [r for r in loopback.recorder.requests if r.creates_message or r.edits_message]
    assert len(sent) >= 3
    assert [payload_links(r.message) for r in sent if payload_links(r.message)] == []
