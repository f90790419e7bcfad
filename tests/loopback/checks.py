"""The one check every outgoing payload must pass, in every wire test.

- a message-creating call carries ``allowed_mentions`` with an empty ``parse`` list (and no
  users, roles or reply ping); an edit that carries it has the same;
- the message fits Discord's size limits (``bot.discord.utils.render.limit_problems``);
- no exception text reaches Discord (no traceback, no exception class name);
- the bot token is in no URL and no body (it belongs in the Authorization header only).
"""

from __future__ import annotations

import re
from typing import Any

from bot.discord.utils.render import limit_problems
from tests.loopback.recorder import Request

EXCEPTION_TEXT = re.compile(
    r"\bTraceback\b|\b[A-Z]\w*(?:Error|Exception)\b|Error:|\bException\b"
    r"|File \"[^\"]+\", line \d+"
)


def _strings(value: Any) -> list[str]:
    """Every string inside a JSON value."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


def mention_problems(request: Request) -> list[str]:
    message = request.message
    if not (request.creates_message or (request.edits_message and "allowed_mentions" in message)):
        return []
    if request.edits_message and not message:
        return []
    allowed = message.get("allowed_mentions")
    if not isinstance(allowed, dict):
        return ["no allowed_mentions"]
    problems = []
    if allowed.get("parse") != []:
        problems.append(f"allowed_mentions parse is {allowed.get('parse')!r}, not []")
    for key in ("users", "roles"):
        if allowed.get(key):
            problems.append(f"allowed_mentions {key} is {allowed[key]!r}")
    if allowed.get("replied_user"):
        problems.append("allowed_mentions pings the replied-to user")
    return problems


def payload_problems(request: Request, token: str) -> list[str]:
    """What is wrong with one request (empty when it is fine); each names the route."""
    problems: list[str] = []
    if token and token in request.raw_url:
        problems.append("the bot token is in the URL")
    if token and token in request.body_text:
        problems.append("the bot token is in the body")
    problems += mention_problems(request)
    message = request.message
    if message:
        problems += limit_problems(message)
        for text in _strings(
            {k: v for k, v in message.items() if k not in ("allowed_mentions", "components")}
        ):
            found = EXCEPTION_TEXT.search(text)
            if found:
                problems.append(f"exception text {found.group(0)!r} in {text[:120]!r}")
        for label in _strings(message.get("components") or []):
            if EXCEPTION_TEXT.search(label) and not label.startswith("citebot:"):
                problems.append(f"exception text in a component: {label[:120]!r}")
    return [f"{request.route}: {problem}" for problem in problems]


def all_problems(requests: list[Request], token: str) -> list[str]:
    """``payload_problems`` over every request."""
    return [problem for request in requests for problem in payload_problems(request, token)]
