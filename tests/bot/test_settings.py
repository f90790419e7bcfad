"""Settings: every key is documented in settings.example.env with its real default."""

from __future__ import annotations

import re
from pathlib import Path

from bot.settings import ENV_PREFIX, Settings

EXAMPLE = Path(__file__).resolve().parents[2] / "settings.example.env"


def example_values() -> dict[str, str]:
    values = {}
    for line in EXAMPLE.read_text(encoding="utf-8").splitlines():
        match = re.fullmatch(rf"{ENV_PREFIX}([A-Z0-9_]+)=(.*)", line.strip())
        if match:
            values[match[1].lower()] = match[2]
    return values


def test_every_key_is_in_the_example_file_and_nothing_else() -> None:
    assert set(example_values()) == set(Settings.model_fields)


def test_example_file_shows_the_real_defaults() -> None:
    from_example = Settings(
        _env_file=None,
        **{  # type: ignore[call-arg]
            key: value for key, value in example_values().items() if value != ""
        },
    )
    assert from_example == Settings(_env_file=None)  # type: ignore[call-arg]


def test_direct_messages_are_off_by_default() -> None:
    """DMs bypass the channel allow-list, so they must be asked for."""
    assert Settings(_env_file=None).discord_allow_dms is False  # type: ignore[call-arg]


def test_owner_ids_accept_a_comma_separated_list(monkeypatch) -> None:
    monkeypatch.setenv("CITEBOT_OWNER_IDS", "12, 34")
    assert Settings(_env_file=None).owner_ids == [12, 34]  # type: ignore[call-arg]
