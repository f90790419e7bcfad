"""Starting the bot: missing or rejected token, exit status 2, and the token never shown."""

from __future__ import annotations

import logging
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import discord
import pytest

from bot.discord.launcher import _RedactToken, run_discord, show_invite, sync_commands
from tests.bot.conftest import make_settings

TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GabcDE.secret-token-value_do-not-print"


@pytest.mark.parametrize("entry", [run_discord, sync_commands, show_invite])
def test_no_token_is_one_line_and_status_2(
    entry: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = entry(make_settings(tmp_path, discord_token="  "))
    out, err = capsys.readouterr()
    assert status == 2
    assert out == ""
    assert err.count("\n") == 1 and "CITEBOT_DISCORD_TOKEN" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("entry", [run_discord, sync_commands, show_invite])
def test_rejected_token_is_one_line_status_2_and_never_logged(
    entry: Any,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[str] = []

    async def refuse(self: Any, route: Any, **kwargs: Any) -> Any:
        # What Discord answers to GET /users/@me with a bad token.
        seen.append(f"{route.method} {route.path}")
        logging.getLogger("discord.http").debug("request headers %s", {"Authorization": TOKEN})
        raise discord.HTTPException(SimpleNamespace(status=401, reason="Unauthorized"), "401")

    monkeypatch.setattr(discord.http.HTTPClient, "request", refuse)
    # As in a fresh process (discord.py warns once per process about missing voice libraries).
    monkeypatch.setattr(discord.VoiceClient, "warn_nacl", True)
    monkeypatch.setattr(discord.VoiceClient, "warn_dave", True)
    caplog.set_level(logging.DEBUG)
    status = entry(make_settings(tmp_path, discord_token=TOKEN))
    out, err = capsys.readouterr()
    assert seen == ["GET /users/@me"]
    assert status == 2
    assert err.count("\n") == 1 and "rejected the bot token" in err
    assert "Traceback" not in err
    for text in (out, err, caplog.text):
        assert TOKEN not in text
    assert "[redacted]" in caplog.text  # the debug line above was caught and redacted
    assert "voice will NOT be supported" not in caplog.text  # citebot never joins voice


def test_redaction_covers_messages_args_and_tracebacks() -> None:
    redactor = _RedactToken(TOKEN)
    try:
        raise ValueError(f"bad {TOKEN}")
    except ValueError:
        import sys

        record = logging.LogRecord("x", logging.ERROR, "f", 1, "t=%s", (TOKEN,), sys.exc_info())
    assert redactor.filter(record)
    formatted = logging.Formatter().format(record)
    assert TOKEN not in formatted
    assert formatted.count("[redacted]") == 2


def test_cli_wiring(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bot.cli.main import main

    assert main(["discord"]) == 2
    assert main(["discord", "sync"]) == 2
    assert "CITEBOT_DISCORD_TOKEN" in capsys.readouterr().err
    assert main(["feedback"]) == 0
    assert "No feedback recorded yet" in capsys.readouterr().out
