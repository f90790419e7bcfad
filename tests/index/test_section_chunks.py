"""Section-aware chunks and headings in what is searched (the ``index.ingest.chunking`` switches):
quotes stay the document's exact text, the heading prefix counts in the token budget, and a
section's explanation keeps its code example."""

from __future__ import annotations

import re

import pytest

import index.ingest.chunking as chunking
from index.ingest.chunking import Chunker, chunk_search_text, heading_prefix, search_text
from index.ingest.documents import parse_document

SECTION = "Getting started › Install the package"
PAGE = (
    "# Getting started\n\nWelcome.\n\n"
    "## Install the package\n\n"
    "Run the installer once per virtual environment.\n\n"
    "```\npip install citebot-example\n```\n\n"
    "The package needs Python 3.11 or newer.\n\n"
    "## Configure logging\n\n"
    "Call basicConfig before the first message is logged.\n"
)


@pytest.fixture
def switches(monkeypatch: pytest.MonkeyPatch):
    def set_switches(headings: str | None, sections: bool) -> None:
        monkeypatch.setattr(chunking, "HEADINGS_IN_SEARCH", headings)
        monkeypatch.setattr(chunking, "SECTION_CHUNKS", sections)

    return set_switches


def _chunks(spec, source: str, name: str = "start.md", max_tokens: int = 256):
    document = parse_document(name, source)
    chunks = Chunker(spec.count_tokens, spec.token_offsets, max_tokens).chunk(document)
    for chunk in chunks:
        assert document.text[chunk.start : chunk.end] == chunk.text
        assert spec.count_tokens([chunk_search_text(chunk)])[0] <= max_tokens
        for start, end in chunk.sentences:
            assert chunk.start <= start < end <= chunk.end
    return document, chunks


def test_a_section_keeps_its_code_example_and_caveat_in_one_chunk(model_spec, switches) -> None:
    switches(None, True)
    _, chunks = _chunks(model_spec, PAGE)
    install = [c for c in chunks if c.section == SECTION]
    assert len(install) == 1
    assert "virtual environment" in install[0].text and "pip install" in install[0].text
    assert install[0].text.endswith("3.11 or newer.")
    assert {c.section for c in chunks} == {
        "Getting started", SECTION, "Getting started › Configure logging"
    }


def test_without_the_switch_every_paragraph_is_its_own_chunk(model_spec, switches) -> None:
    switches(None, False)
    _, chunks = _chunks(model_spec, PAGE)
    assert len([c for c in chunks if c.section == SECTION]) == 3


def test_plain_text_is_not_merged(model_spec, switches) -> None:
    switches(None, True)
    text = "Install\n\nRun the installer once.\n\nThen check the version.\n"
    document, chunks = _chunks(model_spec, text, "notes.txt")
    assert len(chunks) == len(document.paragraphs)


def test_a_long_section_becomes_balanced_runs_of_whole_paragraphs(model_spec, switches) -> None:
    switches("path", True)
    paragraphs = [f"Paragraph {n} says something about installing packages twice." for n in
                  range(40)]
    source = "# Guide\n\n## Long\n\n" + "\n\n".join(paragraphs) + "\n"
    document, chunks = _chunks(model_spec, source, max_tokens=64)
    assert len(chunks) > 3
    for chunk in chunks:  # never a paragraph cut in two
        assert re.fullmatch(r"(Paragraph \d+ [^\n]+\n\n)*Paragraph \d+ [^\n]+", chunk.text)
    joined = "\n\n".join(c.text for c in chunks)
    assert joined == document.text[chunks[0].start : chunks[-1].end]


def test_the_heading_prefix_is_searched_but_never_quoted(model_spec, switches) -> None:
    switches("path", False)
    _, chunks = _chunks(model_spec, PAGE)
    first = next(c for c in chunks if c.section == SECTION)
    assert first.text == "Run the installer once per virtual environment."
    assert chunk_search_text(first) == f"{SECTION}\n\n{first.text}"
    switches("heading", False)
    assert chunk_search_text(first) == f"Install the package\n\n{first.text}"
    switches(None, False)
    assert chunk_search_text(first) == first.text


def test_a_long_path_shortens_to_its_heading_and_a_long_heading_is_left_out(switches) -> None:
    switches("path", False)
    long = "x" * (chunking.MAX_PREFIX_CHARS + 1)
    assert heading_prefix(f"{long} › Short") == "Short"
    assert heading_prefix(long) == ""
    assert search_text("body", None) == "body"


def test_the_prefix_counts_in_the_token_budget(model_spec, switches) -> None:
    words = " ".join(["configuration"] * 240)
    source = "# A rather long page title\n\n## And a section heading\n\n" + words + "\n"
    switches(None, False)
    _, plain = _chunks(model_spec, source, max_tokens=64)
    switches("path", False)
    _, chunks = _chunks(model_spec, source, max_tokens=64)  # each checked with its prefix
    assert len(chunks) > len(plain)


def test_the_chunker_records_its_switches(model_spec, switches) -> None:
    chunker = Chunker(model_spec.count_tokens, model_spec.token_offsets, 256)
    switches(None, False)
    plain = chunker.parameters
    switches("path", True)
    assert chunker.parameters == {**plain, "headings": "path", "sections": 1}


def test_candidates_say_which_chunks_are_sections_of_structured_documents(
    engine, tmp_path
) -> None:
    from index.backends.local import LocalIndex
    from index.build.builder import assemble_corpus
    from index.ingest.documents import load_documents

    (tmp_path / "start.md").write_text(PAGE, encoding="utf-8")
    (tmp_path / "notes.txt").write_text(
        "Install\n\nRun the installer once per virtual environment.\n", encoding="utf-8"
    )
    corpus, _, _ = assemble_corpus(
        load_documents(tmp_path), engine.build_encoder, engine.chunker()
    )
    vector = engine.query_encoder.encode_query("how do I install it")[0]
    found = LocalIndex(corpus).candidates(vector, None, 200)
    assert found.in_section is not None
    flags = {
        (chunk.document, chunk.section): bool(flag)
        for chunk, flag in zip(
            (corpus.table[int(row)] for row in found.rows), found.in_section, strict=True
        )
    }
    assert flags[("start.md", SECTION)] is True
    assert flags[("notes.txt", "Install")] is False  # plain text: its headings are guesses


def test_attach_keeps_a_lead_in_with_its_example_and_long_prose_apart(
    model_spec, switches
) -> None:
    switches(None, "attach")
    prose = " ".join(["Each paragraph here explains one more thing about the installer."] * 5)
    source = (
        "# Guide\n\n## Install\n\n"
        f"{prose}\n\n{prose}\n\n"
        "To install it, run:\n\n```\npip install citebot-example\n```\n"
    )
    _, chunks = _chunks(model_spec, source)
    texts = [c.text for c in chunks if c.section == "Guide › Install"]
    assert texts == [prose, prose, "To install it, run:\n\npip install citebot-example"]
