"""citebot's own state: feedback votes, answer button state, conversations, and per-server
settings, audit log and removals, in one database: a private SQLite file by default, PostgreSQL
when CITEBOT_DATABASE_URL is set (bot/state/database.py)."""
