"""A loopback stand-in for Discord's REST API and gateway (see README.md in this folder)."""

from tests.loopback.options import Attachment, Role
from tests.loopback.payloads import ADMIN_PERMISSIONS, MANAGE_GUILD, MEMBER_PERMISSIONS, World
from tests.loopback.recorder import Recorder, Request
from tests.loopback.server import LoopbackDiscord, point_discord_at

__all__ = [
    "ADMIN_PERMISSIONS",
    "MANAGE_GUILD",
    "MEMBER_PERMISSIONS",
    "Attachment",
    "LoopbackDiscord",
    "Recorder",
    "Request",
    "Role",
    "World",
    "point_discord_at",
]
