"""Fit and measure the rule that marks a passage *weak* (issue 20, item 11): far below the
answer's best passage, shown with a mark so that it does not look as good as the best one.

    .venv/bin/python benchmarks/weak_passages.py [--squad ../shared/data/squad/dev-v1.1.json]
        [--articles N] [--k 5] [--cache /tmp/weak.pkl]

Each question is asked as ``citebot eval`` asks it (k passages; SQuAD articles indexed one at a
time, in memory; the article set against the bundled article). For every passage below rank 1,
its gap to the best passage of the answer (similarity of its highlighted sentence, and fused
score) and whether it contains a gold answer string are recorded. Candidate rules (a similarity
gap above X; a score gap above Y) are swept: for each, the share of passages it marks, the share
of the marked ones that hold the answer (should be low), and the share of the answer-holding
passages it marks (should be low: a weak mark on the right passage misleads). Even-numbered
SQuAD articles fit, odd-numbered ones and the article set check.
"""

from __future__ import annotations

import argparse
import pickle
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.core.engine import Engine  # noqa: E402
from bot.settings import Settings  # noqa: E402
from index.evaluation import contains_any, load_jsonl, load_squad  # noqa: E402

DATA = ROOT / "tests" / "data"
DEFAULT_SQUAD = ROOT.parent / "shared" / "data" / "squad" / "dev-v1.1.json"


@dataclass(frozen=True, slots=True)
class Shown:
    """One passage below rank 1 of one answer."""

    group: str  # "fit", "check" (SQuAD halves) or "article"
    rank: int
    similarity: float  # of its highlighted sentence to the question
    best_above: float  # the best similarity among ranks 1 to this one
    best_all: float  # the best similarity in the answer (k passages)
    score_gap: float  # rank 1's fused score minus this passage's
    holds_answer: bool
    weak: bool  # as marked by the engine now


def _record(group: str, answer, gold: tuple[str, ...], out: list[Shown]) -> None:
    passages = answer.passages
    if not passages or not gold:
        return
    best_all = max(p.similarity for p in passages)
    for rank, passage in enumerate(passages[1:], start=2):
        out.append(Shown(
            group,
            rank,
            passage.similarity,
            max(p.similarity for p in passages[:rank]),
            best_all,
            passages[0].score - passage.score,
            contains_any(passage.text, gold),
            passage.weak,
        ))


def _below(best: float, similarity: float) -> float:
    """How far below ``best`` ``similarity`` is, as a share of it (0 when best <= 0)."""
    return 1 - similarity / best if best > 0 else 0.0


def collect(squad: Path, articles: int | None, k: int) -> list[Shown]:
    """Ask every question and record its passages below rank 1."""
    from index.build.builder import assemble_corpus
    from index.ingest.documents import DocumentSet, parse_document

    shown: list[Shown] = []
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None, source_dir=DATA / "article", index_dir=Path(tmp) / "index"
        )
        engine = Engine(settings)
        engine.load(build_if_missing=True)
        for labelled in load_jsonl(DATA / "article_questions.jsonl"):
            _record("article", engine.search(labelled.question, k), labelled.answers, shown)
        chunker = engine.chunker()
        for number, article in enumerate(load_squad(squad)[: articles or None]):
            document = parse_document(f"{article.title}.txt", article.text())
            corpus, _, _ = assemble_corpus(DocumentSet((document,)), engine.build_encoder, chunker)
            searcher = engine.make_searcher(corpus)
            group = "fit" if number % 2 == 0 else "check"
            for labelled in article.questions:
                _record(group, searcher.search(labelled.question, k), labelled.answers, shown)
            print(f"article {number + 1}: {article.title}", file=sys.stderr, flush=True)
    return shown


def table(shown: list[Shown], name: str, value, thresholds) -> None:
    """Per threshold and group: marked share, answer share among marked / unmarked, and the
    share of answer-holding passages marked."""
    print(f"\n{name}")
    print("threshold  group    marked  ans|marked  ans|unmarked  answers marked")
    for threshold in thresholds:
        for group in ("fit", "check", "article"):
            rows = [s for s in shown if s.group == group]
            if not rows:
                continue
            marked = [s for s in rows if value(s) > threshold]
            unmarked = [s for s in rows if value(s) <= threshold]
            holding = [s for s in rows if s.holds_answer]
            print(
                f"{threshold:9.3f}  {group:7s} {len(marked) / len(rows):7.1%}"
                f"  {_share(marked):10s}  {_share(unmarked):12s}"
                f"  {sum(value(s) > threshold for s in holding) / max(len(holding), 1):6.1%}"
                f" of {len(holding)}"
            )


def _share(rows: list[Shown]) -> str:
    if not rows:
        return "—"
    return f"{sum(s.holds_answer for s in rows) / len(rows):.1%}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--squad", type=Path, default=DEFAULT_SQUAD)
    parser.add_argument("--articles", type=int, help="only the first N SQuAD articles")
    parser.add_argument("--k", type=int, default=5, help="passages per question (5)")
    parser.add_argument("--cache", type=Path, help="keep the records here; reuse them if there")
    args = parser.parse_args()
    if args.cache is not None and args.cache.exists():
        shown = pickle.loads(args.cache.read_bytes())
    else:
        shown = collect(args.squad, args.articles, args.k)
        if args.cache is not None:
            args.cache.write_bytes(pickle.dumps(shown))
    for group in ("fit", "check", "article"):
        rows = [s for s in shown if s.group == group]
        if rows:
            print(f"{group}: {len(rows)} passages below rank 1, {_share(rows)} hold an answer")
    table(shown, "similarity gap (best in the answer - passage)",
          lambda s: s.best_all - s.similarity, (0.15, 0.20, 0.25, 0.30, 0.35))
    table(shown, "similarity gap (best of ranks 1 to this one - passage)",
          lambda s: s.best_above - s.similarity, (0.20, 0.25, 0.30, 0.35))
    table(shown, "share below the best in the answer (1 - passage / best)",
          lambda s: _below(s.best_all, s.similarity), (0.4, 0.5, 0.55, 0.6, 0.65))
    table(shown, "share below the best of ranks 1 to this one (1 - passage / best)",
          lambda s: _below(s.best_above, s.similarity), (0.4, 0.5, 0.55, 0.6, 0.65))
    table(shown, "score gap (rank 1 - passage, fused z units)",
          lambda s: s.score_gap, (3.0, 4.0, 5.0, 6.0))
    table(shown, "as marked by the engine", lambda s: float(s.weak), (0.5,))

if __name__ == "__main__":
    main()
