"""What the stand-in says about its world: the application, servers, channels, users, messages.

Plain dicts in the shapes Discord's API documents (and discord.py parses). The ``World`` decides
the ids; tests pick the owner and the users' permissions.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.loopback.community import Community

MANAGE_GUILD = 1 << 5
MEMBER_PERMISSIONS = (1 << 10) | (1 << 11) | (1 << 31)  # view, send, use application commands
ADMIN_PERMISSIONS = MEMBER_PERMISSIONS | MANAGE_GUILD
TIMESTAMP = "2026-01-01T00:00:00+00:00"
GATEWAY_MESSAGE_CONTENT = 1 << 18  # the application's flag: the intent is approved

_ids = itertools.count(930000000000000000)


def snowflake() -> int:
    """A fresh id, unique within the process."""
    return next(_ids)


def user(user_id: int, name: str = "user", bot: bool = False) -> dict[str, Any]:
    return {
        "id": str(user_id),
        "username": name,
        "discriminator": "0",
        "global_name": name,
        "avatar": None,
        "bot": bot,
    }


def message_object(
    channel_id: int,
    author: dict[str, Any],
    content: str = "",
    *,
    embeds: list[Any] | None = None,
    components: list[Any] | None = None,
    mentions: list[dict[str, Any]] | None = None,
    flags: int = 0,
) -> dict[str, Any]:
    """A message as Discord sends it (MESSAGE_CREATE's data, or the reply to creating one)."""
    return {
        "id": str(snowflake()),
        "channel_id": str(channel_id),
        "type": 0,
        "content": content,
        "embeds": embeds or [],
        "components": components or [],
        "author": author,
        "attachments": [],
        "mentions": mentions or [],
        "mention_roles": [],
        "mention_everyone": False,
        "pinned": False,
        "tts": False,
        "timestamp": TIMESTAMP,
        "edited_timestamp": None,
        "flags": flags,
    }


def created_message(payload: dict[str, Any], channel_id: int, author: dict[str, Any]) -> dict:
    """What Discord returns for a message the bot created from ``payload``."""
    return message_object(
        channel_id,
        author,
        payload.get("content") or "",
        embeds=payload.get("embeds"),
        components=payload.get("components"),
        flags=payload.get("flags", 0) or 0,
    )


def everyone_role(guild_id: int, permissions: int) -> dict[str, Any]:
    """A server's @everyone role (its id is the server's)."""
    return {
        "id": str(guild_id),
        "name": "@everyone",
        "permissions": str(permissions),
        "position": 0,
        "color": 0,
        "hoist": False,
        "managed": False,
        "mentionable": False,
        "flags": 0,
    }


def role(role_id: int, name: str, permissions: int = 0, position: int = 1) -> dict[str, Any]:
    """A server role other than @everyone (as in GUILD_CREATE and ``resolved.roles``)."""
    return {
        "id": str(role_id),
        "name": name,
        "permissions": str(permissions),
        "position": position,
        "color": 0,
        "hoist": False,
        "managed": False,
        "mentionable": False,
        "flags": 0,
    }


def text_channel(channel_id: int, guild_id: int, name: str) -> dict[str, Any]:
    """A server's text channel, as in GUILD_CREATE."""
    return {
        "id": str(channel_id),
        "type": 0,
        "name": name,
        "position": 0,
        "permission_overwrites": [],
        "guild_id": str(guild_id),
    }


def form_submission(custom_id: str, values: dict[str, str | list[str]]) -> dict[str, Any]:
    """The ``data`` of a submitted form (modal) ``custom_id``: each labelled field by its custom
    id, a text input's value as a string, a select's chosen values as a list."""
    fields: list[dict[str, Any]] = []
    for number, (field_id, value) in enumerate(values.items(), start=1):
        inner: dict[str, Any] = {"id": 2 * number, "custom_id": field_id}
        if isinstance(value, list):
            inner.update(type=3, values=value)
        else:
            inner.update(type=4, value=value)
        fields.append({"type": 18, "id": 2 * number - 1, "component": inner})
    return {"custom_id": custom_id, "components": fields}


def _community() -> Community:
    from tests.loopback.community import Community  # it builds on this module's payloads

    return Community()


@dataclass
class World:
    """The application, its owner and the servers the bot is in (one text channel and one
    role without permissions, "doc managers", each: ``roles[guild_id]``)."""

    app_id: int = 940000000000000001
    owner_id: int = 940000000000000002
    team_member_ids: tuple[int, ...] = ()
    guild_ids: tuple[int, ...] = (940000000000000100,)
    channels: dict[int, int] = field(default_factory=dict)
    roles: dict[int, int] = field(default_factory=dict)
    community: Community = field(default_factory=lambda: _community())
    message_content: bool = True  # the application may use the Message Content intent
    member_roles: dict[tuple[int, int], tuple[int, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for number, guild_id in enumerate(self.guild_ids):
            self.channels.setdefault(guild_id, guild_id + 1000 + number)
            self.roles.setdefault(guild_id, guild_id + 2000 + number)

    def role(self, guild_id: int) -> dict[str, Any]:
        """Server ``guild_id``'s own role (the one in its GUILD_CREATE)."""
        return role(self.roles[guild_id], "doc managers")

    @property
    def guild_id(self) -> int:
        """The first server (most tests need one)."""
        return self.guild_ids[0]

    @property
    def bot_user(self) -> dict[str, Any]:
        return user(self.app_id, "citebot", bot=True)

    def application(self) -> dict[str, Any]:
        """GET /oauth2/applications/@me."""
        data: dict[str, Any] = {
            "id": str(self.app_id),
            "name": "citebot",
            "description": "",
            "icon": None,
            "bot_public": True,
            "bot_require_code_grant": False,
            "owner": user(self.owner_id, "owner"),
            "verify_key": "0" * 64,
            "flags": GATEWAY_MESSAGE_CONTENT if self.message_content else 0,
            "bot": self.bot_user,
        }
        if self.team_member_ids:
            data["team"] = {
                "id": str(self.app_id + 7),
                "name": "team",
                "icon": None,
                "owner_user_id": str(self.owner_id),
                "members": [
                    {
                        "membership_state": 2,
                        "permissions": ["*"],
                        "role": "admin",
                        "team_id": str(self.app_id + 7),
                        "user": user(member, f"member{member % 1000}"),
                    }
                    for member in self.team_member_ids
                ],
            }
        return data

    def guild(self, guild_id: int) -> dict[str, Any]:
        """GUILD_CREATE's data for one server."""
        channel_id = self.channels[guild_id]
        return {
            "id": str(guild_id),
            "name": f"server {guild_id % 1000}",
            "owner_id": str(self.owner_id),
            "unavailable": False,
            "roles": [everyone_role(guild_id, MEMBER_PERMISSIONS), self.role(guild_id)],
            "channels": [text_channel(channel_id, guild_id, "general")]
            + [channel.payload() for channel in self.community.of_guild(guild_id)],
            "members": [],
            "emojis": [],
            "stickers": [],
            "features": [],
            "threads": [self.community.thread_payload(thread)
                        for thread in self.community.active_threads(guild_id)],
            "member_count": 2,
            "joined_at": TIMESTAMP,
        }

    def ready(
        self, session_id: str, resume_url: str, guild_ids: tuple[int, ...] | None = None
    ) -> dict[str, Any]:
        """READY's data: the servers (``guild_ids``: a shard's; all by default) are unavailable
        until their GUILD_CREATE."""
        shown = self.guild_ids if guild_ids is None else guild_ids
        return {
            "v": 10,
            "user": self.bot_user,
            "guilds": [{"id": str(guild_id), "unavailable": True} for guild_id in shown],
            "session_id": session_id,
            "resume_gateway_url": resume_url,
            "application": {"id": str(self.app_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
        }

    def member(
        self, user_id: int, permissions: int, roles: tuple[int, ...] = ()
    ) -> dict[str, Any]:
        """An interaction's ``member``: ``permissions`` resolved in the channel, role ids."""
        return {
            "user": user(user_id),
            "roles": [str(role_id) for role_id in roles],
            "joined_at": TIMESTAMP,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "permissions": str(permissions),
        }

    def interaction(
        self,
        kind: int,
        data: dict[str, Any],
        *,
        user_id: int,
        permissions: int = MEMBER_PERMISSIONS,
        guild_id: int | None = None,
        message: dict[str, Any] | None = None,
        roles: tuple[int, ...] = (),
    ) -> dict[str, Any]:
        """INTERACTION_CREATE's data (kind 2: a slash command, 3: a button); ``roles``: the
        member's role ids."""
        guild_id = guild_id or self.guild_id
        channel_id = self.channels[guild_id]
        interaction_id = snowflake()
        payload: dict[str, Any] = {
            "id": str(interaction_id),
            "application_id": str(self.app_id),
            "type": kind,
            "token": f"interaction-token-{interaction_id}",
            "version": 1,
            "data": data,
            "locale": "en-US",
            "guild_locale": "en-US",
            "entitlements": [],
            "attachment_size_limit": 8 * 1024 * 1024,
            "app_permissions": str((1 << 11) | (1 << 14)),
            "guild_id": str(guild_id),
            "channel_id": str(channel_id),
            "channel": {
                "id": str(channel_id),
                "type": 0,
                "guild_id": str(guild_id),
                "name": "general",
                "position": 0,
                "permission_overwrites": [],
                "nsfw": False,
                "parent_id": None,
            },
            "member": self.member(user_id, permissions, roles),
            "context": 0,
            "authorizing_integration_owners": {"0": str(guild_id)},
        }
        if message is not None:
            payload["message"] = message
        return payload

    def message(
        self,
        content: str,
        *,
        author_id: int,
        guild_id: int | None = None,
        mention_bot: bool = True,
    ) -> dict[str, Any]:
        """MESSAGE_CREATE's data: someone writes in a server channel."""
        guild_id = guild_id or self.guild_id
        message = message_object(
            self.channels[guild_id],
            user(author_id),
            content,
            mentions=[self.bot_user] if mention_bot else [],
        )
        message.update(guild_id=str(guild_id), member={"roles": [], "joined_at": TIMESTAMP})
        return message

    def bot_message(self, payload: dict[str, Any], channel_id: int) -> dict[str, Any]:
        """The message object Discord returns for a message the bot created from ``payload``."""
        return created_message(payload, channel_id, self.bot_user)
