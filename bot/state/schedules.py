"""How often a source (a crawled site, an added address) is synced: the choices on their own,
so the CLI's argument parser can offer them without importing SQLAlchemy (``bot.state.sources``,
which keeps the schedules, does)."""

from __future__ import annotations

from typing import Literal

Schedule = Literal["never", "daily", "weekly"]
SCHEDULES: tuple[Schedule, ...] = ("never", "daily", "weekly")
PERIOD_SECONDS = {"daily": 86_400.0, "weekly": 7 * 86_400.0}
