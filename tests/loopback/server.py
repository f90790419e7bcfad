"""``LoopbackDiscord``: the REST API and the gateway on 127.0.0.1, a free port, one aiohttp app.

    async with LoopbackDiscord(token=TOKEN) as discord_:
        with point_discord_at(discord_.api_base, discord_.gateway_url):
            ...  # a real discord.py client now talks to the stand-in

Tests drive it as users would (``slash``, ``click``, ``mention``: gateway dispatches; ``attach``
puts a file on the stand-in's CDN for an attachment option) and read what the bot sent
(``recorder``); ``problems()`` is the shared payload check.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

import discord
import discord.http
from aiohttp import web
from discord.gateway import DiscordWebSocket

from tests.loopback.checks import all_problems
from tests.loopback.community import Channel, Thread
from tests.loopback.gateway import Gateway
from tests.loopback.options import Attachment, command_data
from tests.loopback.payloads import MEMBER_PERMISSIONS, World, form_submission, snowflake
from tests.loopback.recorder import Recorder, Request
from tests.loopback.rest import Rest

API_VERSION = 10
COMMAND, COMPONENT, AUTOCOMPLETE, FORM = 2, 3, 4, 5


@contextmanager
def point_discord_at(api_base: str, gateway_url: str) -> Iterator[None]:
    """Send discord.py's REST calls (bot and webhook routes share ``Route``) and its gateway
    connection to the stand-in; restore Discord's addresses afterwards."""
    import yarl

    old_base, old_gateway = discord.http.Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    discord.http.Route.BASE = api_base
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)
    try:
        yield
    finally:
        discord.http.Route.BASE = old_base
        DiscordWebSocket.DEFAULT_GATEWAY = old_gateway


