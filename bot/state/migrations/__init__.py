"""Alembic migrations of the state database (run by bot/state/upgrade.py on start, or
``citebot db upgrade``). New revision: ``alembic -c bot/state/migrations/alembic.ini revision -m
"what"`` from the repository root, then write its upgrade by hand (no autogenerate: a revision
must say how existing rows are kept)."""
