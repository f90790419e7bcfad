"""Crawled sites and synced addresses, for every front end: crawl a site into a collection, sync
a source again, and settle either after the build.

:func:`fetch_source` crawls (:mod:`index.ingest.crawler`) into a hidden staging folder, then moves
the pages into the collection's source folder: new pages under a folder named after the site, a
changed page over its old copy (kept as a hidden backup), a page gone from the site (404/410, or no
longer in the sitemap and links) removed only on its second miss in a row; a server error or a
timeout keeps the old copy and is reported. The server's limits (documents, bytes) are checked
before anything is written. The result is a :class:`SiteChange`: the caller runs ONE incremental
build, then ``keep()`` records the pages and how the sync went (in the state database, with the
validators of the next conditional requests), or ``undo()`` puts every replaced page back and
deletes the new ones, so the folder is as it was. A sync killed halfway leaves the previous index
answering; its ``running`` mark makes the next sync build.
All functions block (network, files, database): Discord runs them on threads.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

from bot.core.documents import folder_usage
from bot.settings import Settings
from bot.state.sources import PageRecord, Source, SourceStore
from index.errors import SourceError
from index.ingest.addresses import load_addresses, record_addresses
from index.ingest.crawler import (
    CrawlLimits,
    CrawlProgress,
    CrawlReport,
    PageResult,
    Scope,
    Validators,
    crawl,
    normalise,
)
from index.ingest.fetcher import FetchLimits
from index.ingest.intake import (
    limit_length,
    name_from_url,
    place,
    remove_document,
    safe_file_name,
    target_folder,
    with_suffix,
)

MISSES_TO_REMOVE = 2
"""Syncs in a row that must miss a page before it is removed (one outage must not empty a
collection)."""
STAGING_PREFIX = ".citebot-crawl-"


def crawl_limits(settings: Settings) -> CrawlLimits:
    """The crawl limits the settings give (pages, pacing, and per page the download limits)."""
    return CrawlLimits(
        FetchLimits(
            settings.max_source_bytes, settings.fetch_timeout_seconds,
            settings.fetch_max_redirects,
        ),
        max_pages=settings.crawl_max_pages,
        delay_seconds=settings.crawl_delay_seconds,
        concurrency=settings.crawl_concurrency,
        max_sitemap_bytes=settings.max_source_bytes,
    )


@dataclass(frozen=True)
class FolderLimits:
    """What the collection may hold after the change (None: no limit): documents and bytes."""

    max_documents: int | None = None
    max_bytes: int | None = None


@dataclass
class SiteChange:
    """What a crawl or sync changed in the source folder, pending the build."""

    source_dir: Path
    store: SourceStore
    collection: str
    url: str
    crawl: bool
    schedule: str
    source: Source | None
    report: CrawlReport
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # missed once: kept until the next miss
    over_limit: list[str] = field(default_factory=list)
    limit_note: str = ""
    pages: list[PageRecord] = field(default_factory=list)
    backups: dict[str, Path] = field(default_factory=dict)
    removed_backups: dict[str, tuple[Path, str]] = field(default_factory=dict)
    needs_build: bool = False

    @property
    def any_change(self) -> bool:
        return bool(self.added or self.changed or self.removed) or self.needs_build

    def summary(self) -> str:
        """One line: what changed (pages, not file names, so it is safe to show anywhere)."""
        parts = [
            f"{len(self.added)} added", f"{len(self.changed)} changed",
            f"{len(self.removed)} removed", f"{self.unchanged} unchanged",
        ]
        if self.failed:
            had = {page.url for page in self.pages}  # a failed page keeps its record
            earlier = sum(url in had for url, _ in self.failed)
            kept = (" (old copy kept)" if earlier == len(self.failed)
                    else f" ({earlier} old cop(ies) kept)" if earlier else "")
            parts.append(f"{len(self.failed)} failed{kept}")
        if self.missing:
            parts.append(f"{len(self.missing)} missing once (removed if missed again)")
        if self.skipped:
            parts.append(f"{len(self.skipped)} skipped")
        if self.over_limit:
            parts.append(f"{len(self.over_limit)} not added (limit)")
        return ", ".join(parts)

    def named(self, limit: int = 10) -> list[tuple[str, list[str], int]]:
        """(what, the first ``limit`` document names, how many in all) for added, changed and
        removed pages: for reports and the audit log."""
        return [
            (what, names[:limit], len(names))
            for what, names in (("added", self.added), ("changed", self.changed),
                                ("removed", self.removed))
            if names
        ]

    def audit_detail(self) -> str:
        """The summary and the names of what changed, for an audit entry."""
        parts = [self.summary()]
        for what, names, count in self.named(5):
            more = f" and {count - len(names)} more" if count > len(names) else ""
            parts.append(f"{what}: {', '.join(names)}{more}")
        return "; ".join(parts)

    def keep(self, result: str = "ok") -> Source:
        """The build read the folder: delete the backups, record the source, its pages and how
        the sync went."""
        for backup in self.backups.values():
            backup.unlink(missing_ok=True)
        for backup, _ in self.removed_backups.values():
            backup.unlink(missing_ok=True)
        self.backups.clear()
        self.removed_backups.clear()
        source = self.source or self.store.add(
            self.collection, self.url, crawl=self.crawl, schedule=self.schedule
        )
        if self.failed and result == "ok":
            result = "partial"
        self.store.finish_sync(source.id, result, self.audit_detail(), self.pages)
        self.source = source
        return source

    def undo(self, reason: str) -> None:
        """The build failed: put every replaced or removed page back, delete the new ones, and
        record the failed sync (the old pages and validators stay)."""
        for name, backup in self.backups.items():
            with contextlib.suppress(OSError):
                os.replace(backup, self.source_dir / name)
        for name, (backup, url) in self.removed_backups.items():
            with contextlib.suppress(OSError):
                os.replace(backup, self.source_dir / name)
                record_addresses(self.source_dir, {name: url})
        for name in self.added:
            with contextlib.suppress(SourceError):
                remove_document(self.source_dir, name)
        self.backups.clear()
        self.removed_backups.clear()
        if self.source is not None:
            self.store.finish_sync(self.source.id, "failed", reason, None)


def fetch_source(
    source_dir: Path,
    store: SourceStore,
    collection: str,
    url: str,
    limits: CrawlLimits,
    *,
    crawl_site: bool,
    schedule: str,
    folder_limits: FolderLimits = FolderLimits(),
    allow_private: bool = False,
    user_agent: str = "citebot",
    progress: Callable[[CrawlProgress], None] | None = None,
) -> SiteChange:
    """Crawl (``crawl_site``) or fetch the source ``url`` of ``collection`` into ``source_dir``:
    a new source, or a sync of a registered one (conditional requests with its validators).
    Raises CrawlError/FetchError when the start address cannot be used, SourceError for a
    folder problem; nothing is written then."""
    url = normalise(url)
    source = store.get(collection, url)
    records = {page.url: page for page in store.pages(source.id)} if source else {}
    source_dir.mkdir(parents=True, exist_ok=True)
    load_addresses(source_dir)  # a broken sources.toml stops us before any download
    _sweep_staging(source_dir)
    staging = source_dir / f"{STAGING_PREFIX}{os.getpid()}-{secrets.token_hex(6)}"
    staging.mkdir()
    try:
        report = crawl(
            url, staging, limits,
            known={u: Validators(r.etag, r.last_modified) for u, r in records.items()},
            stored=lambda page: _stored(source_dir, records, page),
            allow_private=allow_private, user_agent=user_agent, progress=progress,
            follow=crawl_site or bool(source and source.crawl),
            excluded=store.excluded(source.id) if source else (),
        )
        change = SiteChange(
            source_dir, store, collection, url, crawl_site or bool(source and source.crawl),
            source.schedule if source else schedule, source, report,
            needs_build=bool(source and source.result == "running"),
        )
        if source is not None:
            store.begin_sync(source.id)
        try:
            _apply(change, records, folder_limits)
        except BaseException:
            change.undo("the sync stopped before its pages were written")
            raise
        return change
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _sweep_staging(source_dir: Path) -> None:
    """Clean up after a sync that was killed: delete the staging folders of crawls whose
    process is gone (a staging folder is named after its process), and, when no other crawl
    is running here, settle the backups it left: a page whose new copy never arrived gets its
    old one back; any other backup is obsolete (the page on disk is the newer one)."""
    running = False
    for folder in source_dir.glob(f"{STAGING_PREFIX}*"):
        pid = folder.name.removeprefix(STAGING_PREFIX).split("-", 1)[0]
        try:
            os.kill(int(pid), 0)
        except (ProcessLookupError, ValueError):
            shutil.rmtree(folder, ignore_errors=True)
            continue
        except OSError:  # alive (another user's)
            pass
        running = True
    if running:
        return
    for backup in [*source_dir.rglob(".*.previous"), *source_dir.rglob(".*.removed")]:
        page = backup.with_name(backup.name[1:].rsplit(".", 1)[0])
        if backup.suffix == ".previous" and not page.exists():
            os.replace(backup, page)
        else:
            backup.unlink(missing_ok=True)


def _stored(source_dir: Path, records: dict[str, PageRecord], url: str) -> Path | None:
    record = records.get(url)
    if record is None:
        return None
    path = source_dir / record.name
    return path if path.is_file() else None


def _apply(change: SiteChange, records: dict[str, PageRecord], limits: FolderLimits) -> None:
    """Move the crawl's pages into the folder, decide what a miss removes, check the limits."""
    report, source_dir = change.report, change.source_dir
    listed = report.listed
    new: list[PageResult] = []
    kept: list[PageRecord] = []
    for url, record in records.items():
        page = report.pages.get(url)
        present = (source_dir / record.name).is_file()
        if page is None or not present:
            if present:  # not reached this time (a page limit): kept as it was
                kept.append(record)
            continue
        missed = page.outcome in ("gone", "skipped") or (
            listed is not None and url != report.start and url not in listed
            and page.outcome in ("fetched", "not_modified")
        )
        if page.outcome == "failed":
            change.failed.append((url, page.reason))
            kept.append(record)
            continue
        if missed:
            misses = record.misses + 1
            if misses >= MISSES_TO_REMOVE:
                _remove(change, record)
                continue
            change.missing.append(url)
            kept.append(PageRecord(url, record.name, record.etag, record.last_modified, misses))
            if page.outcome == "fetched" and page.path is not None:
                page.path.unlink(missing_ok=True)
            continue
        validators = page.validators
        if page.outcome == "fetched" and page.path is not None:
            target = source_dir / record.name
            if _same_bytes(page.path, target):
                change.unchanged += 1
            else:
                backup = target.with_name(f".{target.name}.previous")
                os.replace(target, backup)
                change.backups[record.name] = backup
                os.replace(page.path, target)
                change.changed.append(record.name)
        else:
            change.unchanged += 1
        kept.append(PageRecord(url, record.name, validators.etag, validators.last_modified, 0))
    for url, page in report.pages.items():
        if url in records:
            continue
        if page.outcome == "fetched" and page.path is not None:
            new.append(page)
        elif page.outcome == "failed":
            change.failed.append((url, page.reason))
        elif page.outcome in ("skipped", "gone") and not (
            page.outcome == "skipped" and page.reason.startswith("the same page as")
        ):
            change.skipped.append((url, page.reason))
    new = _within_limits(change, new, limits)
    _place_new(change, new, kept)
    change.pages = kept


