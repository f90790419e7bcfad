#!/usr/bin/env python3
"""Write requirements.lock: the exact versions in .venv, which CI passed with.

    .venv/bin/python scripts/lock.py          # after changing dependencies and passing the tests

`scripts/bootstrap.py` installs with `--constraint requirements.lock`, so a fresh machine gets
these versions. torch is written without its local build tag (`2.13.0`, not `2.13.0+cpu`): the
bootstrap installs the CPU build first, and `==2.13.0` matches it wherever it came from.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements.lock"
HEADER = """\
# Exact versions citebot's tests passed with (Python 3.11, Linux x86_64, CPU).
# Written by `.venv/bin/python scripts/lock.py`; used by scripts/bootstrap.py as pip constraints.
"""


def frozen() -> list[str]:
    """`pip freeze` of this interpreter's environment, without editable installs."""
    output = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "freeze",
            "--exclude-editable",
            "--disable-pip-version-check",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    lines = []
    for line in output.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or " @ " in line or "==" not in line:
            continue
        lines.append(re.sub(r"^(torch==[^+]+)\+\S+$", r"\1", line))
    return sorted(lines, key=str.lower)


def main() -> None:
    LOCK.write_text(HEADER + "\n".join(frozen()) + "\n", encoding="utf-8")
    print(f"wrote {LOCK.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
