"""Events one feature dispatches for another (features never import one another): the name and
what it carries."""

THREAD_SOURCE_ADDED = "citebot_thread_source"
"""``/docs add channel:`` registered a source channel: ``(channel_id: int)``; the threads feature
starts its backfill."""

THREAD_SOURCE_REMOVED = "citebot_thread_source_removed"
"""``/docs remove channel:`` stopped a source channel: ``(channel_id: int)``; the threads feature
stops its backfill, deletes its threads' documents and rebuilds."""

THREAD_SOLVED = "citebot_thread_solved"
"""The **Solved** button marked a thread solved: ``(thread_id: int, channel_id: int)`` (the
channel: the forum or text channel the thread is in); the threads feature reads it again when
that channel is a source, where a thread marked solved counts as solved under any rule."""
