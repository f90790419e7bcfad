"""Two ``citebot discord`` processes (shards 0 and 1 of 2) on one PostgreSQL state database and
one Milvus (issue 14): each answers its own servers; an owner's /reindex through one is served
by the other within 5 s; a server's /docs add through one is answered by the process that takes
its shard over after the first is killed; the vote and the audit entry the killed process
recorded are kept, and its answer's buttons work in the new process."""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import uuid
from pathlib import Path

from bot.core.engine import Engine
from bot.state.feedback import FeedbackStore, key_path_for
from bot.state.servers import ServerStore
from tests.conftest import ARTICLE, isolated_settings
from tests.loopback import ADMIN_PERMISSIONS, LoopbackDiscord
from tests.loopback.process import BotProcess
from tests.wire.conftest import FOUND, TOKEN, USER_ID
from tests.wire.ports import free_port
from tests.wire.test_wire_shards import (  # noqa: F401  (world: a fixture)
    SHARD_0_SERVER,
    SHARD_1_SERVER,
    answered_here,
    healthy,
    world,
)

FACT = "The Port Quillan lighthouse is painted with eleven green stripes and one white band."
QUESTION = "How many green stripes does the Port Quillan lighthouse have?"
VAULT = "What is the code of the vault?"


def custom_id(message: dict, prefix: str) -> str:
    for row in message.get("components", []):
        for item in row["components"]:
            if item.get("custom_id", "").startswith(prefix):
                return str(item["custom_id"])
    raise AssertionError(f"no {prefix} button in {message}")


async def test_two_processes_share_state_and_index(
    loopback: LoopbackDiscord,
    tmp_path: Path,
    processes: list[BotProcess],
    postgres_cluster,
    milvus_uri: str,
) -> None:
    database = postgres_cluster.new_database()
    sources = tmp_path / "default-sources"
    sources.mkdir()
    shutil.copy(ARTICLE, sources / ARTICLE.name)
    shared = {
        "source_dir": str(sources),
        "index_dir": str(tmp_path / "index"),
        "collections_dir": str(tmp_path / "collections"),
        "state_db": str(tmp_path / "state" / "feedback.sqlite3"),  # its key file: shared
        "backend": "milvus",
        "milvus_uri": milvus_uri,
        "milvus_prefix": "c" + uuid.uuid4().hex[:10],
        "database_url": database,
        "discord_guilds": f"{SHARD_0_SERVER},{SHARD_1_SERVER}",
        "owner_ids": str(USER_ID),
        "discord_cooldown_questions": "1000",
        "discord_shard_count": "2",
    }
    settings = isolated_settings(discord_token=TOKEN, **shared)
    await asyncio.to_thread(lambda: Engine(settings).load(build_if_missing=True))
    ports = [free_port(), free_port(), free_port()]

    def process(shard: int, port: int) -> BotProcess:
        env = {**shared, "discord_shard_ids": str(shard), "health_port": str(port)}
        started = BotProcess(loopback, env, tmp_path)
        processes.append(started)
        return started

    second = await process(1, ports[1]).start(shard=1)
    first = await process(0, ports[0]).start(shard=0)
    for port in ports[:2]:
        assert (await healthy(port))["status"] == "ok"

    async def ask(guild: int, question: str) -> dict:
        token = await loopback.slash("ask", user_id=USER_ID, guild_id=guild, question=question)
        return (await loopback.answered(token)).message

    # Each process answers its own servers.
    answer = await ask(SHARD_0_SERVER, FOUND)
    assert answer.get("embeds")
    assert await ask(SHARD_1_SERVER, FOUND)
    assert [await answered_here(port) for port in ports[:2]] == [1, 1]

    # A vote and a /docs add, both through the process of shard 0.
    message = loopback.sent_message(await loopback.answered(
        await loopback.slash("ask", user_id=USER_ID, guild_id=SHARD_0_SERVER, question=FOUND)
    ))
    thanks = await loopback.answered(
        await loopback.click(message, custom_id(message, "citebot:vote:"), user_id=USER_ID,
                             guild_id=SHARD_0_SERVER)
    )
    assert "👍" in thanks.message["content"]
    attachment = loopback.attach("lighthouse.md", f"# Lighthouses\n\n{FACT}\n".encode(),
                                 content_type="text/markdown")
    token = await loopback.slash("docs add", user_id=USER_ID, permissions=ADMIN_PERMISSIONS,
                                 guild_id=SHARD_0_SERVER, file=attachment)

    def added() -> object:
        calls = loopback.recorder.for_token(token)
        return next((r for r in calls if r.is_followup and r.succeeded), None)

    report = await loopback.recorder.wait_for(added, 180)
    assert report.message["content"].startswith("Added **lighthouse.md**"), report.message
    assert "eleven green stripes" in json.dumps(await ask(SHARD_0_SERVER, QUESTION))

    # An owner's /reindex through shard 1's process is served by shard 0's within 5 s.
    (sources / "vault.md").write_text("# Vault\n\nThe code of the vault is 4242.\n",
                                      encoding="utf-8")
    rebuilt = await loopback.answered(
        await loopback.slash("reindex", user_id=USER_ID, permissions=ADMIN_PERMISSIONS,
                             guild_id=SHARD_1_SERVER),
        timeout=180,
    )
    assert rebuilt.message["content"].startswith("Rebuilt the index"), rebuilt.message
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    while "4242" not in json.dumps(await ask(SHARD_0_SERVER, VAULT)):
        assert loop.time() < deadline, "shard 0's process still serves the old default index"
        await asyncio.sleep(0.2)

    # Shard 0's process dies; nothing it recorded is lost.
    first.signal(signal.SIGKILL)
    assert await first.wait(30) == -signal.SIGKILL
    location = settings.database_url.get_secret_value()  # type: ignore[union-attr]

    def recorded() -> tuple[int, list[tuple[str, str]]]:
        feedback = FeedbackStore(location, key_path=key_path_for(settings.state_db))
        servers = ServerStore(location)
        try:
            entries = servers.recent(SHARD_0_SERVER, 50)
            return feedback.summary().up, [(e.action, e.result) for e in entries]
        finally:
            feedback.close()
            servers.close()

    up, entries = await asyncio.to_thread(recorded)
    assert up == 1 and ("add", "ok") in entries

    # The process that takes shard 0 over answers from the collection it never built, and the
    # killed process's answer's More button works there.
    await process(0, ports[2]).start(shard=0)
    assert "eleven green stripes" in json.dumps(await ask(SHARD_0_SERVER, QUESTION))
    more = await loopback.answered(
        await loopback.click(message, custom_id(message, "citebot:more:"), user_id=USER_ID,
                             guild_id=SHARD_0_SERVER)
    )
    assert more.message.get("embeds"), more.message
    assert second.process is not None and second.process.returncode is None
    assert loopback.problems() == []
