"""The loopback Discord's community (channels, forums, threads, history) as discord.py reads it:
pagination by message id and archive time, rate-limit headers honoured, an injected 429 retried,
gateway events parsed (no model, no citebot)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import discord
import pytest
from discord.ext import commands

from tests.loopback import LoopbackDiscord, World
from tests.loopback.server import point_discord_at

TOKEN = "MTQw.loopback.community-token"
ASKER, HELPER = 940000000000000501, 940000000000000502


@pytest.fixture
async def community() -> AsyncIterator[tuple[LoopbackDiscord, commands.Bot]]:
    world = World()
    stand_in = LoopbackDiscord(TOKEN, world)
    await stand_in.start()
    intents = discord.Intents.default()
    intents.message_content = True
    client = commands.Bot(command_prefix="!", intents=intents)
    with point_discord_at(stand_in.api_base, stand_in.gateway_url):
        client._connection.guild_ready_timeout = 0.05
        task = asyncio.create_task(client.start(TOKEN))
        try:
            await asyncio.wait_for(client.wait_until_ready(), 30)
            yield stand_in, client
        finally:
            await client.close()
            await asyncio.gather(task, return_exceptions=True)
            await stand_in.stop()
    assert stand_in.problems() == []


async def test_history_pages_by_message_id_and_archived_threads_by_archive_time(
    community: tuple[LoopbackDiscord, commands.Bot],
) -> None:
    stand_in, client = community
    people = stand_in.world.community
    forum = people.channel(stand_in.world.guild_id, "help", forum=True, tags=("solved",))
    threads = [people.thread(forum, f"question {n}", f"how do I {n}?", owner_id=ASKER)
               for n in range(130)]
    for n in range(250):
        people.post(threads[0].id, f"answer {n}", author_id=HELPER)
    channel = await client.fetch_channel(forum.id)
    assert isinstance(channel, discord.ForumChannel)
    assert [tag.name for tag in channel.available_tags] == ["solved"]
    listed = [thread async for thread in channel.archived_threads(limit=None)]
    assert [t.id for t in listed] == [t.id for t in reversed(threads)]
    thread = await client.fetch_channel(threads[0].id)
    assert isinstance(thread, discord.Thread)
    oldest_first = [m.content async for m in thread.history(limit=None, oldest_first=True)]
    assert oldest_first == ["how do I 0?"] + [f"answer {n}" for n in range(250)]
    newest_first = [m.content async for m in thread.history(limit=None)]
    assert newest_first == list(reversed(oldest_first))
    pages = [r for r in stand_in.recorder.requests
             if r.method == "GET" and r.path == f"/channels/{thread.id}/messages"]
    assert len(pages) == 6 and all(int(r.query["limit"]) == 100 for r in pages)


async def test_rate_limits_are_announced_and_an_injected_429_is_retried(
    community: tuple[LoopbackDiscord, commands.Bot],
) -> None:
    stand_in, client = community
    people = stand_in.world.community
    text = people.channel(stand_in.world.guild_id, "questions")
    for n in range(30):
        people.post(text.id, f"message {n}", author_id=HELPER)
    stand_in.rest.limits.per_second = 3
    stand_in.rest.fail(lambda r: r.path.endswith("/messages") and r.method == "GET", 429,
                       retry_after=0.2)
    channel = await client.fetch_channel(text.id)
    assert isinstance(channel, discord.TextChannel)
    started = asyncio.get_running_loop().time()
    for _ in range(5):
        assert len([m async for m in channel.history(limit=5)]) == 5
    assert asyncio.get_running_loop().time() - started >= 1.0  # waited for the bucket's reset
    assert stand_in.rest.limits.exceeded == 0  # discord.py waited instead of going over
    statuses = [r.status for r in stand_in.recorder.requests if r.path.endswith("/messages")]
    assert statuses[0] == 429 and statuses.count(200) == 5


async def test_gateway_events_reach_the_client_as_discord_sends_them(
    community: tuple[LoopbackDiscord, commands.Bot],
) -> None:
    stand_in, client = community
    forum = await stand_in.new_channel("help", forum=True, tags=("solved",))
    events: list[str] = []

    def noting(name: str) -> Callable[..., Awaitable[None]]:
        async def note(*_: object) -> None:
            events.append(name)

        return note

    for name in ("thread_create", "message", "raw_message_edit", "raw_message_delete",
                 "raw_reaction_add", "raw_thread_delete", "guild_channel_delete",
                 "thread_update"):
        client.add_listener(noting(name), f"on_{name}")
    thread = await stand_in.new_thread(forum, "how?", "how do I?", owner_id=ASKER)
    answer = await stand_in.say(thread.id, "like this", author_id=HELPER)
    await stand_in.edit(answer, "like that")
    await stand_in.react(answer, "✅", user_id=ASKER)
    await stand_in.tag(thread, "solved")
    await stand_in.delete(answer)
    await stand_in.delete_thread(thread)
    await stand_in.delete_channel(forum)
    for _ in range(100):
        if len(events) >= 9:
            break
        await asyncio.sleep(0.02)
    assert events == ["thread_create", "message", "message", "raw_message_edit",
                      "raw_reaction_add", "thread_update", "raw_message_delete",
                      "raw_thread_delete", "guild_channel_delete"]


async def test_a_private_channel_denies_everyone_view_channel(
    community: tuple[LoopbackDiscord, commands.Bot],
) -> None:
    stand_in, client = community
    people = stand_in.world.community
    hidden = people.channel(stand_in.world.guild_id, "staff", private=True)
    channel = await client.fetch_channel(hidden.id)
    assert isinstance(channel, discord.TextChannel)
    guild = client.get_guild(stand_in.world.guild_id)
    assert guild is not None
    assert not channel.permissions_for(guild.default_role).view_channel


async def test_past_the_global_limit_discord_py_waits_and_retries(
    community: tuple[LoopbackDiscord, commands.Bot],
) -> None:
    stand_in, client = community
    people = stand_in.world.community
    channels = [people.channel(stand_in.world.guild_id, f"c{n}") for n in range(8)]
    for channel in channels:
        people.post(channel.id, "hello", author_id=HELPER)
    stand_in.rest.limits.global_per_second = 4
    fetched = [await client.fetch_channel(channel.id) for channel in channels]
    read = [[m.content async for m in channel.history(limit=1)]  # type: ignore[union-attr]
            for channel in fetched]
    assert read == [["hello"]] * 8
    limited = [r for r in stand_in.recorder.requests if r.status == 429]
    assert limited and stand_in.rest.limits.exceeded == len(limited)
