"""Hostile source files (hypothesis): random bytes, NUL bytes, mixed line endings, markdown
nested thousands deep, huge lines. Never a crash; every other file is still indexed; every
chunk's offsets are exact."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from index.ingest.chunking import Chunker
from index.ingest.documents import load_documents

GOOD = ("good.md", "# Known\n\nA good file that must always be indexed.\n")

line_ends = st.sampled_from(["\n", "\r\n", "\r", "\n\n", "\r\n\r\n", "\r\r", " \t\n"])
words = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"),
    max_size=40,
)
hostile_text = st.lists(st.one_of(words, line_ends, st.just("\0"), st.just("#"),
                                  st.just("> "), st.just("- ")), max_size=60).map("".join)


@st.composite
def nested_markdown(draw: st.DrawFn) -> str:
    depth = draw(st.integers(min_value=500, max_value=4000))
    kind = draw(st.sampled_from(["quote", "list", "heading", "indent", "mixed"]))
    if kind == "quote":
        return "> " * depth + "deep quote.\n"
    if kind == "list":
        return "\n".join("  " * level + "- item" for level in range(depth))
    if kind == "heading":
        return "\n".join("#" * (level % 8 + 1) + " Heading" for level in range(depth))
    if kind == "indent":
        return " " * depth + "#" * depth + " " + "word " * 10
    return "".join(draw(st.sampled_from(["> ", "- ", "1. ", "# ", "\n", "\r"]))
                   for _ in range(depth)) + " end."


huge_line = st.builds(
    lambda word, count, end: (word + " ") * count + end,
    st.sampled_from(["word", "x", "Долгая", "字", "\0"]),
    st.integers(min_value=20_000, max_value=60_000),
    st.sampled_from(["", ".", "\r", "\n"]),
)
file_contents = st.one_of(
    st.binary(max_size=2000),
    hostile_text.map(lambda text: text.encode("utf-8")),
    nested_markdown().map(lambda text: text.encode("utf-8")),
    huge_line.map(lambda text: text.encode("utf-8")),
    hostile_text.map(lambda text: b"\xef\xbb\xbf" + text.encode("utf-8")),  # with a BOM
)


@pytest.fixture(scope="module")
def chunker(model_spec) -> Chunker:
    return Chunker(model_spec.count_tokens, model_spec.token_offsets, 256)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.data_too_large])
@given(contents=st.lists(file_contents, min_size=1, max_size=4))
def test_hostile_files_never_crash_and_offsets_stay_exact(chunker, contents):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / GOOD[0]).write_text(GOOD[1], encoding="utf-8")
        for number, data in enumerate(contents):
            (folder / f"hostile-{number}.{'md' if number % 2 else 'txt'}").write_bytes(data)
        result = load_documents(folder)
        names = [d.path for d in result.documents]
        assert GOOD[0] in names
        assert sorted(names + [s.path for s in result.skipped]) == sorted(
            [GOOD[0]] + [f"hostile-{n}.{'md' if n % 2 else 'txt'}" for n in range(len(contents))]
        )
        for skipped in result.skipped:
            assert skipped.reason.startswith(f"{skipped.path}: ")
        for document in result.documents:
            for paragraph in document.paragraphs:
                body = document.text[paragraph.start : paragraph.end]
                assert body and body == body.strip()
            for chunk in chunker.chunk(document):
                assert document.text[chunk.start : chunk.end] == chunk.text
                assert chunk.text.strip() == chunk.text and chunk.text
                for start, end in chunk.sentences:
                    assert chunk.start <= start < end <= chunk.end
