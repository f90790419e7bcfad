"""Auto-answer latency (issue 24): from a new post to the bot's reply, next to ``/ask``.

The bot made by ``create_bot(settings, engine)`` over the bundled article (its index built in a
temporary directory), driven through discord.py's real gateway parsing, listeners, CommandTree
and HTTP layer, with the HTTP edge recorded in-process (``tests/bot/conftest.py``'s harness, as
in ``benchmarks/latency.py``). Three paths, interleaved question by question (the order rotates)
so that load from other processes on the shared machine hits them alike:

- **/ask**: a gateway INTERACTION_CREATE for ``/ask question:...``, timed from dispatch to the
  answer's follow-up request;
- **forum post**: THREAD_CREATE then MESSAGE_CREATE of the starter message in a forum with
  auto-answer on, timed from dispatch to the reply's request in the post's thread;
- **text channel**: MESSAGE_CREATE in a text channel with auto-answer on, timed from dispatch to
  the answer's request in the thread started from it (the thread's creation request included;
  Discord's own time to create it, about one HTTP round trip, is not: the edge answers at once).

Each question of ``tests/data/article_questions.jsonl`` (``--questions``, default 30) is asked
``--repeats`` times per path after ``--warmup`` untimed ones, each time by a new member (no
cooldown); a question's latency is the median of its repeats, p50/p95 over questions.

    .venv/bin/python benchmarks/auto_answer.py [--questions 30] [--repeats 3] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

QUESTIONS = ROOT / "tests" / "data" / "article_questions.jsonl"
FORUM_ID = 900000000000000050
PATHS = ("/ask", "forum post", "text channel")
MESSAGES = "/channels/{channel_id}/messages"


def load_questions(count: int) -> list[str]:
    lines = QUESTIONS.read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["question"] for line in lines if line.strip()][:count]


async def ask_slash(harness: Any, question: str, user_id: int) -> float:
    """Seconds from dispatching ``/ask`` to its answer's follow-up request."""
    recorder = harness.recorder
    started = time.monotonic()
    token = harness.slash("ask", question=question, who={"user_id": user_id})
    await recorder.wait_for(
        lambda: any(call.is_followup for call in recorder.for_token(token)), timeout=120
    )
    followup = next(call for call in recorder.for_token(token) if call.is_followup)
    if not followup.message.get("embeds"):
        raise SystemExit(f"/ask did not answer {question!r}")
    return followup.at - started


async def post(harness: Any, question: str, user_id: int, forum: bool) -> float:
    """Seconds from dispatching a new post (forum) or message (text channel) to the request
    that sends its auto-answer."""
    from tests.bot.conftest import CHANNEL_ID, user_payload

    recorder = harness.recorder
    before = len(recorder.calls)
    started = time.monotonic()
    if forum:
        channel = harness.post_in_forum(
            FORUM_ID, question, question, author=user_payload(user_id)
        )
    else:
        channel = int(harness.post_raw(CHANNEL_ID, question, author=user_payload(user_id))["id"])

    def answer() -> Any:
        for call in recorder.calls[before:]:
            posted = call.method == "POST" and call.path == MESSAGES
            if posted and call.url.endswith(f"/channels/{channel}/messages"):
                return call
        return None

    await recorder.wait_for(lambda: answer() is not None, timeout=120)
    sent = answer()
    if not sent.payload.get("embeds"):
        raise SystemExit(f"no answer to the post {question!r}: {sent.payload!r}"[:2000])
    return float(sent.at - started)


async def measure(questions: list[str], repeats: int, warmup: int) -> dict[str, list[float]]:
    """Per path, each question's median seconds over ``repeats``."""
    from bot.core.engine import Engine
    from tests.bot.conftest import CHANNEL_ID, GUILD_ID, USER_ID, harness_for, make_settings
    from tests.paths import ARTICLE_DIR

    with tempfile.TemporaryDirectory() as work:
        settings = make_settings(
            Path(work), source_dir=ARTICLE_DIR, discord_message_content=True,
            discord_cooldown_questions=1000,
        )
        engine = Engine(settings)
        engine.load(build_if_missing=True)
        users = iter(range(USER_ID + 1, USER_ID + 10_000_000))
        async with harness_for(settings, engine) as harness:
            harness.add_forum(FORUM_ID)
            harness.bot.servers.add_auto_answer(GUILD_ID, FORUM_ID)
            harness.bot.servers.add_auto_answer(GUILD_ID, CHANNEL_ID)

            async def ask(path: str, question: str) -> float:
                user = next(users)
                if path == "/ask":
                    return await ask_slash(harness, question, user)
                return await post(harness, question, user, forum=path == "forum post")

            for question in questions[:warmup]:
                for path in PATHS:
                    await ask(path, question)
            samples: dict[str, dict[int, list[float]]] = {path: {} for path in PATHS}
            for repeat in range(repeats):
                for number, question in enumerate(questions):
                    shift = (repeat + number) % len(PATHS)
                    for path in PATHS[shift:] + PATHS[:shift]:
                        seconds = await ask(path, question)
                        samples[path].setdefault(number, []).append(seconds)
                        harness.recorder.calls.clear()
                        harness.channel_calls.clear()
    return {
        path: [statistics.median(values) for values in per_question.values()]
        for path, per_question in samples.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    questions = load_questions(args.questions)
    results = asyncio.run(measure(questions, args.repeats, args.warmup))
    print(f"\n### Auto-answer latency ({len(questions)} questions x {args.repeats} repeats; "
          "per-question median, then p50/p95 over questions)\n")
    print("| path | p50 ms | p95 ms | p50 - /ask p50 ms |")
    print("| --- | --- | --- | --- |")
    base = float(np.percentile(results["/ask"], 50)) * 1000
    figures = {}
    for path, values in results.items():
        p50 = float(np.percentile(values, 50)) * 1000
        p95 = float(np.percentile(values, 95)) * 1000
        figures[path] = {"p50_ms": round(p50, 1), "p95_ms": round(p95, 1)}
        print(f"| {path} | {p50:.1f} | {p95:.1f} | {p50 - base:+.1f} |")
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
