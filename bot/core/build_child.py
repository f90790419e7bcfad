"""The child process of a queued build: ``python -m bot.build_child`` (see bot/core/builds.py).

It runs the same build code as ``citebot build`` (``Engine.rebuild``, waiting for the index's
build lock) with what it reads as JSON on stdin: ``{"settings": {...}, "collection": NAME}``
(a named collection is built through ``Collections.engine_for``, so it shares the default
index's model export; without a name, the index ``settings`` names). It writes JSON lines on
stdout:
``{"progress": [done, total]}`` while embedding, then one ``{"report": {...}}`` or
``{"error": {"kind": ..., "message": ...}}``. Nothing else is written to stdout.
"""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO


def report_fields(report: Any) -> dict[str, Any]:
    """A BuildReport as JSON-ready fields."""
    return {
        "documents": report.documents,
        "chunks": report.chunks,
        "sentences": report.sentences,
        "embedded": report.embedded,
        "reused": report.reused,
        "seconds": round(report.seconds, 3),
        "index_bytes": report.index_bytes,
        "skipped": [[skipped.path, skipped.reason] for skipped in report.skipped],
    }


def run(stdin: TextIO, stdout: TextIO) -> int:
    """Build with the settings read from ``stdin``; 0 when the new index is live."""
    from bot.core.engine import Engine
    from bot.settings import Settings
    from index.errors import CitebotError

    def emit(message: dict[str, Any]) -> None:
        stdout.write(json.dumps(message) + "\n")
        stdout.flush()

    try:
        request = json.loads(stdin.read())
        # _env_file is an init argument of pydantic-settings, not a field: mypy's view of the
        # model's __init__ (its fields) does not have it.
        settings = Settings(_env_file=None, **request["settings"])  # type: ignore[call-arg]
        name = request.get("collection")
        if name is None:
            engine = Engine(settings)
        else:
            from bot.core.collections import Collections

            engine = Collections(settings).engine_for(name)
        report = engine.rebuild(progress=lambda done, total: emit({"progress": [done, total]}),
                                wait=True)
    except CitebotError as error:
        emit({"error": {"kind": type(error).__name__, "message": str(error)}})
        return 1
    except MemoryError:
        emit({"error": {"kind": "MemoryError", "message": "the build ran out of memory"}})
        return 1
    emit({"report": report_fields(report)})
    return 0


if __name__ == "__main__":
    sys.exit(run(sys.stdin, sys.stdout))
