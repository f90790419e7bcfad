#!/usr/bin/env python3
"""Set citebot up in ./.venv (idempotent) and run the console or the test suite.

    python3 scripts/bootstrap.py console     # set up, then ask questions about source_docs/
    python3 scripts/bootstrap.py test        # set up, then ruff, lint-imports, mypy, the suite

`test` also installs Debian's `chromium` with apt-get when it is missing (the HTML report is
checked in a real headless browser), and stops saying why if it cannot.

Needs only Python 3.11+ and git. torch is installed first as the CPU build: here
`pip install torch==2.13.0` takes a CPU wheel that lies on this machine's disk; elsewhere set
CITEBOT_TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu (see README) so pip does not pull
the multi-GB CUDA build. Everything else is installed at the versions in requirements.lock.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
TORCH = "torch==2.13.0"
STAMP = VENV / ".citebot-installed"
LOCK = ROOT / "requirements.lock"


def python() -> Path:
    """The virtual environment's interpreter."""
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def run(*args: str | Path) -> None:
    """Run a command, stopping with its exit status on failure."""
    result = subprocess.run([str(a) for a in args], cwd=ROOT)
    if result.returncode != 0:
        sys.exit(result.returncode)


def pip(*args: str) -> None:
    run(python(), "-m", "pip", "--disable-pip-version-check", "-q", *args)


def setup() -> None:
    """Create the venv and install citebot with its dev tools, unless already up to date."""
    if sys.version_info < (3, 11):  # noqa: UP036 - this script is what tells old Pythons so
        sys.exit(f"citebot needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    if not python().exists():
        print("Creating .venv …", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    wanted = hashlib.sha256(
        (ROOT / "pyproject.toml").read_bytes() + LOCK.read_bytes()
    ).hexdigest()
    if STAMP.exists() and STAMP.read_text().strip() == wanted:
        return
    print(
        "Installing citebot and its dependencies into .venv (first run takes a few minutes) …",
        flush=True,
    )
    index_url = os.environ.get("CITEBOT_TORCH_INDEX_URL")
    torch_args = ["--index-url", index_url] if index_url else []
    pip("install", TORCH, *torch_args)
    # The lock holds the exact versions CI passed with (scripts/lock.py writes it).
    pip("install", "--constraint", str(LOCK), "-e", ".[dev,milvus,postgres]")
    STAMP.write_text(wanted)


def ensure_chromium() -> None:
    """The report's browser test (tests/bot/test_report_browser.py) opens the HTML page in a real
    headless browser, Debian's `chromium`: install it with apt-get when it is missing. A failure
    stops the run with the reason; the test is never skipped for want of a browser."""
    if shutil.which("chromium"):
        return
    apt = shutil.which("apt-get")
    if apt is None:
        sys.exit(
            "citebot: error: the browser test needs `chromium` on PATH and there is no apt-get "
            "to install it: install Chromium (as `chromium`) and run the tests again"
        )
    prefix: list[str] = []
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        if shutil.which("sudo") is None:
            sys.exit(
                "citebot: error: the browser test needs `chromium`; installing it needs root: "
                "run `sudo apt-get install -y chromium`, then the tests again"
            )
        prefix = ["sudo", "-n"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")

    def apt_get(*args: str) -> bool:
        command = [*prefix, apt, *args]
        print(f"The browser test needs chromium: running {' '.join(command)} …", flush=True)
        return subprocess.run(command, env=env, check=False).returncode == 0

    # A fresh machine may have no package lists yet: update once if the first try fails.
    if not apt_get("install", "-y", "chromium"):
        apt_get("update")
        apt_get("install", "-y", "chromium")
    if not shutil.which("chromium"):
        sys.exit(
            "citebot: error: could not install `chromium` with apt-get (see its output above); "
            "the report's browser test needs it: install it, then run the tests again"
        )


def main() -> None:
    action = sys.argv[1] if len(sys.argv) > 1 else "console"
    setup()
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    if action == "setup":
        return
    if action == "console":
        os.chdir(ROOT)
        os.execve(python(), [str(python()), "-m", "bot", "console", *sys.argv[2:]], env)
    if action == "test":
        run(python(), "-m", "ruff", "check", ".")
        # The rooms' import rules ([tool.importlinter] in pyproject.toml), before the long suite.
        run(python().with_name("lint-imports.exe" if os.name == "nt" else "lint-imports"),
            "--no-cache")
        # Types ([tool.mypy] in pyproject.toml: strict, bot/ and index/).
        run(python(), "-m", "mypy")
        ensure_chromium()
        os.chdir(ROOT)
        os.execve(python(), [str(python()), "-m", "pytest", *sys.argv[2:]], env)
    sys.exit(f"usage: {sys.argv[0]} [console|test|setup]")


if __name__ == "__main__":
    main()
