"""Crawled sites over the wire (issue 22): ``/docs add url:… crawl:True`` against a site the test
serves on 127.0.0.1, ``/docs sources list|schedule``, ``/docs sync`` with conditional requests,
and the scheduler's own sync under the state database's lease; a page removed by hand kept out
of syncs, the sources in ``/docs list``, a hostile site's faults (tests/hostile_site.py) in the
reply, and a sync killed halfway completed by the next ``/docs sync``. discord.py's real client
against the loopback stand-in, builds in the bot's real child process. Two servers: one never
sees the other's sites."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.core.collections import collection_for_guild
from bot.discord.client import CitebotBot
from bot.discord.exts.docs import sites
from bot.discord.exts.docs.changes import ONE_SOURCE
from bot.discord.utils import progress
from bot.settings import Settings
from tests.generated_site import GeneratedSite
from tests.hostile_site import OFF_PATH, serve_hostile_site
from tests.loopback import ADMIN_PERMISSIONS, LoopbackDiscord, World
from tests.web_server import WebServer
from tests.wire.conftest import USER_ID, wire_settings
from tests.wire.test_wire_docs import GUILD, MANAGER_ID, MEMBER_ID, OTHER_GUILD, audit, followup


@pytest.fixture
def world() -> World:
    return World(owner_id=USER_ID, guild_ids=(GUILD, OTHER_GUILD))


@pytest.fixture(autouse=True)
def quick_progress(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress, "PROGRESS_EDIT_SECONDS", 0.0)


@pytest.fixture
def site() -> Iterator[GeneratedSite]:
    with GeneratedSite(4) as served:
        yield served


@pytest.fixture
def settings(tmp_path: Path, world: World, built_index_dir: Path) -> Settings:
    return wire_settings(
        tmp_path, world, index_dir=built_index_dir, collections_dir=tmp_path / "collections",
        fetch_private_addresses=True,  # the test's site is on 127.0.0.1
        crawl_delay_seconds=0.0,
    )


async def manager_runs(loopback: LoopbackDiscord, command: str, guild_id: int = GUILD,
                       **options: object) -> str:
    return await loopback.slash(command, user_id=MANAGER_ID, permissions=ADMIN_PERMISSIONS,
                                guild_id=guild_id, **options)


async def reply(loopback: LoopbackDiscord, token: str) -> dict:
    answer = await loopback.answered(token)
    return answer.message


async def asked(loopback: LoopbackDiscord, guild_id: int, question: str) -> str:
    token = await loopback.slash("ask", user_id=MEMBER_ID, guild_id=guild_id, question=question,
                                 k=5)
    answer = await loopback.answered(token)
    return json.dumps(answer.message.get("embeds") or [])


async def test_a_manager_crawls_a_site_lists_schedules_and_syncs_it(
    loopback: LoopbackDiscord, bot: CitebotBot, site: GeneratedSite
) -> None:
    token = await manager_runs(loopback, "docs add", url=site.url(), crawl=True)
    report = await followup(loopback, token)
    text = report.message["content"]
    assert text.startswith("Crawled **") and "Pages: 5 added, 0 changed, 0 removed" in text
    assert "This server's index now has 5 document(s)" in text
    edits = [r.message["content"] for r in loopback.recorder.for_token(token)
             if r.method == "PATCH" and r.path.endswith("/messages/@original")]
    assert any("Pages found: " in edit for edit in edits)
    assert "Page 2 section 1 version 1" in await asked(
        loopback, GUILD, "How does page 2 section 1 version 1 explain it?")
    assert "Page 2 section" not in await asked(
        loopback, OTHER_GUILD, "How does page 2 section 1 version 1 explain it?")

    listed = await reply(loopback, await manager_runs(loopback, "docs sources list"))
    description = listed["embeds"][0]["description"]
    assert "127.0.0.1" in description and "site" in description and "daily" in description
    other = await reply(loopback, await manager_runs(loopback, "docs sources list",
                                                     guild_id=OTHER_GUILD))
    assert "no crawled sites" in other["embeds"][0]["description"]

    (source,) = await asyncio.to_thread(bot.sources.of_collection, collection_for_guild(GUILD))
    elsewhere = await reply(loopback, await manager_runs(
        loopback, "docs sources schedule", guild_id=OTHER_GUILD, source=source.id,
        every="never"))
    assert elsewhere["content"] == sites.UNKNOWN_SOURCE  # another server's source: not found
    changed = await reply(loopback, await manager_runs(
        loopback, "docs sources schedule", source=source.id, every="weekly"))
    assert "now synced weekly" in changed["content"]

    site.change(1)
    site.bodies_sent.clear()
    token = await manager_runs(loopback, "docs sync")
    synced = (await followup(loopback, token)).message["content"]
    assert "Pages: 0 added, 1 changed, 0 removed, 4 unchanged" in synced
    assert site.bodies_sent == ["/docs/page-1.html"]  # the rest answered 304
    assert "version 2" in await asked(loopback, GUILD, "How does page 1 version 2 explain it?")
    log = await asyncio.to_thread(audit, bot, GUILD)
    assert [(action, result) for action, _, result in log] == [
        ("crawl", "ok"), ("sources", "ok"), ("sync", "ok")]
    latest = (await asyncio.to_thread(bot.servers.recent, GUILD, 1))[0]
    assert latest.user_id == MANAGER_ID and latest.target == site.url()
    assert "1 changed" in latest.detail and "changed: " in latest.detail
    assert "page-1.html" in latest.detail
    assert [action for action, _, _ in await asyncio.to_thread(audit, bot, OTHER_GUILD)] == [
        "sources"]  # its refused schedule change


async def test_the_scheduler_syncs_due_sources_under_the_lease(
    loopback: LoopbackDiscord, bot: CitebotBot, site: GeneratedSite
) -> None:
    token = await manager_runs(loopback, "docs add", url=site.url(), crawl=True)
    assert "5 added" in (await followup(loopback, token)).message["content"]
    assert await sites.run_due_syncs(bot, "this-process") == 0  # synced just now: not due

    site.delete(3)
    bot.sources._clock = lambda: time.time() + 2 * 86_400  # two days later
    assert await asyncio.to_thread(bot.sources.acquire_lease, sites.LEASE_NAME, "other", 60)
    assert await sites.run_due_syncs(bot, "this-process") == 0  # another process holds it
    await asyncio.to_thread(bot.sources.release_lease, sites.LEASE_NAME, "other")

    assert await sites.run_due_syncs(bot, "this-process") == 1
    (source,) = await asyncio.to_thread(bot.sources.of_collection, collection_for_guild(GUILD))
    assert source.result == "ok" and "1 missing once" in source.detail
    log = await asyncio.to_thread(audit, bot, GUILD)
    assert log[-1][0] == "sync" and log[-1][2] == "ok"


async def test_crawls_that_cannot_be_done_or_pass_a_limit_say_so(
    loopback: LoopbackDiscord, bot: CitebotBot, site: GeneratedSite
) -> None:
    refused = await reply(loopback, await manager_runs(loopback, "docs add", crawl=True))
    assert refused["content"] == ONE_SOURCE

    bot.settings = bot.settings.model_copy(update={"fetch_private_addresses": False})
    token = await manager_runs(loopback, "docs add", url=site.url(), crawl=True)
    text = (await followup(loopback, token, timeout=60)).message["content"]
    assert text.startswith("I couldn't fetch that site: ")
    assert "does not lead to a public internet address" in text and "127.0.0.1" in text
    assert site.server.requests == []  # nothing was requested from a private address

    bot.settings = bot.settings.model_copy(
        update={"fetch_private_addresses": True, "server_max_documents": 3})
    token = await manager_runs(loopback, "docs add", url=site.url(), crawl=True)
    text = (await followup(loopback, token)).message["content"]
    assert "Pages: 3 added" in text and "2 not added (limit)" in text
    assert "2 page(s) were not added: the collection may hold at most 3 documents" in text
    assert "This server's index now has 3 document(s)" in text
    assert "Traceback" not in text and str(bot.settings.collections_dir) not in text
    log = await asyncio.to_thread(audit, bot, GUILD)
    assert [(action, result) for action, _, result in log] == [
        ("add", "refused"), ("crawl", "refused"), ("crawl", "ok")]


async def test_an_added_address_is_a_source_until_its_document_is_removed(
    loopback: LoopbackDiscord, bot: CitebotBot, site: GeneratedSite
) -> None:
    token = await manager_runs(loopback, "docs add", url=site.url("/docs/page-2.html"))
    assert (await followup(loopback, token)).message["content"].startswith("Added **")
    collection = collection_for_guild(GUILD)
    (source,) = await asyncio.to_thread(bot.sources.of_collection, collection)
    assert (source.url, source.crawl) == (site.url("/docs/page-2.html"), False)
    assert await asyncio.to_thread(bot.sources.of_collection, collection_for_guild(OTHER_GUILD)) \
        == []

    site.change(2)
    token = await manager_runs(loopback, "docs sync")
    synced = (await followup(loopback, token)).message["content"]
    assert "Pages: 0 added, 1 changed, 0 removed, 0 unchanged" in synced

    token = await manager_runs(loopback, "docs remove", name="page-2.html")
    await followup(loopback, token, timeout=60)
    assert await asyncio.to_thread(bot.sources.of_collection, collection) == []


async def test_removing_a_source_removes_its_pages(
    loopback: LoopbackDiscord, bot: CitebotBot, site: GeneratedSite
) -> None:
    token = await manager_runs(loopback, "docs add", url=site.url(), crawl=True)
    assert "5 added" in (await followup(loopback, token)).message["content"]
    collection = collection_for_guild(GUILD)
    (source,) = await asyncio.to_thread(bot.sources.of_collection, collection)
    elsewhere = await reply(loopback, await manager_runs(
        loopback, "docs sources remove", guild_id=OTHER_GUILD, source=source.id))
    assert elsewhere["content"] == sites.UNKNOWN_SOURCE
    assert len(await asyncio.to_thread(bot.collections.documents, collection)) == 5

    token = await manager_runs(loopback, "docs sources remove", source=source.id)
    text = (await followup(loopback, token, timeout=60)).message["content"]
    assert text.startswith("Removed **") and "its 5 page(s); no documents left" in text
    assert await asyncio.to_thread(bot.sources.of_collection, collection) == []
    assert not await asyncio.to_thread(bot.collections.exists, collection)
    assert "Page 2 section" not in await asked(
        loopback, GUILD, "How does page 2 section 1 version 1 explain it?")
    log = await asyncio.to_thread(audit, bot, GUILD)
    assert [(action, result) for action, _, result in log] == [("crawl", "ok"), ("sources", "ok")]


async def test_docs_list_shows_the_sources_and_a_removed_page_stays_out_of_syncs(
    loopback: LoopbackDiscord, bot: CitebotBot, site: GeneratedSite
) -> None:
    token = await manager_runs(loopback, "docs add", url=site.url(), crawl=True)
    assert "5 added" in (await followup(loopback, token)).message["content"]
    collection = collection_for_guild(GUILD)
    folder = f"127.0.0.1-{site.server.port}-docs"
    listed = await followup(loopback, await loopback.slash("docs list", user_id=MEMBER_ID,
                                                           guild_id=GUILD))
    (field,) = listed.message["embeds"][0]["fields"]  # anyone sees the sources in the list
    assert field["name"] == "Sources" and field["value"].startswith(
        "1 source(s): 1 crawled site(s), 0 single page(s). Last syncs: 1 ok.")
    assert f"site {site.url()} — daily, last sync <t:" in field["value"]
    elsewhere = await followup(loopback, await loopback.slash("docs list", user_id=MEMBER_ID,
                                                              guild_id=OTHER_GUILD))
    assert "fields" not in elsewhere.message["embeds"][0] or not elsewhere.message["embeds"][0][
        "fields"]
    token = await manager_runs(loopback, "docs remove", name=f"{folder}/page-2.html")
    text = (await followup(loopback, token, timeout=60)).message["content"]
    assert text.startswith("Removed **") and "It stays out of the syncs of **" in text
    assert "`/docs add url:`" in text and "`/docs sources remove`" in text
    assert "This server's index now has 4 document(s)" in text

    site.server.requests.clear()
    token = await manager_runs(loopback, "docs sync")
    synced = (await followup(loopback, token)).message["content"]
    assert "Pages: 0 added, 0 changed, 0 removed, 4 unchanged" in synced
    assert "/docs/page-2.html" not in site.server.requests  # listed, never asked for
    names = [d.name for d in await asyncio.to_thread(bot.collections.documents, collection)]
    assert f"{folder}/page-2.html" not in names and len(names) == 4

    token = await manager_runs(loopback, "docs add", url=site.url("/docs/page-2.html"))
    assert (await followup(loopback, token)).message["content"].startswith("Added **")
    (source,) = await asyncio.to_thread(bot.sources.of_collection, collection)  # the site's page
    assert source.crawl and await asyncio.to_thread(bot.sources.excluded, source.id) == set()
    site.change(2)
    token = await manager_runs(loopback, "docs sync")
    synced = (await followup(loopback, token)).message["content"]
    assert "Pages: 0 added, 1 changed, 0 removed, 4 unchanged" in synced
    assert "version 2" in await asked(loopback, GUILD, "How does page 2 version 2 explain it?")


async def test_a_hostile_site_is_bounded_and_each_fault_is_in_the_reply(
    loopback: LoopbackDiscord, bot: CitebotBot
) -> None:
    """Redirects off the path and in a loop, 10,000 links, a trickling page, HTML for
    sitemap.xml and an endless sitemap: the crawl keeps what it could, says what it cut and
    why, and leaves nothing half-written."""
    bot.settings = bot.settings.model_copy(
        update={"crawl_max_pages": 6, "fetch_timeout_seconds": 1})
    collection = collection_for_guild(GUILD)
    with WebServer() as web:
        start = serve_hostile_site(web)
        token = await manager_runs(loopback, "docs add", url=start, crawl=True)
        text = (await followup(loopback, token, timeout=120)).message["content"]
        assert OFF_PATH not in web.requests
    assert text.startswith("Crawled **") and "Pages: 2 added" in text, text
    assert "is not a sitemap" in text  # HTML served as sitemap.xml
    assert "sitemap.xml was not read" in text  # the endless one, cut at the page deadline
    assert "at most 6 pages per site" in text
    assert "beyond the first 2,000 of a page were not read" in text  # the 10,000 links
    assert "3 failed," in text and "old cop" not in text  # a first crawl has no old copies
    assert "3 page(s) could not be fetched this time:" in text
    assert "redirect loop" in text and "did not answer within 1 s" in text  # p2/p3, p1
    assert "1 page(s) skipped:" in text and "redirects off the site's path" in text
    assert "This server's index now has 2 document(s)" in text
    assert "Traceback" not in text and str(bot.settings.collections_dir) not in text
    names = sorted(d.name.rsplit("/", 1)[1]
                   for d in await asyncio.to_thread(bot.collections.documents, collection))
    assert names == ["index.html", "p4.html"]
    source_dir = bot.collections.settings_for(collection).source_dir
    assert not list(source_dir.glob(".citebot-crawl-*"))  # no staging folder left
    assert not [p for p in source_dir.rglob("*") if p.name.startswith(".") and p.is_file()]
    recorded = (source_dir / "sources.toml").read_text()
    assert "p4.html" in recorded and "p1.html" not in recorded and "p2.html" not in recorded


async def test_a_sync_killed_halfway_is_completed_by_the_next_docs_sync(
    loopback: LoopbackDiscord, bot: CitebotBot, site: GeneratedSite, tmp_path: Path
) -> None:
    """A ``citebot --collection guild-… sync`` of the server's site is killed (SIGKILL) after it
    wrote the changed page and before its build: the bot goes on answering from the previous
    index, and the next ``/docs sync`` builds what the killed one left and tidies up."""
    import os
    import signal
    import subprocess
    import sys

    from tests.bot.test_cli import clean_environment

    token = await manager_runs(loopback, "docs add", url=site.url(), crawl=True)
    assert "5 added" in (await followup(loopback, token)).message["content"]
    collection = collection_for_guild(GUILD)
    site.change(1)
    env = clean_environment({
        "CITEBOT_COLLECTIONS_DIR": str(bot.settings.collections_dir.resolve()),
        "CITEBOT_STATE_DB": str(bot.settings.state_db.resolve()),
        "CITEBOT_CRAWL_DELAY_SECONDS": "0", "PYTHONUNBUFFERED": "1",
    })
    child = subprocess.Popen(
        [sys.executable, "-m", "bot", "--collection", collection, "sync"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
    )
    assert child.stdout is not None and child.stderr is not None
    line = await asyncio.to_thread(child.stdout.readline)  # the pages are in place, no build
    assert line.startswith("Synced") and "1 changed" in line, line
    os.kill(child.pid, signal.SIGKILL)
    await asyncio.to_thread(child.wait, 60)
    child.stdout.close()
    child.stderr.close()
    (source,) = await asyncio.to_thread(bot.sources.of_collection, collection)
    assert source.result == "running"  # what the kill left: the mark, and a backup
    source_dir = bot.collections.settings_for(collection).source_dir
    assert len(list(source_dir.rglob(".*.previous"))) == 1
    assert "version 2" not in await asked(
        loopback, GUILD, "How does page 1 version 2 explain it?")  # the previous index answers

    token = await manager_runs(loopback, "docs sync")
    synced = (await followup(loopback, token)).message["content"]
    assert "Pages: 0 added, 0 changed, 0 removed, 5 unchanged" in synced
    assert "This server's index now has 5 document(s)" in synced  # built all the same
    assert "version 2" in await asked(loopback, GUILD, "How does page 1 version 2 explain it?")
    assert not list(source_dir.rglob(".*.previous"))
    assert not list(source_dir.glob(".citebot-crawl-*"))
    (source,) = await asyncio.to_thread(bot.sources.of_collection, collection)
    assert source.result == "ok"
