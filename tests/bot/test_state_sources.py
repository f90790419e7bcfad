"""The source registry and the scheduler's lease, on SQLite and PostgreSQL (``state_url``)."""

from __future__ import annotations

from bot.state.sources import PageRecord, SourceStore


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_sources_pages_and_what_is_due(state_url) -> None:
    clock = Clock()
    store = SourceStore(state_url, clock=clock)
    site = store.add("guild-1", "https://docs.example.com/", crawl=True, schedule="daily")
    page = store.add("guild-1", "https://example.com/faq", crawl=False, schedule="weekly")
    store.add("guild-2", "https://other.example.com/", crawl=True, schedule="never")
    assert [s.url for s in store.of_collection("guild-1")] == [site.url, page.url]
    assert store.by_id("guild-2", site.id) is None  # another server's id finds nothing
    assert store.add("guild-1", site.url, crawl=False, schedule="weekly").schedule == "daily"

    store.begin_sync(site.id)
    assert store.get("guild-1", site.url).result == "running"
    pages = [PageRecord("https://docs.example.com/a", "site/a.html", '"e1"', None, 0),
             PageRecord("https://docs.example.com/b", "site/b.html", None, "Mon, 1 Jan", 1)]
    store.finish_sync(site.id, "ok", "2 added", pages)
    assert store.pages(site.id) == pages
    synced = store.get("guild-1", site.url)
    assert (synced.result, synced.detail, synced.synced_at, synced.started_at) == (
        "ok", "2 added", clock.now, None)
    store.finish_sync(site.id, "failed", "timeout", None)  # pages kept as they were
    assert store.pages(site.id) == pages

    assert store.due() == []
    clock.now += 86_400
    assert [s.url for s in store.due()] == [site.url]
    clock.now += 6 * 86_400
    assert {s.url for s in store.due()} == {site.url, page.url}
    store.set_schedule(site.id, "never")
    assert [s.url for s in store.due()] == [page.url]

    store.remove(site.id)
    assert store.pages(site.id) == [] and store.get("guild-1", site.url) is None
    store.forget_collection("guild-1")
    assert store.of_collection("guild-1") == [] and len(store.of_collection("guild-2")) == 1
    store.close()


def test_a_page_removed_by_hand_is_excluded_until_readmitted_or_its_source_goes(
    state_url,
) -> None:
    store = SourceStore(state_url, clock=Clock())
    site = store.add("guild-1", "https://docs.example.com/", crawl=True, schedule="daily")
    other = store.add("guild-2", "https://docs.example.com/", crawl=True, schedule="daily")
    a, b = "https://docs.example.com/a", "https://docs.example.com/b"
    store.finish_sync(site.id, "ok", "", [PageRecord(a, "site/a.html"),
                                           PageRecord(b, "site/b.html")])
    store.exclude(site.id, a)
    store.exclude(site.id, a)  # twice is once
    assert store.excluded(site.id) == {a} and store.excluded(other.id) == set()
    assert [page.url for page in store.pages(site.id)] == [b]
    assert store.readmit("guild-2", a, "a.html") is None  # another server's exclusion
    assert store.readmit("guild-1", b, "b.html") is None  # never excluded
    assert store.readmit("guild-1", a, "a.html") == store.get("guild-1", site.url)
    assert store.excluded(site.id) == set()
    assert store.pages(site.id) == [PageRecord(a, "a.html"), PageRecord(b, "site/b.html")]

    store.exclude(site.id, b)
    store.remove(site.id)
    assert store.excluded(site.id) == set()
    store.exclude(other.id, a)
    store.forget_collection("guild-2")
    assert store.excluded(other.id) == set()
    store.close()


def test_one_holder_at_a_time_and_a_dead_holders_lease_expires(state_url) -> None:
    clock = Clock()
    first, second = SourceStore(state_url, clock=clock), SourceStore(state_url, clock=clock)
    assert first.acquire_lease("sync", "process-a", 60)
    assert not second.acquire_lease("sync", "process-b", 60)
    assert first.acquire_lease("sync", "process-a", 60)  # renewed
    clock.now += 61  # process-a died without releasing
    assert second.acquire_lease("sync", "process-b", 60)
    assert not first.acquire_lease("sync", "process-a", 60)
    second.release_lease("sync", "process-b")
    assert first.acquire_lease("sync", "process-a", 60)
    first.close()
    second.close()


async def test_a_sync_in_progress_keeps_the_lease_past_its_length(
    tmp_path, monkeypatch
) -> None:
    """A sync that outlasts the lease renews it, so another process cannot start syncing
    meanwhile (issue 22: due syncs run in one process only); once it ends, renewals stop."""
    import asyncio
    from types import SimpleNamespace

    from bot.discord.exts.docs import sites

    monkeypatch.setattr(sites, "LEASE_RENEW_SECONDS", 0.02)
    clock = Clock()
    store = SourceStore(tmp_path / "state.sqlite3", clock=clock)
    bot = SimpleNamespace(sources=store)
    try:
        assert store.acquire_lease(sites.LEASE_NAME, "a", sites.LEASE_SECONDS)
        async with sites.holding_lease(bot, "a"):  # type: ignore[arg-type]
            clock.now += sites.LEASE_SECONDS * 0.6
            await asyncio.sleep(0.2)  # renewed, from this moment
            clock.now += sites.LEASE_SECONDS * 0.6  # past the first lease's end
            assert not store.acquire_lease(sites.LEASE_NAME, "b", sites.LEASE_SECONDS)
        clock.now += sites.LEASE_SECONDS * 2
        await asyncio.sleep(0.1)  # no renewal after the sync
        assert store.acquire_lease(sites.LEASE_NAME, "b", sites.LEASE_SECONDS)
    finally:
        store.close()
