"""Documentation sites as they are: Sphinx, MkDocs Material, Docusaurus and GitHub-rendered
Markdown pages keep their content, code and notes under heading paths, without the chrome each
generator adds (permalink signs, edit links, banners, copy buttons, tab labels)."""

from __future__ import annotations

import pytest

from index.ingest.formats import ExtractLimits
from index.ingest.formats.html import extract
from tests.index.formats.checks import assert_well_formed, bodies, headings
from tests.index.formats.docs_site_fixtures import (
    CHROME,
    COMMAND,
    CONFIGURE,
    CONFIGURE_PROSE,
    INSTALL,
    NOTE,
    PAGES,
    PROSE,
    TAB_TEXTS,
    TITLE,
)


@pytest.mark.parametrize("generator", sorted(PAGES))
def test_a_docs_page_keeps_its_content_without_the_generators_chrome(generator: str) -> None:
    result = extract(PAGES[generator]().encode(), ExtractLimits())
    assert_well_formed(result)
    assert headings(result) == [TITLE, INSTALL, CONFIGURE]
    texts = bodies(result)
    for wanted in (PROSE, COMMAND, NOTE, *TAB_TEXTS, CONFIGURE_PROSE):
        assert any(wanted in text for text in texts), (generator, wanted, texts)
    for chrome in CHROME:
        assert chrome not in result.text, (generator, chrome, result.text)
    assert not {"Linux", "Windows"} & set(texts), "tab labels are not passages"


@pytest.mark.parametrize("generator", sorted(PAGES))
def test_every_block_knows_its_heading_path(generator: str) -> None:
    result = extract(PAGES[generator]().encode(), ExtractLimits())
    install, configure = f"{TITLE} › {INSTALL}", f"{TITLE} › {CONFIGURE}"
    by_text = {result.text[b.start : b.end]: b.section for b in result.blocks}
    assert by_text[PROSE] == install
    assert {by_text[text] for text in by_text if NOTE in text or COMMAND in text} == {install}
    assert by_text[CONFIGURE_PROSE] == configure


def test_a_permalink_sign_in_the_text_of_a_heading_is_not_a_link_and_stays() -> None:
    page = (
        "<html><body><main><h1>Marks</h1><p>Typographers name many marks.</p>"
        '<h2 id="pilcrow">The ¶ sign<a class="headerlink" href="#pilcrow">¶</a></h2>'
        "<p>It marks paragraphs in legal texts.</p></main></body></html>"
    )
    result = extract(page.encode(), ExtractLimits())
    assert headings(result) == ["Marks", "The ¶ sign"]


def test_an_admonition_with_its_own_title_keeps_the_title() -> None:
    page = (
        '<html><body><h2>Upgrading</h2><div class="admonition warning">'
        '<p class="admonition-title">Back up the index first</p>'
        "<p>A failed upgrade leaves the old build live.</p></div></body></html>"
    )
    result = extract(page.encode(), ExtractLimits())
    assert "Back up the index first" in result.text
