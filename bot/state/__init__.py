"""citebot's own state, kept in one private SQLite file: feedback votes, answer button state, and
per-server settings, audit log and removals (bot/state/servers.py)."""
