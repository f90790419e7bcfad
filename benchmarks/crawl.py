"""Crawl a 300-page documentation site and keep it current (issue 22).

A site generated and served on 127.0.0.1 (``tests/generated_site.py``: HTML pages of about
3.5 kB of prose each, a ``sitemap.xml``, ``ETag`` and ``Last-Modified`` on every page, 304 to a
matching conditional request) is crawled into a fresh collection through ``bot.core.sites`` (what
``citebot add URL --crawl`` runs) and built once with the real model. Then:

1. a sync with nothing changed (every page asked for conditionally);
2. a sync after 5 pages changed and 2 were deleted (the deleted ones count their first miss:
   the index page that listed them changes too);
3. the next sync, which removes the 2 deleted pages (their second miss).

For each: seconds (fetching, then the build when anything changed), page bodies downloaded,
304s, and texts embedded; each sync's time against the full crawl's (fetch + build).

    .venv/bin/python benchmarks/crawl.py [--pages 300] [--delay 0] [--concurrency 2]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.core import sites  # noqa: E402
from bot.core.engine import Engine  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.state.sources import SourceStore  # noqa: E402
from tests.generated_site import GeneratedSite  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--delay", type=float, default=0.0,
                        help="CITEBOT_CRAWL_DELAY_SECONDS (default here 0: the site is local)")
    parser.add_argument("--concurrency", type=int, default=2)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as temporary, GeneratedSite(args.pages) as site:
        folder = Path(temporary)
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None, source_dir=folder / "src", index_dir=folder / "idx",
            state_db=folder / "state.sqlite3", crawl_delay_seconds=args.delay,
            crawl_concurrency=args.concurrency, crawl_max_pages=max(500, args.pages + 10),
        )
        store = SourceStore(settings.state_db)
        engine = Engine(settings)
        limits = sites.crawl_limits(settings)

        def run(label: str, crawl: bool) -> float:
            site.bodies_sent.clear()
            site.not_modified.clear()
            began = time.perf_counter()
            change = sites.fetch_source(
                settings.source_dir, store, "default", site.url(), limits, crawl_site=crawl,
                schedule="daily", allow_private=True,
            )
            fetched = time.perf_counter() - began
            embedded = texts = 0
            build = 0.0
            if change.any_change:
                began_build = time.perf_counter()
                report = engine.rebuild(wait=True)
                build = time.perf_counter() - began_build
                embedded, texts = report.embedded, report.embedded + report.reused
            change.keep()
            total = fetched + build
            pages = len(change.report.pages)
            print(
                f"{label:<34} {total:7.2f} s (fetch {fetched:6.2f} s, "
                f"{pages / fetched:6.1f} pages/s; build {build:6.2f} s) | bodies "
                f"{len(site.bodies_sent):3d}, 304s {len(site.not_modified):3d} | "
                f"{change.summary()} | embedded {embedded} of {texts} texts",
                flush=True,
            )
            return total

        full = run(f"crawl {args.pages} pages + build", crawl=True)
        unchanged = run("sync, nothing changed", crawl=True)
        for number in range(5):
            site.change(10 + number * 7)
        site.delete(3)
        site.delete(4)
        changed = run("sync, 5 changed + 2 deleted", crawl=True)
        removed = run("sync again (2 removed)", crawl=True)
        print(
            f"\nof the full crawl's time: nothing changed {100 * unchanged / full:.1f} %, "
            f"5 changed + 2 deleted {100 * changed / full:.1f} %, "
            f"the removing sync {100 * removed / full:.1f} %"
        )
        store.close()


if __name__ == "__main__":
    main()
