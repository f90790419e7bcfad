"""Drive the real discord.py machinery without a connection.

Interactions are built from gateway payloads and fed to the bot's real ``ConnectionState``
(``parse_interaction_create``), which dispatches them through the bot's real ``CommandTree`` or
view store. Outgoing calls are captured at the HTTP edge: interaction responses and follow-ups go
through discord.py's webhook adapter (replaced here by a recording one), channel messages through
``bot.http.request`` (patched). Nothing is faked above that edge.
"""

from __future__ import annotations

import asyncio
import itertools
import shutil
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import discord
import pytest
from discord.webhook.async_ import AsyncWebhookAdapter, async_context

from bot.core.engine import Engine
from bot.discord.client import CitebotBot, create_bot
from bot.settings import Settings
from tests.loopback import options, payloads
from tests.paths import ARTICLE_DIR

REPO = Path(__file__).resolve().parents[2]
APP_ID = 900000000000000001
GUILD_ID = 900000000000000002
CHANNEL_ID = 900000000000000003
OTHER_CHANNEL_ID = 900000000000000004
DM_CHANNEL_ID = 900000000000000005
USER_ID = 900000000000000010
OWNER_ID = 900000000000000020  # the application's owner, as Discord reports it
# A second server with its own channel, for isolation tests.
OTHER_GUILD_ID = 900000000000000030
OTHER_GUILD_CHANNEL_ID = 900000000000000031
MANAGER_ROLE_ID = 900000000000000040  # a role a server may name as its document managers
OTHER_MANAGER_ROLE_ID = 900000000000000041  # the same kind of role in the other server
MANAGE_GUILD = 1 << 5
MEMBER_PERMISSIONS = (1 << 10) | (1 << 11) | (1 << 31)  # view, send, use app commands

_ids = itertools.count(910000000000000000)


def snowflake() -> int:
    return next(_ids)


def in_guild(guild_id: int, **who: Any) -> dict[str, Any]:
    """``who`` for a user in server ``guild_id`` (its own channel), e.g. for ``slash(who=...)``."""
    channel = CHANNEL_ID if guild_id == GUILD_ID else OTHER_GUILD_CHANNEL_ID
    return {"guild_id": guild_id, "channel_id": channel, **who}


@dataclass(frozen=True)
class AttachmentOption:
    """A file attached to a slash command option (``attachment`` type): ``url`` is where its
    bytes are served (a loopback web server in tests), ``size`` what Discord reports."""

    filename: str
    url: str
    size: int
    content_type: str | None = None
    id: int = field(default_factory=lambda: snowflake())

    def payload(self) -> dict[str, Any]:
        """The attachment object as it appears in an interaction's ``resolved`` data (the
        loopback Discord's own shape)."""
        return options.Attachment(
            self.id, self.filename, self.size, self.url, self.content_type
        ).resolved()


@dataclass(frozen=True)
class RoleOption:
    """A role given to a slash command option (``role`` type)."""

    id: int
    name: str = "doc managers"
    guild_id: int = GUILD_ID

    def payload(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "name": self.name,
            "permissions": "0",
            "position": 1,
            "color": 0,
            "hoist": False,
            "managed": False,
            "mentionable": False,
            "flags": 0,
        }


user_payload = payloads.user  # one shape of a user object for both harnesses


@dataclass
class Call:
    """One captured HTTP call."""

    method: str
    path: str
    url: str
    payload: dict[str, Any] | None
    params: dict[str, Any] | None
    at: float
    token: str | None = None
    response: Any = None  # what Discord answered (a message, for message-creating calls)

    @property
    def is_callback(self) -> bool:
        return self.path.endswith("/callback")

    @property
    def is_followup(self) -> bool:
        return self.method == "POST" and self.path.startswith("/webhooks/")

    @property
    def response_type(self) -> int | None:
        return (self.payload or {}).get("type") if self.is_callback else None

    @property
    def message(self) -> dict[str, Any]:
        """The message part of the payload (``data`` for callbacks, the body otherwise)."""
        if self.is_callback:
            return (self.payload or {}).get("data") or {}
        return self.payload or {}

    @property
    def ephemeral(self) -> bool:
        return bool(self.message.get("flags", 0) & 64)


