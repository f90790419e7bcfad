"""Threads as a source over the wire (issue 24): ``/docs add channel:`` on a forum of the
loopback Discord, the backfill through discord.py's paginated history within the stand-in's
rate limits, solved threads quoted with their jump links in another channel of the same server
and never in a second server, gateway events applied within a minute, a restart mid-backfill
resuming, a private channel refused. Builds run in the bot's real child process."""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from bot.core.engine import Engine
from bot.discord.client import CitebotBot
from bot.discord.exts.docs.permissions import NOT_A_MANAGER
from bot.discord.exts.docs.threads import NO_CONTENT, TAG_NEEDS_FORUM
from bot.settings import Settings
from bot.state.threads import ThreadSourceStore
from tests.loopback import ADMIN_PERMISSIONS, LoopbackDiscord, World
from tests.loopback.client import running_bot
from tests.loopback.recorder import MESSAGE
from tests.wire.conftest import USER_ID, wire_settings

GUILD, OTHER_GUILD = 940000000000000100, 940000000000000200
MANAGER_ID = 940000000000000020
MEMBER_ID = 940000000000000021
ASKER_ID, HELPER_ID = 940000000000000031, 940000000000000032
FACT = "Reset the Quillan modem by holding the pinhole button for eleven seconds."
QUESTION = "How do I reset the Quillan modem?"
OTHER_FACT = "The Brackwater printer jams when the tray holds more than forty sheets."
DEBOUNCE = 0.5


@pytest.fixture
def world() -> World:
    world = World(owner_id=USER_ID, guild_ids=(GUILD, OTHER_GUILD))
    world.community.names.update({ASKER_ID: "Ann <@1> *", HELPER_ID: "Bob"})
    return world


@pytest.fixture
def settings(tmp_path: Path, world: World, built_index_dir: Path) -> Settings:
    return wire_settings(
        tmp_path, world, index_dir=built_index_dir, collections_dir=tmp_path / "collections",
        discord_message_content=True, threads_debounce_seconds=DEBOUNCE,
    )


def threads_of(bot: CitebotBot) -> Any:
    """The threads feature's cog (its module is loaded afresh for each bot: no isinstance)."""
    cog = bot.get_cog("Threads")
    assert cog is not None and type(cog).__name__ == "Threads"
    return cog


async def settled(bot: CitebotBot) -> None:
    """Wait for the events sent so far to be gathered, applied and built."""
    await asyncio.sleep(DEBOUNCE + 0.3)
    await threads_of(bot).sync.idle()


async def add_channel(loopback: LoopbackDiscord, channel: Any, **options: Any) -> dict[str, Any]:
    token = await loopback.slash("docs add", user_id=MANAGER_ID, permissions=ADMIN_PERMISSIONS,
                                 guild_id=GUILD, channel=channel, **options)
    reply = await loopback.answered(token)
    assert reply.callback_type == MESSAGE and reply.ephemeral
    return reply.message


async def ask(loopback: LoopbackDiscord, guild_id: int, question: str = QUESTION) -> str:
    """The answer's embeds (as JSON text) to ``question`` asked in the server's general channel."""
    token = await loopback.slash("ask", user_id=MEMBER_ID, guild_id=guild_id, question=question,
                                 k=5)
    answer = await loopback.answered(token, timeout=120)
    return json.dumps(answer.message.get("embeds") or [])


