import itertools
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from index.ingest.chunking import Chunker, normalize_for_search
from index.ingest.documents import load_documents, parse_document
from tests.conftest import SOURCE_DIR

WORDS = [
    "North",
    "Korea",
    "sanctions",
    "Seoul",
    "Lavrov",
    "café",
    "naïve",
    "U.S.",
    "1,000",
    "e.g.",
    "don’t",
    "Pyongyang's",
    "reunification",
    "—",
    "(Reuters)",
    "x",
    "coördinate",
]


def make_chunker(spec, max_tokens):
    return Chunker(spec.count_tokens, spec.token_offsets, max_tokens)


def check_chunks(spec, document, chunks, max_tokens):
    text = document.text
    for chunk in chunks:
        assert text[chunk.start : chunk.end] == chunk.text
        assert chunk.text == chunk.text.strip() and chunk.text
        assert spec.count_tokens([normalize_for_search(chunk.text)])[0] <= max_tokens
        paragraph = document.paragraphs[chunk.paragraph - 1]
        assert paragraph.start <= chunk.start < chunk.end <= paragraph.end
        assert chunk.section == paragraph.section
        assert chunk.sentences and chunk.sentences[0][0] == chunk.start
        assert chunk.sentences[-1][1] == chunk.end
        for s, e in chunk.sentences:
            assert chunk.start <= s < e <= chunk.end
    # coverage: every non-whitespace character of every paragraph, once, in order
    for paragraph in document.paragraphs:
        inside = [c for c in chunks if c.paragraph == paragraph.number]
        joined = "".join(c.text for c in inside)
        body = text[paragraph.start : paragraph.end]
        assert re.sub(r"\s", "", joined) == re.sub(r"\s", "", body)
        for first, second in itertools.pairwise(inside):
            assert first.end <= second.start


sentence = st.lists(st.sampled_from(WORDS), min_size=1, max_size=60).map(
    lambda words: " ".join(words) + "."
)
paragraph = st.lists(sentence, min_size=1, max_size=12).map(" ".join)
block = st.one_of(paragraph, paragraph, st.sampled_from(["Short heading here", "# Markdown head"]))
document_text = st.lists(block, min_size=1, max_size=6).map("\n\n".join)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=document_text, max_tokens=st.sampled_from([16, 48, 128, 256]))
def test_chunks_cover_exactly_and_fit(model_spec, text, max_tokens):
    document = parse_document("doc.md", text)
    chunks = make_chunker(model_spec, max_tokens).chunk(document)
    check_chunks(model_spec, document, chunks, max_tokens)


@pytest.mark.parametrize("max_tokens", [256, 64])
def test_long_paragraphs_are_never_truncated(model_spec, max_tokens):
    long_paragraph = " ".join(["The alliance met again to discuss sanctions policy."] * 400)
    one_long_sentence = " ".join(["coordination"] * 1500)
    unbroken_blob = "ab" * 3000
    text = "\n\n".join([long_paragraph, one_long_sentence, unbroken_blob])
    document = parse_document("long.txt", text)
    chunks = make_chunker(model_spec, max_tokens).chunk(document)
    check_chunks(model_spec, document, chunks, max_tokens)
    assert len(chunks) > 3
    # the long paragraph is split into balanced chunks, not a full one and a tiny remainder
    counts = model_spec.count_tokens([c.text for c in chunks if c.paragraph == 1])
    assert min(counts) > max_tokens // 3


def test_article_chunks(model_spec):
    document = load_documents(SOURCE_DIR).documents[0]
    chunks = make_chunker(model_spec, 256).chunk(document)
    check_chunks(model_spec, document, chunks, 256)
    assert len(chunks) == len(document.paragraphs)  # every article paragraph fits in 256 tokens
    ids = [c.id for c in chunks]
    assert len(set(ids)) == len(ids)
    again = make_chunker(model_spec, 256).chunk(load_documents(SOURCE_DIR).documents[0])
    assert [c.id for c in again] == ids  # stable


def test_repeated_text_gets_distinct_ids(model_spec):
    document = parse_document("r.txt", "Same words here.\n\nSame words here.")
    chunks = make_chunker(model_spec, 256).chunk(document)
    assert len({c.id for c in chunks}) == 2


def test_budget_must_leave_room():
    with pytest.raises(ValueError):
        Chunker(lambda texts: [1] * len(texts), lambda text: [], 5)
