"""Alembic's environment, for the ``alembic`` command (writing revisions, trying them by hand).

citebot itself does not go through this file: bot/state/upgrade.py runs the same revisions on
the state database's own connection, under its lock.
"""

from __future__ import annotations

from alembic import context

from bot.settings import load_settings
from bot.state.database import StateDatabase, location_of
from bot.state.upgrade import configure_context

database = StateDatabase(location_of(load_settings()))
try:
    with database.transaction() as connection:
        configure_context(context, connection)
        with context.begin_transaction():
            context.run_migrations()
finally:
    database.close()