async def test_a_solved_thread_is_quoted_with_its_jump_link_in_its_own_server_only(
    loopback: LoopbackDiscord, settings: Settings, engine: Engine,
) -> None:
    people = loopback.world.community
    forum = people.channel(GUILD, "help", forum=True, tags=("solved", "bug"))
    solved = people.thread(forum, "Modem will not connect", "My Quillan modem is stuck, help?",
                           owner_id=ASKER_ID, tags=("solved",))
    answer = people.post(solved.id, FACT, author_id=HELPER_ID)
    unsolved = people.thread(forum, "Printer jams", "My printer jams all the time",
                             owner_id=ASKER_ID, tags=("bug",))
    people.post(unsolved.id, OTHER_FACT, author_id=HELPER_ID)
    async with running_bot(loopback, settings, engine) as bot:
        reply = await add_channel(loopback, forum, solved="tag", tag="Solved")
        assert "#help is now a source" in reply["content"].replace("\\", "")
        await settled(bot)

        found = await ask(loopback, GUILD)
        assert "Quillan" in found and "eleven seconds" in found
        # The passage links to the message it quotes (its jump link).
        assert f'"url": "https://discord.com/channels/{GUILD}/{solved.id}/{answer["id"]}"' in found
        assert "#help \\u203a Modem will not connect \\u203a Bob" in found
        assert "Ann \\\\<@1> \\\\*" in found  # the display name escaped: never a ping
        assert re.search(r"(?<!\\)<@", found) is None
        assert "Quillan" not in await ask(loopback, OTHER_GUILD)  # another server's thread
        assert "Brackwater" not in await ask(loopback, GUILD, "Why does the Brackwater "
                                             "printer jam?")  # not solved: not a source

        # An edited answer is re-indexed: the new words quoted, the old ones gone.
        await loopback.edit(answer, FACT.replace("eleven", "twelve"))
        await settled(bot)
        edited = await ask(loopback, GUILD)
        assert "twelve seconds" in edited and "eleven seconds" not in edited

        # A deleted answer is gone within a minute.
        deleted_at = time.monotonic()
        await loopback.delete(answer)
        await settled(bot)
        assert "twelve seconds" not in await ask(loopback, GUILD)
        assert time.monotonic() - deleted_at < 60

        # A new thread tagged solved becomes answerable; deleting the thread removes it.
        fresh = await loopback.new_thread(forum, "Brackwater jam", "Brackwater printer?",
                                          owner_id=ASKER_ID)
        await loopback.say(fresh.id, OTHER_FACT, author_id=HELPER_ID)
        await loopback.tag(fresh, "solved")
        await settled(bot)
        assert "forty sheets" in await ask(loopback, GUILD, "Why does the Brackwater printer "
                                           "jam?")
        await loopback.delete_thread(fresh)
        await settled(bot)
        assert "forty sheets" not in await ask(loopback, GUILD, "Why does the Brackwater "
                                               "printer jam?")


async def test_a_private_channel_is_refused_and_never_quoted(
    loopback: LoopbackDiscord, settings: Settings, engine: Engine,
) -> None:
    people = loopback.world.community
    staff = people.channel(GUILD, "staff", forum=True, private=True)
    thread = people.thread(staff, "Modem", "Quillan modem?", owner_id=ASKER_ID)
    people.post(thread.id, FACT, author_id=HELPER_ID)
    text = people.channel(GUILD, "questions")
    forum = people.channel(GUILD, "help", forum=True, tags=("solved",))
    async with running_bot(loopback, settings, engine) as bot:
        reply = await add_channel(loopback, staff, solved="all")
        assert "is private" in reply["content"]
        reply = await add_channel(loopback, text, solved="tag", tag="solved")
        assert reply["content"] == TAG_NEEDS_FORUM
        reply = await add_channel(loopback, forum, solved="tag", tag="done")
        assert "has no tag done; its tags: solved." in reply["content"]
        token = await loopback.slash("docs add", user_id=MEMBER_ID, guild_id=GUILD,
                                     channel=forum, solved="all")  # not a manager
        assert (await loopback.answered(token)).message["content"] == NOT_A_MANAGER
        await settled(bot)
        assert await asyncio.to_thread(bot.thread_sources.channels) == []
        assert "eleven seconds" not in await ask(loopback, GUILD)
    histories = [r for r in loopback.recorder.requests if r.path.endswith("/messages")
                 and r.method == "GET"]
    assert histories == []  # the private channel's threads were never read


