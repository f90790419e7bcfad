"""The shared payload check catches what it is there to catch (no model, no network)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.loopback.checks import payload_problems
from tests.loopback.recorder import Request

TOKEN = "MTQw.secret.token"
SAFE = {"content": "ok", "allowed_mentions": {"parse": []}}


def request(
    body: Any, path: str = "/webhooks/1/tok", method: str = "POST", url: str = ""
) -> Request:
    text = json.dumps(body)
    return Request(method, path, {}, url or path, text, body, status=200)


def test_a_safe_followup_passes() -> None:
    assert payload_problems(request(SAFE), TOKEN) == []


@pytest.mark.parametrize(
    ("body", "path", "expected"),
    [
        ({"content": "hi"}, "/webhooks/1/tok", "no allowed_mentions"),
        ({"content": "hi"}, "/channels/5/messages", "no allowed_mentions"),
        (
            {"type": 4, "data": {"content": "hi", "allowed_mentions": {"parse": ["users"]}}},
            "/interactions/1/tok/callback",
            "parse is ['users']",
        ),
        ({**SAFE, "content": "ValueError: boom"}, "/webhooks/1/tok", "exception text"),
        ({**SAFE, "content": "Traceback (most recent call last):"}, "/webhooks/1/tok", "exception"),
        ({**SAFE, "content": f"token {TOKEN}"}, "/webhooks/1/tok", "token is in the body"),
        ({**SAFE, "embeds": [{"description": "x" * 4097}]}, "/webhooks/1/tok", "description"),
        (
            {**SAFE, "embeds": [{"title": "t", "description": "x" * 4000}] * 2},
            "/webhooks/1/tok",
            "total",
        ),
    ],
)
def test_each_problem_is_caught(body: dict[str, Any], path: str, expected: str) -> None:
    problems = payload_problems(request(body, path), TOKEN)
    assert any(expected in problem for problem in problems), problems


def test_a_deferral_needs_no_allowed_mentions_but_the_token_never_goes_in_a_url() -> None:
    defer = {"type": 5, "data": {"flags": 64}}
    assert payload_problems(request(defer, "/interactions/1/tok/callback"), TOKEN) == []
    leaked = request(SAFE, url=f"/webhooks/1/tok?t={TOKEN}")
    assert payload_problems(leaked, TOKEN) == ["POST /webhooks/1/tok: the bot token is in the URL"]
