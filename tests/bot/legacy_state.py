"""A state file as citebot wrote it before migrations (commit 2211a28): each store's own
``CREATE TABLE IF NOT EXISTS`` script, no ``alembic_version``, and rows in every table."""

from __future__ import annotations

import json
import sqlite3
import time
from contextlib import closing
from pathlib import Path

from bot.state.database import create_private_file

# The four stores' scripts at 2211a28, verbatim.
SCHEMA_2211A28 = """
CREATE TABLE IF NOT EXISTS votes (
    id INTEGER PRIMARY KEY,
    answer_key TEXT NOT NULL,
    question TEXT NOT NULL,
    passage_ids TEXT NOT NULL,
    vote INTEGER NOT NULL CHECK (vote IN (-1, 1)),
    user_hash TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (answer_key, user_hash)
);
CREATE INDEX IF NOT EXISTS votes_with_question_by_age ON votes (created_at) WHERE question <> '';
CREATE TABLE IF NOT EXISTS answers (
    answer_key TEXT PRIMARY KEY,
    question TEXT NOT NULL,
    k INTEGER NOT NULL,
    passage_offset INTEGER NOT NULL,
    passage_ids TEXT NOT NULL,
    private INTEGER NOT NULL,
    created_at REAL NOT NULL,
    place TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS answers_by_age ON answers (created_at);
CREATE TABLE IF NOT EXISTS conversation_turns (
    message_id INTEGER PRIMARY KEY,
    channel_id INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    at REAL NOT NULL,
    turns TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS conversation_latest ON conversation_turns (channel_id, user_id, at);
CREATE INDEX IF NOT EXISTS conversation_age ON conversation_turns (at);
CREATE TABLE IF NOT EXISTS server_settings (
    guild_id INTEGER PRIMARY KEY,
    include_default INTEGER NOT NULL DEFAULT 1,
    manager_role_id INTEGER
);
CREATE TABLE IF NOT EXISTS audit_log (
    guild_id INTEGER NOT NULL,
    at REAL NOT NULL,
    user_id INTEGER NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    result TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_by_server ON audit_log (guild_id, at);
CREATE TABLE IF NOT EXISTS removed_servers (
    guild_id INTEGER PRIMARY KEY,
    removed_at REAL NOT NULL
);
"""

GUILD = 987654321098765432  # 64-bit ids, as Discord's
CHANNEL = 876543210987654321
USER = 765432109876543210
MESSAGE = 1234567890123456789
ANSWER_KEY = "legacyKey_0123456789abcd"
AUDIT_TARGETS_NEWEST_FIRST = ["third.pdf", "second.pdf", "first.pdf"]


def write_legacy_state(path: Path) -> float:
    """Write the file with one row or more in every table; returns the time the rows carry."""
    now = time.time()
    create_private_file(path)
    with closing(sqlite3.connect(path)) as connection, connection:
        connection.executescript(SCHEMA_2211A28)
        connection.execute(
            "INSERT INTO votes (answer_key, question, passage_ids, vote, user_hash, created_at)"
            " VALUES (?, 'old question?', '[\"a#1\"]', -1, ?, ?)",
            (ANSWER_KEY, "f" * 64, time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(now))),
        )
        connection.execute(
            "INSERT INTO answers VALUES (?, 'old question?', 3, 0, '[\"a#1\",\"b#2\"]', 1, ?, ?)",
            (ANSWER_KEY, now, f"guild:{GUILD}"),
        )
        connection.execute(
            "INSERT INTO conversation_turns VALUES (?, ?, ?, ?, ?)",
            (MESSAGE, CHANNEL, USER, now,
             json.dumps([{"question": "old question?", "passage_ids": ["a#1"]}])),
        )
        connection.execute("INSERT INTO server_settings VALUES (?, 0, ?)", (GUILD, USER))
        # Three entries: the last two at the same time, told apart by their row order only.
        for at, target in ((now - 5, "first.pdf"), (now, "second.pdf"), (now, "third.pdf")):
            connection.execute(
                "INSERT INTO audit_log VALUES (?, ?, ?, 'add', ?, 'ok', '')",
                (GUILD, at, USER, target),
            )
        connection.execute("INSERT INTO removed_servers VALUES (?, ?)", (GUILD, now - 86_400))
    return now
