"""The Milvus backend against the local one: the same candidates and scores, the same answers,
exact offsets, refused mismatches, atomic rebuilds under load, a server that goes away and comes
back, the embedded file URI, a refused token, and a faithful round trip back to a local index.

Backend-independent checks run on both through the ``search_index`` fixture; the Milvus Lite
server is the session's (tests/servers/milvus.py), each test on its own collection names."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from index.backends import local as local_backend
from index.backends.base import LexicalQuery, SearchIndex
from index.backends.local import LocalIndex
from index.backends.local_store import IndexStore
from index.backends.milvus import MilvusIndex, MilvusStore
from index.backends.milvus import schema as milvus_schema
from index.backends.milvus.client import Connection
from index.build.builder import build_index
from index.build.chunk_table import DocumentRecord
from index.build.corpus import Corpus
from index.errors import BackendError, IndexMismatchError, IndexMissingError
from index.ingest.chunking import Chunk
from index.query.search import Searcher
from tests.servers.auth_proxy import AuthProxy
from tests.servers.milvus import MilvusLiteServer

ROOT = Path(__file__).resolve().parents[2]
QUESTIONS = [
    json.loads(line)["question"]
    for line in (ROOT / "tests" / "data" / "article_questions.jsonl").read_text().splitlines()
    if line.strip()
]
LAVROV = "Which Russian official visited Seoul?"


@pytest.fixture(scope="session")
def article_corpus(built_index_dir: Path, model_spec) -> Corpus:
    """The bundled article's index, loaded from the local store."""
    store = IndexStore(built_index_dir)
    return store.load(model_spec, store.read_manifest()["chunker"])


@pytest.fixture(scope="session")
def chunker_parameters(article_corpus: Corpus) -> dict:
    return article_corpus.manifest["chunker"]


@pytest.fixture(scope="session")
def article_store(milvus_uri: str, article_corpus: Corpus, tmp_path_factory) -> MilvusStore:
    """The article saved in the session's Milvus Lite server as collection ``article``."""
    store = MilvusStore(milvus_uri, None, "article", tmp_path_factory.mktemp("milvus-locks"))
    store.save(article_corpus)
    return store


@pytest.fixture(scope="session")
def milvus_index(article_store: MilvusStore, model_spec, chunker_parameters) -> MilvusIndex:
    return article_store.load(model_spec, chunker_parameters)


@pytest.fixture(params=["local", "milvus"])
def search_index(request, article_corpus: Corpus) -> SearchIndex:
    """The article's index on each backend."""
    if request.param == "local":
        return LocalIndex(article_corpus)
    return request.getfixturevalue("milvus_index")


@pytest.fixture(scope="session")
def query_vectors(engine) -> dict[str, np.ndarray]:
    """Every test question's vector, embedded once."""
    encoder = engine.query_encoder
    return {q: encoder.encode_query(q) for q in [*QUESTIONS, LAVROV]}


class _Vectors:
    """A query encoder over vectors embedded in advance (threads need no model)."""

    def __init__(self, vectors: dict[str, np.ndarray]) -> None:
        self.vectors = vectors

    def encode_query(self, text: str) -> np.ndarray:
        return self.vectors[text]


def _lexical(index: SearchIndex, question: str) -> LexicalQuery:
    return LexicalQuery.of(index.query_terms(question))


def _assert_candidates_agree(local, milvus, sentence_tolerance: float = 2e-3) -> None:
    np.testing.assert_array_equal(milvus.rows, local.rows)
    np.testing.assert_array_equal(milvus.text_keys, local.text_keys)
    np.testing.assert_array_equal(milvus.sentence_rows, local.sentence_rows)
    np.testing.assert_array_equal(milvus.starts, local.starts)
    np.testing.assert_array_equal(milvus.sentence_types, local.sentence_types)
    np.testing.assert_allclose(milvus.dense, local.dense, atol=1e-5)
    np.testing.assert_allclose(milvus.lexical, local.lexical, rtol=1e-5, atol=1e-5)
    # the local store keeps sentence vectors as int8 codes; Milvus has them as float32
    np.testing.assert_allclose(milvus.sentence_dense, local.sentence_dense,
                               atol=sentence_tolerance)
    np.testing.assert_allclose(milvus.sentence_lexical, local.sentence_lexical,
                               rtol=1e-5, atol=1e-5)
    assert milvus.complete == local.complete