def application_payload(owner_id: int = OWNER_ID, team: dict[str, Any] | None = None) -> dict:
    """What ``GET /oauth2/applications/@me`` returns for the bot's application."""
    return {
        "id": str(APP_ID),
        "name": "citebot",
        "description": "",
        "icon": None,
        "bot_public": True,
        "bot_require_code_grant": False,
        "owner": user_payload(owner_id, "owner"),
        "team": team,
        "verify_key": "0" * 64,
        "flags": 0,
    }


def team_payload(owner_id: int, members: dict[int, str]) -> dict[str, Any]:
    """A team owning the application: ``members`` maps user id to role (admin, developer...)."""
    return {
        "id": str(snowflake()),
        "name": "team",
        "icon": None,
        "owner_user_id": str(owner_id),
        "members": [
            {
                "membership_state": 2,
                "team_id": "1",
                "user": user_payload(user_id, f"member{user_id}"),
                "permissions": ["*"],
                "role": role,
            }
            for user_id, role in members.items()
        ],
    }


def message_data(payload: dict[str, Any], channel_id: int = CHANNEL_ID) -> dict[str, Any]:
    """What Discord would send back for a message created from ``payload``."""
    return payloads.created_message(payload, channel_id, user_payload(APP_ID, "citebot", bot=True))