def _same_bytes(staged: Path, target: Path) -> bool:
    try:
        if staged.stat().st_size != target.stat().st_size:
            return False
        return staged.read_bytes() == target.read_bytes()
    except OSError:
        return False


def _remove(change: SiteChange, record: PageRecord) -> None:
    """Remove a page missed twice in a row; its file is kept as a hidden backup until the
    build has run (``undo`` puts it back)."""
    target = change.source_dir / record.name
    backup = target.with_name(f".{target.name}.removed")
    try:
        shutil.copy2(target, backup)
        remove_document(change.source_dir, record.name)
    except (OSError, SourceError):
        backup.unlink(missing_ok=True)
        return
    change.removed_backups[record.name] = (backup, record.url)
    change.removed.append(record.name)


def _within_limits(
    change: SiteChange, new: list[PageResult], limits: FolderLimits
) -> list[PageResult]:
    """The new pages that fit the collection's limits (in the order found); the others are
    deleted from the staging folder and reported, before anything is written."""
    if limits.max_documents is None and limits.max_bytes is None:
        return new
    documents, total = folder_usage(change.source_dir)
    fits: list[PageResult] = []
    for page in new:
        if limits.max_documents is not None and documents + 1 > limits.max_documents:
            change.limit_note = (
                f"the collection may hold at most {limits.max_documents} documents"
            )
        elif limits.max_bytes is not None and total + page.size > limits.max_bytes:
            change.limit_note = f"the collection may hold at most {limits.max_bytes / 1e6:g} MB"
        else:
            fits.append(page)
            documents, total = documents + 1, total + page.size
            continue
        change.over_limit.append(page.url)
        if page.path is not None:
            page.path.unlink(missing_ok=True)
    return fits


