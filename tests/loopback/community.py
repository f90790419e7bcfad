"""A server's community as Discord keeps it: channels (text, forum with tags), threads with their
starter posts and messages, reactions, and who may see each channel.

``Community`` holds the state; the REST routes (``rest.py``) read it as Discord's API does (message
history newest first, paginated by message id with ``before``/``after``; archived threads
paginated by archive time) and ``server.py`` changes it as users do, sending the gateway events
Discord sends. Payloads are plain dicts in Discord's documented shapes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.loopback.payloads import TIMESTAMP, message_object, snowflake, user

VIEW_CHANNEL = 1 << 10
TEXT, PUBLIC_THREAD, FORUM = 0, 11, 15
_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def _iso(seconds: int) -> str:
    return (_EPOCH + timedelta(seconds=seconds)).isoformat()


@dataclass
class Channel:
    """A text or forum channel; ``private``: @everyone is denied View Channel."""

    id: int
    guild_id: int
    name: str
    type: int = TEXT
    tags: dict[str, int] = field(default_factory=dict)  # forum tag name -> id
    private: bool = False

    def payload(self) -> dict[str, Any]:
        overwrites = (
            [{"id": str(self.guild_id), "type": 0, "allow": "0", "deny": str(VIEW_CHANNEL)}]
            if self.private else []
        )
        data: dict[str, Any] = {
            "id": str(self.id),
            "type": self.type,
            "name": self.name,
            "position": 1,
            "permission_overwrites": overwrites,
            "guild_id": str(self.guild_id),
            "parent_id": None,
            "nsfw": False,
            "topic": None,
            "rate_limit_per_user": 0,
        }
        if self.type == FORUM:
            data["available_tags"] = [
                {"id": str(tag_id), "name": name, "moderated": False, "emoji_id": None,
                 "emoji_name": None}
                for name, tag_id in self.tags.items()
            ]
            data.update(flags=0, default_reaction_emoji=None, default_sort_order=None,
                        default_forum_layout=0, default_thread_rate_limit_per_user=0)
        return data


@dataclass
class Thread:
    """A thread in a forum (its starter post is its first message, with the thread's id) or in a
    text channel (started from a message of the channel, with the thread's id)."""

    id: int
    parent: Channel
    name: str
    owner_id: int
    tags: list[int] = field(default_factory=list)
    archived: bool = True
    archived_at: int = 0  # seconds after 2026-01-01: the order of the archived listing

    def payload(self, message_count: int, last_message_id: int | None = None) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "type": PUBLIC_THREAD,
            "guild_id": str(self.parent.guild_id),
            "parent_id": str(self.parent.id),
            "owner_id": str(self.owner_id),
            "name": self.name,
            "last_message_id": None if last_message_id is None else str(last_message_id),
            "rate_limit_per_user": 0,
            "message_count": message_count,
            "member_count": 1,
            "applied_tags": [str(tag) for tag in self.tags],
            "flags": 0,
            "thread_metadata": {
                "archived": self.archived,
                "auto_archive_duration": 1440,
                "archive_timestamp": _iso(self.archived_at),
                "locked": False,
                "create_timestamp": TIMESTAMP,
            },
        }


@dataclass
class Community:
    """Channels, threads and messages of every server (message lists are oldest first)."""

    channels: dict[int, Channel] = field(default_factory=dict)
    threads: dict[int, Thread] = field(default_factory=dict)
    messages: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # channel -> list
    names: dict[int, str] = field(default_factory=dict)  # user id -> display name
    _archive_clock: int = 0

    def channel(
        self, guild_id: int, name: str, *, forum: bool = False, tags: tuple[str, ...] = (),
        private: bool = False,
    ) -> Channel:
        """A new text (or forum) channel with forum ``tags``."""
        channel = Channel(snowflake(), guild_id, name, FORUM if forum else TEXT,
                          {tag: snowflake() for tag in tags}, private)
        self.channels[channel.id] = channel
        self.messages[channel.id] = []
        return channel

    def of_guild(self, guild_id: int) -> list[Channel]:
        return [c for c in self.channels.values() if c.guild_id == guild_id]

    def active_threads(self, guild_id: int) -> list[Thread]:
        return [t for t in self.threads.values()
                if t.parent.guild_id == guild_id and not t.archived]

    def author(self, user_id: int) -> dict[str, Any]:
        return user(user_id, self.names.get(user_id, f"user{user_id % 1000}"))

    def thread(
        self, channel: Channel, title: str, question: str, *, owner_id: int,
        tags: tuple[str, ...] = (), archived: bool = True,
    ) -> Thread:
        """A thread whose starter post (``question``, by ``owner_id``) has the thread's id."""
        thread_id = snowflake()
        self._archive_clock += 1
        thread = Thread(thread_id, channel, title, owner_id,
                        [channel.tags[tag] for tag in tags], archived, self._archive_clock)
        starter = self._message(thread_id, owner_id, question, channel.guild_id)
        starter["id"] = str(thread_id)
        self.threads[thread_id] = thread
        self.messages[thread_id] = []
        if channel.type == FORUM:
            self.messages[thread_id].append(starter)
        else:  # a text channel's thread starts from a message of the channel
            starter["channel_id"] = str(channel.id)
            self.messages[channel.id].append(starter)
        return thread

    def post(self, channel_id: int, content: str, *, author_id: int) -> dict[str, Any]:
        """A message in a channel or thread (newest)."""
        guild_id = self.guild_of(channel_id)
        message = self._message(channel_id, author_id, content, guild_id)
        self.messages[channel_id].append(message)
        return message

    def _message(self, channel_id: int, author_id: int, content: str,
                 guild_id: int) -> dict[str, Any]:
        message = message_object(channel_id, self.author(author_id), content)
        message["guild_id"] = str(guild_id)
        message["reactions"] = []
        return message

    def guild_of(self, channel_id: int) -> int:
        if channel_id in self.threads:
            return self.threads[channel_id].parent.guild_id
        return self.channels[channel_id].guild_id

    def find(self, channel_id: int, message_id: int) -> dict[str, Any] | None:
        for message in self.messages.get(channel_id, []):
            if int(message["id"]) == message_id:
                return message
        return None

    def react(self, message: dict[str, Any], emoji: str, user_id: int) -> None:
        """``user_id`` adds the reaction ``emoji`` (a Unicode emoji) to ``message``."""
        for reaction in message["reactions"]:
            if reaction["emoji"]["name"] == emoji:
                if user_id not in reaction["users"]:
                    reaction["users"].append(user_id)
                    reaction["count"] += 1
                return
        message["reactions"].append({"emoji": {"id": None, "name": emoji}, "count": 1,
                                     "me": False, "users": [user_id]})

    def reactors(self, channel_id: int, message_id: int, emoji: str) -> list[int] | None:
        message = self.find(channel_id, message_id)
        if message is None:
            return None
        for reaction in message["reactions"]:
            if reaction["emoji"]["name"] == emoji:
                return list(reaction["users"])
        return []

    # ----- what the API returns --------------------------------------------------------------

    def history(
        self, channel_id: int, *, before: int | None, after: int | None, limit: int,
        content: bool,
    ) -> list[dict[str, Any]]:
        """GET /channels/{id}/messages: up to ``limit`` messages before ``before`` (or the
        oldest after ``after``), newest first, as Discord answers; without the Message Content
        intent, content is empty."""
        found = self.messages.get(channel_id, [])
        if after is not None:
            chosen = [m for m in found if int(m["id"]) > after][:limit]
        else:
            older = [m for m in found if before is None or int(m["id"]) < before]
            chosen = older[-limit:] if limit else []
        return [self.shown(m, content) for m in reversed(chosen)]

    @staticmethod
    def shown(message: dict[str, Any], content: bool) -> dict[str, Any]:
        """A message as the API shows it to the bot (reactions without who reacted)."""
        data = dict(message)
        data["reactions"] = [
            {"emoji": r["emoji"], "count": r["count"], "me": False,
             "count_details": {"burst": 0, "normal": r["count"]}, "burst_colors": [],
             "me_burst": False, "burst_me": False, "burst_count": 0}
            for r in message["reactions"]
        ]
        if not content:
            data.update(content="", embeds=[], attachments=[])
        return data

    def archived(self, channel_id: int, *, before: str | None, limit: int) -> dict[str, Any]:
        """GET /channels/{id}/threads/archived/public: newest archived first, by archive time."""
        threads = sorted(
            (t for t in self.threads.values() if t.parent.id == channel_id and t.archived),
            key=lambda t: t.archived_at, reverse=True,
        )
        if before is not None:
            limit_time = datetime.fromisoformat(before)
            threads = [t for t in threads if _EPOCH + timedelta(seconds=t.archived_at)
                       < limit_time]
        page = threads[:limit]
        return {
            "threads": [self.thread_payload(t) for t in page],
            "members": [],
            "has_more": len(threads) > limit,
        }

    def thread_payload(self, thread: Thread) -> dict[str, Any]:
        messages = self.messages[thread.id]
        return thread.payload(len(messages), int(messages[-1]["id"]) if messages else None)
