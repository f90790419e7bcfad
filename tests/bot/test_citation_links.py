"""Citation links end to end: an address from sources.toml reaches ask --json, the plain and
rich console output, and a rebuild when only sources.toml changed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from urllib.parse import unquote

from bot.cli.main import main
from index.backends.local_store import IndexStore
from index.ingest.addresses import record_address
from index.ingest.documents import compare_sources, recorded_sources
from tests.conftest import ARTICLE

QUESTION = "Which Russian official visited Seoul?"
ADDRESS = "https://news.example/analysis/north-korea"


def test_address_from_sources_toml_links_the_passage(tmp_path: Path, capsys):
    sources = tmp_path / "src"
    sources.mkdir()
    shutil.copy(ARTICLE, sources / "article.html.txt")
    (sources / "sources.toml").write_text(
        f'[folders]\n"" = {{ url = "{ADDRESS}", suffix = "" }}\n', encoding="utf-8"
    )
    base = ["--index-dir", str(tmp_path / "idx"), "--source-dir", str(sources)]
    assert main([*base, "build"]) == 0
    capsys.readouterr()
    assert main([*base, "ask", "--json", QUESTION]) == 0
    first = json.loads(capsys.readouterr().out)["passages"][0]
    citation = first["citation"]
    assert "Sergei Lavrov" in first["text"]
    assert citation["url"].startswith(ADDRESS + "/article.html#:~:text=")
    start, end = unquote(citation["url"].split("#:~:text=")[1]).split(",")
    assert first["text"].startswith(start) and first["text"].endswith(end)
    assert citation["page"] is None and citation["page_end"] is None

    assert main([*base, "ask", QUESTION]) == 0
    out = capsys.readouterr().out
    assert f"    {ADDRESS}/article.html#:~:text=" in out

    # only sources.toml changes: the index is stale, and a rebuild takes the new address
    record_address(sources, "article.html.txt", "https://elsewhere.example/a")
    recorded = recorded_sources(IndexStore(tmp_path / "idx").read_manifest())
    assert compare_sources(sources, recorded).modified == ("sources.toml",)
    assert main([*base, "build"]) == 0
    capsys.readouterr()
    assert main([*base, "ask", "--json", QUESTION]) == 0
    citation = json.loads(capsys.readouterr().out)["passages"][0]["citation"]
    assert citation["url"].startswith("https://elsewhere.example/a#:~:text=")
