"""What escaping for Discord costs: citebot's ``escape`` (every markdown character, one by one;
hidden characters dropped) against the discord.py escaping it replaced (``escape_markdown`` +
``escape_mentions`` + ``<``), side by side in one run, interleaved; and ``render_answer`` of ten
passages of 5,000 characters (the most an answer shows).

Two texts: prose (words, commas, parentheses) and markup-dense text (a masked link, mentions,
emphasis and code every few words), 5,000 characters each.

    .venv/bin/python benchmarks/discord_escaping.py [--rounds 15]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import timeit
from collections.abc import Callable
from pathlib import Path

import discord

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.discord.utils.render import escape, render_answer
from index.answer import Answer, Citation, Passage

PROSE = ["The", "glacier", "moves", "two", "metres", "a", "day,", "and", "(sometimes)", "more."]
DENSE = ["alpha", "[x](https://e.x/y)", "@everyone", "**x**", "`y`", "<@1>", "héllo", "2.5"]


def text(words: list[str], size: int = 5000, seed: int = 0) -> str:
    out: list[str] = []
    index = seed
    while sum(len(word) + 1 for word in out) < size:
        out.append(words[index % len(words)])
        index += 1
    return " ".join(out)[:size]


def discord_py_escape(value: str) -> str:
    """The escaping before issue 20 (it left the second masked link of a line live)."""
    value = discord.utils.escape_markdown(value)
    value = discord.utils.escape_mentions(value)
    return re.sub(r"<", r"\\<", value)


def answer_of(words: list[str]) -> Answer:
    passages = tuple(
        Passage(f"doc#{n}", text(words, seed=n), Citation("doc.md", "Section", n, 0, 5000), 0.5,
                (1000, 1200))
        for n in range(10)
    )
    return Answer("How fast does the glacier move?", passages, found=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    cases: dict[str, Callable[[], object]] = {}
    for label, words in (("prose", PROSE), ("markup-dense", DENSE)):
        sample = text(words)
        answer = answer_of(words)
        cases[f"{label}: discord.py escape (before)"] = lambda s=sample: discord_py_escape(s)
        cases[f"{label}: citebot escape"] = lambda s=sample: escape(s)
        cases[f"{label}: render_answer, 10 x 5,000 chars"] = lambda a=answer: render_answer(a)
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.rounds):  # interleaved: A B C, A B C, ...
        for name, case in cases.items():
            times[name].append(timeit.timeit(case, number=5) / 5)
    print("| case | median | vs discord.py escape |\n| --- | --- | --- |")
    for name, values in times.items():
        median = statistics.median(values)
        label = name.split(":")[0]
        base = statistics.median(times[f"{label}: discord.py escape (before)"])
        ratio = f"{median / base:.2f}x" if "escape" in name else ""
        print(f"| {name} | {median * 1e3:.3f} ms | {ratio} |")


if __name__ == "__main__":
    main()