def site_folder(url: str) -> str:
    """The folder a site's pages go to: its host and start path, e.g. ``docs.example.com-guide``."""
    scope = Scope.of(url)
    parts = [safe_file_name(urlsplit(url).netloc.replace(":", "-"))]
    parts += [safe_file_name(s) for s in scope.prefix.split("/") if s]
    return limit_length("-".join(p for p in parts if p) or "site", 80)


def page_name(url: str, start: str, suffixes: tuple[str, ...]) -> str:
    """A page's file name from its path under the start folder: ``guide-install.html``; the
    start folder itself is ``index.html``."""
    scope = Scope.of(start)
    path = unquote(urlsplit(url).path)[len(scope.prefix):]
    segments = [safe_file_name(s) for s in PurePosixPath(path).parts if s not in ("/", "")]
    query = urlsplit(url).query
    name = "-".join(s for s in segments if s) or "index"
    if query:
        name += "-" + safe_file_name(query)[:40]
    return limit_length(with_suffix(name, suffixes))


def _place_new(change: SiteChange, new: list[PageResult], kept: list[PageRecord]) -> None:
    """Move the new pages into the site's folder (a single address: the folder's top) and
    record their addresses in ``sources.toml`` at once."""
    if not new:
        return
    source_dir = change.source_dir
    folder = site_folder(change.url) if change.crawl else None
    recorded = dict(load_addresses(source_dir).files)
    addresses: dict[str, str] = {}
    with target_folder(source_dir, folder) as where:
        for page in new:
            assert page.path is not None
            address = page.final_url or page.url
            if change.crawl:
                wanted = page_name(address, change.url, page.suffixes)
            else:
                wanted = limit_length(with_suffix(name_from_url(address), page.suffixes))
            placed = place(page.path, where, source_dir, wanted, recorded, address)
            recorded[placed.name] = address
            addresses[placed.name] = address
            change.added.append(placed.name)
            kept.append(PageRecord(page.url, placed.name, page.validators.etag,
                                   page.validators.last_modified, 0))
    try:
        record_addresses(source_dir, addresses)
    except BaseException:
        for name in change.added:
            (source_dir / name).unlink(missing_ok=True)
        change.added.clear()
        raise


