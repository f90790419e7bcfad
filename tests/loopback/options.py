"""A slash command's ``data`` as Discord sends it: options (a subcommand of a group wraps its
own), and the objects an option names, in ``data.resolved`` (attachments, roles).

Values: ``str``, ``int``, ``float``, ``bool``, an ``Attachment`` (its bytes served by the stand-in,
``LoopbackDiscord.attach``), a ``Role`` (``World.role(guild_id)``, or one from elsewhere) or a
``Channel`` of the community (``World.community``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.loopback.community import Channel

# Discord's ApplicationCommandOptionType.
SUB_COMMAND, STRING, INTEGER, BOOLEAN, CHANNEL, ROLE, NUMBER, ATTACHMENT = 1, 3, 4, 5, 7, 8, 10, 11
_SCALAR_TYPES = {bool: BOOLEAN, int: INTEGER, float: NUMBER, str: STRING}


@dataclass(frozen=True)
class Attachment:
    """A file given to an ``attachment`` option: ``url`` is where its bytes are served; ``size``
    is what Discord reports (a test may make it lie)."""

    id: int
    filename: str
    size: int
    url: str
    content_type: str | None = None

    def resolved(self) -> dict[str, Any]:
        """The attachment object in ``data.resolved.attachments``."""
        data: dict[str, Any] = {
            "id": str(self.id),
            "filename": self.filename,
            "size": self.size,
            "url": self.url,
            "proxy_url": self.url,
            "ephemeral": True,
        }
        if self.content_type is not None:
            data["content_type"] = self.content_type
        return data


@dataclass(frozen=True)
class Role:
    """A role given to a ``role`` option: the role object as Discord resolves it."""

    data: dict[str, Any]

    @property
    def id(self) -> int:
        return int(self.data["id"])

    def resolved(self) -> dict[str, Any]:
        return dict(self.data)


def _option(name: str, value: Any, resolved: dict[str, dict[str, Any]]) -> dict[str, Any]:
    if isinstance(value, Attachment):
        resolved.setdefault("attachments", {})[str(value.id)] = value.resolved()
        return {"type": ATTACHMENT, "name": name, "value": str(value.id)}
    if isinstance(value, Channel):
        data = value.payload()
        resolved.setdefault("channels", {})[str(value.id)] = {
            "id": data["id"], "name": data["name"], "type": data["type"],
            "permissions": str((1 << 41) - 1), "parent_id": None}
        return {"type": CHANNEL, "name": name, "value": str(value.id)}
    if isinstance(value, Role):
        resolved.setdefault("roles", {})[str(value.id)] = value.resolved()
        return {"type": ROLE, "name": name, "value": str(value.id)}
    if type(value) not in _SCALAR_TYPES:
        raise TypeError(f"option {name}: no Discord option type for {type(value).__name__}")
    return {"type": _SCALAR_TYPES[type(value)], "name": name, "value": value}


def command_data(
    command_id: str, path: str, guild_id: int, options: dict[str, Any]
) -> dict[str, Any]:
    """``data`` of ``/path`` (``"ask"``, or ``"docs add"`` for a group's subcommand) run in
    server ``guild_id`` with ``options``; ``command_id`` is the id Discord gave the top-level
    command."""
    root, *subcommands = path.split()
    resolved: dict[str, dict[str, Any]] = {}
    given = [_option(name, value, resolved) for name, value in options.items()]
    for subcommand in reversed(subcommands):  # a subcommand wraps its options
        given = [{"type": SUB_COMMAND, "name": subcommand, "options": given}]
    data: dict[str, Any] = {
        "id": command_id,
        "type": 1,
        "name": root,
        "guild_id": str(guild_id),
        "options": given,
    }
    if resolved:
        data["resolved"] = resolved
    return data
