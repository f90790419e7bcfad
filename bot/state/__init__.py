"""citebot's own state, kept in one private SQLite file: feedback votes and answer button state."""
