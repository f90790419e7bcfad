"""Run ``citebot discord`` against a loopback stand-in, in a process of its own.

    LOOPBACK_API_BASE=http://127.0.0.1:PORT/api/v10 \
    LOOPBACK_GATEWAY_URL=ws://127.0.0.1:PORT/gateway \
    CITEBOT_DISCORD_TOKEN=... CITEBOT_INDEX_DIR=... python -m tests.loopback.launcher

Points discord.py at the stand-in, then calls the real entry point
``bot.cli.main.main(["discord"])`` (settings from the environment, as in production) and exits
with its status.
"""

from __future__ import annotations

import os
import sys


def main() -> int:
    from tests.loopback.server import point_discord_at

    with point_discord_at(os.environ["LOOPBACK_API_BASE"], os.environ["LOOPBACK_GATEWAY_URL"]):
        from bot.cli.main import main as citebot

        return citebot(["discord", *sys.argv[1:]])


if __name__ == "__main__":
    sys.exit(main())
