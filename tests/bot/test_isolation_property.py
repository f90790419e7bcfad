"""Isolation between servers as a property (issue 11): over random interleavings of uploads,
removals, settings changes and questions from two servers and a DM, nothing a server did not
upload (or that is not shared) ever appears in what the bot sends there, and what it did upload
is found.

Documents reach the collections the way the bot's builds leave them (the same build code, run
in this process to keep each example fast); questions, More and /sources go through the bot's
real CommandTree.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.core.collections import collection_for_guild
from bot.core.engine import Engine
from tests.bot.conftest import (
    GUILD_ID,
    OTHER_GUILD_ID,
    Harness,
    harness_for,
    in_guild,
    make_settings,
)
from tests.bot.test_discord_app import assert_safe, followup_of

# One invented fact per document: its distinctive name never occurs in the shared article.
FACTS = {
    "quokka.txt": ("Zorblat", "The quokka Zorblat guards the lighthouse on Rottnest Island."),
    "comet.txt": ("Vexmira", "The comet Vexmira returns to the inner solar system every 41 years."),
    "violin.txt": ("Quandrel", "The violin Quandrel was carved from a storm-felled maple in 1711."),
    "tunnel.txt": ("Brellox", "The tunnel Brellox connects two valleys beneath the Karst ridge."),
}
QUESTIONS = {
    "quokka.txt": "Which lighthouse does the quokka Zorblat guard?",
    "comet.txt": "How often does the comet Vexmira return?",
    "violin.txt": "What wood was the violin Quandrel carved from?",
    "tunnel.txt": "What does the tunnel Brellox connect?",
}
SERVERS = (GUILD_ID, OTHER_GUILD_ID)
PLACES = (GUILD_ID, OTHER_GUILD_ID, None)  # None: a DM

operations = st.lists(
    st.one_of(
        st.tuples(st.just("upload"), st.sampled_from(SERVERS), st.sampled_from(sorted(FACTS))),
        st.tuples(st.just("remove"), st.sampled_from(SERVERS), st.sampled_from(sorted(FACTS))),
        st.tuples(st.just("shared"), st.sampled_from(SERVERS), st.booleans()),
        st.tuples(st.just("ask"), st.sampled_from(PLACES), st.sampled_from(sorted(FACTS))),
        st.tuples(st.just("sources"), st.sampled_from(PLACES), st.just("")),
    ),
    min_size=3,
    max_size=9,
)


@dataclass
class World:
    """Which documents each server holds now."""

    holds: dict[int, set[str]] = field(default_factory=lambda: {g: set() for g in SERVERS})

    def forbidden(self, place: int | None) -> set[str]:
        """Names of facts that must not appear in ``place``."""
        own = self.holds.get(place, set()) if place is not None else set()
        others = set().union(*self.holds.values())
        return {FACTS[name][0] for name in others - own}


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=operations)
def test_no_interleaving_shows_a_server_another_servers_documents(engine: Engine, steps) -> None:
    folder = Path(tempfile.mkdtemp(prefix="citebot-isolation-"))
    try:
        asyncio.run(_play(engine, folder, steps))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


async def _play(engine: Engine, folder: Path, steps) -> None:
    configured = make_settings(
        folder, collections_dir=folder / "collections", discord_allow_dms=True
    )
    world = World()
    async with harness_for(configured, engine) as h:
        h.bot.collections.reload_check_seconds = 0  # every question sees the latest build
        for kind, place, value in steps:
            if kind == "upload":
                await _upload(h, world, place, value)
            elif kind == "remove":
                await _remove(h, world, place, value)
            elif kind == "shared":
                await asyncio.to_thread(h.bot.servers.update_settings, place, include_default=value)
            elif kind == "ask":
                await _ask(h, world, place, value)
            else:
                await _sources(h, world, place)


async def _upload(h: Harness, world: World, guild_id: int, name: str) -> None:
    collection = collection_for_guild(guild_id)
    sources = h.bot.collections.settings_for(collection).source_dir
    sources.mkdir(parents=True, exist_ok=True)
    (sources / name).write_text(FACTS[name][1] + "\n", encoding="utf-8")
    await asyncio.to_thread(h.bot.collections.engine_for(collection).rebuild, None, True)
    world.holds[guild_id].add(name)


async def _remove(h: Harness, world: World, guild_id: int, name: str) -> None:
    if name not in world.holds[guild_id]:
        return
    collection = collection_for_guild(guild_id)
    (h.bot.collections.settings_for(collection).source_dir / name).unlink()
    world.holds[guild_id].discard(name)
    if world.holds[guild_id]:
        await asyncio.to_thread(h.bot.collections.engine_for(collection).rebuild, None, True)
    else:  # the last one: the collection goes, as /docs remove does
        await asyncio.to_thread(h.bot.collections.purge, collection)


def _who(place: int | None) -> dict:
    return {"dm": True} if place is None else in_guild(place)


async def _ask(h: Harness, world: World, place: int | None, name: str) -> None:
    token = h.slash("ask", who=_who(place), question=QUESTIONS[name], k=5)
    calls = await h.finished(token, count=1)
    if len(calls) == 1:  # answered at once: a refusal (no documents here), never a passage
        _check(world, place, calls[0].payload)
        return
    calls = await h.finished(token, count=2)
    answer = followup_of(calls)
    assert_safe(answer)
    _check(world, place, answer.message.get("embeds"))
    if place is not None and name in world.holds[place]:
        assert FACTS[name][0] in json.dumps(answer.message["embeds"]), "own document not found"


async def _sources(h: Harness, world: World, place: int | None) -> None:
    token = h.slash("sources", who=_who(place))
    calls = await h.finished(token)
    listing = followup_of(calls)
    assert_safe(listing)
    text = json.dumps(listing.message.get("embeds", []))
    for name, holders in _holders(world).items():
        assert (name in text) == (place in holders), (name, place, text)


def _holders(world: World) -> dict[str, set[int | None]]:
    holders: dict[str, set[int | None]] = {}
    for guild_id, names in world.holds.items():
        for name in names:
            holders.setdefault(name, set()).add(guild_id)
    return holders


def _check(world: World, place: int | None, sent: object) -> None:
    text = json.dumps(sent)
    for fact in world.forbidden(place):
        assert fact not in text, f"{fact} shown in {place}"
