"""The learned ranker (``CITEBOT_RANKER``, index/ranker.py) and the heading as a signal of its
own (``index.query.search.HEADING_WEIGHT``)."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import index.query.search as search
from bot.core.engine import Engine
from index.build.builder import assemble_corpus
from index.ingest.documents import load_documents
from index.query.search import Searcher, make_searcher
from index.ranker import (
    FEATURES,
    LearnedRanker,
    RankerError,
    default_model_path,
    features,
    model_record,
    rerank,
)
from tests.conftest import isolated_settings
from tests.paths import ARTICLE_DIR

QUESTIONS = [
    "Which Russian official visited Seoul?",
    "What did the Russian diplomat urge all countries to give up?",
    "Why have decades of sanctions failed?",
    "What did China's state newspaper say?",
]


def _stump(threshold: float = 0.5, feature: int = 0) -> dict:
    """A model of one tree: ``feature <= threshold`` scores 1, else -1 (NaN goes left)."""
    return {
        "format": 1, "features": list(FEATURES), "base": 0.25, "depth": 1, "rerank": 3,
        "trees": [{
            "feature": [feature, 0, 0], "threshold": [threshold, 0.0, 0.0],
            "left": [1, 0, 0], "right": [2, 0, 0], "missing_left": [True, False, False],
            "is_leaf": [False, True, True], "value": [0.0, 1.0, -1.0],
        }],
        "trained": {"data": "a test"},
    }


def test_the_shipped_model_loads_and_scores_every_feature_row() -> None:
    path = default_model_path()
    assert path.is_file() and path.stat().st_size < 1_000_000  # small, shipped in the package
    ranker = LearnedRanker.load()
    assert ranker.rerank >= 5
    rows = np.random.default_rng(0).normal(size=(7, len(FEATURES)))
    scores = ranker.score(rows)
    assert scores.shape == (7,) and np.all(np.isfinite(scores))
    assert json.loads(path.read_text())["features"] == list(FEATURES)


def test_the_model_file_is_package_data() -> None:
    import tomllib

    pyproject = tomllib.loads(
        (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text(encoding="utf-8")
    )
    assert "ranker.json" in pyproject["tool"]["setuptools"]["package-data"]["index"]


def test_trees_are_walked_as_scikit_learn_walks_them(tmp_path: Path) -> None:
    path = tmp_path / "ranker.json"
    path.write_text(json.dumps(_stump()))
    ranker = LearnedRanker.load(path)
    rows = np.zeros((3, len(FEATURES)))
    rows[:, 0] = [0.5, 0.6, np.nan]  # <= goes left; NaN goes where the node says
    assert ranker.score(rows).tolist() == [1.25, -0.75, 1.25]


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (None, "cannot be read"),
        ("{not json", "damaged or of another version"),
        (json.dumps({**_stump(), "features": ["dense"]}), "damaged or of another version"),
        (json.dumps({**_stump(), "format": 99}), "damaged or of another version"),
        (json.dumps(_stump(feature=len(FEATURES))), "damaged or of another version"),
    ],
)
def test_a_missing_or_damaged_model_is_a_clear_error_not_a_silent_fallback(
    tmp_path: Path, content: str | None, says: str
) -> None:
    path = tmp_path / "ranker.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(RankerError, match=says) as raised:
        LearnedRanker.load(path)
    assert "CITEBOT_RANKER=linear" in str(raised.value) and str(path) in str(raised.value)


def test_the_engine_refuses_the_learned_ranker_without_its_model(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr("index.ranker.default_model_path", lambda: tmp_path / "gone.json")
    learned = Engine(isolated_settings(ranker="learned"))
    with pytest.raises(RankerError, match="CITEBOT_RANKER=linear"):
        learned.make_searcher(engine.corpus)


def test_the_setting_reads_citebot_ranker(monkeypatch: pytest.MonkeyPatch) -> None:
    assert isolated_settings().ranker == "linear"
    monkeypatch.setenv("CITEBOT_RANKER", "learned")
    assert isolated_settings().ranker == "learned"
    monkeypatch.setenv("CITEBOT_RANKER", "neural")
    with pytest.raises(ValueError, match="ranker"):
        isolated_settings()


def test_the_engine_passes_its_ranker_to_the_searcher(engine: Engine) -> None:
    assert engine.make_searcher(engine.corpus).learned is None
    learned = Engine(isolated_settings(ranker="learned")).make_searcher(engine.corpus)
    assert learned.ranker == "learned" and learned.learned is not None


def test_linear_ranks_byte_for_byte_as_the_default(engine: Engine) -> None:
    default = engine.make_searcher(engine.corpus)
    linear = make_searcher(engine.corpus, engine.query_encoder, ranker="linear")
    for question in QUESTIONS:
        assert linear.search(question, 5) == default.search(question, 5)


def test_the_learned_ranker_reorders_only_its_top_candidates(
    engine: Engine, tmp_path: Path
) -> None:
    # a model that puts the candidate with the *lowest* linear score of its top 3 first
    path = tmp_path / "ranker.json"
    model = _stump(threshold=-1e9, feature=FEATURES.index("linear"))
    model["trees"][0]["threshold"][0] = 0.0
    model["trees"][0]["feature"][0] = FEATURES.index("linear_gap")
    model["trees"][0]["value"] = [0.0, -1.0, 1.0]  # gap > 0 scores higher
    path.write_text(json.dumps(model))
    linear = Searcher(engine.corpus, engine.query_encoder)
    learned = Searcher(
        engine.corpus, engine.query_encoder, ranker="learned",
        ranker_model=LearnedRanker.load(path),
    )
    query = search.Query(QUESTIONS[0], engine.query_encoder.encode_query(QUESTIONS[0]))
    before, after = linear.rank(query), learned.rank(query)
    assert list(after.rows[:3]) == [*before.rows[1:3], before.rows[0]]
    assert list(after.rows[3:]) == list(before.rows[3:])
    assert np.all(np.diff(after.scores) <= 0)  # shown scores still descend


def test_rerank_keeps_the_rest_below_in_linear_order() -> None:
    linear = np.array([3.0, 1.0, 2.0, 0.5])
    final = rerank(linear, np.array([-5.0, 7.0]), np.array([0, 2]))
    assert list(np.argsort(-final, kind="stable")) == [2, 0, 1, 3]


def test_features_of_candidates() -> None:
    table = features(
        linear=np.array([2.0, 1.0]),
        dense=np.array([0.5, 0.7]),
        lexical=np.array([4.0, 0.0]),
        evidence=np.array([1.0, 3.0, 0.5]),
        sentence_dense=np.array([0.2, 0.6, 0.6]),
        sentence_lexical=np.array([2.0, 1.0, 0.0]),
        types=np.array([0.0, 1.0, 0.0]),
        starts=np.array([0, 2]),
        in_section=np.array([True, False]),
        heading_match=np.array([0.5, 0.5]),
        section_ids=np.array([3, -1]),
        question_terms=4,
    )
    named = dict(zip(FEATURES, table.T, strict=True))
    assert table.shape == (2, len(FEATURES))
    assert named["best_sentence_dense"].tolist() == [0.6, 0.6]
    assert named["second_sentence_dense"].tolist() == [0.2, 0.6]  # one sentence: itself
    assert named["best_evidence"].tolist() == [3.0, 0.5]
    assert named["sentences"].tolist() == [2, 1]
    assert named["type_match"].tolist() == [1, 0]
    assert named["heading_match"].tolist() == [0.5, 0.0]  # only under a section heading
    assert named["lexical_share"].tolist() == [1.0, 0.0]
    assert named["linear_gap"].tolist() == [0.0, 1.0]
    assert named["question_terms"].tolist() == [4, 4]


def test_the_manifest_records_the_shipped_model(engine: Engine) -> None:
    """What the saved index's manifest says (a ranking change is then traceable to a build)."""
    recorded = engine.corpus.manifest["ranker_model"]
    assert recorded == model_record()
    assert recorded["sha256"] == hashlib.sha256(default_model_path().read_bytes()).hexdigest()


