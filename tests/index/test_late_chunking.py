"""Late chunking (issue 26, off by default): a build embeds each chunk once and pools its
sentences' vectors from that pass (less part of the chunk's own vector); chunk vectors stay
exactly those of a plain build. Such an index is judged "not in the source" with the constants
fitted for pooled sentence vectors."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bot.core.engine import Engine
from index.build.builder import ALONE, IN_CHUNK, IN_CHUNK_PLAIN
from index.ingest.chunking import normalize_for_search
from index.query.evidence import RULES, Evidence, Rule, found_in_source, rule_for
from tests.conftest import SOURCE_DIR, isolated_settings


def _engine(tmp_path: Path, built_index_dir: Path, late: bool) -> Engine:
    sources = tmp_path / "src"
    if not sources.exists():
        sources.mkdir()
        shutil.copy(SOURCE_DIR / "north-korea-allied-coordination.txt", sources / "article.txt")
    index_dir = tmp_path / "index"
    if not (index_dir / "models").exists():  # the session's export: no second export here
        shutil.copytree(built_index_dir / "models", index_dir / "models")
    return Engine(isolated_settings(source_dir=sources, index_dir=index_dir, late_chunking=late))


def test_one_pass_per_chunk_gives_the_same_chunk_vectors(
    tmp_path: Path, built_index_dir: Path, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    late = _engine(tmp_path, built_index_dir, late=True)
    encoder = late.build_encoder
    passed: list[str] = []  # every text the model runs over
    for name in ("encode", "encode_in_context"):
        real = getattr(encoder, name)

        def spy(texts: Any, *args: Any, real: Any = real, **kwargs: Any) -> Any:
            passed.extend(texts)
            return real(texts, *args, **kwargs)

        monkeypatch.setattr(encoder, name, spy)
    report = late.rebuild()
    corpus = late.corpus
    assert corpus.manifest["sentence_vectors"] == IN_CHUNK
    assert engine.corpus.manifest["sentence_vectors"] == ALONE
    unique_chunks = len({chunk.text for chunk in corpus.chunks})
    assert len(passed) == unique_chunks  # no sentence embedded on its own
    assert report.embedded == len({normalize_for_search(t) for t in corpus.table.sentence_texts()}
                                  | {chunk.text for chunk in corpus.chunks})
    assert report.sentences > report.chunks
    assert np.allclose(corpus.chunk_vectors(), engine.corpus.chunk_vectors(), atol=1e-5)
    plain = engine.corpus.sentence_floats().astype(np.float32)
    pooled = corpus.sentence_floats().astype(np.float32)
    assert pooled.shape == plain.shape
    assert np.allclose(np.linalg.norm(pooled, axis=1), 1.0, atol=1e-2)
    cosines = (plain * pooled).sum(axis=1)
    assert np.median(cosines) < 0.99  # in context, not alone
    answer = late.search("Which Russian official visited Seoul?", 3)
    assert answer.passages and "Lavrov" in answer.passages[0].text


def test_vectors_are_reused_only_from_an_index_made_the_same_way(
    tmp_path: Path, built_index_dir: Path
) -> None:
    late = _engine(tmp_path, built_index_dir, late=True)
    first = late.rebuild()
    pooled = late.corpus.sentence_floats().astype(np.float32)
    again = late.rebuild()
    assert again.embedded == 0 and again.reused == first.embedded + first.reused
    plain = _engine(tmp_path, built_index_dir, late=False)
    switched = plain.rebuild()
    assert switched.reused == 0 and switched.embedded == first.embedded
    assert plain.corpus.manifest["sentence_vectors"] == ALONE
    alone = plain.corpus.sentence_floats().astype(np.float32)
    assert not np.allclose(alone, pooled, atol=1e-3)  # not the previous index's vectors
    back = _engine(tmp_path, built_index_dir, late=True).rebuild()
    assert back.reused == 0 and back.embedded == first.embedded


def test_an_index_of_pooled_sentence_vectors_is_judged_by_the_rule_fitted_for_them(
    tmp_path: Path, built_index_dir: Path, engine: Engine
) -> None:
    late = _engine(tmp_path, built_index_dir, late=True)
    late.rebuild()
    pooled, alone = late.searcher, engine.searcher
    assert pooled.rule == RULES[IN_CHUNK] and alone.rule == RULES[ALONE]
    assert pooled.min_similarity < alone.min_similarity
    # pooled sentences are less similar to any question: a best cosine of 0.27 with every word
    # of the question in the sources is an answer in such an index, not in the other
    evidence = Evidence(0.27, terms=3, known=1.0)
    assert found_in_source(evidence, pooled.min_similarity, pooled.rule)
    assert not found_in_source(evidence, alone.min_similarity, alone.rule)
    answer = late.search("Which Russian official visited Seoul?", 3)
    assert answer.found and "Lavrov" in answer.passages[0].text
    assert not late.search("How long should I knead bread dough?", 3).found


def test_an_index_that_does_not_say_how_it_made_its_sentence_vectors_gets_the_default_rule():
    assert rule_for({}) == RULES[ALONE] == Rule()
    assert rule_for({"sentence_vectors": "something newer"}) == RULES[ALONE]
    assert rule_for({"sentence_vectors": IN_CHUNK_PLAIN}).min_similarity == 0.25
    # indexes pooled before CONTEXT_SHARE keep the rule fitted for them; today's have their own
    assert RULES[IN_CHUNK] != RULES[IN_CHUNK_PLAIN] != RULES[ALONE]