class RecordingAdapter(AsyncWebhookAdapter):
    """discord.py's webhook adapter with the network replaced by a recorder."""

    def __init__(self, sink: Recorder) -> None:
        super().__init__()
        self.sink = sink

    async def request(self, route: Any, session: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        payload = kwargs.get("payload")
        if payload is None and kwargs.get("multipart"):
            payload = {"multipart": True}
        call = Call(
            method=route.method,
            path=route.path,
            url=route.url,
            payload=payload,
            params=kwargs.get("params"),
            at=time.monotonic(),
            token=route.webhook_token,
        )
        result = self.sink.add(call)
        if self.sink.fail_next is not None:
            error = self.sink.fail_next(call)
            if error is not None:
                raise error
        return result


class Recorder:
    """Every outgoing call, in order, with a way to wait for them."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.changed = asyncio.Event()
        self.fail_next: Callable[[Call], Exception | None] | None = None

    def add(self, call: Call) -> Any:
        self.calls.append(call)
        self.changed.set()
        if call.is_callback:
            data = (call.payload or {}).get("data") or {}
            response: dict[str, Any] = {
                "interaction": {
                    "id": call.url.split("/interactions/")[1].split("/")[0],
                    "type": 2,
                    "response_message_loading": call.response_type == 5,
                    "response_message_ephemeral": bool(data.get("flags", 0) & 64),
                }
            }
            if call.response_type == 4:
                response["resource"] = {"type": 4, "message": message_data(data)}
            return response
        if call.method in ("POST", "PATCH") and call.payload is not None:
            call.response = message_data(call.payload)
            return call.response
        return None

    def for_token(self, token: str) -> list[Call]:
        return [call for call in self.calls if call.token == token]

    async def wait_for(self, condition: Callable[[], bool], timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"timed out; calls so far: {self.calls!r}"[:4000])
            self.changed.clear()
            with suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), min(remaining, 0.5))


@dataclass
class Harness:
    """A bot, its recorder, and helpers to dispatch interactions and messages."""

    bot: CitebotBot
    recorder: Recorder
    channel_calls: list[dict[str, Any]] = field(default_factory=list)
    application: dict[str, Any] = field(default_factory=application_payload)
    # When set, channel messages fail with what this returns (an exception to raise).
    fail_channel_send: Callable[[], Exception] | None = None
    # When set, starting a thread fails with what this returns.
    fail_thread: Callable[[], Exception] | None = None

    # ----- payloads ----------------------------------------------------------------------------

    def interaction_payload(
        self,
        kind: int,
        data: dict[str, Any],
        *,
        user_id: int = USER_ID,
        permissions: int = MEMBER_PERMISSIONS,
        channel_id: int = CHANNEL_ID,
        dm: bool = False,
        message: dict[str, Any] | None = None,
        guild_id: int = GUILD_ID,
        roles: tuple[int, ...] = (),
        thread_of: int | None = None,
    ) -> dict[str, Any]:
        """``thread_of``: the channel is a public thread (``channel_id``) of that channel."""
        interaction_id = snowflake()
        payload: dict[str, Any] = {
            "id": str(interaction_id),
            "application_id": str(APP_ID),
            "type": kind,
            "token": f"token-{interaction_id}",
            "version": 1,
            "data": data,
            "locale": "en-US",
            "entitlements": [],
            "attachment_size_limit": 8 * 1024 * 1024,
            "app_permissions": str((1 << 11) | (1 << 14)),
        }
        if dm:
            payload["channel_id"] = str(DM_CHANNEL_ID)
            payload["channel"] = {
                "id": str(DM_CHANNEL_ID),
                "type": 1,
                "recipients": [user_payload(user_id)],
            }
            payload["user"] = user_payload(user_id)
            payload["context"] = 1
            payload["authorizing_integration_owners"] = {"0": str(GUILD_ID)}
        else:
            payload["guild_id"] = str(guild_id)
            payload["guild_locale"] = "en-US"
            payload["channel_id"] = str(channel_id)
            payload["channel"] = {
                "id": str(channel_id),
                "type": 0 if thread_of is None else 11,
                "guild_id": str(guild_id),
                "name": "general",
                "position": 0,
                "permission_overwrites": [],
                "nsfw": False,
                "parent_id": None if thread_of is None else str(thread_of),
            }
            if thread_of is not None:
                payload["channel"].update(thread_payload(channel_id, thread_of, guild_id))
            payload["member"] = {
                "user": user_payload(user_id),
                "roles": [str(role) for role in roles],
                "joined_at": "2024-01-01T00:00:00+00:00",
                "deaf": False,
                "mute": False,
                "flags": 0,
                "permissions": str(permissions),
            }
            payload["context"] = 0
            payload["authorizing_integration_owners"] = {"0": str(guild_id)}
        if message is not None:
            payload["message"] = message
        return payload

    def slash_payload(self, name: str, /, **options: Any) -> dict[str, Any]:
        """The data of ``/name`` with ``options``; ``name`` may name a subcommand
        (``"docs add"``). Values: str, int, bool, ``AttachmentOption`` or ``RoleOption``."""
        root, *sub = name.split()
        command = self.bot.tree.get_command(root)
        assert command is not None, name
        kinds = {bool: 5, int: 4, str: 3, AttachmentOption: 11, RoleOption: 8}
        given: list[dict[str, Any]] = []
        resolved: dict[str, dict[str, Any]] = {}
        for key, value in options.items():
            if isinstance(value, AttachmentOption | RoleOption):
                bucket = "attachments" if isinstance(value, AttachmentOption) else "roles"
                resolved.setdefault(bucket, {})[str(value.id)] = value.payload()
                given.append({"type": kinds[type(value)], "name": key, "value": str(value.id)})
            else:
                given.append({"type": kinds[type(value)], "name": key, "value": value})
        for part in reversed(sub):  # a subcommand (type 1) wraps its options
            given = [{"type": 1, "name": part, "options": given}]
        data: dict[str, Any] = {"id": str(hash(command)), "type": 1, "name": root,
                                "options": given}
        if resolved:
            data["resolved"] = resolved
        return data

    # ----- dispatch ----------------------------------------------------------------------------

    def _adapter(self) -> None:
        # Tasks copy the context they are created in, so the adapter reaches the handlers.
        async_context.set(RecordingAdapter(self.recorder))

    def slash(self, name: str, /, who: dict[str, Any] | None = None, **options: Any) -> str:
        """Dispatch ``/name`` as a gateway INTERACTION_CREATE; returns the interaction token."""
        self._adapter()
        payload = self.interaction_payload(2, self.slash_payload(name, **options), **(who or {}))
        self.bot._connection.parse_interaction_create(payload)  # type: ignore[arg-type]
        return str(payload["token"])

    def click(
        self, message: dict[str, Any], custom_id: str, who: dict[str, Any] | None = None
    ) -> str:
        """Press a button on ``message`` (a message as Discord returned it)."""
        self._adapter()
        data = {"custom_id": custom_id, "component_type": 2}
        payload = self.interaction_payload(3, data, message=message, **(who or {}))
        self.bot._connection.parse_interaction_create(payload)  # type: ignore[arg-type]
        return str(payload["token"])

    def submit_form(
        self,
        custom_id: str,
        values: dict[str, str | list[str]],
        who: dict[str, Any] | None = None,
    ) -> str:
        """Send the form (modal) ``custom_id`` as Discord does: each of its labelled fields by
        custom id, a text input's value as a string, a select's values as a list."""
        self._adapter()
        data = payloads.form_submission(custom_id, values)
        payload = self.interaction_payload(5, data, **(who or {}))
        self.bot._connection.parse_interaction_create(payload)  # type: ignore[arg-type]
        return str(payload["token"])

    def post_message(
        self,
        content: str,
        *,
        mention_bot: bool = True,
        dm: bool = False,
        channel_id: int = CHANNEL_ID,
        author_id: int = USER_ID,
        guild_id: int = GUILD_ID,
        reply_to: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Dispatch a MESSAGE_CREATE as the gateway would; ``reply_to``: the message (as
        Discord returned it) this one replies to."""
        payload = payloads.message_object(
            DM_CHANNEL_ID if dm else channel_id,
            user_payload(author_id),
            content,
            mentions=[user_payload(APP_ID, "citebot", bot=True)] if mention_bot else [],
        )
        if reply_to is not None:
            payload["type"] = 19  # a reply
            payload["message_reference"] = {
                "type": 0,
                "message_id": reply_to["id"],
                "channel_id": reply_to["channel_id"],
                **({} if dm else {"guild_id": str(guild_id)}),
            }
            payload["referenced_message"] = reply_to
        if not dm:
            payload["guild_id"] = str(guild_id)
            payload["member"] = {"roles": [], "joined_at": "2024-01-01T00:00:00+00:00"}
        self.bot._connection.parse_message_create(payload)  # type: ignore[arg-type]
        return payload

    async def finished(self, token: str, count: int = 2, timeout: float = 60.0) -> list[Call]:
        """Wait until the interaction ``token`` made ``count`` calls; return them."""
        await self.recorder.wait_for(lambda: len(self.recorder.for_token(token)) >= count, timeout)
        await asyncio.sleep(0.05)  # let anything unexpected show up too
        return self.recorder.for_token(token)

    def open_thread(self, thread_id: int, parent_id: int = CHANNEL_ID, guild_id: int = GUILD_ID):
        """A THREAD_CREATE as the gateway sends it (a thread started from message
        ``thread_id`` has that id)."""
        self.bot._connection.parse_thread_create(  # type: ignore[arg-type]
            thread_payload(thread_id, parent_id, guild_id)
        )

    async def channel_sends(self, count: int = 1, timeout: float = 60.0) -> list[dict[str, Any]]:
        await self.recorder.wait_for(lambda: len(self.channel_calls) >= count, timeout)
        await asyncio.sleep(0.05)
        return self.channel_calls

    # ----- forums, posts and channel options (auto-answer, issue 24) ----------------------------

    def add_forum(
        self, forum_id: int, tags: tuple[str, ...] = (), guild_id: int = GUILD_ID
    ) -> dict[int, str]:
        """A CHANNEL_CREATE of a forum channel with the tags ``tags``; returns tag id -> name."""
        available = {snowflake(): name for name in tags}
        self.bot._connection.parse_channel_create(  # type: ignore[arg-type]
            {
                "id": str(forum_id),
                "type": 15,
                "guild_id": str(guild_id),
                "name": f"forum{forum_id}",
                "position": 1,
                "permission_overwrites": [],
                "nsfw": False,
                "topic": None,
                "flags": 0,
                "available_tags": [
                    {"id": str(tag_id), "name": name, "moderated": False, "emoji_id": None,
                     "emoji_name": None}
                    for tag_id, name in available.items()
                ],
                "default_reaction_emoji": None,
                "default_sort_order": None,
                "default_forum_layout": 0,
            }
        )
        return available

    def post_raw(
        self,
        channel_id: int,
        content: str,
        *,
        author: dict[str, Any] | None = None,
        message_id: int | None = None,
        message_type: int = 0,
        mention_bot: bool = False,
        guild_id: int = GUILD_ID,
    ) -> dict[str, Any]:
        """A MESSAGE_CREATE in a server channel or thread from ``author`` (a user payload: a
        member by default), with the id ``message_id`` when given (a forum post's starter
        message has its thread's id)."""
        payload = payloads.message_object(
            channel_id,
            author or user_payload(USER_ID),
            content,
            mentions=[user_payload(APP_ID, "citebot", bot=True)] if mention_bot else [],
        )
        if message_id is not None:
            payload["id"] = str(message_id)
        payload["type"] = message_type
        payload["guild_id"] = str(guild_id)
        payload["member"] = {"roles": [], "joined_at": "2024-01-01T00:00:00+00:00"}
        self.bot._connection.parse_message_create(payload)  # type: ignore[arg-type]
        return payload

    def post_in_forum(
        self,
        forum_id: int,
        title: str,
        content: str,
        *,
        author: dict[str, Any] | None = None,
        tags: tuple[int, ...] = (),
        mention_bot: bool = False,
        guild_id: int = GUILD_ID,
    ) -> int:
        """A new forum post as the gateway sends it: THREAD_CREATE (the thread, owned by its
        author, titled ``title``), then MESSAGE_CREATE of its starter message (the thread's
        id). Returns the thread's id."""
        author = author or user_payload(USER_ID)
        thread_id = snowflake()
        thread = thread_payload(thread_id, forum_id, guild_id)
        thread.update(owner_id=author["id"], name=title, applied_tags=[str(t) for t in tags])
        self.bot._connection.parse_thread_create(thread)  # type: ignore[arg-type]
        self.post_raw(
            thread_id, content, author=author, message_id=thread_id, mention_bot=mention_bot,
            guild_id=guild_id,
        )
        return thread_id

    def slash_with_channel(
        self,
        name: str,
        /,
        option: str,
        channel_id: int,
        channel_type: int = 0,
        who: dict[str, Any] | None = None,
        **options: Any,
    ) -> str:
        """``slash`` with a channel option ``option`` (a channel of type ``channel_type``: 0
        text, 15 forum) besides ``options``; returns the interaction token."""
        self._adapter()
        data = self.slash_payload(name, **options)
        inner = data
        while inner.get("options") and inner["options"][0].get("type") == 1:  # subcommands
            inner = inner["options"][0]
        inner.setdefault("options", []).append(
            {"type": 7, "name": option, "value": str(channel_id)}
        )
        data.setdefault("resolved", {}).setdefault("channels", {})[str(channel_id)] = {
            "id": str(channel_id),
            "name": f"c{channel_id}",
            "type": channel_type,
            "permissions": str(MEMBER_PERMISSIONS),
        }
        payload = self.interaction_payload(2, data, **(who or {}))
        self.bot._connection.parse_interaction_create(payload)  # type: ignore[arg-type]
        return str(payload["token"])

    def answer_channel_edits(self) -> list[dict[str, Any]]:
        """Answer PATCH /channels/{id} (a thread's edit: tags, archiving) with the thread as
        edited, as Discord does; returns the edits' bodies as they come."""
        edits: list[dict[str, Any]] = []
        inner = self.bot.http.request

        async def request(route: Any, **kwargs: Any) -> Any:
            result = await inner(route, **kwargs)
            if route.method == "PATCH" and route.path == "/channels/{channel_id}":
                body = kwargs.get("json") or {}
                edits.append(body)
                channel_id = int(route.channel_id)
                thread = self.bot.get_channel(channel_id)
                guild_id = thread.guild.id if thread is not None else GUILD_ID  # type: ignore[union-attr]
                parent = getattr(thread, "parent_id", None) or CHANNEL_ID
                data = thread_payload(channel_id, parent, guild_id)
                data.update(body)
                return data
            return result

        self.bot.http.request = request  # type: ignore[method-assign]
        return edits


def thread_payload(thread_id: int, parent_id: int, guild_id: int) -> dict[str, Any]:
    """A public thread as Discord describes it."""
    return {
        "id": str(thread_id),
        "type": 11,
        "guild_id": str(guild_id),
        "parent_id": str(parent_id),
        "owner_id": str(APP_ID),
        "name": "follow-up",
        "last_message_id": None,
        "message_count": 0,
        "member_count": 1,
        "rate_limit_per_user": 0,
        "thread_metadata": {
            "archived": False,
            "auto_archive_duration": 60,
            "archive_timestamp": "2024-01-01T00:00:00+00:00",
            "locked": False,
        },
        "flags": 0,
    }


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "source_dir": ARTICLE_DIR,
        "index_dir": tmp_path / "index",
        "state_db": tmp_path / "feedback.sqlite3",
        "discord_guilds": [GUILD_ID],
        "discord_cooldown_questions": 1000,
        "discord_cooldown_seconds": 60,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


async def dispatched(bot: CitebotBot, event: str, *args: Any) -> None:
    """What the gateway's ``event`` does, awaited in order: the client's own handler, then every
    feature's listener (``bot.dispatch`` would run them as tasks)."""
    handler = getattr(bot, f"on_{event}", None)
    if handler is not None:
        await handler(*args)
    for listener in bot.extra_events.get(f"on_{event}", []):
        await listener(*args)


@asynccontextmanager
async def harness_for(settings: Settings, engine: Any) -> AsyncIterator[Harness]:
    """A bot built by ``create_bot`` with its HTTP edge recorded, ready to receive events."""
    bot = create_bot(settings, engine)
    recorder = Recorder()
    harness = Harness(bot=bot, recorder=recorder)

    async def http_request(route: Any, **kwargs: Any) -> Any:
        payload = kwargs.get("json")
        call = Call(route.method, route.path, route.url, payload, None, time.monotonic())
        recorder.calls.append(call)
        recorder.changed.set()
        if route.path == "/oauth2/applications/@me":
            return harness.application
        sent: dict[str, Any] = {"route": f"{route.method} {route.path}", "json": payload}
        harness.channel_calls.append(sent)
        if route.method == "POST" and route.path.endswith("/messages"):
            if harness.fail_channel_send is not None:
                raise harness.fail_channel_send()
            sent["response"] = message_data(payload or {}, channel_id=int(route.channel_id))
            return sent["response"]
        if route.method == "POST" and route.path.endswith("/threads"):  # from a message
            if harness.fail_thread is not None:
                raise harness.fail_thread()
            message_id = int(route.url.rstrip("/").split("/")[-2])
            guild_id = int(route.guild_id) if route.guild_id else GUILD_ID
            thread = thread_payload(message_id, int(route.channel_id), guild_id)
            bot._connection.parse_thread_create(thread)  # type: ignore[arg-type]
            return thread
        return {}

    bot.http.request = http_request  # type: ignore[method-assign]
    async with bot:
        await bot.load_features()  # what login() does first: the commands, buttons, listeners
        state = bot._connection
        state.application_id = APP_ID
        state.user = discord.ClientUser(state=state, data=user_payload(APP_ID, "citebot", True))
        servers = {
            GUILD_ID: ("Test server", (CHANNEL_ID, OTHER_CHANNEL_ID), MANAGER_ROLE_ID),
            OTHER_GUILD_ID: ("Other server", (OTHER_GUILD_CHANNEL_ID,), OTHER_MANAGER_ROLE_ID),
        }
        for guild_id, (name, channels, role_id) in servers.items():
            state._add_guild_from_data(  # the gateway's GUILD_CREATE would have done this
                {
                    "id": str(guild_id),
                    "name": name,
                    "owner_id": str(snowflake()),
                    "roles": [
                        payloads.everyone_role(guild_id, 0),
                        RoleOption(role_id, guild_id=guild_id).payload(),
                    ],
                    "channels": [
                        payloads.text_channel(cid, guild_id, f"c{cid}") for cid in channels
                    ],
                    "members": [],
                    "emojis": [],
                    "stickers": [],
                    "features": [],
                    "member_count": 2,
                }
            )
        yield harness


@pytest.fixture
def own_engine(tmp_path: Path) -> Engine:
    """An engine of its own (a rebuild must not touch the shared index)."""
    sources = tmp_path / "sources"
    shutil.copytree(ARTICLE_DIR, sources)
    engine = Engine(make_settings(tmp_path, source_dir=sources, index_dir=tmp_path / "own"))
    engine.load()
    return engine
