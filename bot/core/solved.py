"""Threads marked solved (issue 24): the **Solved** button under an auto-answer records here that
a thread's question was answered, for every front end and for a channel's threads as a source
(which read solved threads by default).

Who marked it is kept as the keyed hash of their id (the feedback store's key), never the id.
"""

from __future__ import annotations

from bot.state.feedback import FeedbackStore
from bot.state.servers import ServerStore, SolvedThread


def mark_solved(
    servers: ServerStore,
    feedback: FeedbackStore,
    *,
    guild_id: int,
    channel_id: int,
    thread_id: int,
    user_id: int,
) -> bool:
    """Mark thread ``thread_id`` of channel ``channel_id`` (a forum or text channel of server
    ``guild_id``) solved by ``user_id`` (blocking: call off the event loop). Returns False when
    it already was solved (the first marking is kept). Who may mark it is the caller's rule."""
    return servers.mark_solved(guild_id, channel_id, thread_id, feedback.hash_user(user_id))


def solved_threads(
    servers: ServerStore, guild_id: int, channel_id: int | None = None
) -> list[SolvedThread]:
    """The threads of server ``guild_id`` marked solved, oldest first; only those of
    ``channel_id`` when given (blocking)."""
    return servers.solved_threads(guild_id, channel_id)


def is_solved(servers: ServerStore, guild_id: int, thread_id: int) -> bool:
    """Whether thread ``thread_id`` of server ``guild_id`` is marked solved (blocking)."""
    return bool(servers.solved_threads(guild_id, thread_id=thread_id))
