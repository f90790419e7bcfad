"""``citebot build`` and ``citebot add`` (through ``bot.cli.main``) on source folders a hostile
probe left behind (issue 20, items 2-4): a PDF built to stall builds, a ``sources.toml`` nested
too deeply for the TOML parser, a file name that is not UTF-8. Each is skipped with its reason,
never a crash, and the other documents are indexed."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from bot.cli.main import main
from tests.index.formats.pdf_fixtures import repeated_page_pdf_bytes

GOOD = "The Port Quillan lighthouse is painted with eleven green stripes and one white band.\n"
DEEP_TOML = "x = " + "[" * 3000
BAD_NAME = b"bad\xff\xfename.txt"
SHOWN_BAD_NAME = "bad\\xff\\xfename.txt"


def sources_with_good_file(tmp_path: Path) -> Path:
    folder = tmp_path / "sources"
    folder.mkdir()
    (folder / "lighthouse.txt").write_text(GOOD, encoding="utf-8")
    return folder


def write_named(folder: Path, name: bytes, data: bytes) -> None:
    """A file whose name is raw bytes (on Linux: not UTF-8, as another system may leave one)."""
    with open(os.path.join(os.fsencode(folder), name), "wb") as handle:
        handle.write(data)


def citebot(tmp_path: Path, sources: Path, *args: str) -> int:
    return main(["--index-dir", str(tmp_path / "index"), "--source-dir", str(sources), *args])


def warnings_of(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("citebot: warning: "
        "skipped ")]


def test_build_skips_each_hostile_file_with_its_reason_and_indexes_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sources = sources_with_good_file(tmp_path)
    (sources / "hostile.pdf").write_bytes(repeated_page_pdf_bytes())  # 2,000 x 20 MB pages
    (sources / "sources.toml").write_text(DEEP_TOML, encoding="utf-8")
    write_named(sources, BAD_NAME, b"Text under a name that is not UTF-8.")

    assert citebot(tmp_path, sources, "build") == 0
    out, err = capsys.readouterr()
    assert "unexpected error" not in err and "Traceback" not in err
    assert warnings_of(err) == [
        "citebot: warning: "
        f"skipped {SHOWN_BAD_NAME}: the file name is not valid UTF-8 (its bytes are "
        "shown as \\x escapes); rename the file to index it",
        "citebot: warning: "
        "skipped hostile.pdf: too much to read: its pages decode to over 10.6 MB of "
        "drawing instructions by page 1, far more than a file of 32 kB should (one page "
        "repeated thousands of times? damaged, or built to stall readers?)",
        "citebot: warning: "
        "skipped sources.toml: not valid TOML (arrays or tables nested too deeply at "
        "line 1, column 105); fix it or remove it; no addresses from it",
    ]
    assert "Indexed 1 document(s)" in out

    live = tmp_path / "index" / (tmp_path / "index" / "CURRENT").read_text().strip()
    manifest = json.loads((live / "manifest.json").read_text(encoding="utf-8"))
    assert SHOWN_BAD_NAME in {entry["path"] for entry in manifest["skipped"]}
    assert citebot(tmp_path, sources, "info", "--json") == 0
    assert json.loads(capsys.readouterr().out)["sources_changed"] is False
    assert citebot(tmp_path, sources, "ask", "--json", "How many green stripes?") == 0
    assert "eleven green stripes" in capsys.readouterr().out


def test_the_extraction_time_limit_is_the_setting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    sources = sources_with_good_file(tmp_path)
    # Within every byte budget, but 2,000 pages: seconds of work, stopped at 0.2 s.
    (sources / "slow.pdf").write_bytes(repeated_page_pdf_bytes(pages=2000, padding=3000))
    monkeypatch.setenv("CITEBOT_EXTRACT_TIMEOUT_SECONDS", "0.2")

    assert citebot(tmp_path, sources, "build") == 0
    out, err = capsys.readouterr()
    assert warnings_of(err) == [
        "citebot: warning: "
        "skipped slow.pdf: reading it took over 0.2 s (the limit for one document, "
        "CITEBOT_EXTRACT_TIMEOUT_SECONDS) and was stopped: is it damaged, or built to stall "
        "readers? Export it again, or split it, to index it"
    ]
    assert "Indexed 1 document(s)" in out


def test_add_copies_and_indexes_despite_a_deeply_nested_sources_toml(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sources = sources_with_good_file(tmp_path)
    (sources / "sources.toml").write_text(DEEP_TOML, encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    write_named(elsewhere, BAD_NAME, b"The harbour bell rings twice at noon.\n")

    assert citebot(tmp_path, sources, "add", os.fsdecode(elsewhere / os.fsdecode(BAD_NAME))) == 0
    out, err = capsys.readouterr()
    assert f"Copied badname.txt into {sources}" in out  # a name that is not UTF-8 is cleaned
    assert warnings_of(err) == [
        "citebot: warning: "
        "skipped sources.toml: not valid TOML (arrays or tables nested too deeply at "
        "line 1, column 105); fix it or remove it; no addresses from it",
    ]
    assert "Indexed 2 document(s)" in out

    # A web address cannot be recorded in it: refused before anything is downloaded.
    assert citebot(tmp_path, sources, "add", "http://127.0.0.1:9/page.html") == 1
    _, err = capsys.readouterr()
    assert err.strip() == (
        "citebot: error: sources.toml: not valid TOML (arrays or tables nested too deeply at "
        "line 1, column 105); fix it or remove it"
    )
    assert sorted(p.name for p in sources.iterdir()) == [
        "badname.txt", "lighthouse.txt", "sources.toml"
    ]
