"""The REST API: the routes citebot's client calls, answered as Discord does, plus injected faults.

Routes (paths after ``/api/v10``): ``GET /users/@me``, ``GET /oauth2/applications/@me``,
``GET /gateway(/bot)``, ``GET|PUT /applications/{app}(/guilds/{guild})/commands``,
``POST /interactions/{id}/{token}/callback``, ``POST /webhooks/{app}/{token}`` (follow-ups) and
``GET|PATCH|DELETE /webhooks/{app}/{token}/messages/{id}``, ``POST /channels/{id}/messages``.
Anything else is a 404 and counted in ``unknown`` (a test can assert there was none).

A fault (``Rest.fail``) makes the next matching requests answer 429 (with ``Retry-After``, the
``Via`` header and the JSON body discord.py needs to treat it as a rate limit and retry) or a 5xx.
``Rest.expire(token)`` does what Discord does 15 minutes after an interaction: every callback,
follow-up or edit with its token answers 401 "Invalid Webhook Token" (code 50027).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.loopback.community import Thread
from tests.loopback.payloads import World, snowflake
from tests.loopback.recorder import DEFERRED_MESSAGE, MESSAGE, UPDATE_MESSAGE, Recorder, Request

Handler = Callable[[Request, re.Match[str]], Awaitable[web.Response]]


@dataclass
class RateLimits:
    """Discord's per-route buckets, simplified: ``per_second`` requests per route and channel
    in each second; every answer carries the ``X-RateLimit-*`` headers (discord.py waits when
    Remaining is 0), and a request past the limit gets a 429 with ``Retry-After``."""

    per_second: int = 50
    global_per_second: int | None = None  # Discord's 50 requests/s per bot, when set
    windows: dict[str, tuple[float, int]] = field(default_factory=dict)
    exceeded: int = 0

    def take(self, bucket: str) -> tuple[bool, dict[str, str]]:
        """(allowed, headers) for one request in ``bucket`` (and in the global one, when set:
        past it, a 429 with ``X-RateLimit-Global``, as Discord answers)."""
        if self.global_per_second is not None:
            limit, self.per_second = self.per_second, self.global_per_second
            try:
                allowed, headers = self._take("global")
            finally:
                self.per_second = limit
            if not allowed:
                return False, {**headers, "X-RateLimit-Global": "true"}
        return self._take(bucket)

    def _take(self, bucket: str) -> tuple[bool, dict[str, str]]:
        now = time.monotonic()
        start, used = self.windows.get(bucket, (now, 0))
        if now - start >= 1.0:
            start, used = now, 0
        used += 1
        self.windows[bucket] = (start, used)
        reset_after = max(0.001, 1.0 - (now - start))
        headers = {
            "X-RateLimit-Limit": str(self.per_second),
            "X-RateLimit-Remaining": str(max(0, self.per_second - used)),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": bucket.replace("/", "-"),
        }
        if used > self.per_second:
            self.exceeded += 1
            return False, headers
        return True, headers


@dataclass
class Fault:
    """Answer the next ``times`` requests that ``matches`` accepts with ``status``."""

    matches: Callable[[Request], bool]
    status: int
    times: int = 1
    retry_after: float = 0.25
    hits: int = 0


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    # Exactly "application/json", no charset: discord.py compares the header as a whole.
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    return web.Response(body=json.dumps(data).encode(), status=status, headers=all_headers)


class Rest:
    """The REST side of the stand-in."""

    def __init__(self, world: World, recorder: Recorder, token: str) -> None:
        self.world = world
        self.recorder = recorder
        self.token = token
        self.gateway_url = ""
        self.faults: list[Fault] = []
        self.commands: dict[int | None, list[dict[str, Any]]] = {}
        self.messages: dict[str, dict[str, Any]] = {}
        self.originals: dict[str, dict[str, Any]] = {}  # interaction token -> original response
        self.token_channels: dict[str, int] = {}  # interaction token -> its channel
        self.expired: set[str] = set()  # interaction tokens past their lifetime
        self.unknown: list[Request] = []
        self.unauthorised: list[Request] = []
        self.unknown_channels: list[Request] = []  # messages to a channel the world lacks
        commands = r"/applications/\d+(?:/guilds/(?P<guild>\d+))?/commands"
        message = r"/webhooks/\d+/(?P<token>[^/]+)/messages/(?P<id>[^/]+)"
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = [
            ("GET", re.compile(r"/users/@me"), self._me),
            ("GET", re.compile(r"/oauth2/applications/@me"), self._application),
            ("GET", re.compile(r"/gateway(?:/bot)?"), self._gateway),
            ("GET", re.compile(commands), self._get_commands),
            ("PUT", re.compile(commands), self._put_commands),
            (
                "POST",
                re.compile(r"/interactions/(?P<id>\d+)/(?P<token>[^/]+)/callback"),
                self._callback,
            ),
            ("POST", re.compile(r"/webhooks/\d+/(?P<token>[^/]+)"), self._followup),
            ("GET", re.compile(message), self._get_message),
            ("PATCH", re.compile(message), self._edit_message),
            ("DELETE", re.compile(message), self._delete_message),
            ("POST", re.compile(r"/channels/(?P<channel>\d+)/messages"), self._channel_message),
            ("POST", re.compile(r"/channels/(?P<channel>\d+)/messages/(?P<id>\d+)/threads"),
             self._start_thread),
            ("PATCH", re.compile(r"/channels/(?P<channel>\d+)"), self._edit_thread),
            ("GET", re.compile(r"/channels/(?P<channel>\d+)/messages"), self._history),
            ("GET", re.compile(r"/channels/(?P<channel>\d+)/messages/(?P<id>\d+)"),
             self._channel_get_message),
            ("GET", re.compile(r"/channels/(?P<channel>\d+)/messages/(?P<id>\d+)/reactions/"
                               r"(?P<emoji>[^/]+)"), self._reactions),
            ("GET", re.compile(r"/channels/(?P<channel>\d+)/threads/archived/public"),
             self._archived),
            ("GET", re.compile(r"/guilds/(?P<guild>\d+)/threads/active"), self._active),
            ("GET", re.compile(r"/channels/(?P<channel>\d+)"), self._channel),
            ("GET", re.compile(r"/guilds/(?P<guild>\d+)/members/(?P<user>\d+)"), self._member),
        ]
        self.limits = RateLimits()

    def fail(
        self,
        matches: Callable[[Request], bool],
        status: int,
        *,
        times: int = 1,
        retry_after: float = 0.25,
    ) -> Fault:
        """Inject a fault: the next ``times`` matching requests get ``status``."""
        fault = Fault(matches, status, times, retry_after)
        self.faults.append(fault)
        return fault

    def expire(self, token: str) -> None:
        """Interaction ``token`` has expired: its webhook calls answer 401, code 50027."""
        self.expired.add(token)

    # ----- the endpoint ------------------------------------------------------------------------

    async def handle(self, http: web.Request) -> web.Response:
        path = "/" + http.match_info["tail"]
        files: dict[str, bytes] = {}
        if http.content_type.startswith("multipart/"):
            form = await http.post()
            body_text = str(form.get("payload_json") or "")
            for value in form.values():
                if isinstance(value, web.FileField):
                    files[value.filename] = value.file.read()
        else:
            body_text = await http.text()
        try:
            body = json.loads(body_text) if body_text else None
        except ValueError:
            body = body_text
        request = Request(
            method=http.method,
            path=path,
            query=dict(http.query),
            raw_url=str(http.rel_url),
            body_text=body_text,
            body=body,
            files=files,
        )
        self.recorder.add(request)
        response = await self._answer(http, request)
        request.status = response.status
        self.recorder.touch()
        return response

    async def _answer(self, http: web.Request, request: Request) -> web.Response:
        authorised = http.headers.get("Authorization") == f"Bot {self.token}"
        is_webhook = request.path.startswith(("/webhooks/", "/interactions/"))
        if not authorised and not is_webhook:
            self.unauthorised.append(request)
            return _json({"message": "401: Unauthorized", "code": 0}, 401)
        if is_webhook and request.interaction_token in self.expired:
            return _json({"message": "Invalid Webhook Token", "code": 50027}, 401)
        for fault in self.faults:
            if fault.hits < fault.times and fault.matches(request):
                fault.hits += 1
                return self._fault_response(fault)
        for method, pattern, handler in self._routes:
            match = pattern.fullmatch(request.path)
            if match and method == request.method:
                if not request.path.startswith("/channels/") or request.method != "GET":
                    return await handler(request, match)
                return await self._limited(request, match, handler)
        self.unknown.append(request)
        return _json({"message": "404: Not Found", "code": 0}, 404)

    @staticmethod
    def _fault_response(fault: Fault) -> web.Response:
        if fault.status == 429:
            headers = {
                "Retry-After": f"{fault.retry_after:g}",
                "X-RateLimit-Limit": "5",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset-After": f"{fault.retry_after:g}",
                "X-RateLimit-Bucket": "loopback",
                "X-RateLimit-Scope": "user",
                "Via": "1.1 google",
            }
            body = {
                "message": "You are being rate limited.",
                "retry_after": fault.retry_after,
                "global": False,
            }
            return _json(body, 429, headers)
        return _json({"message": f"{fault.status}: Server Error", "code": 0}, fault.status)

    # ----- routes ------------------------------------------------------------------------------

    async def _me(self, request: Request, match: re.Match[str]) -> web.Response:
        return _json(self.world.bot_user)

    async def _application(self, request: Request, match: re.Match[str]) -> web.Response:
        return _json(self.world.application())

    async def _gateway(self, request: Request, match: re.Match[str]) -> web.Response:
        limit = {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}
        return _json({"url": self.gateway_url, "shards": 1, "session_start_limit": limit})

    async def _get_commands(self, request: Request, match: re.Match[str]) -> web.Response:
        guild = int(match["guild"]) if match["guild"] else None
        return _json(self.commands.get(guild, []))

    async def _put_commands(self, request: Request, match: re.Match[str]) -> web.Response:
        guild = int(match["guild"]) if match["guild"] else None
        stored = []
        for command in request.body or []:
            item = dict(command)
            item.update(id=str(snowflake()), application_id=str(self.world.app_id), version="1")
            if guild is not None:
                item["guild_id"] = str(guild)
            stored.append(item)
        self.commands[guild] = stored
        return _json(stored)

    def _store(self, payload: dict[str, Any], token: str, original: bool) -> dict[str, Any]:
        """Keep a message the bot sent for interaction ``token`` (in that interaction's channel);
        ``original``: its first response."""
        channel = self.token_channels.get(token, self.world.channels[self.world.guild_id])
        message = self.world.bot_message(payload, channel)
        self.messages[message["id"]] = message
        if original:
            self.originals[token] = message  # replaces the pressed button's message
        return message

    async def _callback(self, request: Request, match: re.Match[str]) -> web.Response:
        body = request.body or {}
        kind = body.get("type")
        data = body.get("data") or {}
        interaction: dict[str, Any] = {
            "id": match["id"],
            "type": 2,
            "response_message_loading": kind == DEFERRED_MESSAGE,
            "response_message_ephemeral": bool((data.get("flags") or 0) & 64),
        }
        response: dict[str, Any] = {"interaction": interaction}
        if kind in (MESSAGE, DEFERRED_MESSAGE):
            message = self._store(data, match["token"], original=True)
            interaction["response_message_id"] = message["id"]
            if kind == MESSAGE:
                response["resource"] = {"type": kind, "message": message}
        elif kind == UPDATE_MESSAGE:
            updated = self.originals.get(match["token"])
            if updated is not None:  # the message the pressed button is on
                self._update(updated, data)
            channel = self.token_channels.get(match["token"], 0)
            message = updated or self.world.bot_message(data, channel)
            response["resource"] = {"type": kind, "message": message}
        if request.query.get("with_response") in ("1", "true", "True"):
            return _json(response)
        return web.Response(status=204)

    async def _followup(self, request: Request, match: re.Match[str]) -> web.Response:
        return _json(self._store(request.body or {}, match["token"], original=False))

    async def _get_message(self, request: Request, match: re.Match[str]) -> web.Response:
        message = self._find(match)
        if message is None:
            return _json({"message": "Unknown Message", "code": 10008}, 404)
        return _json(message)

    async def _edit_message(self, request: Request, match: re.Match[str]) -> web.Response:
        message = self._find(match)
        if message is None:
            return _json({"message": "Unknown Message", "code": 10008}, 404)
        self._update(message, request.body or {})
        return _json(message)

    @staticmethod
    def _update(message: dict[str, Any], changes: dict[str, Any]) -> None:
        for key in ("content", "embeds", "components", "flags"):
            if key in changes:
                message[key] = changes[key]

    async def _delete_message(self, request: Request, match: re.Match[str]) -> web.Response:
        message = self._find(match)
        if message is None:
            return _json({"message": "Unknown Message", "code": 10008}, 404)
        self.messages.pop(message["id"], None)
        return web.Response(status=204)

    def _find(self, match: re.Match[str]) -> dict[str, Any] | None:
        if match["id"] == "@original":
            return self.originals.get(match["token"])
        return self.messages.get(match["id"])

    async def _channel_message(self, request: Request, match: re.Match[str]) -> web.Response:
        channel_id = int(match["channel"])
        if channel_id not in self.world.channels.values() and not self._known_channel(channel_id):
            self.unknown_channels.append(request)
            return _json({"message": "Unknown Channel", "code": 10003}, 404)
        message = self.world.bot_message(request.body or {}, int(match["channel"]))
        self.messages[message["id"]] = message
        return _json(message)

    # ----- the community: channels, threads, history -----------------------------------------

    async def _limited(
        self, request: Request, match: re.Match[str], handler: Handler
    ) -> web.Response:
        """A channel read within its bucket (route shape and channel, as Discord's major
        parameter): the rate-limit headers on the answer, a 429 past the limit."""
        shape = re.sub(r"/\d+", "/{id}", request.path.split("/", 3)[-1])
        allowed, headers = self.limits.take(f"{match['channel']}:{shape}")
        if not allowed:
            retry = headers["X-RateLimit-Reset-After"]
            headers.update({"Retry-After": retry, "X-RateLimit-Scope": "user", "Via": "1.1 google"})
            body = {"message": "You are being rate limited.", "retry_after": float(retry),
                    "global": "X-RateLimit-Global" in headers}
            if body["global"]:
                headers["X-RateLimit-Scope"] = "global"
            return _json(body, 429, headers)
        response = await handler(request, match)
        response.headers.update(headers)
        return response

    def _known_channel(self, channel_id: int) -> bool:
        community = self.world.community
        return channel_id in community.channels or channel_id in community.threads

    async def _history(self, request: Request, match: re.Match[str]) -> web.Response:
        channel_id = int(match["channel"])
        if not self._known_channel(channel_id):
            return _json({"message": "Unknown Channel", "code": 10003}, 404)
        query = request.query
        limit = max(1, min(100, int(query.get("limit", "50"))))
        messages = self.world.community.history(
            channel_id,
            before=int(query["before"]) if "before" in query else None,
            after=int(query["after"]) if "after" in query else None,
            limit=limit, content=self.world.message_content,
        )
        return _json(messages)

    async def _channel_get_message(self, request: Request, match: re.Match[str]) -> web.Response:
        message = self.world.community.find(int(match["channel"]), int(match["id"]))
        if message is None:
            return _json({"message": "Unknown Message", "code": 10008}, 404)
        return _json(self.world.community.shown(message, self.world.message_content))

    async def _reactions(self, request: Request, match: re.Match[str]) -> web.Response:
        from urllib.parse import unquote

        community = self.world.community
        users = community.reactors(int(match["channel"]), int(match["id"]),
                                   unquote(match["emoji"]))
        if users is None:
            return _json({"message": "Unknown Message", "code": 10008}, 404)
        after = int(request.query.get("after", "0"))
        limit = max(1, min(100, int(request.query.get("limit", "25"))))
        chosen = sorted(u for u in users if u > after)[:limit]
        return _json([community.author(u) for u in chosen])

    async def _archived(self, request: Request, match: re.Match[str]) -> web.Response:
        channel_id = int(match["channel"])
        if channel_id not in self.world.community.channels:
            return _json({"message": "Unknown Channel", "code": 10003}, 404)
        limit = max(2, min(100, int(request.query.get("limit", "50"))))
        return _json(self.world.community.archived(
            channel_id, before=request.query.get("before"), limit=limit))

    async def _active(self, request: Request, match: re.Match[str]) -> web.Response:
        community = self.world.community
        threads = community.active_threads(int(match["guild"]))
        return _json({"threads": [community.thread_payload(t) for t in threads], "members": []})

    async def _channel(self, request: Request, match: re.Match[str]) -> web.Response:
        community = self.world.community
        channel_id = int(match["channel"])
        if channel_id in community.threads:
            return _json(community.thread_payload(community.threads[channel_id]))
        if channel_id in community.channels:
            return _json(community.channels[channel_id].payload())
        return _json({"message": "Unknown Channel", "code": 10003}, 404)

    async def _start_thread(self, request: Request, match: re.Match[str]) -> web.Response:
        """The bot starts a thread from a text channel's message (the thread takes the
        message's id, as on Discord), owned by the bot."""
        community = self.world.community
        channel = community.channels.get(int(match["channel"]))
        if channel is None:
            return _json({"message": "Unknown Channel", "code": 10003}, 404)
        thread_id = int(match["id"])
        if thread_id in community.threads:
            return _json({"message": "A thread has already been created for this message",
                          "code": 160004}, 400)
        name = str((request.body or {}).get("name") or "thread")[:100]
        thread = Thread(thread_id, channel, name, self.world.app_id, archived=False)
        community.threads[thread_id] = thread
        community.messages[thread_id] = []
        return _json(community.thread_payload(thread))

    async def _edit_thread(self, request: Request, match: re.Match[str]) -> web.Response:
        """The bot edits a thread: its forum tags (``applied_tags``) here."""
        community = self.world.community
        thread = community.threads.get(int(match["channel"]))
        if thread is None:
            return _json({"message": "Unknown Channel", "code": 10003}, 404)
        tags = (request.body or {}).get("applied_tags")
        if tags is not None:
            thread.tags = [int(tag) for tag in tags]
        return _json(community.thread_payload(thread))

    async def _member(self, request: Request, match: re.Match[str]) -> web.Response:
        guild_id, user_id = int(match["guild"]), int(match["user"])
        member = self.world.member(user_id, 0, self.world.member_roles.get((guild_id, user_id),
                                                                          ()))
        member.pop("permissions")
        member["user"] = self.world.community.author(user_id)
        return _json(member)
