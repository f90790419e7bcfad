"""/sources pages (issue 9, defect 9): a real index of many documents, paged within Discord's
limits, with buttons that still work after a restart."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.core.engine import Engine
from bot.discord.utils.render import limit_problems
from tests.bot.conftest import Harness, harness_for, make_settings
from tests.bot.test_discord_app import buttons, defer_of, followup_of, sent_message

DOCUMENTS = 30


@pytest.fixture(scope="module")
def many_documents(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """A real index of 30 documents with 6 long-named sections each."""
    root = tmp_path_factory.mktemp("many")
    sources = root / "sources"
    sources.mkdir()
    for n in range(DOCUMENTS):
        sections = "".join(
            f"## Section {j} of document {n}: a heading long enough to fill the field\n\n"
            f"Paragraph {j} of document {n} says something about topic {j}.\n\n"
            for j in range(6)
        )
        (sources / f"document_{n:02d}.md").write_text(f"# Document {n}\n\n{sections}")
    engine = Engine(make_settings(root, source_dir=sources, index_dir=root / "index"))
    engine.load()
    return engine


def page_of(message: dict) -> tuple[str, list[str]]:
    embed = message["embeds"][0]
    return embed["description"].splitlines()[-1], [field["name"] for field in embed["fields"]]


async def press(h: Harness, message: dict, label: str) -> dict:
    """Press Previous / Next; return the message as the bot edited it."""
    button = next(b for b in buttons(message) if b.get("label") == label)
    assert not button.get("disabled")
    calls = await h.finished(h.click(message, button["custom_id"]))
    assert [c.response_type for c in calls[:1]] == [6]  # deferred update of the message
    edit = calls[1]
    assert edit.method == "PATCH" and edit.path.endswith("/messages/@original")
    assert limit_problems(edit.payload or {}) == []
    return {**message, **(edit.payload or {})}


async def test_sources_are_paged_and_the_buttons_survive_a_restart(
    tmp_path: Path, many_documents: Engine
) -> None:
    async with harness_for(make_settings(tmp_path), many_documents) as h:
        calls = await h.finished(h.slash("sources"))
        assert defer_of(calls).ephemeral
        reply = followup_of(calls)
        assert limit_problems(reply.message) == [] and reply.message["components"]
        first = sent_message(reply)
        line, shown = page_of(first)
        assert line.startswith("Page 1 of ")
        pages = int(line.removeprefix("Page 1 of ").rstrip("."))
        seen = list(shown)
        message = first
        for number in range(2, pages + 1):
            message = await press(h, message, "Next")
            line, shown = page_of(message)
            assert line == f"Page {number} of {pages}."
            seen += shown
        assert sorted(seen) == [f"document\\_{n:02d}.md" for n in range(DOCUMENTS)]
        last = message
    async with harness_for(make_settings(tmp_path), many_documents) as restarted:
        back = await press(restarted, last, "Previous")
        assert page_of(back)[0] == f"Page {pages - 1} of {pages}."
