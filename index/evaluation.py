"""Measuring retrieval: hit@k, MRR, highlight@1, passage length, no-answer precision/recall,
latency — on a JSONL question set against a built index, on JSONL conversations (each turn
asked with the earlier ones as history, first turns, follow-ups and topic changes counted
apart), or on SQuAD-format data where each article is indexed on its own, in memory, with the
production chunker and retrievers."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from index.answer import Answer, Passage
from index.errors import CitebotError
from index.query.conversation import Turn, turn_of

if TYPE_CHECKING:
    from index.build.corpus import Corpus
    from index.build.embedding import TextEncoder
    from index.ingest.chunking import Chunker
    from index.query.search import Searcher

Progress = Callable[[int, int], None]
EVAL_K = 5


class EvaluationDataError(CitebotError):
    """An evaluation file cannot be read."""


@dataclass(frozen=True, slots=True)
class LabelledQuestion:
    """A question and its gold answer strings; no answers means "not in the source".

    A question judged by section instead names the ``document`` and the ``section`` heading
    that answers it (documentation: the answer is a section, not a string); a passage is then
    a hit when it is cited to that document and section (a heading path's last part, with
    permalink signs ignored).
    """

    question: str
    answers: tuple[str, ...]
    document: str | None = None
    section: str | None = None

    @property
    def answerable(self) -> bool:
        """Whether the source answers it (gold strings, or a gold section)."""
        return bool(self.answers) or self.section is not None

    def answered_by(self, passage: Passage) -> bool:
        """Whether ``passage`` answers it: holds a gold string, or comes from the gold section."""
        if self.section is None:
            return contains_any(passage.text, self.answers)
        citation = passage.citation
        return citation.document == self.document and same_section(
            citation.section, self.section
        )


SECTION_SEPARATOR = " › "
_PERMALINK_SIGNS = "¶#🔗§"


def same_section(cited: str | None, gold: str) -> bool:
    """Whether a cited section (a heading, or a heading path "a › b") is the gold heading."""
    if cited is None:
        return False
    last = cited.rsplit(SECTION_SEPARATOR, 1)[-1]
    return _bare_heading(last) == _bare_heading(gold)


def _bare_heading(heading: str) -> str:
    return " ".join(heading.strip().rstrip(_PERMALINK_SIGNS).split()).casefold()


@dataclass(frozen=True, slots=True)
class Article:
    """A SQuAD article: its paragraphs (one document) and their questions."""

    title: str
    paragraphs: tuple[str, ...]
    questions: tuple[LabelledQuestion, ...]

    def text(self) -> str:
        """The article as one document: paragraphs separated by blank lines."""
        return "\n\n".join(p.strip() for p in self.paragraphs)


@dataclass
class Tally:
    """Running counts for one evaluation."""

    questions: int = 0
    answerable: int = 0
    hits: dict[int, int] = field(default_factory=lambda: {1: 0, 3: 0, 5: 0})
    reciprocal_rank: float = 0.0
    highlight_hits: int = 0
    passage_words: list[int] = field(default_factory=list)
    unanswerable: int = 0
    said_not_found: int = 0
    said_not_found_correctly: int = 0
    answerable_not_found: int = 0
    latencies: list[float] = field(default_factory=list)

    def add(self, labelled: LabelledQuestion, answer: Answer, seconds: float) -> None:
        """Score one answer against its labels."""
        self.questions += 1
        self.latencies.append(seconds)
        self.passage_words.extend(len(p.text.split()) for p in answer.passages)
        if not answer.found:
            self.said_not_found += 1
        if not labelled.answerable:
            self.unanswerable += 1
            if not answer.found:
                self.said_not_found_correctly += 1
            return
        self.answerable += 1
        if not answer.found:
            self.answerable_not_found += 1
        rank = first_hit(answer, labelled)
        if rank is not None:
            for k in self.hits:
                if rank <= k:
                    self.hits[k] += 1
            self.reciprocal_rank += 1.0 / rank
        if answer.passages and _highlight_hit(answer.passages[0], labelled):
            self.highlight_hits += 1

    def report(self) -> EvalReport:
        """The summary figures."""
        answerable = max(self.answerable, 1)
        latencies = sorted(self.latencies) or [0.0]
        precision = recall = None
        if self.unanswerable:
            precision = (
                self.said_not_found_correctly / self.said_not_found if self.said_not_found else 0.0
            )
            recall = self.said_not_found_correctly / self.unanswerable
        return EvalReport(
            questions=self.questions,
            answerable=self.answerable,
            unanswerable=self.unanswerable,
            hit_at_1=self.hits[1] / answerable,
            hit_at_3=self.hits[3] / answerable,
            hit_at_5=self.hits[5] / answerable,
            mrr=self.reciprocal_rank / answerable,
            highlight_at_1=self.highlight_hits / answerable,
            mean_words_per_passage=statistics.fmean(self.passage_words)
            if self.passage_words
            else 0.0,
            no_answer_precision=precision,
            no_answer_recall=recall,
            answerable_said_not_found=self.answerable_not_found / answerable,
            latency_p50_ms=1000 * percentile(latencies, 50),
            latency_p95_ms=1000 * percentile(latencies, 95),
        )


@dataclass(frozen=True)
class EvalReport:
    """Evaluation figures (hit@k and MRR over answerable questions only)."""

    questions: int
    answerable: int
    unanswerable: int
    hit_at_1: float
    hit_at_3: float
    hit_at_5: float
    mrr: float
    highlight_at_1: float
    mean_words_per_passage: float
    no_answer_precision: float | None
    no_answer_recall: float | None
    answerable_said_not_found: float
    latency_p50_ms: float
    latency_p95_ms: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


Search = Callable[[str, int], Answer]
"""search(question, k) -> Answer"""


def evaluate(
    search: Search,
    questions: Sequence[LabelledQuestion],
    k: int = EVAL_K,
    progress: Progress | None = None,
    tally: Tally | None = None,
) -> Tally:
    """Ask every question, timing each search, and tally the results."""
    tally = tally or Tally()
    for done, labelled in enumerate(questions, start=1):
        started = time.perf_counter()
        answer = search(labelled.question, k)
        tally.add(labelled, answer, time.perf_counter() - started)
        if progress is not None:
            progress(done, len(questions))
    return tally


def first_hit(answer: Answer, gold: Iterable[str] | LabelledQuestion) -> int | None:
    """1-based rank of the first passage containing a gold answer (or, for a question judged
    by section, cited to its section), or None."""
    labelled = gold if isinstance(gold, LabelledQuestion) else LabelledQuestion("", tuple(gold))
    for rank, passage in enumerate(answer.passages, start=1):
        if labelled.answered_by(passage):
            return rank
    return None


def _highlight_hit(passage: Passage, labelled: LabelledQuestion) -> bool:
    """The highlighted sentence holds a gold string (section-judged: the passage is a hit)."""
    if labelled.section is not None:
        return labelled.answered_by(passage)
    return contains_any(passage.highlight_text, labelled.answers)


def contains_any(text: str, gold: Iterable[str]) -> bool:
    """Whether any gold answer string is a substring of ``text``."""
    return any(g and g in text for g in gold)


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The q-th percentile (nearest rank) of already sorted values."""
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(q / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[index]


def _json_lines(path: Path) -> list[tuple[int, str]]:
    """The non-blank lines of ``path`` with their numbers; EvaluationDataError if unreadable."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise EvaluationDataError(f"cannot read {path}: {error}") from None
    return [(number, line) for number, line in enumerate(lines, start=1) if line.strip()]


def _labelled(record: dict[str, Any]) -> LabelledQuestion:
    """A ``{"question": ..., "answers": [...]}`` object (or ``{"question": ..., "document":
    ..., "section": ...}``, judged by section) as a LabelledQuestion (TypeError if
    malformed)."""
    answers = record.get("answers", [])
    document, section = record.get("document"), record.get("section")
    if not isinstance(record["question"], str) or not isinstance(answers, list):
        raise TypeError
    if section is not None and not (isinstance(section, str) and isinstance(document, str)):
        raise TypeError
    return LabelledQuestion(record["question"], tuple(map(str, answers)), document, section)


def load_split(path: Path, split: str | None) -> list[LabelledQuestion]:
    """The questions of ``path`` whose ``"split"`` is ``split`` (all when None)."""
    questions = load_jsonl(path)  # checks every line
    if split is None:
        return questions
    splits = [json.loads(line).get("split") for _, line in _json_lines(path)]
    chosen = [q for q, its in zip(questions, splits, strict=True) if its == split]
    if not chosen:
        raise EvaluationDataError(f"{path} holds no questions of split {split!r}")
    return chosen


def load_jsonl(path: Path) -> list[LabelledQuestion]:
    """Read ``{"question": ..., "answers": [...]}`` lines."""
    questions = []
    for number, line in _json_lines(path):
        try:
            questions.append(_labelled(json.loads(line)))
        except (ValueError, KeyError, TypeError, AttributeError):
            raise EvaluationDataError(
                f"{path}:{number}: expected {{\"question\": \"...\", \"answers\": [\"...\"]}}"
            ) from None
    if not questions:
        raise EvaluationDataError(f"{path} holds no questions")
    return questions


@dataclass(frozen=True, slots=True)
class DialogueTurn:
    """One labelled turn of a conversation; ``topic_change`` marks a turn that leaves the
    previous topic (counted apart from follow-ups)."""

    question: LabelledQuestion
    topic_change: bool = False


Dialogue = tuple[DialogueTurn, ...]
ConversationSearch = Callable[[str, int, Sequence[Turn]], Answer]
"""search(question, k, history) -> Answer"""
# Earlier turns a conversation keeps (as the bot does).
HISTORY_TURNS = 3
KINDS = ("first_turns", "follow_ups", "topic_changes")


@dataclass
class ConversationTally:
    """Running counts for conversations: one Tally per kind of turn, and how often each kind
    was read together with its history."""

    tallies: dict[str, Tally] = field(default_factory=lambda: {kind: Tally() for kind in KINDS})
    with_context: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))

    def add(self, kind: str, labelled: LabelledQuestion, answer: Answer, seconds: float) -> None:
        """Score one turn's answer."""
        self.tallies[kind].add(labelled, answer, seconds)
        if answer.context is not None:
            self.with_context[kind] += 1

    def report(self) -> dict[str, Any]:
        """Figures per kind of turn (kinds without turns left out), with ``read_with_context``:
        the share of turns answered together with the history."""
        figures: dict[str, Any] = {}
        for kind, tally in self.tallies.items():
            if tally.questions:
                figures[kind] = {
                    **tally.report().to_dict(),
                    "read_with_context": round(self.with_context[kind] / tally.questions, 4),
                }
        return figures


def evaluate_dialogues(
    search: ConversationSearch,
    dialogues: Sequence[Dialogue],
    k: int = EVAL_K,
    progress: Progress | None = None,
) -> ConversationTally:
    """Ask each conversation's turns in order, each with the earlier turns as history (their
    questions and the passages actually returned for them; the last HISTORY_TURNS)."""
    tally = ConversationTally()
    total = sum(len(d) for d in dialogues)
    done = 0
    for dialogue in dialogues:
        history: list[Turn] = []
        for position, turn in enumerate(dialogue):
            started = time.perf_counter()
            answer = search(turn.question.question, k, tuple(history[-HISTORY_TURNS:]))
            seconds = time.perf_counter() - started
            kind = (
                "first_turns" if position == 0
                else "topic_changes" if turn.topic_change
                else "follow_ups"
            )
            tally.add(kind, turn.question, answer, seconds)
            history.append(turn_of(answer))
            done += 1
            if progress is not None:
                progress(done, total)
    return tally


def is_dialogue_file(path: Path) -> bool:
    """Whether a JSONL file holds conversations (its first record has ``turns``)."""
    try:
        with path.open(encoding="utf-8") as lines:
            for line in lines:
                if line.strip():
                    record = json.loads(line)
                    return isinstance(record, dict) and "turns" in record
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return False


def load_dialogues(path: Path) -> list[Dialogue]:
    """Read ``{"turns": [{"question": ..., "answers": [...], "topic_change": false}, ...]}``
    lines (``answers`` empty = not in the source; ``topic_change`` optional)."""
    dialogues = []
    for number, line in _json_lines(path):
        try:
            turns = json.loads(line)["turns"]
            if not isinstance(turns, list) or not turns:
                raise TypeError
            dialogue = []
            for turn in turns:
                change = turn.get("topic_change", False)
                if not isinstance(change, bool):
                    raise TypeError
                dialogue.append(DialogueTurn(_labelled(turn), change))
            dialogues.append(tuple(dialogue))
        except (ValueError, KeyError, TypeError, AttributeError):
            raise EvaluationDataError(
                f"{path}:{number}: expected {{\"turns\": [{{\"question\": \"...\", "
                f"\"answers\": [\"...\"]}}, ...]}}"
            ) from None
    if not dialogues:
        raise EvaluationDataError(f"{path} holds no conversations")
    return dialogues


def load_squad(path: Path) -> list[Article]:
    """Read a SQuAD v1.1 / v2.0 file; is_impossible questions get no answers."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        articles = []
        for entry in data["data"]:
            paragraphs = tuple(p["context"] for p in entry["paragraphs"])
            questions = tuple(
                LabelledQuestion(
                    qa["question"],
                    () if qa.get("is_impossible") else tuple(a["text"] for a in qa["answers"]),
                )
                for p in entry["paragraphs"]
                for qa in p["qas"]
            )
            articles.append(Article(entry["title"], paragraphs, questions))
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise EvaluationDataError(
            f"{path} is not a SQuAD-format JSON file ({type(error).__name__})"
        ) from None
    return articles


SearcherFactory = Callable[["Corpus"], "Searcher"]


def evaluate_articles(
    articles: Sequence[Article],
    embedder: TextEncoder,
    chunker: Chunker,
    make_searcher: SearcherFactory,
    k: int = EVAL_K,
    progress: Progress | None = None,
) -> Tally:
    """Index each article on its own (in memory, production chunker) and ask its questions."""
    from index.build.builder import assemble_corpus
    from index.ingest.documents import DocumentSet, parse_document

    tally = Tally()
    total = sum(len(a.questions) for a in articles)
    asked = 0
    for article in articles:
        document = parse_document(f"{article.title}.txt", article.text())
        corpus, _, _ = assemble_corpus(DocumentSet((document,)), embedder, chunker)
        searcher = make_searcher(corpus)

        def advance(done: int, _total: int, base: int = asked) -> None:
            if progress is not None:
                progress(base + done, total)

        evaluate(searcher.search, article.questions, k, advance, tally)
        asked += len(article.questions)
    return tally
