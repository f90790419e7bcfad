"""Settings: every key is documented in settings.example.env with its real default."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.settings import ENV_PREFIX, Settings, SettingsError, load_settings, setting_warnings

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


def test_example_file_shows_the_real_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CITEBOT_BUILD_BFLOAT16")  # the suite's float32 builds (conftest.py)
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


def test_an_empty_example_line_is_the_default(monkeypatch) -> None:
    """Copying settings.example.env as it is (empty shard count, empty health port) works."""
    monkeypatch.setenv("CITEBOT_DISCORD_SHARD_COUNT", "")
    monkeypatch.setenv("CITEBOT_HEALTH_PORT", "")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert (settings.discord_shard_count, settings.health_port) == (None, None)
    assert (settings.shards_here, settings.syncs_commands) == ([0], True)


@pytest.mark.parametrize(
    ("ids", "shards", "syncs"),
    [("0-3", [0, 1, 2, 3], True), ("0,2,5", [0, 2, 5], True), ("4-5, 7", [4, 5, 7], False),
     ("", list(range(8)), True), ("6", [6], False)],
)
def test_shard_ids_are_ranges_or_lists_within_the_count(
    monkeypatch, ids: str, shards: list[int], syncs: bool
) -> None:
    monkeypatch.setenv("CITEBOT_DISCORD_SHARD_COUNT", "8")
    monkeypatch.setenv("CITEBOT_DISCORD_SHARD_IDS", ids)
    settings = load_settings(_env_file=None)
    assert (settings.shards_here, settings.syncs_commands) == (shards, syncs)


@pytest.mark.parametrize(
    ("count", "ids", "message"),
    [
        ("4", "2,9", "names shard(s) [9], but shard ids run from 0 to 3"),
        ("4", "3-1", "the range '3-1' is backwards"),
        ("4", "zero", "'zero' is not a shard id or range; write e.g. 0-3 or 0,2,5"),
        ("4", "1,1", "names a shard twice"),
        (None, "0-1", "CITEBOT_DISCORD_SHARD_IDS needs CITEBOT_DISCORD_SHARD_COUNT"),
        ("0", "", "CITEBOT_DISCORD_SHARD_COUNT: Input should be greater than or equal to 1"),
    ],
)
def test_a_bad_shard_setting_says_what_to_write(
    monkeypatch, count: str | None, ids: str, message: str
) -> None:
    if count is not None:
        monkeypatch.setenv("CITEBOT_DISCORD_SHARD_COUNT", count)
    monkeypatch.setenv("CITEBOT_DISCORD_SHARD_IDS", ids)
    with pytest.raises(SettingsError) as raised:
        load_settings(_env_file=None)
    assert message in str(raised.value)
    assert "Traceback" not in str(raised.value)


def test_a_misspelled_key_is_named_with_the_closest_valid_one(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("CITEBOT_TOPK=2\nexport CITEBOT_SOURCE_DIR=docs\nOTHER=1\n")
    warnings = setting_warnings({"CITEBOT_MAX_SOURCE_MBS": "3", "PATH": "/bin"}, env_file)
    assert warnings == [
        "CITEBOT_MAX_SOURCE_MBS (in the environment) is not a citebot setting and is ignored: "
        "did you mean CITEBOT_MAX_SOURCE_MB?",
        f"CITEBOT_TOPK (in {env_file}) is not a citebot setting and is ignored: "
        "did you mean CITEBOT_TOP_K?",
    ]
    assert setting_warnings({"CITEBOT_TOP_K": "2"}, None) == []


def test_the_old_state_file_name_is_read_with_a_deprecation_warning(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CITEBOT_FEEDBACK_DB", str(tmp_path / "old.sqlite3"))
    assert Settings(_env_file=None).state_db == tmp_path / "old.sqlite3"  # type: ignore[call-arg]
    assert setting_warnings(env_file=None) == [
        "CITEBOT_FEEDBACK_DB (in the environment) is the old name of CITEBOT_STATE_DB: it is "
        "still read, but rename it"
    ]
    monkeypatch.setenv("CITEBOT_STATE_DB", str(tmp_path / "new.sqlite3"))
    assert Settings(_env_file=None).state_db == tmp_path / "new.sqlite3"  # type: ignore[call-arg]


def test_the_cli_warns_about_an_unknown_key_once(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli.main import main

    monkeypatch.setenv("CITEBOT_TOPK", "2")
    main(["collections", "--json"])
    err = capsys.readouterr().err
    assert err.count("CITEBOT_TOPK") == 1
    assert "citebot: warning: CITEBOT_TOPK (in the environment) is not a citebot setting" in err
    assert "did you mean CITEBOT_TOP_K?" in err
