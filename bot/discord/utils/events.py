"""Events one feature dispatches for another (features never import one another): the name and
what it carries."""

THREAD_SOURCE_ADDED = "citebot_thread_source"
"""``/docs add channel:`` registered a source channel: ``(channel_id: int)``; the threads feature
starts its backfill."""
