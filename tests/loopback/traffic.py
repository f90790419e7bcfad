"""Many ``/ask`` through the stand-in, and what became of each (for the load and soak benchmarks).

An interaction's acknowledgement is the first interaction callback the stand-in received for it
(a deferral or an immediate message); its answer is the follow-up with passages. Times are
``time.monotonic()`` in this process, from just before the INTERACTION_CREATE dispatch.
"""

from __future__ import annotations

import json
import statistics
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from tests.loopback.recorder import MESSAGE, Request
from tests.loopback.server import LoopbackDiscord

QUESTIONS = Path(__file__).resolve().parents[1] / "data" / "article_questions.jsonl"


def article_questions() -> list[str]:
    """The article's own question set (tests/data/article_questions.jsonl)."""
    lines = QUESTIONS.read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["question"] for line in lines if line.strip()]


@dataclass
class Outcome:
    """What became of one question."""

    token: str
    dispatched_at: float
    acked_at: float | None = None
    answered_at: float | None = None
    kind: str = "pending"  # answered | busy | refused | error | pending
    text: str = ""

    @property
    def ack_seconds(self) -> float | None:
        return None if self.acked_at is None else self.acked_at - self.dispatched_at

    @property
    def answer_seconds(self) -> float | None:
        return None if self.answered_at is None else self.answered_at - self.dispatched_at


def classify(outcome: Outcome, calls: list[Request]) -> Outcome:
    """Fill ``outcome`` from the calls of its interaction (in arrival order)."""
    for call in calls:
        if call.is_callback and outcome.acked_at is None:
            outcome.acked_at = call.at
            if call.callback_type == MESSAGE:  # answered at once: a refusal
                outcome.text = call.message.get("content") or ""
                outcome.kind = "busy" if "busy" in outcome.text.lower() else "refused"
                outcome.answered_at = call.at
                return outcome
        elif call.is_followup and call.succeeded and outcome.acked_at is not None:
            outcome.answered_at = call.at
            outcome.text = call.message.get("content") or ""
            if call.message.get("embeds"):
                outcome.kind = "answered"
            else:
                outcome.kind = "busy" if "busy" in outcome.text.lower() else "error"
            return outcome
    return outcome


def settled(calls: list[Request]) -> bool:
    """Whether the interaction got its last call (an answer or a refusal)."""
    for call in calls:
        if call.callback_type == MESSAGE:
            return True
        if call.is_followup and call.succeeded:
            return True
    return False


async def ask(loopback: LoopbackDiscord, question: str, user_id: int, guild_id: int) -> Outcome:
    """Dispatch one ``/ask`` (returns at once; classify later)."""
    dispatched_at = time.monotonic()
    token = await loopback.slash("ask", user_id=user_id, guild_id=guild_id, question=question)
    return Outcome(token, dispatched_at)


async def wait_settled(
    loopback: LoopbackDiscord, outcomes: list[Outcome], timeout: float
) -> list[Outcome]:
    """Wait until every question was answered or refused (or ``timeout``); classify them."""

    def done() -> bool:
        return all(settled(loopback.recorder.for_token(o.token)) for o in outcomes)

    with suppress(AssertionError):  # the ones still pending are reported as such
        await loopback.recorder.wait_for(done, timeout)
    return [classify(o, loopback.recorder.for_token(o.token)) for o in outcomes]


def percentiles(values: list[float]) -> tuple[float, float, float]:
    """p50, p99, max (seconds); NaN when empty."""
    if not values:
        return (float("nan"),) * 3
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, max(0, round(0.99 * len(ordered)) - 1))]
    return statistics.median(ordered), p99, ordered[-1]
