"""Text from documents and users made safe to print on a terminal or in a log.

Used by the command line, ``citebot info``'s status and the feedback report alike, so it lives
below all of them: control characters, bidi overrides and lone surrogates become visible escapes.
"""

from __future__ import annotations

import re

# What a terminal must not get raw, besides the C0 controls: DEL and C1 controls; bidi marks,
# embeddings, overrides and isolates; line and paragraph separators; surrogates (unpaired ones
# cannot even be encoded for output). A character class body, shared with JSON output.
UNSAFE_ABOVE_C0 = "\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff"
_UNSAFE = re.compile(f"[\x00-\x1f{UNSAFE_ABOVE_C0}]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str, keep: str = "") -> str:
    """``text`` with unsafe characters written as ``\\x1b`` / ``\\u202e`` escapes.

    Characters in ``keep`` (e.g. ``"\\n\\t"`` for a multi-line passage) pass unchanged.
    """
    if keep:
        return _UNSAFE.sub(lambda m: m.group() if m.group() in keep else _escape(m), text)
    return _UNSAFE.sub(_escape, text)
