"""A PDF built to stall builds, added over the wire from one server while another server adds a
small file (issue 20, item 2): discord.py's own client against the loopback stand-in, the
attachments from its CDN, both builds in the bot's real child processes, one after the other
(the build queue). The hostile file is skipped with its reason and removed; the other server's
file is added once that build ends. How long the other server waits is measured by
``benchmarks/hostile_queue.py``."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.discord.client import CitebotBot
from bot.discord.utils import progress
from bot.settings import Settings
from tests.index.formats.pdf_fixtures import repeated_page_pdf_bytes
from tests.loopback import ADMIN_PERMISSIONS, LoopbackDiscord, Request, World
from tests.wire.conftest import USER_ID

GUILD, OTHER_GUILD = 940000000000000300, 940000000000000400
MANAGER_ID = 940000000000000030
FACT = "The Port Quillan lighthouse is painted with eleven green stripes and one white band."


@pytest.fixture
def world() -> World:
    return World(owner_id=USER_ID, guild_ids=(GUILD, OTHER_GUILD))


@pytest.fixture(autouse=True)
def quick_progress(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress, "PROGRESS_EDIT_SECONDS", 0.0)  # every progress step shows




async def result(loopback: LoopbackDiscord, token: str) -> Request:
    """The interaction's first successful follow-up (where a build's result comes)."""

    def found() -> Request | None:
        calls = loopback.recorder.for_token(token)
        return next((r for r in calls if r.is_followup and r.succeeded), None)

    return await loopback.recorder.wait_for(found, 300)


def progress_texts(loopback: LoopbackDiscord, token: str) -> list[str]:
    return [str(r.message.get("content")) for r in loopback.recorder.for_token(token)
            if r.method == "PATCH" and r.path.endswith("/messages/@original")]


async def test_a_stalling_pdf_is_skipped_and_the_other_servers_add_follows_it(
    loopback: LoopbackDiscord, bot: CitebotBot, settings: Settings
) -> None:
    hostile = loopback.attach("hostile.pdf", repeated_page_pdf_bytes(),
                              content_type="application/pdf")
    small = loopback.attach("lighthouse.md", f"# Lighthouses\n\n{FACT}\n".encode(),
                            content_type="text/markdown")
    first = await loopback.slash("docs add", user_id=MANAGER_ID, permissions=ADMIN_PERMISSIONS,
                                 guild_id=GUILD, file=hostile)
    await loopback.recorder.wait_for(lambda: bot.builds.depth > 0, 60)  # A's build is queued
    second = await loopback.slash("docs add", user_id=MANAGER_ID, permissions=ADMIN_PERMISSIONS,
                                  guild_id=OTHER_GUILD, file=small)
    refused, added = await result(loopback, first), await result(loopback, second)

    assert refused.message["content"].startswith(
        "**hostile.pdf** was not added: hostile.pdf: too much to read: its pages decode to over "
        "10.6 MB of drawing instructions by page 1"
    )
    assert added.message["content"].startswith(
        "Added **lighthouse.md**.\nThis server's index now has 1 document(s)"
    )
    assert any("Queued: 1 build(s) ahead" in text for text in progress_texts(loopback, second))
    assert refused.at < added.at  # one build at a time: B's ran after A's
    collections = Path(settings.collections_dir)
    assert not list(collections.rglob("hostile.pdf"))  # removed, not left to stall later builds
    assert [p.name for p in collections.rglob("lighthouse.md")] == ["lighthouse.md"]