HEADINGS_PAGE = (
    "# Ferry guide\n\n"
    "## Crossing to the island in winter\n\n"
    "Boats leave from the north pier at nine and at three.\n\n"
    "## Tickets\n\n"
    "The ferry office sells tickets for the winter crossing at the pier.\n"
)


def test_a_heading_that_matches_the_question_counts_with_its_weight(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "docs"
    source.mkdir()
    (source / "ferry.md").write_text(HEADINGS_PAGE, encoding="utf-8")
    shutil.copy(next(ARTICLE_DIR.iterdir()), source / "article.txt")
    corpus, _, _ = assemble_corpus(
        load_documents(source), engine.build_encoder, engine.chunker()
    )
    searcher = Searcher(corpus, engine.query_encoder)
    question = "when is the island crossing in winter"
    lexical = searcher.lexical_query(question)
    vector = engine.query_encoder.encode_query(question)
    found = searcher.index.candidates(vector[0], lexical, 200)
    match = searcher._heading_match(found, lexical)
    sections = {
        corpus.table[int(row)].section: float(value)
        for row, value in zip(found.rows, match, strict=True)
    }
    # "island", "crossing", "winter" of the question's 3 terms are in the heading path
    assert sections["Ferry guide › Crossing to the island in winter"] == pytest.approx(1.0)
    assert sections["Ferry guide › Tickets"] == 0.0

    def scores(weight: float) -> dict[str | None, float]:
        monkeypatch.setattr(search, "HEADING_WEIGHT", weight)
        ranking = searcher.rank(search.Query(question, vector), 200, lexical)
        return {int(row): float(score)
                for row, score in zip(ranking.rows, ranking.scores, strict=True)}

    heading = "Ferry guide › Crossing to the island in winter"
    crossing = next(
        row for row in range(len(corpus.chunks)) if corpus.table[row].section == heading
    )
    off, on = scores(0.0), scores(2.0)
    for row, score in off.items():
        assert on[row] == pytest.approx(score + (2.0 if row == crossing else 0.0), abs=1e-5)
    assert on[crossing] > off[crossing] and any(on[row] == off[row] for row in off)
