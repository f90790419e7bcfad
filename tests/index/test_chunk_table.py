"""The columnar chunk store: exact round trips, multi-byte text, and lexical scores by row."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from index.backends.local_store import IndexStore
from index.build.chunk_table import ChunkTable, DocumentRecord, DocumentTable, TextBlob, text_key
from index.ingest.chunking import Chunk, chunk_id
from tests.index.test_store import chunker_params


def _chunks_of(path: str, text: str, pieces: list[tuple[int, int]]) -> list[Chunk]:
    return [
        Chunk(chunk_id(path, text[s:e], 1), path, None if i % 2 else f"Section {i}", i + 1, s, e,
              text[s:e], ((s, (s + e) // 2), ((s + e) // 2, e)))
        for i, (s, e) in enumerate(pieces)
    ]


def test_round_trip_with_multibyte_text(tmp_path):
    texts = {
        "a.txt": "Ünïcödé — “quotes” 😀 and 한국어 text. Then ASCII.",
        "b.md": "plain ascii only here",
        "empty.txt": "",
    }
    records = [DocumentRecord(p, f"hash-{p}", t) for p, t in texts.items()]
    documents = DocumentTable.from_records(records)
    chunks = _chunks_of("a.txt", texts["a.txt"], [(0, 20), (20, 33), (33, len(texts["a.txt"]))])
    chunks += _chunks_of("b.md", texts["b.md"], [(0, 5), (6, 21)])
    table = ChunkTable.from_chunks(chunks, documents)
    assert list(table) == chunks
    assert table.check(len(documents.blob)) is None

    table.save(tmp_path / "chunks")
    blob_file = tmp_path / "texts.bin"
    documents.blob.write(blob_file)
    loaded_documents = DocumentTable(
        documents.paths, documents.hashes, documents.spans, TextBlob.open(blob_file)
    )
    loaded = ChunkTable.load(tmp_path / "chunks", table.sections, loaded_documents)
    assert isinstance(loaded.span, np.memmap)
    assert [loaded[i] for i in range(len(loaded))] == chunks
    assert loaded[-1] == chunks[-1]
    assert {p: loaded_documents[p] for p in loaded_documents} == {r.path: r for r in records}
    assert list(loaded.sentence_texts()) == [
        texts[c.document][s:e] for c in chunks for s, e in c.sentences
    ]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=40), min_size=1, max_size=6))
def test_any_text_slices_back_exactly(parts):
    text = "".join(parts)
    bounds = np.cumsum([0] + [len(p) for p in parts]).tolist()
    pieces = list(itertools.pairwise(bounds))
    documents = DocumentTable.from_records([DocumentRecord("d.txt", "h", text)])
    table = ChunkTable.from_chunks(_chunks_of("d.txt", text, pieces), documents)
    assert [table.text(i) for i in range(len(table))] == parts


def test_text_key_ignores_case_and_spacing_only():
    assert text_key("The  North\nKorean talks") == text_key("the north korean talks")
    assert text_key("The North Korean talks") != text_key("The South Korean talks")
    # stored in indexes, so it must not change between processes or versions
    assert text_key("  The X ") == 0xcd3f038ceada7405


def test_loaded_corpus_is_memory_mapped(built_index_dir, model_spec):
    corpus = IndexStore(built_index_dir).load(model_spec, chunker_params(model_spec))
    assert isinstance(corpus.table.span, np.memmap)
    assert isinstance(corpus.sentence_vectors, np.memmap)
    assert isinstance(corpus.lexical.sentences.scores["indices"], np.memmap)
    for row in range(len(corpus.chunks)):
        chunk = corpus.chunks[row]
        assert corpus.documents[chunk.document].text[chunk.start : chunk.end] == chunk.text


def test_sentence_scores_of_rows_equal_full_scores(built_index_dir, model_spec):
    corpus = IndexStore(built_index_dir).load(model_spec, chunker_params(model_spec))
    lexical = corpus.lexical
    total = len(corpus.sentence_vectors)
    rng = np.random.default_rng(3)
    for question in ["Which Russian official visited Seoul?", "sanctions sanctions Pyongyang",
                     "zzzz unknown words", "China trade North Korea nuclear talks"]:
        terms = lexical.query_terms(question)
        full = lexical.sentence_scores(terms)
        assert full.shape == (total,)
        rows = np.sort(rng.choice(total, size=min(40, total), replace=False))
        np.testing.assert_array_equal(lexical.sentence_scores(terms, rows), full[rows])
        np.testing.assert_array_equal(
            lexical.sentence_scores(terms, np.arange(total)), full
        )