def test_candidates_agree_with_the_local_index(article_corpus, milvus_index, query_vectors):
    local = LocalIndex(article_corpus)
    for question in QUESTIONS:
        terms = local.query_terms(question)
        assert milvus_index.query_terms(question) == terms
        vector = query_vectors[question][0]
        _assert_candidates_agree(
            local.candidates(vector, LexicalQuery.of(terms), 200),
            milvus_index.candidates(vector, LexicalQuery.of(terms), 200),
        )


def test_candidate_pools_agree_when_only_the_best_are_scored(
    article_corpus, milvus_index, query_vectors, monkeypatch
):
    """Above the full-scoring limit: top ``width`` by vector and by BM25, deduplicated by text,
    the missing score of each filled in (here the limit is lowered to reach that path)."""
    monkeypatch.setattr(local_backend, "FULL_SCORING_LIMIT", 3)
    local = LocalIndex(article_corpus)
    for question in QUESTIONS[:15]:
        vector = query_vectors[question][0]
        lexical = _lexical(local, question)
        # a history part at a lower weight: one weighted BM25 query in Milvus
        earlier = LexicalQuery((*lexical.parts, (tuple(local.query_terms("Global Times")), 0.5)))
        for query in (lexical, earlier):
            expected = local.candidates(vector, query, 4)
            found = milvus_index.candidates(vector, query, 4)
            assert not found.complete and len(found.rows) < article_corpus.table.text_key.size
            _assert_candidates_agree(expected, found)


def test_known_terms_and_documents_agree(article_corpus, milvus_index):
    local = LocalIndex(article_corpus)
    terms = ["lavrov", "seoul", "zebra", "visit", "qqq"]
    assert milvus_index.known_terms(terms) == local.known_terms(terms) == [
        True, True, False, True, False
    ]
    assert milvus_index.documents_overview() == local.documents_overview()
    assert milvus_index.chunk_count == local.chunk_count
    assert milvus_index.has_lexical


def test_lavrov_question_ranks_the_lavrov_chunk_first(search_index, query_vectors):
    searcher = Searcher(search_index, _Vectors(query_vectors))
    answer = searcher.search(LAVROV, k=3)
    assert answer.found
    first = answer.passages[0]
    assert "Sergei Lavrov" in first.text
    assert first.citation.section == "China and Russia are additional complications"
    assert "Sergei Lavrov" in first.highlight_text


def test_both_backends_give_the_same_answers(article_corpus, milvus_index, query_vectors):
    encoder = _Vectors(query_vectors)
    local = Searcher(LocalIndex(article_corpus), encoder)
    milvus = Searcher(milvus_index, encoder)
    for question in QUESTIONS:
        expected, found = local.search(question, k=3), milvus.search(question, k=3)
        assert [p.chunk_id for p in found.passages] == [p.chunk_id for p in expected.passages]
        assert [p.highlight for p in found.passages] == [p.highlight for p in expected.passages]
        assert [p.citation for p in found.passages] == [p.citation for p in expected.passages]
        assert found.found == expected.found


def test_every_chunk_has_exact_offsets(search_index, article_corpus, article_text):
    rows = list(range(search_index.chunk_count))
    stored = search_index.stored_chunks(rows)
    assert [s.chunk for s in stored] == list(article_corpus.chunks)
    for record in stored:
        chunk, citation = record.chunk, record.citation
        assert article_text[chunk.start : chunk.end] == chunk.text
        assert (citation.start, citation.end) == (chunk.start, chunk.end)
        for start, end in chunk.sentences:
            assert chunk.start <= start < end <= chunk.end


