"""The Discord front end, one feature per module.

``bot.discord_app`` holds the client (``CitebotBot``) and the entry points; the modules here hold
what it does: ``ask`` (``/ask``, mentions, More and vote buttons), ``sources``, ``reindex``, the
shared ``checks``, ``errors`` and ``replies``, the per-user ``limits`` and the ``answers`` that
buttons point at.
"""
