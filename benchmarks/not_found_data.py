"""The evidence (index/query/evidence.py) of labelled question/corpus pairs, for calibrating and
measuring the "not in the source" rule: shared by benchmarks/fit_not_found.py and
benchmarks/not_found.py.

Pairs, each tagged with its group and its half (calibration "fit" or held-out "test"):

- ``squad``: SQuAD v1.1 dev questions against their own article (answerable);
- ``wrong-random`` / ``wrong-close``: the same questions against another article, a random one
  and the one with the sentence most similar to the question (off-topic; pairs where the other
  article contains a gold answer string are skipped);
- ``squad2-impossible``: SQuAD 2.0 dev's unanswerable questions against their article (the
  whole v1.1 article, which holds every 2.0 paragraph);
- ``off-topic`` / ``near-topic`` / ``article``: tests/data/off_topic_questions.jsonl (other
  subjects, most sharing a word with the article), tests/data/near_topic_questions.jsonl (about
  the article's subject, not answered by it) and the answerable lines of
  tests/data/article_questions.jsonl, against the bundled article.

Halves: even-numbered SQuAD articles and even lines of the off-topic set calibrate; odd ones,
and the near-topic and article sets entirely, are held out.
"""

from __future__ import annotations

import pickle
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import index.query.search as search_module  # noqa: E402
from bot.core.engine import Engine  # noqa: E402
from bot.settings import Settings  # noqa: E402
from index.evaluation import (  # noqa: E402
    EVAL_K,
    Article,
    LabelledQuestion,
    Tally,
    load_jsonl,
    load_squad,
)
from index.query.evidence import Evidence  # noqa: E402

DATA = ROOT / "tests" / "data"
SQUAD_DIR = ROOT.parent / "shared" / "data" / "squad"
DEFAULT_SQUAD = SQUAD_DIR / "dev-v1.1.json"
DEFAULT_SQUAD2 = SQUAD_DIR / "dev-v2.0-part.json"


@dataclass(frozen=True, slots=True)
class Pair:
    """One question asked of one corpus, with its evidence and whether the corpus answers it."""

    group: str
    half: str
    question: str
    answerable: bool
    evidence: Evidence


@contextmanager
def recording() -> Iterator[list[Evidence]]:
    """Collect the Evidence of every search made inside the block (same code path as the app)."""
    seen: list[Evidence] = []
    original = search_module.found_in_source

    def record(evidence: Evidence, min_similarity: float) -> bool:
        seen.append(evidence)
        return original(evidence, min_similarity)

    search_module.found_in_source = record  # type: ignore[assignment]
    try:
        yield seen
    finally:
        search_module.found_in_source = original  # type: ignore[assignment]


def _evidence(
    searcher: search_module.Searcher, labelled: LabelledQuestion, tally: Tally | None = None
) -> Evidence:
    """Ask as `citebot eval` does (k 5, timed, scored into ``tally``) and keep the evidence."""
    with recording() as seen:
        started = time.perf_counter()
        answer = searcher.search(labelled.question, k=EVAL_K)
        seconds = time.perf_counter() - started
    if tally is not None:
        tally.add(labelled, answer, seconds)
    return seen[-1]


def article_engine(remember_queries: bool = True) -> Engine:
    """An engine over the bundled article, its index built in a temporary folder;
    ``remember_queries``: embed a question once however often it is searched."""
    folder = Path(tempfile.mkdtemp(prefix="citebot-not-found-"))
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, source_dir=ROOT / "tests" / "data" / "article", index_dir=folder / "index"
    )
    engine = Engine(settings, remember_queries=remember_queries)
    engine.load(build_if_missing=True)
    return engine


def article_pairs(engine: Engine) -> list[Pair]:
    """The off-topic set and the article set's answerable questions, on the bundled article."""
    pairs = []
    for number, labelled in enumerate(load_jsonl(DATA / "off_topic_questions.jsonl")):
        half = "fit" if number % 2 == 0 else "test"
        pairs.append(Pair("off-topic", half, labelled.question, False,
                          _evidence(engine.searcher, labelled)))
    for labelled in load_jsonl(DATA / "near_topic_questions.jsonl"):
        pairs.append(Pair("near-topic", "test", labelled.question, False,
                          _evidence(engine.searcher, labelled)))
    for labelled in load_jsonl(DATA / "article_questions.jsonl"):
        if labelled.answers:
            pairs.append(Pair("article", "test", labelled.question, True,
                              _evidence(engine.searcher, labelled)))
    return pairs