def test_chunk_vectors_and_sentence_similarities(article_corpus, milvus_index, query_vectors):
    rows = np.array([3, 0, 7], dtype=np.int64)
    np.testing.assert_array_equal(
        milvus_index.chunk_vectors(rows), article_corpus.chunk_vectors()[rows]
    )
    vector = query_vectors[LAVROV][0]
    sentences = np.array([5, 1, 30], dtype=np.int64)
    expected = np.asarray(article_corpus.exact_sentence_vectors, np.float32)[sentences] @ vector
    np.testing.assert_allclose(milvus_index.sentence_similarities(sentences, vector), expected,
                               atol=1e-6)


def test_manifest_mismatch_is_refused(article_store, model_spec, chunker_parameters):
    with pytest.raises(IndexMismatchError, match="CITEBOT_CHUNK_TOKENS"):
        article_store.load(model_spec, {**chunker_parameters, "max_tokens": 99})
    other = SimpleNamespace(name="other-model", weights_hash="0" * 64)
    with pytest.raises(IndexMismatchError, match="other-model"):
        article_store.load(other, chunker_parameters)
    assert article_store.known_vectors(other) == {}


def test_missing_collection_says_build_first(milvus_uri, model_spec, chunker_parameters, tmp_path):
    store = MilvusStore(milvus_uri, None, "never-built", tmp_path)
    assert not store.exists() and store.current_build() is None and store.size_bytes() == 0
    with pytest.raises(IndexMissingError, match="citebot build"):
        store.load(model_spec, chunker_parameters)


