"""A new Discord feature is one extension package plus one line in ``EXTENSIONS`` (issue 21):
loading it registers its command, its buttons and its listeners; unloading takes them away; the
client knows nothing else about it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import bot.discord.client as client
from bot.core.engine import Engine
from tests.bot.conftest import dispatched, harness_for, make_settings

EXAMPLE = "tests.bot.extension_example"


async def test_a_feature_is_one_package_and_one_line(
    tmp_path: Path, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(client, "EXTENSIONS", (*client.EXTENSIONS, EXAMPLE))
    async with harness_for(make_settings(tmp_path), engine) as h:
        names = {command.name for command in h.bot.tree.get_commands()}
        assert names == {"ask", "sources", "reindex", "docs", "help", "privacy", "glossary"}
        glossary = h.bot.tree.get_command("glossary")
        assert glossary is not None and glossary.allowed_contexts is not None
        assert glossary.allowed_contexts.guild and not glossary.allowed_contexts.dm_channel
        cog: Any = h.bot.get_cog("Glossary")
        guild = h.bot.guilds[0]
        await dispatched(h.bot, "guild_join", guild)
        assert cog.joined == [guild.id]
        assert any("glossary" in str(item) for item in h.bot._connection._view_store._dynamic_items)

        await h.bot.unload_extension(EXAMPLE)
        assert h.bot.tree.get_command("glossary") is None
        assert not any(
            "glossary" in str(item) for item in h.bot._connection._view_store._dynamic_items
        )
        assert {command.name for command in h.bot.tree.get_commands()} == names - {"glossary"}


async def test_every_feature_loads_by_name_and_the_client_imports_none() -> None:
    """The client lists its features as names only; each is a package whose ``__init__`` has
    nothing but ``setup`` (and the imports it needs)."""
    import ast
    import importlib.util

    for name in client.EXTENSIONS:
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.origin is not None
        assert spec.origin.endswith("__init__.py"), f"{name} is not a package"
        tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
        defined = [
            node.name for node in tree.body
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        ]
        assert defined == ["setup"], f"{name}/__init__.py defines {defined}"