def record_single_page(
    store: SourceStore, collection: str, url: str, name: str, schedule: str
) -> Source:
    """Register one added web address (``citebot add URL``, ``/docs add url:``) as a source
    whose only page is the document ``name``, so syncs keep it current too. A page removed by
    hand from a crawled site and added again by its address goes back into that site's
    source instead (its syncs no longer leave it out)."""
    key = normalise(url)
    readmitted = store.readmit(collection, key, name)
    if readmitted is not None:
        return readmitted
    source = store.add(collection, key, crawl=False, schedule=schedule)
    if not source.crawl:
        store.finish_sync(source.id, "ok", "added", [PageRecord(key, name)])
    return source


def forget_document(store: SourceStore, collection: str, name: str) -> Source | None:
    """A document was removed by hand. A single address whose page it was stops being a
    source (its sync would download it again). A crawled site's page is excluded from the
    site's syncs, so they do not bring it back while the site lists it (removing the source,
    or adding the page again by its address, lifts that): that site is returned, else None."""
    excluded_from: Source | None = None
    for source in store.of_collection(collection):
        page = next((p for p in store.pages(source.id) if p.name == name), None)
        if page is None:
            continue
        if source.crawl:
            store.exclude(source.id, page.url)
            excluded_from = excluded_from or source
        else:
            store.remove(source.id)
    return excluded_from


def remove_source(source_dir: Path, store: SourceStore, source: Source) -> list[str]:
    """Delete a source's pages from the folder and the source from the registry; the names
    removed (the caller rebuilds)."""
    removed: list[str] = []
    for record in store.pages(source.id):
        with contextlib.suppress(SourceError):
            remove_document(source_dir, record.name)
            removed.append(record.name)
    store.remove(source.id)
    return removed