async def test_without_the_message_content_intent_channels_are_refused(
    loopback: LoopbackDiscord, settings: Settings, engine: Engine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    loopback.world.message_content = False  # the application was not granted the intent
    forum = loopback.world.community.channel(GUILD, "help", forum=True)
    async with running_bot(loopback, settings, engine) as bot:
        assert not bot.intents.message_content
        assert any("Message Content intent is off" in r.getMessage() for r in caplog.records
                   if r.levelname == "WARNING")
        reply = await add_channel(loopback, forum, solved="all")
        assert reply["content"] == NO_CONTENT
        answer = await ask(loopback, GUILD, "What did Kim Jong Un and Xi Jinping exchange?")
        assert "Kim" in answer  # everything else works


async def test_a_backfill_of_300_threads_resumes_after_a_restart(
    loopback: LoopbackDiscord, settings: Settings, engine: Engine,
) -> None:
    settings = settings.model_copy(update={"server_max_documents": 1000})
    people = loopback.world.community
    forum = people.channel(GUILD, "help", forum=True)
    threads = []
    for n in range(300):
        thread = people.thread(forum, f"Question {n}", f"How do I do thing number {n}?",
                               owner_id=ASKER_ID)
        people.post(thread.id, FACT if n == 3 else f"Thing {n} is done with tool {n}.",
                    author_id=HELPER_ID)
        threads.append(thread)
    async with running_bot(loopback, settings, engine) as bot:
        await add_channel(loopback, forum, solved="all")
        for _ in range(600):  # until the first batch is stored, then stop the bot
            if (await asyncio.to_thread(bot.thread_sources.channel, forum.id)).backfill_before:
                break
            await asyncio.sleep(0.02)
    first_run = len(loopback.recorder.requests)
    store = ThreadSourceStore(settings.state_db)
    stored = len(await asyncio.to_thread(store.threads, forum.id))
    store.close()
    assert 0 < stored < 300  # stopped mid-backfill

    async with running_bot(loopback, settings, engine) as bot:
        for _ in range(1500):
            if (await asyncio.to_thread(bot.thread_sources.channel, forum.id)).backfilled:
                break
            await asyncio.sleep(0.1)
        await settled(bot)
        records = await asyncio.to_thread(bot.thread_sources.threads, forum.id)
        assert set(records) == {thread.id for thread in threads}
        assert all(record.name for record in records.values())
        found = await ask(loopback, GUILD)
        assert "eleven seconds" in found
        assert f"https://discord.com/channels/{GUILD}/{threads[3].id}" in found
    second = loopback.recorder.requests[first_run:]
    listings = [r for r in second if r.path.endswith("/threads/archived/public")]
    assert listings and "before" in listings[0].query  # resumed at the stored cursor
    reads = [r for r in loopback.recorder.requests
             if r.method == "GET" and r.path.endswith("/messages")]
    assert len(reads) < 300 + stored  # threads read before the restart were not read again
    assert len([r for r in loopback.recorder.requests
                if r.path.endswith("/threads/archived/public")]) >= 3  # paginated


async def test_a_text_channel_solved_by_reactions_and_made_private_later(
    loopback: LoopbackDiscord, settings: Settings, engine: Engine,
) -> None:
    people = loopback.world.community
    questions = people.channel(GUILD, "questions")
    by_asker = people.thread(questions, "Modem", "Quillan modem stuck?", owner_id=ASKER_ID)
    people.react(people.post(by_asker.id, FACT, author_id=HELPER_ID), "✅", ASKER_ID)
    by_stranger = people.thread(questions, "Printer", "Brackwater printer?", owner_id=ASKER_ID)
    answer = people.post(by_stranger.id, OTHER_FACT, author_id=HELPER_ID)
    people.react(answer, "✅", MEMBER_ID)  # neither the asker nor a manager: not solved
    async with running_bot(loopback, settings, engine) as bot:
        await add_channel(loopback, questions)  # solved by ✅ (the default without a tag)
        await settled(bot)
        found = await ask(loopback, GUILD)
        assert "eleven seconds" in found
        assert "#questions \\u203a Modem \\u203a Ann" in found  # the starter post, from the
        brackwater = "Why does the Brackwater printer jam?"  # channel, opens the thread
        # A text channel's thread starts from a message of the channel: linked there.
        assert f"https://discord.com/channels/{GUILD}/{questions.id}/{by_asker.id}" in found
        assert "forty sheets" not in await ask(loopback, GUILD, brackwater)

        await loopback.react(answer, "✅", user_id=USER_ID)  # the server's owner: a manager
        await settled(bot)
        assert "forty sheets" in await ask(loopback, GUILD, brackwater)

        await loopback.make_private(questions)  # no longer readable by @everyone
        await settled(bot)
        assert "eleven seconds" not in await ask(loopback, GUILD)
        assert await asyncio.to_thread(bot.thread_sources.channels) == []


async def test_thread_documents_stay_within_the_servers_limits(
    loopback: LoopbackDiscord, settings: Settings, engine: Engine,
) -> None:
    settings = settings.model_copy(update={"server_max_documents": 2})
    people = loopback.world.community
    forum = people.channel(GUILD, "help", forum=True)
    for n in range(4):
        thread = people.thread(forum, f"Question {n}", f"How do I {n}?", owner_id=ASKER_ID)
        people.post(thread.id, f"Like {n}.", author_id=HELPER_ID)
    async with running_bot(loopback, settings, engine) as bot:
        await add_channel(loopback, forum, solved="all")
        await settled(bot)
        records = await asyncio.to_thread(bot.thread_sources.threads, forum.id)
        assert sorted(bool(r.name) for r in records.values()) == [False, False, True, True]
        assert threads_of(bot).sync.over_limit == 2
        folder = bot.collections.settings_for(f"guild-{GUILD}").source_dir / "discord"
        assert len(list(folder.rglob("*.md"))) == 2


async def test_what_happened_while_the_bot_was_away_is_reconciled_at_start(
    loopback: LoopbackDiscord, settings: Settings, engine: Engine,
) -> None:
    people = loopback.world.community
    forum = people.channel(GUILD, "help", forum=True)
    kept = people.thread(forum, "Modem", "Quillan modem?", owner_id=ASKER_ID)
    people.post(kept.id, "Try turning it off and on.", author_id=HELPER_ID)
    doomed = people.thread(forum, "Printer", "Brackwater printer?", owner_id=ASKER_ID)
    people.post(doomed.id, OTHER_FACT, author_id=HELPER_ID)
    async with running_bot(loopback, settings, engine) as bot:
        await add_channel(loopback, forum, solved="all")
        await settled(bot)
        assert "forty sheets" in await ask(loopback, GUILD, "Why does the Brackwater printer "
                                           "jam?")
    # Offline: a thread is deleted, another gets a new answer, a new one is opened.
    del people.threads[doomed.id], people.messages[doomed.id]
    people.post(kept.id, FACT, author_id=HELPER_ID)
    fresh = people.thread(forum, "Router", "Zephyr router lights?", owner_id=ASKER_ID)
    people.post(fresh.id, "The Zephyr router blinks amber while it updates its firmware.",
                author_id=HELPER_ID)
    async with running_bot(loopback, settings, engine) as bot:
        await settled(bot)
        assert "forty sheets" not in await ask(loopback, GUILD, "Why does the Brackwater "
                                               "printer jam?")
        assert "eleven seconds" in await ask(loopback, GUILD)
        assert "blinks amber" in await ask(loopback, GUILD, "Why does the Zephyr router "
                                           "blink amber?")


async def test_what_the_events_missed_is_caught_up_by_the_periodic_reconcile(
    loopback: LoopbackDiscord, settings: Settings, engine: Engine,
) -> None:
    """While the bot runs, a thread is deleted, another gets an answer and an earlier answer is
    edited, with no gateway event (as when a resumed session lost them): the next periodic
    reconcile, which reads every thread again, catches all three up."""
    settings = settings.model_copy(update={"threads_reconcile_minutes": 0.02})  # 1.2 s
    people = loopback.world.community
    forum = people.channel(GUILD, "help", forum=True)
    kept = people.thread(forum, "Modem", "Quillan modem?", owner_id=ASKER_ID)
    people.post(kept.id, "Try turning it off and on.", author_id=HELPER_ID)
    doomed = people.thread(forum, "Printer", "Brackwater printer?", owner_id=ASKER_ID)
    people.post(doomed.id, OTHER_FACT, author_id=HELPER_ID)
    router = people.thread(forum, "Router", "Zephyr router?", owner_id=ASKER_ID)
    tip = people.post(router.id, "Unplug the router for a minute.", author_id=HELPER_ID)
    printer = "Why does the Brackwater printer jam?"
    async with running_bot(loopback, settings, engine) as bot:
        await add_channel(loopback, forum, solved="all")
        await settled(bot)
        assert "forty sheets" in await ask(loopback, GUILD, printer)
        del people.threads[doomed.id], people.messages[doomed.id]  # no THREAD_DELETE sent
        people.post(kept.id, FACT, author_id=HELPER_ID)  # no MESSAGE_CREATE sent
        tip["content"] = "Pull the Zephyr router's reset lever first."  # no MESSAGE_UPDATE
        lever = "What does the Zephyr router's reset lever do?"
        for _ in range(120):
            await asyncio.sleep(0.5)
            await settled(bot)
            if "eleven seconds" in await ask(loopback, GUILD) and "reset lever" in await ask(
                loopback, GUILD, lever
            ):
                break
        assert "eleven seconds" in await ask(loopback, GUILD)
        assert "forty sheets" not in await ask(loopback, GUILD, printer)
        assert "reset lever" in await ask(loopback, GUILD, lever)  # the edit, read again


async def test_a_channel_added_again_with_another_rule_then_removed(
    loopback: LoopbackDiscord, settings: Settings, engine: Engine,
) -> None:
    people = loopback.world.community
    forum = people.channel(GUILD, "help", forum=True, tags=("solved",))
    tagged = people.thread(forum, "Modem", "Quillan modem?", owner_id=ASKER_ID, tags=("solved",))
    people.post(tagged.id, FACT, author_id=HELPER_ID)
    untagged = people.thread(forum, "Printer", "Brackwater printer?", owner_id=ASKER_ID)
    people.post(untagged.id, OTHER_FACT, author_id=HELPER_ID)
    printer = "Why does the Brackwater printer jam?"
    async with running_bot(loopback, settings, engine) as bot:
        await add_channel(loopback, forum, solved="tag", tag="solved")
        await settled(bot)
        assert "forty sheets" not in await ask(loopback, GUILD, printer)
        await add_channel(loopback, forum, solved="all")
        await settled(bot)
        assert "forty sheets" in await ask(loopback, GUILD, printer)
        await add_channel(loopback, forum, solved="tag", tag="solved")
        await settled(bot)
        assert "forty sheets" not in await ask(loopback, GUILD, printer)
        assert "eleven seconds" in await ask(loopback, GUILD)

        # /docs remove channel: its threads leave the answers; it is no source any more.
        token = await loopback.slash("docs remove", user_id=MANAGER_ID,
                                     permissions=ADMIN_PERMISSIONS, guild_id=GUILD,
                                     channel=forum)
        reply = await loopback.answered(token)
        assert "no longer a source" in reply.message["content"]
        await settled(bot)
        assert "eleven seconds" not in await ask(loopback, GUILD)
        assert await asyncio.to_thread(bot.thread_sources.channels) == []
        await loopback.say(tagged.id, "Still talking about the Quillan modem.",
                           author_id=HELPER_ID)
        await settled(bot)
        assert await asyncio.to_thread(bot.thread_sources.threads, forum.id) == {}


async def test_a_private_channel_accepted_as_such_is_quoted_only_inside_it(
    loopback: LoopbackDiscord, settings: Settings, engine: Engine,
) -> None:
    """``private:True`` makes a channel @everyone cannot view a source whose threads are quoted
    only inside it: a new post there is answered from them; /ask in the public channel, and
    after the channel is removed as a source, never quotes them."""
    people = loopback.world.community
    staff = people.channel(GUILD, "staff", forum=True, private=True)
    thread = people.thread(staff, "Modem", "Quillan modem?", owner_id=ASKER_ID)
    people.post(thread.id, FACT, author_id=HELPER_ID)
    async with running_bot(loopback, settings, engine) as bot:
        reply = await add_channel(loopback, staff, solved="all", private=True)
        assert "only inside that channel" in reply["content"]
        await settled(bot)
        assert [s.private for s in await asyncio.to_thread(bot.thread_sources.channels)] == [
            True]
        public = await ask(loopback, GUILD)
        assert "eleven seconds" not in public and "Quillan" not in public

        token = await loopback.slash("docs settings", user_id=MANAGER_ID,
                                     permissions=ADMIN_PERMISSIONS, guild_id=GUILD,
                                     auto_answer=staff)
        await loopback.answered(token)
        post = await loopback.new_thread(staff, "Reset?", QUESTION, owner_id=ASKER_ID)
        inside = json.dumps(loopback.sent_message(await loopback.posted_in(post.id, 120)))
        assert "eleven seconds" in inside  # asked inside the private channel: quoted
        assert "eleven seconds" not in await ask(loopback, GUILD)  # still never outside
