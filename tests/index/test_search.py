import pytest

from index.errors import QuestionError
from index.query.question import prepare_question


def test_lavrov_first_with_exact_citation(engine, article_text):
    answer = engine.search("Which Russian official visited Seoul?", k=3)
    assert answer.found
    first = answer.passages[0]
    assert "Sergei Lavrov" in first.text
    citation = first.citation
    assert citation.document == "north-korea-allied-coordination.txt"
    assert citation.section == "China and Russia are additional complications"
    assert citation.paragraph == 13
    assert article_text[citation.start : citation.end] == first.text
    start, end = first.highlight
    assert 0 <= start < end <= len(first.text)
    assert first.highlight_text.strip() == first.highlight_text
    assert "¶13" in citation.label()
    assert "Sergei Lavrov" in first.highlight_text
    assert 0.3 < first.similarity <= 1.0


def test_every_passage_is_an_exact_quote(engine, article_text):
    for question in ["sanctions", "What did China do?", "human rights resolution", "Olympics"]:
        for passage in engine.search(question, k=5).passages:
            c = passage.citation
            assert article_text[c.start : c.end] == passage.text


def test_k_and_offset_page_through_distinct_passages(engine):
    first = engine.search("North Korea missiles", k=2)
    more = engine.search("North Korea missiles", k=2, offset=2)
    ids = [p.chunk_id for p in first.passages + more.passages]
    assert len(ids) == 4 and len(set(ids)) == 4
    scores = [p.score for p in first.passages + more.passages]
    assert scores == sorted(scores, reverse=True)


def test_off_topic_question_is_not_in_the_source(engine):
    answer = engine.search("What is a good recipe for sourdough bread?")
    assert not answer.found
    assert all(p.similarity < 0.3 for p in answer.passages)
    assert answer.passages  # still the closest ones, as low-confidence


@pytest.mark.parametrize("question", ["", "   \n\t ", "???", "\x00\x07"])
def test_empty_questions_are_refused(engine, question):
    with pytest.raises(QuestionError):
        engine.search(question)


def test_huge_question_is_cut_with_notice(engine):
    answer = engine.search("Which Russian official visited Seoul? " + "blah " * 2000)
    assert answer.notices and "1,000" in answer.notices[0]
    assert len(answer.question) <= 1000


def test_control_characters_are_stripped():
    prepared = prepare_question("Who\x00 visited\u200b\x1b Seoul?\n\n")
    assert prepared.text == "Who visited Seoul?"


def test_sentence_transformers_path_gives_the_same_answer(tmp_path):
    """With CITEBOT_USE_ONNX=false everything is embedded by sentence-transformers (the GPU
    path); the answer matches the default ONNX path."""
    import sys

    from bot.core.engine import Engine
    from bot.settings import Settings
    from index.build.embedding import Embedder
    from tests.conftest import SOURCE_DIR

    engine = Engine(Settings(source_dir=SOURCE_DIR, index_dir=tmp_path / "i", use_onnx=False))
    engine.rebuild()
    assert isinstance(engine.build_encoder, Embedder)
    assert isinstance(engine.query_encoder, Embedder)
    assert "sentence_transformers" in sys.modules
    answer = engine.search("Which Russian official visited Seoul?")
    assert "Sergei Lavrov" in answer.passages[0].text
    assert "Sergei Lavrov" in answer.passages[0].highlight_text
    assert not (tmp_path / "i" / "models").exists()


def test_candidate_search_of_large_indexes_gives_the_same_first_answer(engine, monkeypatch,
                                                                       article_text):
    """Above FULL_SCORING_LIMIT chunks only vector and BM25 candidates are scored; force that
    path on the article and check it still answers, with exact quotes."""
    import index.backends.local as local_backend
    import index.query.search as search_module

    monkeypatch.setattr(local_backend, "FULL_SCORING_LIMIT", 5)
    monkeypatch.setattr(search_module, "CANDIDATES", 4)
    searcher = search_module.make_searcher(engine.corpus, engine.query_encoder)
    answer = searcher.search("Which Russian official visited Seoul?", k=3)
    assert "Sergei Lavrov" in answer.passages[0].text
    assert "Sergei Lavrov" in answer.passages[0].highlight_text
    for passage in answer.passages:
        c = passage.citation
        assert article_text[c.start : c.end] == passage.text
    assert not searcher.search("What is a good recipe for sourdough bread?").found


