"""``citebot discord`` as a process of its own against the loopback Discord: killed during a
``/reindex``, and stopped with SIGTERM while questions are in flight."""

from __future__ import annotations

import re
import shutil
import signal
import time
from pathlib import Path

import pytest

from tests.loopback import ADMIN_PERMISSIONS, LoopbackDiscord
from tests.loopback.process import BotProcess
from tests.paths import ARTICLE_DIR
from tests.wire.conftest import DOCUMENT, FOUND, USER_ID

GRACE_SECONDS = 10.0


def reshuffled(text: str) -> str:
    """The article's paragraphs in reverse order, each with its sentences reversed: real text
    whose chunks are all new, so a rebuild has to embed them (it takes a while)."""
    paragraphs = [p for p in re.split(r"\n\s*\n", text) if p.strip()]
    turned = [" ".join(reversed(re.split(r"(?<=[.!?])\s+", p.strip()))) for p in paragraphs]
    return "\n\n".join(reversed(turned)) + "\n"


@pytest.fixture
def sources(tmp_path: Path) -> Path:
    """The bundled article plus a second document that the shared index does not have."""
    folder = tmp_path / "sources"
    shutil.copytree(ARTICLE_DIR, folder)
    article = (folder / DOCUMENT).read_text(encoding="utf-8-sig")
    (folder / "reshuffled.txt").write_text(reshuffled(article), encoding="utf-8")
    return folder


@pytest.fixture
def bot_settings(tmp_path: Path, sources: Path, index_copy: Path, loopback) -> dict[str, str]:
    return {
        "source_dir": str(sources),
        "index_dir": str(index_copy),
        "state_db": str(tmp_path / "feedback.sqlite3"),
        "discord_guilds": str(loopback.world.guild_id),
        "owner_ids": str(USER_ID),
        "discord_cooldown_questions": "1000",
        "shutdown_grace_seconds": str(GRACE_SECONDS),
    }


async def start_bot(
    loopback: LoopbackDiscord, settings: dict[str, str], tmp_path: Path, started: list[BotProcess]
) -> BotProcess:
    process = BotProcess(loopback, settings, tmp_path)
    started.append(process)
    return await process.start()


async def test_sigkill_during_reindex_leaves_an_index_a_fresh_bot_answers_from(
    loopback: LoopbackDiscord,
    bot_settings: dict[str, str],
    tmp_path: Path,
    processes: list[BotProcess],
) -> None:
    first = await start_bot(loopback, bot_settings, tmp_path, processes)
    token = await loopback.slash("reindex", user_id=USER_ID, permissions=ADMIN_PERMISSIONS)
    await loopback.recorder.wait_for(lambda: loopback.recorder.for_token(token))  # deferred
    first.signal(signal.SIGKILL)  # the rebuild is embedding the new document now
    assert await first.wait(10) == -signal.SIGKILL
    assert len(loopback.recorder.for_token(token)) == 1, "killed after the rebuild finished"

    second = await start_bot(loopback, bot_settings, tmp_path, processes)
    answer = await loopback.answered(await loopback.slash("ask", user_id=USER_ID, question=FOUND))
    assert DOCUMENT in str(answer.message["embeds"])
    # Nothing the killed rebuild left behind (a lock, a half-written build) blocks the next one.
    again = await loopback.slash("reindex", user_id=USER_ID, permissions=ADMIN_PERMISSIONS)
    report = await loopback.answered(again, timeout=120)
    assert report.message["content"].startswith("Rebuilt the index: 2 document(s)")
    second.signal(signal.SIGKILL)


async def test_sigterm_finishes_questions_in_flight(
    loopback: LoopbackDiscord,
    bot_settings: dict[str, str],
    tmp_path: Path,
    processes: list[BotProcess],
) -> None:
    """Issue 9, defect 17 (SIGTERM handling is added in ``run_discord`` on another branch)."""
    bot = await start_bot(loopback, bot_settings, tmp_path, processes)
    tokens = [
        await loopback.slash("ask", user_id=USER_ID + number, question=FOUND, k=5)
        for number in range(16)
    ]
    await loopback.recorder.wait_for(lambda: loopback.recorder.for_token(tokens[0]))
    bot.signal(signal.SIGTERM)
    signalled_at = time.monotonic()
    status = await bot.wait(GRACE_SECONDS + 5)
    followups = {
        token: [r for r in loopback.recorder.for_token(token) if r.is_followup and r.succeeded]
        for token in tokens
    }
    answered = [token for token in tokens if followups[token]]
    deferred = [token for token in tokens if loopback.recorder.for_token(token)]
    assert answered == deferred, f"{len(deferred)} acknowledged, {len(answered)} answered"
    assert status == 0, bot.log()
    # Some answers really were in flight: they arrived after the signal.
    assert any(r.at > signalled_at for calls in followups.values() for r in calls)
