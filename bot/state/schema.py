"""The state database's tables as the stores use them (the head of bot/state/migrations/).

One schema for SQLite and PostgreSQL. Discord ids are 64-bit: BIGINT on PostgreSQL, INTEGER on
SQLite (where INTEGER is already 64-bit, and ``INTEGER PRIMARY KEY`` is the row id). Times are
what the stores always kept: seconds since the epoch (double precision), and ISO 8601 text for
votes. Changing a table here needs a new revision in bot/state/migrations/versions/.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Connection,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    literal_column,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect

DiscordId = BigInteger().with_variant(Integer(), "sqlite")
"""A Discord id or a row id: 64-bit on both engines (and SQLite's row id alias as a key)."""



class StoredText(TypeDecorator[str]):
    """Text as both engines can store it: PostgreSQL refuses NUL in text, so a NUL (from a
    hostile file name, say) is stored as U+2400 "␀", which shows where it was; on SQLite too,
    so the two engines keep the same values."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is not None and "\x00" in value:
            return value.replace("\x00", "\u2400")
        return value


metadata = MetaData()

votes = Table(
    "votes",
    metadata,
    Column("id", DiscordId, primary_key=True),
    Column("answer_key", StoredText, nullable=False),
    Column("question", StoredText, nullable=False),
    Column("passage_ids", StoredText, nullable=False),
    Column("vote", Integer, CheckConstraint("vote IN (-1, 1)"), nullable=False),
    Column("user_hash", StoredText, nullable=False),
    Column("created_at", StoredText, nullable=False),
    # Why a 👎 (one of bot.state.feedback.REASONS, "" when none was given) and the voter's words.
    Column("reason", StoredText, nullable=False, server_default=""),
    Column("reason_text", StoredText, nullable=False, server_default=""),
    UniqueConstraint("answer_key", "user_hash"),
)
Index("votes_by_voter", votes.c.user_hash)
Index(
    "votes_with_question_by_age",
    votes.c.created_at,
    sqlite_where=literal_column("question") != "",
    postgresql_where=literal_column("question") != "",
)

answers = Table(
    "answers",
    metadata,
    Column("answer_key", StoredText, primary_key=True),
    Column("question", StoredText, nullable=False),
    Column("k", Integer, nullable=False),
    Column("passage_offset", Integer, nullable=False),
    Column("passage_ids", StoredText, nullable=False),
    Column("private", Integer, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("place", StoredText, nullable=False, server_default=""),
)
Index("answers_by_age", answers.c.created_at)

conversation_turns = Table(
    "conversation_turns",
    metadata,
    Column("message_id", DiscordId, primary_key=True, autoincrement=False),
    Column("channel_id", DiscordId, nullable=False),
    Column("user_id", DiscordId, nullable=False),
    Column("at", Float, nullable=False),
    Column("turns", StoredText, nullable=False),
)
Index(
    "conversation_latest",
    conversation_turns.c.channel_id,
    conversation_turns.c.user_id,
    conversation_turns.c.at,
)
Index("conversation_age", conversation_turns.c.at)

server_settings = Table(
    "server_settings",
    metadata,
    Column("guild_id", DiscordId, primary_key=True, autoincrement=False),
    Column("include_default", Integer, nullable=False, server_default="1"),
    Column("manager_role_id", DiscordId),
    Column("log_questions", Integer, nullable=False, server_default="1"),
    # 1: when the sources do not answer an auto-answered post, only a quiet note (0: the answer)
    Column("auto_answer_quiet", Integer, nullable=False, server_default="1"),
)

auto_answer_channels = Table(  # a server's channels whose new posts are answered unasked
    "auto_answer_channels",
    metadata,
    Column("guild_id", DiscordId, primary_key=True, autoincrement=False),
    Column("channel_id", DiscordId, primary_key=True, autoincrement=False),
    Column("added_at", Float, nullable=False),
)

solved_threads = Table(  # threads marked solved (the Solved button): asker or manager, hashed
    "solved_threads",
    metadata,
    Column("thread_id", DiscordId, primary_key=True, autoincrement=False),
    Column("guild_id", DiscordId, nullable=False),
    Column("channel_id", DiscordId, nullable=False),  # the thread's parent (forum or text)
    Column("solved_at", Float, nullable=False),
    Column("by_hash", StoredText, nullable=False),  # keyed hash of who marked it, never the id
)
Index(
    "solved_threads_by_channel",
    solved_threads.c.guild_id,
    solved_threads.c.channel_id,
    solved_threads.c.solved_at,
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", DiscordId, primary_key=True),  # the order entries were written in
    Column("guild_id", DiscordId, nullable=False),
    Column("at", Float, nullable=False),
    Column("user_id", DiscordId, nullable=False),
    Column("action", StoredText, nullable=False),
    Column("target", StoredText, nullable=False),
    Column("result", StoredText, nullable=False),
    Column("detail", StoredText, nullable=False),
)
Index("audit_by_server", audit_log.c.guild_id, audit_log.c.at)

removed_servers = Table(
    "removed_servers",
    metadata,
    Column("guild_id", DiscordId, primary_key=True, autoincrement=False),
    Column("removed_at", Float, nullable=False),
)

sources = Table(
    "sources",
    metadata,
    Column("id", DiscordId, primary_key=True),
    Column("collection", StoredText, nullable=False),
    Column("url", StoredText, nullable=False),
    Column("crawl", Integer, nullable=False),  # 1: a site crawled under url; 0: one page
    Column("schedule", StoredText, nullable=False),  # never, daily, weekly
    Column("added_at", Float, nullable=False),
    Column("synced_at", Float),  # the end of the last sync (None: never synced)
    Column("result", StoredText, nullable=False, server_default=""),  # ok, failed, running…
    Column("detail", StoredText, nullable=False, server_default=""),
    Column("started_at", Float),  # a sync running (or killed) since then
    UniqueConstraint("collection", "url"),
)

source_pages = Table(
    "source_pages",
    metadata,
    Column("source_id", DiscordId, primary_key=True, autoincrement=False),
    Column("url", StoredText, primary_key=True),
    Column("name", StoredText, nullable=False),  # the document in the collection's folder
    Column("etag", StoredText),
    Column("last_modified", StoredText),
    Column("misses", Integer, nullable=False, server_default="0"),
)

question_log = Table(
    "question_log",
    metadata,
    Column("id", DiscordId, primary_key=True),  # the order questions were logged in
    Column("guild_id", DiscordId, nullable=False),
    Column("at", Float, nullable=False),
    Column("collection", StoredText, nullable=False),  # the first collection searched
    Column("question", StoredText, nullable=False),
    Column("found", Integer, nullable=False),  # 0: answered "not in the source"
    Column("passage_ids", StoredText, nullable=False),  # JSON: the ids of the passages shown
    Column("answer_key", StoredText),  # the answer's buttons (its votes), None when none
    Column("user_hash", StoredText, nullable=False),  # keyed hash of the asker, never the id
    Column("vector", LargeBinary),  # the question's embedding as int8 (bot.state.questions)
)
Index("question_log_by_server", question_log.c.guild_id, question_log.c.at)
Index("question_log_by_age", question_log.c.at)
Index("question_log_by_asker", question_log.c.user_hash)
Index("question_log_by_answer", question_log.c.answer_key)

source_exclusions = Table(  # a crawled site's pages removed by hand: its syncs skip them
    "source_exclusions",
    metadata,
    Column("source_id", DiscordId, primary_key=True, autoincrement=False),
    Column("url", StoredText, primary_key=True),
    Column("excluded_at", Float, nullable=False),
)

thread_channels = Table(
    "thread_channels",
    metadata,
    Column("channel_id", DiscordId, primary_key=True, autoincrement=False),
    Column("guild_id", DiscordId, nullable=False),
    Column("collection", StoredText, nullable=False),
    Column("name", StoredText, nullable=False),  # the channel's name when it was added
    Column("solved_by", StoredText, nullable=False),  # tag, reaction, all
    Column("tag", StoredText),  # the forum tag that marks a thread solved (solved_by "tag")
    Column("added_at", Float, nullable=False),
    Column("backfill_before", StoredText),  # archive time of the last archived thread listed
    Column("backfilled_at", Float),  # the backfill's end (None: still to do or resume)
    # 1: @everyone cannot view it and a manager accepted that: quoted only inside the channel
    Column("private", Integer, nullable=False, server_default="0"),
)
Index("thread_channels_by_server", thread_channels.c.guild_id)

thread_documents = Table(
    "thread_documents",
    metadata,
    Column("thread_id", DiscordId, primary_key=True, autoincrement=False),
    Column("channel_id", DiscordId, nullable=False),
    Column("name", StoredText),  # its document in the collection (None: not solved, none)
    Column("solved", Integer, nullable=False),
    Column("last_message_id", DiscordId),  # the newest message read
    Column("read_at", Float, nullable=False),
)
Index("thread_documents_by_channel", thread_documents.c.channel_id)

leases = Table(
    "leases",
    metadata,
    Column("name", StoredText, primary_key=True),
    Column("holder", StoredText, nullable=False),
    Column("expires_at", Float, nullable=False),
)

SERIAL_KEYS = {"votes": "id", "audit_log": "id", "sources": "id", "question_log": "id"}
"""Tables whose key a sequence fills on PostgreSQL (reset after rows are copied in)."""


def upsert(connection: Connection, table: Table) -> Any:
    """An INSERT on ``table`` that takes ``on_conflict_do_update`` / ``_do_nothing`` (both
    engines support ``ON CONFLICT``; SQLAlchemy has one construct per dialect)."""
    if connection.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)
