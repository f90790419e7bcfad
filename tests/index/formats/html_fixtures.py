"""Builders of web pages for tests: the bundled article as a real-looking page, with navigation,
a cookie banner, scripts, styles and a footer full of links around it."""

from __future__ import annotations

import html
from pathlib import Path

from index.ingest.formats.plain import is_plain_heading
from tests.conftest import ARTICLE

ARTICLE_HTML_TITLE = "Three challenges for allied coordination on North Korea | Example Institute"
ARTICLE_HTML_H1 = "Three challenges for allied coordination on North Korea"
ARTICLE_CANONICAL = "https://example.org/analysis/north-korea-allied-coordination"
BOILERPLATE = (  # text of the page that is not the article: none of it may be indexed
    "Subscribe to our newsletter",
    "Experts and scholars",
    "We use cookies to improve your experience",
    "Accept all cookies",
    "Privacy policy",
    "Terms of use",
    "All rights reserved",
    "Follow us on social media",
    "tracking code",
    "font-family",
)


def article_paragraphs() -> list[str]:
    """The bundled article's blank-line separated paragraphs (headings among them)."""
    text = ARTICLE.read_bytes().decode("utf-8-sig")
    return [part.strip() for part in text.split("\n\n") if part.strip()]


def article_headings() -> list[str]:
    """The article's section headings: its short lines without final punctuation."""
    return [part for part in article_paragraphs() if is_plain_heading(part)]


def article_page(canonical: str | None = ARTICLE_CANONICAL) -> str:
    """The article as an HTML page: an h1, its headings as h2, its paragraphs as p."""
    body = []
    for part in article_paragraphs():
        tag = "h2" if is_plain_heading(part) else "p"
        body.append(f"      <{tag}>{html.escape(part, quote=False)}</{tag}>")
    canonical_link = (
        f'  <link rel="canonical" href="{html.escape(canonical)}">\n' if canonical else ""
    )
    footer_links = "\n".join(
        f'        <li><a href="/{slug}">{label}</a></li>'
        for slug, label in (
            ("about", "About us"), ("privacy", "Privacy policy"), ("terms", "Terms of use"),
            ("contact", "Contact"), ("careers", "Careers"), ("press", "Press room"),
            ("donate", "Donate"), ("social", "Follow us on social media"),
        )
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{html.escape(ARTICLE_HTML_TITLE)}</title>
{canonical_link}  <style>body {{ font-family: Georgia, serif; }} .nav a {{ color: #036; }}</style>
  <script>window.dataLayer = []; function track() {{ return "tracking code"; }}</script>
</head>
<body>
  <header>
    <nav class="nav">
      <ul>
        <li><a href="/">Home</a></li>
        <li><a href="/topics">Topics and regions</a></li>
        <li><a href="/experts">Experts and scholars</a></li>
        <li><a href="/subscribe">Subscribe to our newsletter</a></li>
      </ul>
    </nav>
  </header>
  <div id="cookie-banner" class="cookie-consent">
    <p>We use cookies to improve your experience on our site and to show you relevant content.</p>
    <button type="button">Accept all cookies</button>
  </div>
  <main>
    <article>
      <h1>{html.escape(ARTICLE_HTML_H1)}</h1>
{chr(10).join(body)}
    </article>
  </main>
  <footer>
    <ul>
{footer_links}
    </ul>
    <p>Copyright 2021 Example Institute. All rights reserved.</p>
  </footer>
  <script>track();</script>
</body>
</html>
"""


def write_article_html(path: Path, canonical: str | None = ARTICLE_CANONICAL) -> Path:
    """Write the bundled article as an HTML page (UTF-8) to ``path``; returns ``path``.

    ``canonical`` is the page's ``<link rel="canonical">`` address (None: no such link).
    """
    path.write_text(article_page(canonical), encoding="utf-8")
    return path