def test_names_are_valid_and_injective():
    names = ["default", "guild-123", "guild_123", "a-b_c", "a_b-c", "a__d", "a_d", "0x"]
    aliases = {milvus_schema.alias_of("citebot", name) for name in names}
    assert len(aliases) == len(names)
    import re

    assert all(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", a) and len(a) <= 255 for a in aliases)
    pairs = [("citebot", "a"), ("a_d", "d"), ("a", "d-"), ("a_", "x"), ("a", "x"),
             ("my_bot", "guild-1"), ("my", "bot-guild-1"), ("my_bot_guild", "1")]
    assert len({milvus_schema.alias_of(p, n) for p, n in pairs}) == len(pairs)
    for bad in ["", "Upper", "-x", "a b", "a" * 64]:
        with pytest.raises(ValueError):
            milvus_schema.escape(bad)
    build = milvus_schema.new_build_id()
    alias = milvus_schema.alias_of("citebot", "guild-1")
    other = milvus_schema.alias_of("citebot", "guild")
    name = milvus_schema.collection_of(alias, build, "chunks")
    assert milvus_schema.build_of(alias, name) == build
    assert milvus_schema.build_of(other, name) is None  # guild's builds are not guild-1's


def test_pieces_cut_by_bytes_never_inside_a_character():
    text = "Łódź — ünïcode 😀 " * 9000 + "end"
    parts = milvus_schema.pieces(text)
    assert "".join(parts) == text and len(parts) > 3
    assert all(len(p.encode("utf-8")) <= milvus_schema.PIECE_BYTES for p in parts)
    assert milvus_schema.pieces("") == [""]


def _write_sources(directory: Path, article_text: str, extra: str) -> None:
    directory.mkdir(exist_ok=True)
    (directory / "north-korea-allied-coordination.txt").write_text(article_text, "utf-8")
    (directory / "łódź-notes.txt").write_text(extra, "utf-8")


def _long_multibyte_document(version: str) -> str:
    """Over 65,535 bytes in one document (several VARCHAR pieces), every character 2-4 bytes
    in places, distinguishable by ``version``."""
    paragraphs = [
        f"Paragraph {i} ({version}): Łódź’s café served crème brûlée — naïve résumé 😀 "
        f"visited by the délégation № {i}. " * 3
        for i in range(200)
    ]
    return "\n\n".join(paragraphs)


def test_rebuild_reembeds_only_the_changed_document_and_keeps_offsets(
    milvus_uri, engine, article_text, tmp_path
):
    sources = tmp_path / "sources"
    _write_sources(sources, article_text, _long_multibyte_document("v1"))
    store = MilvusStore(milvus_uri, None, "rebuild", tmp_path / "locks")
    chunker = engine.chunker()
    _, first = build_index(sources, store, engine.build_encoder, chunker)
    assert first.reused == 0 and first.embedded > 0
    index = store.load(engine.spec, chunker.parameters)
    extra = [s for s in index.stored_chunks(range(index.chunk_count))
             if s.chunk.document == "łódź-notes.txt"]
    assert extra and index.manifest["counts"]["documents"] == 2
    text = (sources / "łódź-notes.txt").read_text("utf-8")
    assert len(text.encode("utf-8")) > milvus_schema.VARCHAR_BYTES
    assert all(text[s.chunk.start : s.chunk.end] == s.chunk.text for s in extra)

    (sources / "łódź-notes.txt").write_text(_long_multibyte_document("v2"), "utf-8")
    _, second = build_index(sources, store, engine.build_encoder, chunker)
    # the article's chunks and sentences are re-used; the notes' texts (all changed) embedded
    corpus = store.to_corpus(engine.spec, chunker.parameters)
    notes = [c for c in corpus.chunks if c.document == "łódź-notes.txt"]
    note_texts = {c.text for c in notes} | {
        corpus.documents["łódź-notes.txt"].text[s:e] for c in notes for s, e in c.sentences
    }
    assert second.embedded == len(note_texts)
    assert second.reused > 0 and second.build != first.build
    assert all("(v2)" in c.text for c in notes)
    assert store.current_build() == second.build


def _renamed(corpus: Corpus, path: str) -> Corpus:
    """The same corpus with its one document under another name (so answers tell builds
    apart)."""
    (record,) = corpus.documents.values()
    documents = {path: DocumentRecord(path, record.content_hash, record.text, record.format,
                                      record.title, record.url, record.pages)}
    chunks = [replace(chunk, document=path) for chunk in corpus.chunks]
    return Corpus(documents, chunks, corpus.vector_index, corpus.sentence_floats(),
                  np.asarray(corpus.sentence_types), corpus.manifest, corpus.lexical,
                  exact_chunk_vectors=np.asarray(corpus.chunk_vectors()))


def test_alias_switch_while_four_threads_keep_asking(
    milvus_uri, article_corpus, model_spec, chunker_parameters, query_vectors, tmp_path
):
    store = MilvusStore(milvus_uri, None, "switching", tmp_path / "locks")
    builds = {"one.txt": _renamed(article_corpus, "one.txt"),
              "two.txt": _renamed(article_corpus, "two.txt")}
    store.save(builds["one.txt"])
    encoder = _Vectors(query_vectors)
    errors: list[BaseException] = []
    seen: list[set[str]] = []
    stop = threading.Event()

    def ask(offset: int) -> None:
        i = offset
        while not stop.is_set():
            try:
                index = store.load(model_spec, chunker_parameters)
                answer = Searcher(index, encoder).search(QUESTIONS[i % len(QUESTIONS)], k=3)
                seen.append({p.citation.document for p in answer.passages})
            except BaseException as error:  # every failure is the finding
                errors.append(error)
            i += 1

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    try:
        for path in ["two.txt", "one.txt", "two.txt"]:
            time.sleep(0.5)
            store.save(builds[path])
        time.sleep(0.5)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert not errors, errors[:3]
    assert seen and all(len(documents) == 1 for documents in seen)  # never two builds at once
    assert {d for documents in seen for d in documents} == {"one.txt", "two.txt"}
    # only the live build and the one before it are kept
    names = store.connection.call("list", lambda client: client.list_collections())
    kept = {milvus_schema.build_of(store.alias, n) for n in names} - {None}
    assert len(kept) == 2 and store.current_build() in kept


def test_server_stopped_mid_question_then_restarted(
    article_corpus, model_spec, chunker_parameters, query_vectors, tmp_path
):
    server = MilvusLiteServer(tmp_path / "data")
    server.start()
    try:
        store = MilvusStore(server.uri, None, "restart", tmp_path / "locks")
        store.save(article_corpus)
        index = store.load(model_spec, chunker_parameters)
        searcher = Searcher(index, _Vectors(query_vectors))
        assert "Sergei Lavrov" in searcher.search(LAVROV).passages[0].text
        server.stop()
        with pytest.raises(BackendError, match=r"cannot reach Milvus at http://127\.0\.0") as error:
            searcher.search(LAVROV)
        assert "is it running?" in str(error.value)
        server.start()  # same data, same port: every collection comes back released
        # gRPC's reconnect backoff (about 2 s here) passes; then the same index answers,
        # loading its released collections again on the way
        deadline = time.monotonic() + 20
        while True:
            try:
                answer = searcher.search(LAVROV)
                break
            except BackendError as down:
                assert "cannot reach Milvus" in str(down)
                assert time.monotonic() < deadline, "the restarted server was not used again"
                time.sleep(0.25)
        assert "Sergei Lavrov" in answer.passages[0].text
    finally:
        server.stop()


def test_hung_server_times_out_with_a_clear_error(
    article_corpus, model_spec, chunker_parameters, query_vectors, tmp_path
):
    """A server that stops answering (SIGSTOP) fails the question after the store's timeout,
    then answers again once it resumes."""
    server = MilvusLiteServer(tmp_path / "data")
    server.start()
    try:
        store = MilvusStore(server.uri, None, "hung", tmp_path / "locks", timeout=1.0)
        store.save(article_corpus)
        searcher = Searcher(store.load(model_spec, chunker_parameters), _Vectors(query_vectors))
        assert server.process is not None
        server.process.send_signal(signal.SIGSTOP)
        try:
            started = time.monotonic()
            with pytest.raises(BackendError, match="did not answer in time"):
                searcher.search(LAVROV)
            assert time.monotonic() - started < 10
        finally:
            server.process.send_signal(signal.SIGCONT)
        assert "Sergei Lavrov" in searcher.search(LAVROV).passages[0].text
    finally:
        server.stop()


def test_drop_deletes_every_build_and_the_alias(milvus_uri, article_corpus, tmp_path):
    store = MilvusStore(milvus_uri, None, "dropped", tmp_path / "locks")
    other = MilvusStore(milvus_uri, None, "dropped-not", tmp_path / "other-locks")
    store.save(article_corpus)
    store.save(article_corpus)
    other.save(article_corpus)

    def builds(target: MilvusStore) -> set[str]:
        names = target.connection.call("list", lambda client: client.list_collections())
        return {milvus_schema.build_of(target.alias, name) for name in names} - {None}

    assert len(builds(store)) == 2
    store.drop()
    assert not store.exists() and builds(store) == set()
    assert other.exists() and len(builds(other)) == 1  # another collection is untouched
    other.drop()


def _corpus_with_a_long_chunk() -> Corpus:
    """One document whose one chunk is over 65,535 UTF-8 bytes (too long for a VARCHAR: kept
    with the document texts), random vectors."""
    from index.build.lexical import LexicalIndex
    from index.build.vector_index import make_vector_index

    text = "Dvořák’s naïve café résumé. " * 2600
    chunk = replace(_CHUNK, document="long.txt", end=len(text), text=text,
                    sentences=((0, 27), (28, len(text))))
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(3, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index, parameters = make_vector_index(vectors[:1], "flat")
    lexical = LexicalIndex.build([text], [text[:27], text[28:]])
    manifest = {"format_version": 3, "model": {"name": "random", "weights_sha256": "0" * 64,
                "dimension": 384}, "chunker": {}, "vector_index": parameters,
                "counts": {"documents": 1, "chunks": 1, "sentences": 2},
                "lexical": lexical.parameters}
    return Corpus({"long.txt": DocumentRecord("long.txt", "0" * 64, text)}, [chunk], index,
                  vectors[1:], np.zeros((2, 3), np.uint8), manifest, lexical,
                  exact_chunk_vectors=vectors[:1])


_CHUNK = Chunk("0123456789abcdef", "x", None, 1, 0, 0, "", ())
_RANDOM_MODEL = SimpleNamespace(name="random", weights_hash="0" * 64)


def test_a_chunk_too_long_for_a_varchar_round_trips(milvus_uri, tmp_path):
    corpus = _corpus_with_a_long_chunk()
    assert len(corpus.chunks[0].text.encode("utf-8")) > milvus_schema.VARCHAR_BYTES
    store = MilvusStore(milvus_uri, None, "long-chunk", tmp_path)
    store.save(corpus)
    index = store.load(_RANDOM_MODEL, {})
    (stored,) = index.stored_chunks([0])
    assert stored.chunk == corpus.chunks[0]
    found = index.candidates(corpus.chunk_vectors()[0], _lexical(index, "Dvořák café"), 200)
    assert list(found.rows) == [0] and found.lexical[0] > 0
    back = store.to_corpus(_RANDOM_MODEL, {})
    assert list(back.chunks) == list(corpus.chunks)
    assert back.documents["long.txt"].text == corpus.documents["long.txt"].text
    store.drop()


def test_a_failed_save_leaves_the_live_build_and_nothing_else(
    milvus_uri, article_corpus, tmp_path, monkeypatch
):
    store = MilvusStore(milvus_uri, None, "failing", tmp_path)
    live = store.save(article_corpus)
    sent = []

    def fail_on_the_second_batch(name, batch):
        sent.append(name)
        if len(sent) == 2:
            raise BackendError("cannot reach Milvus at X: is it running?")
        original(name, batch)

    original = store._send
    monkeypatch.setattr(store, "_send", fail_on_the_second_batch)
    with pytest.raises(BackendError, match="previous one is unchanged"):
        store.save(article_corpus)
    assert store.current_build() == live
    names = store.connection.call("list", lambda client: client.list_collections())
    assert {milvus_schema.build_of(store.alias, n) for n in names} - {None} == {live}
    store.drop()


def test_embedded_file_uri(article_corpus, model_spec, chunker_parameters, query_vectors,
                           tmp_path):
    store = MilvusStore(str(tmp_path / "citebot.db"), None, "default", tmp_path / "locks")
    store.save(article_corpus)
    index = store.load(model_spec, chunker_parameters)
    answer = Searcher(index, _Vectors(query_vectors)).search(LAVROV)
    assert "Sergei Lavrov" in answer.passages[0].text
    assert store.size_bytes() > 0
    # A Lite file serves one process: a second one is told so, without a traceback.
    script = (
        "from pathlib import Path\n"
        "from index.backends.milvus import MilvusStore\n"
        "from index.errors import CitebotError\n"
        f"store = MilvusStore({str(tmp_path / 'citebot.db')!r}, None, 'default', Path('.'))\n"
        "try:\n    store.exists()\nexcept CitebotError as error:\n    print(error)\n"
    )
    other = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                           cwd=ROOT, timeout=120)
    assert "another process may be using it" in other.stdout
    assert "Traceback" not in other.stdout + other.stderr


def test_wrong_token_is_refused_with_a_clear_message(
    milvus_uri, article_corpus, model_spec, chunker_parameters, tmp_path
):
    """Milvus Lite has no authentication: a gRPC proxy in front of it refuses calls without
    the right token with UNAUTHENTICATED, as an authenticating Milvus does."""
    target = milvus_uri.removeprefix("http://")
    proxy = AuthProxy(target, "root:Milvus").start()
    try:
        right = MilvusStore(proxy.uri, "root:Milvus", "token", tmp_path / "locks")
        right.save(article_corpus)
        assert right.load(model_spec, chunker_parameters).chunk_count == len(article_corpus.chunks)
        for token in ("root:wrong", None):
            wrong = MilvusStore(proxy.uri, token, "token", tmp_path / "locks")
            with pytest.raises(BackendError, match="refused the token") as error:
                wrong.load(model_spec, chunker_parameters)
            assert "CITEBOT_MILVUS_TOKEN" in str(error.value)
        assert proxy.refused >= 2
    finally:
        proxy.stop()


def test_unreachable_server_is_a_clear_error(tmp_path):
    from tests.servers.milvus import free_port

    store = MilvusStore(f"http://127.0.0.1:{free_port()}", None, "x", tmp_path)
    with pytest.raises(BackendError, match=r"cannot reach Milvus .* is it running"):
        store.exists()


def test_missing_pymilvus_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "pymilvus", None)
    connection = Connection("http://127.0.0.1:1", None)
    with pytest.raises(BackendError, match=r"pip install 'citebot\[milvus\]'"):
        connection.call("connect", lambda client: client)