def squad_pairs(
    engine: Engine,
    squad: Path = DEFAULT_SQUAD,
    squad2: Path | None = DEFAULT_SQUAD2,
    articles: int | None = None,
    progress: Callable[[str], None] = print,
    tally: Tally | None = None,
) -> list[Pair]:
    """SQuAD pairs (see the module's docstring); ``articles`` limits the v1.1 articles used;
    ``tally`` gets the answers to the questions asked of their own article."""
    from index.build.builder import assemble_corpus
    from index.ingest.documents import DocumentSet, parse_document

    chosen = load_squad(squad)[:articles]
    impossible: dict[str, list[LabelledQuestion]] = {}
    if squad2 is not None:
        for article in load_squad(squad2):
            impossible[article.title] = [q for q in article.questions if not q.answers]
    started = time.perf_counter()
    searchers = []
    for number, article in enumerate(chosen):
        document = parse_document(f"{article.title}.txt", article.text())
        corpus, _, _ = assemble_corpus(
            DocumentSet((document,)), engine.build_encoder, engine.chunker()
        )
        searchers.append(engine.make_searcher(corpus))
        seconds = time.perf_counter() - started
        progress(f"built {number + 1}/{len(chosen)} articles ({seconds:.0f} s)")
    closest = _closest_other_article(engine, chosen, searchers)
    rng = random.Random(12)
    pairs = []
    for number, (article, searcher) in enumerate(zip(chosen, searchers, strict=True)):
        half = "fit" if number % 2 == 0 else "test"
        for position, labelled in enumerate(article.questions):
            question = labelled.question
            evidence = _evidence(searcher, labelled, tally)
            pairs.append(Pair("squad", half, question, True, evidence))
            others = [rng.choice([i for i in range(len(chosen)) if i != number]),
                      int(closest[number][position])]
            for group, other in zip(("wrong-random", "wrong-close"), others, strict=True):
                if _holds_an_answer(chosen[other], labelled.answers):
                    continue
                pairs.append(Pair(group, half, question, False,
                                  _evidence(searchers[other], labelled)))
        for labelled in impossible.get(article.title, []):
            pairs.append(Pair("squad2-impossible", half, labelled.question, False,
                              _evidence(searcher, labelled)))
        seconds = time.perf_counter() - started
        progress(f"asked {number + 1}/{len(chosen)} articles ({seconds:.0f} s)")
    return pairs


def _closest_other_article(
    engine: Engine, chosen: list[Article], searchers: list[search_module.Searcher]
) -> list[np.ndarray]:
    """For each question, the other article holding the sentence most similar to it."""
    matrices = [s.corpus.sentence_matrix for s in searchers]
    result = []
    for number, article in enumerate(chosen):
        vectors = np.vstack([engine.query_encoder.encode_query(q.question)
                             for q in article.questions])
        best = np.stack([(vectors @ m.T).max(axis=1) for m in matrices], axis=1)
        best[:, number] = -np.inf
        result.append(best.argmax(axis=1))
    return result


def _holds_an_answer(article: Article, answers: tuple[str, ...]) -> bool:
    text = article.text()
    return any(a and a in text for a in answers)


def collect(
    cache: Path | None = None,
    articles: int | None = None,
    squad: Path = DEFAULT_SQUAD,
    squad2: Path | None = DEFAULT_SQUAD2,
) -> tuple[list[Pair], dict[str, object]]:
    """Every pair, and the `citebot eval` report of the SQuAD questions on their own article;
    read from ``cache`` when it exists (the evidence does not depend on the rule's
    coefficients), else searched and written there."""
    if cache is not None and cache.exists():
        pairs, report = pickle.loads(cache.read_bytes())
        return pairs, report
    engine = article_engine()  # one embedding per question for its several corpora
    tally = Tally()
    pairs = article_pairs(engine) + squad_pairs(
        engine, squad, squad2, articles, progress=lambda m: print(m, file=sys.stderr), tally=tally
    )
    report = tally.report().to_dict()
    if cache is not None:
        cache.write_bytes(pickle.dumps((pairs, report)))
    return pairs, report
