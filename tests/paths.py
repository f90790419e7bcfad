"""Where the suite's own copy of the article lives.

Tests and benchmarks never read the project's ``source_docs/``: users put their own documents
there (a PDF, a Markdown file), and the suite must pass in a production folder all the same.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ARTICLE_DIR = ROOT / "tests" / "data" / "article"
"""A source folder holding only the bundled article (a copy of the one in ``source_docs/``)."""
ARTICLE_NAME = "north-korea-allied-coordination.txt"
ARTICLE = ARTICLE_DIR / ARTICLE_NAME
