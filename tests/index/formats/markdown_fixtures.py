"""Builders of Markdown test files (for the Markdown tests and the cross-format end-to-end test)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import ARTICLE

ARTICLE_MARKDOWN_TITLE = "North Korea and allied coordination"
ARTICLE_MARKDOWN_URL = "https://example.com/articles/north-korea-allied-coordination"
ARTICLE_HEADINGS = (
    "The United States and South Korea do not fully agree on North Korea’s policy",
    "China and Russia are additional complications",
    "US has few credible options to coerce North Korea",
)
"""The bundled article's section headings (single short lines in its plain text)."""
CODE_BLOCK = "```sh\n# not a heading\nmake build\n```"
"""A fenced code block whose first line would be a heading outside the fence."""


def write_article_markdown(path: Path) -> Path:
    """Write the bundled article as Markdown to ``path`` and return it: YAML front matter
    (``title``, ``url``), ``##`` headings, **bold** and a [link](https://example.com) in the
    Lavrov paragraph, and a fenced code block holding ``# not a heading`` just before it (in
    the section "China and Russia are additional complications")."""
    paragraphs = ARTICLE.read_text(encoding="utf-8").strip().split("\n\n")
    lines = [
        "---",
        f"title: {ARTICLE_MARKDOWN_TITLE}",
        f"url: {ARTICLE_MARKDOWN_URL}",
        "---",
        "",
    ]
    for paragraph in paragraphs:
        if paragraph in ARTICLE_HEADINGS:
            lines += [f"## {paragraph}", ""]
            continue
        if "Sergei Lavrov" in paragraph:
            lines += [CODE_BLOCK, ""]
            paragraph = paragraph.replace("Sergei Lavrov", "**Sergei Lavrov**", 1).replace(
                "The Global Times", "[The Global Times](https://example.com)", 1
            )
        lines += [paragraph, ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