class LoopbackDiscord:
    """The stand-in: start it, point discord.py at it, drive it, read what the bot sent."""

    def __init__(self, token: str, world: World | None = None) -> None:
        self.token = token
        self.world = world or World()
        self.recorder = Recorder()
        self.rest = Rest(self.world, self.recorder, token)
        self.gateway = Gateway(self.world, token)
        self.port = 0
        self._runner: web.AppRunner | None = None
        self.files: dict[str, tuple[bytes, str]] = {}  # CDN path -> (bytes, content type)
        self.downloads: list[str] = []  # CDN paths the bot fetched, in order
        self.missing_downloads: list[str] = []  # CDN paths fetched that hold no file
        self._versions = itertools.count(1)

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v{API_VERSION}"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    # ----- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> LoopbackDiscord:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway", self.gateway.handle)
        app.router.add_get("/gateway/", self.gateway.handle)
        app.router.add_route("*", "/api/v{version}/{tail:.*}", self.rest.handle)
        app.router.add_get("/attachments/{tail:.*}", self._attachment)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None and server.sockets
        self.port = server.sockets[0].getsockname()[1]
        self.gateway.url = self.rest.gateway_url = self.gateway_url
        return self

    async def stop(self) -> None:
        await self.gateway.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> LoopbackDiscord:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # ----- what users do -------------------------------------------------------------------------

    def command_data(self, name: str, guild_id: int, options: dict[str, Any]) -> dict[str, Any]:
        """``data`` of ``/name`` (``"docs add"``: a subcommand of a group) with the id Discord
        gave the command; AssertionError unless the bot synced that command to the server."""
        root, *subcommands = name.split()
        synced = self.rest.commands.get(guild_id) or self.rest.commands.get(None) or []
        found = [command for command in synced if command["name"] == root]
        if not found:
            raise AssertionError(f"/{root} was never synced to server {guild_id}")
        level = found[0]
        for subcommand in subcommands:
            children = [o for o in level.get("options") or [] if o["name"] == subcommand]
            if not children or children[0]["type"] not in (1, 2):
                raise AssertionError(f"/{name}: /{root} has no subcommand {subcommand!r}")
            level = children[0]
        return command_data(found[0]["id"], name, guild_id, options)

    async def slash(
        self,
        name: str,
        /,
        *,
        user_id: int,
        permissions: int = MEMBER_PERMISSIONS,
        guild_id: int | None = None,
        roles: tuple[int, ...] = (),
        **options: Any,
    ) -> str:
        """Someone (with ``permissions`` and the role ids ``roles``) runs ``/name`` in server
        ``guild_id`` (``"docs add"`` for a subcommand): an INTERACTION_CREATE; returns the
        interaction token."""
        guild_id = guild_id or self.world.guild_id
        data = self.command_data(name, guild_id, options)
        payload = self.world.interaction(
            COMMAND, data, user_id=user_id, permissions=permissions, guild_id=guild_id,
            roles=roles,
        )
        return await self._dispatch_interaction(payload)

    async def autocomplete(
        self,
        name: str,
        /,
        *,
        focused: str,
        user_id: int,
        permissions: int = MEMBER_PERMISSIONS,
        guild_id: int | None = None,
        **options: Any,
    ) -> str:
        """Someone types into option ``focused`` of ``/name`` (its value: what is typed so far);
        returns the token (the answer is a type 8 callback with ``choices``)."""
        guild_id = guild_id or self.world.guild_id
        data = self.command_data(name, guild_id, options)
        level = data["options"]
        while level and level[0]["type"] in (1, 2):  # down to the subcommand's own options
            level = level[0]["options"]
        for option in level:
            if option["name"] == focused:
                option["focused"] = True
        payload = self.world.interaction(
            AUTOCOMPLETE, data, user_id=user_id, permissions=permissions, guild_id=guild_id
        )
        return await self._dispatch_interaction(payload)

    async def click(
        self, message: dict[str, Any], custom_id: str, *, user_id: int, **extra: Any
    ) -> str:
        """Someone presses the button ``custom_id`` on ``message``; returns the token."""
        data = {"custom_id": custom_id, "component_type": 2}
        payload = self.world.interaction(COMPONENT, data, user_id=user_id, message=message, **extra)
        thread = self.world.community.threads.get(int(message.get("channel_id") or 0))
        if thread is not None:  # a button on a message in a thread: the thread is the channel
            payload["channel_id"] = str(thread.id)
            payload["channel"] = self.world.community.thread_payload(thread)
        # A component interaction's "@original" is the message its button is on.
        stored = self.rest.messages.get(str(message.get("id")), message)
        self.rest.originals[str(payload["token"])] = stored
        return await self._dispatch_interaction(payload)

    async def submit_form(
        self,
        custom_id: str,
        values: dict[str, str | list[str]],
        *,
        user_id: int,
        guild_id: int | None = None,
    ) -> str:
        """Someone sends the form (modal) ``custom_id``: each labelled field by its custom id,
        a text input's value as a string, a select's chosen values as a list; returns the
        token."""
        data = form_submission(custom_id, values)
        payload = self.world.interaction(
            FORM, data, user_id=user_id, guild_id=guild_id or self.world.guild_id
        )
        return await self._dispatch_interaction(payload)

    async def _dispatch_interaction(self, payload: dict[str, Any]) -> str:
        token = str(payload["token"])
        self.rest.token_channels[token] = int(payload["channel_id"])
        await self.gateway.dispatch("INTERACTION_CREATE", payload)
        return token

    def attach(
        self,
        filename: str,
        data: bytes,
        *,
        content_type: str | None = None,
        size: int | None = None,
    ) -> Attachment:
        """A file for an ``attachment`` option, its bytes served by the stand-in's CDN (as
        Discord's ``cdn.discordapp.com/attachments/...``); ``size``: what Discord claims."""
        attachment_id = snowflake()
        path = f"/attachments/{attachment_id}/{quote(filename)}"
        self.files[path] = (data, content_type or "application/octet-stream")
        url = f"http://127.0.0.1:{self.port}{path}?ex={next(self._versions):x}"
        return Attachment(attachment_id, filename, len(data) if size is None else size, url,
                          content_type)

    async def _attachment(self, http: web.Request) -> web.Response:
        path = http.path  # decoded; stored quoted
        stored = quote(path)
        self.downloads.append(stored)
        if stored not in self.files:
            self.missing_downloads.append(stored)
            return web.Response(status=404, text="404: Not Found")
        data, content_type = self.files[stored]
        return web.Response(body=data, headers={"Content-Type": content_type})

    async def mention(self, question: str, *, user_id: int, guild_id: int | None = None) -> str:
        """Someone writes ``@citebot question``; returns the message id."""
        content = f"<@{self.world.app_id}> {question}"
        payload = self.world.message(content, author_id=user_id, guild_id=guild_id)
        await self.gateway.dispatch("MESSAGE_CREATE", payload)
        return str(payload["id"])

    # ----- what the community does (gateway events as Discord sends them) --------------------

    def _seen(self, message: dict[str, Any]) -> dict[str, Any]:
        return self.world.community.shown(message, self.world.message_content)

    async def new_channel(
        self, name: str, *, guild_id: int | None = None, forum: bool = False,
        tags: tuple[str, ...] = (), private: bool = False,
    ) -> Channel:
        """An admin creates a channel while the bot is connected: CHANNEL_CREATE (channels made
        before the bot connects come in GUILD_CREATE: ``world.community.channel``)."""
        channel = self.world.community.channel(guild_id or self.world.guild_id, name,
                                               forum=forum, tags=tags, private=private)
        await self.gateway.dispatch("CHANNEL_CREATE", channel.payload())
        return channel

    async def new_thread(
        self, channel: Channel, title: str, question: str, *, owner_id: int,
        tags: tuple[str, ...] = (),
    ) -> Thread:
        """Someone opens a thread (active): THREAD_CREATE, then its starter post's
        MESSAGE_CREATE (a forum's; a text channel's starter is a message of the channel)."""
        community = self.world.community
        thread = community.thread(channel, title, question, owner_id=owner_id, tags=tags,
                                  archived=False)
        data = community.thread_payload(thread)
        data["newly_created"] = True
        await self.gateway.dispatch("THREAD_CREATE", data)
        starter = (community.messages[thread.id] or community.messages[channel.id])
        await self.gateway.dispatch("MESSAGE_CREATE", self._seen(
            next(m for m in starter if int(m["id"]) == thread.id)))
        return thread

    async def say(self, channel_id: int, content: str, *, author_id: int) -> dict[str, Any]:
        """Someone writes in a channel or thread: MESSAGE_CREATE."""
        message = self.world.community.post(channel_id, content, author_id=author_id)
        await self.gateway.dispatch("MESSAGE_CREATE", self._seen(message))
        return message

    async def edit(self, message: dict[str, Any], content: str) -> None:
        """Its author edits ``message``: MESSAGE_UPDATE with the whole message."""
        message["content"] = content
        message["edited_timestamp"] = "2026-01-02T00:00:00+00:00"
        await self.gateway.dispatch("MESSAGE_UPDATE", self._seen(message))

    async def delete(self, message: dict[str, Any]) -> None:
        """``message`` is deleted: MESSAGE_DELETE (ids only, as Discord sends it)."""
        channel_id = int(message["channel_id"])
        self.world.community.messages[channel_id].remove(message)
        await self.gateway.dispatch("MESSAGE_DELETE", {
            "id": message["id"], "channel_id": message["channel_id"],
            "guild_id": message["guild_id"]})

    async def react(self, message: dict[str, Any], emoji: str, *, user_id: int) -> None:
        """``user_id`` reacts with ``emoji``: MESSAGE_REACTION_ADD."""
        self.world.community.react(message, emoji, user_id)
        await self.gateway.dispatch("MESSAGE_REACTION_ADD", {
            "user_id": str(user_id), "channel_id": message["channel_id"],
            "message_id": message["id"], "guild_id": message["guild_id"],
            "emoji": {"id": None, "name": emoji}, "burst": False, "type": 0,
            "message_author_id": message["author"]["id"]})

    async def tag(self, thread: Thread, *tags: str) -> None:
        """A forum post's tags are set to ``tags``: THREAD_UPDATE."""
        thread.tags = [thread.parent.tags[tag] for tag in tags]
        await self.gateway.dispatch("THREAD_UPDATE", self.world.community.thread_payload(thread))

    async def delete_thread(self, thread: Thread) -> None:
        """A thread is deleted: THREAD_DELETE (ids, parent and type only)."""
        community = self.world.community
        community.threads.pop(thread.id)
        community.messages.pop(thread.id, None)
        await self.gateway.dispatch("THREAD_DELETE", {
            "id": str(thread.id), "guild_id": str(thread.parent.guild_id),
            "parent_id": str(thread.parent.id), "type": 11})

    async def make_private(self, channel: Channel) -> None:
        """An admin denies @everyone View Channel on ``channel``: CHANNEL_UPDATE."""
        channel.private = True
        await self.gateway.dispatch("CHANNEL_UPDATE", channel.payload())

    async def delete_channel(self, channel: Channel) -> None:
        """A channel is deleted, with its threads: CHANNEL_DELETE."""
        community = self.world.community
        community.channels.pop(channel.id)
        for thread_id in [t.id for t in community.threads.values() if t.parent is channel]:
            community.threads.pop(thread_id)
            community.messages.pop(thread_id, None)
        await self.gateway.dispatch("CHANNEL_DELETE", channel.payload())

    # ----- what the bot sent -------------------------------------------------------------------

    async def calls(self, token: str, count: int = 2, timeout: float = 60.0) -> list[Request]:
        """Wait until interaction ``token`` got ``count`` answered calls; return them."""
        await self.recorder.wait_for(lambda: len(self.recorder.for_token(token)) >= count, timeout)
        return self.recorder.for_token(token)

    async def answered(self, token: str, timeout: float = 60.0) -> Request:
        """Wait for the first successful follow-up or message response of ``token``."""

        def found() -> Request | None:
            for request in self.recorder.for_token(token):
                if request.succeeded and (request.is_followup or request.callback_type == 4):
                    return request
            return None

        return await self.recorder.wait_for(found, timeout)

    async def reply_to(self, message_id: str, timeout: float = 60.0) -> Request:
        """Wait for the bot's successful channel message replying to ``message_id``."""

        def found() -> Request | None:
            for request in self.recorder.requests:
                reference = request.message.get("message_reference") or {}
                if (
                    request.is_channel_message
                    and request.succeeded
                    and str(reference.get("message_id")) == message_id
                ):
                    return request
            return None

        return await self.recorder.wait_for(found, timeout)

    async def posted_in(self, channel_id: int, timeout: float = 60.0) -> Request:
        """Wait for the bot's first successful channel message in ``channel_id``."""

        def found() -> Request | None:
            path = f"/channels/{channel_id}/messages"
            for request in self.recorder.requests:
                if request.is_channel_message and request.succeeded and request.path == path:
                    return request
            return None

        return await self.recorder.wait_for(found, timeout)

    def sent_message(self, request: Request) -> dict[str, Any]:
        """The message object the stand-in returned for ``request`` (to press its buttons)."""
        for message in self.rest.messages.values():
            if (
                message["content"] == (request.message.get("content") or "")
                and message["embeds"] == (request.message.get("embeds") or [])
                and message["components"] == (request.message.get("components") or [])
            ):
                return message
        raise AssertionError(f"no stored message for {request.route}")

    def forget(self) -> None:
        """Drop the recorded requests and stored messages (after checking them: long runs)."""
        self.recorder.clear()
        self.rest.messages.clear()
        self.rest.originals.clear()
        self.rest.token_channels.clear()
        self.downloads.clear()

    def problems(self) -> list[str]:
        """The shared check over everything sent, plus routes the stand-in does not know."""
        problems = all_problems(self.recorder.requests, self.token)
        problems += [f"unknown route {r.route}" for r in self.rest.unknown]
        problems += [f"no or wrong Authorization on {r.route}" for r in self.rest.unauthorised]
        problems += [f"message to a channel not in the world: {r.route}"
                     for r in self.rest.unknown_channels]
        problems += [f"download of a file never attached: {p}" for p in self.missing_downloads]
        return problems