def test_to_corpus_round_trip(article_store, article_corpus, model_spec, chunker_parameters):
    corpus = article_store.to_corpus(model_spec, chunker_parameters)
    assert list(corpus.documents) == list(article_corpus.documents)
    for path in corpus.documents:
        assert corpus.documents[path] == article_corpus.documents[path]
    assert list(corpus.chunks) == list(article_corpus.chunks)
    np.testing.assert_array_equal(corpus.chunk_vectors(), article_corpus.chunk_vectors())
    np.testing.assert_array_equal(
        corpus.sentence_floats(), np.asarray(article_corpus.sentence_floats(), np.float32)
    )
    np.testing.assert_array_equal(corpus.sentence_types, article_corpus.sentence_types)
    np.testing.assert_array_equal(corpus.table.text_key, article_corpus.table.text_key)
    for key in ("model", "chunker", "counts", "documents", "lexical", "format_version"):
        assert corpus.manifest[key] == article_corpus.manifest[key]
    assert "backend" not in corpus.manifest
    terms = corpus.lexical.query_terms(LAVROV)
    np.testing.assert_allclose(corpus.lexical.chunk_scores(terms),
                               article_corpus.lexical.chunk_scores(terms), rtol=1e-6)
    np.testing.assert_allclose(corpus.lexical.sentence_scores(terms),
                               article_corpus.lexical.sentence_scores(terms), rtol=1e-6)
    known = article_store.known_vectors(model_spec)
    assert len(known) == len({c.text for c in corpus.chunks} | set(
        corpus.table.sentence_texts()))


def test_a_manifest_over_64_kib_is_stored_in_pieces(
    milvus_uri, article_corpus, model_spec, chunker_parameters, tmp_path
):
    """The manifest lists every document (~2,200 at 100k chunks): it is cut into pieces like
    the texts (a build with that many documents was refused before)."""
    listed = [{"path": f"folder/document-{n:05d}-ü.md", "sha256": "ab" * 32} for n in range(3000)]
    manifest = {**article_corpus.manifest, "documents": listed}
    corpus = replace(article_corpus, manifest=manifest)
    assert len(json.dumps(manifest).encode()) > 3 * 65_535
    store = MilvusStore(milvus_uri, None, "big-manifest", tmp_path / "locks")
    store.save(corpus)
    assert store.read_manifest()["documents"] == listed
    index = store.load(model_spec, chunker_parameters)
    assert index.chunk_count == len(article_corpus.chunks)
    store.drop()
