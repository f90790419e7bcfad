"""What one bot process counts, in Prometheus's terms: questions by outcome, answer latency,
queue depths, builds by result, errors by kind, and whether each gateway shard is connected.

Each bot has its own ``CollectorRegistry`` (never prometheus_client's global one), so two bots in
one process (tests) never mix their counts, and nothing else in the process is exported.
``render()`` is what ``GET /metrics`` serves (``bot.discord.monitoring.server``).

The not-found rate is derived from the questions counter, e.g. in PromQL::

    sum(rate(citebot_questions_total{outcome="not_found"}[5m]))
      / sum(rate(citebot_questions_total{outcome=~"answered|not_found"}[5m]))
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

ANSWERED, NOT_FOUND, REFUSED, ERROR = "answered", "not_found", "refused", "error"
OUTCOMES = (ANSWERED, NOT_FOUND, REFUSED, ERROR)
BUILD_OK = "ok"
# Seconds from a question reaching the search queue to its answer: a search takes tens of
# milliseconds on a warm index, seconds when a collection is loaded or the queue is long.
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
CONTENT_TYPE = CONTENT_TYPE_LATEST


class Metrics:
    """The bot's instruments, in a registry of their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.questions = Counter(
            "citebot_questions",
            "Questions searched (asked, mentions, More pages), by outcome: answered, not_found "
            "(nothing in the sources answers it), refused (cooldown, busy, no documents here), "
            "error",
            ["outcome"],
            registry=self.registry,
        )
        for outcome in OUTCOMES:  # every series exists from the start, so rates are defined
            self.questions.labels(outcome)
        self.answer_seconds = Histogram(
            "citebot_answer_seconds",
            "Seconds from a question reaching the search queue to its answer (answered and "
            "not_found)",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.search_queue = Gauge(
            "citebot_search_queue_depth",
            "Questions waiting for the search worker or being answered now",
            registry=self.registry,
        )
        self.builds = Counter(
            "citebot_builds",
            "Index builds started from Discord (/docs changes, /reindex), by result: ok or the "
            "kind of failure",
            ["result"],
            registry=self.registry,
        )
        self.builds.labels(BUILD_OK)
        self.build_queue = Gauge(
            "citebot_build_queue_depth",
            "Builds waiting or running",
            registry=self.registry,
        )
        self.errors = Counter(
            "citebot_errors",
            "Errors users were told about, by kind (the error's class; Unexpected: a bug, "
            "logged with its traceback)",
            ["kind"],
            registry=self.registry,
        )
        self.shard_connected = Gauge(
            "citebot_gateway_connected",
            "Whether each gateway shard this process runs is connected (1) or not (0)",
            ["shard"],
            registry=self.registry,
        )

    # ----- what the bot reports --------------------------------------------------------------

    def question(self, outcome: str, seconds: float | None = None) -> None:
        """One question ended with ``outcome`` (one of OUTCOMES); ``seconds``: its latency."""
        self.questions.labels(outcome).inc()
        if seconds is not None:
            self.answer_seconds.observe(seconds)

    def build(self, result: str) -> None:
        """One build ended: ``BUILD_OK`` or the kind of its failure (e.g. ``Timeout``)."""
        self.builds.labels(result).inc()

    def error(self, kind: str) -> None:
        """A user was told about an error of ``kind``."""
        self.errors.labels(kind).inc()

    def watch_queues(self, search: Callable[[], int], builds: Callable[[], int]) -> None:
        """Read the queue depths from these functions at each scrape (no bookkeeping)."""
        self.search_queue.set_function(search)
        self.build_queue.set_function(builds)

    def shards(self, connected: Iterable[tuple[int, bool]]) -> None:
        """Record each shard's connection, as the health check last saw it."""
        for shard, up in connected:
            self.shard_connected.labels(str(shard)).set(1 if up else 0)

    def render(self) -> bytes:
        """The registry in Prometheus's text format."""
        return generate_latest(self.registry)