def test_copies_of_one_text_do_not_starve_the_candidates(engine, monkeypatch, article_text):
    """Ten copies of the article: the few vector and BM25 candidates are mostly copies of one
    passage; the pool is widened until k different passages are found."""
    import index.backends.local as local_backend
    import index.query.search as search_module
    from index.build.builder import assemble_corpus
    from index.ingest.documents import DocumentSet, parse_document

    copies = DocumentSet(tuple(
        parse_document(f"copy{i}/article.txt", article_text) for i in range(10)
    ))
    corpus, _, _ = assemble_corpus(copies, engine.build_encoder, engine.chunker())
    monkeypatch.setattr(local_backend, "FULL_SCORING_LIMIT", 5)
    monkeypatch.setattr(search_module, "CANDIDATES", 4)
    searcher = search_module.make_searcher(corpus, engine.query_encoder)
    answer = searcher.search("Which Russian official visited Seoul?", k=4)
    texts = [" ".join(p.text.split()) for p in answer.passages]
    assert len(texts) == 4 and len(set(texts)) == 4
    assert "Sergei Lavrov" in texts[0]
    more = searcher.search("Which Russian official visited Seoul?", k=4, offset=4)
    assert len(more.passages) == 4
    assert not set(texts) & {" ".join(p.text.split()) for p in more.passages}


def test_first_max_of_groups_matches_a_plain_loop():
    import numpy as np
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from index.query.search import _first_max_of_groups

    @settings(max_examples=200, deadline=None)
    @given(st.lists(st.lists(st.sampled_from([-1.0, 0.0, 0.5, 2.0, float("nan")]), min_size=1,
                             max_size=6), min_size=1, max_size=8))
    def check(groups):
        values = np.array([v for group in groups for v in group], dtype=np.float32)
        starts = np.cumsum([0] + [len(g) for g in groups[:-1]]).astype(np.int64)
        expected = [
            int(start + np.argmax(np.nan_to_num(np.array(group), nan=-np.inf)))
            for start, group in zip(starts, groups, strict=True)
        ]
        assert _first_max_of_groups(values, starts).tolist() == expected

    check()


def test_recent_queries_embed_a_question_once_and_keep_the_last_ones() -> None:
    import numpy as np

    from index.query.search import RecentQueries

    class Counting:
        def __init__(self) -> None:
            self.asked: list[str] = []

        def encode_query(self, text: str) -> np.ndarray:
            self.asked.append(text)
            return np.full((1, 4), len(self.asked), dtype=np.float32)

    inner = Counting()
    recent = RecentQueries(inner, size=2)
    first = recent.encode_query("a")
    assert recent.encode_query("a") is first and inner.asked == ["a"]
    assert not first.flags.writeable  # shared between searches: never changed in place
    recent.encode_query("b")
    recent.encode_query("c")  # "a" is the oldest: forgotten
    recent.encode_query("a")
    assert inner.asked == ["a", "b", "c", "a"]



LAUNCH = "On what date were the ballistic missiles launched toward Japan?"


def test_passages_far_below_the_best_are_marked_weak(engine):
    """A passage at similarity 0.17 was shown next to a 0.70 one without a mark (issue 20, 11)."""
    from index.answer import WEAK_SHARE

    answer = engine.search(LAUNCH, 8)
    best, expected = 0.0, []
    for passage in answer.passages:  # judged against the passages ranked above it
        best = max(best, passage.similarity)
        expected.append(passage.similarity < WEAK_SHARE * best)
    assert [p.weak for p in answer.passages] == expected
    assert not answer.passages[0].weak and any(expected)
    assert [p["weak"] for p in answer.to_dict()["passages"]] == expected
    # A later page (More, :more) is judged against the passages of the earlier ones too.
    later = engine.search(LAUNCH, 4, offset=4)
    assert [p.chunk_id for p in later.passages] == [p.chunk_id for p in answer.passages[4:]]
    assert [p.weak for p in later.passages] == expected[4:]
