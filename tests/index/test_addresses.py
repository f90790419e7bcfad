"""sources.toml: addresses per file and per folder, precedence, errors, and editing it."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.errors import SourceError
from index.ingest.addresses import load_addresses, record_address
from index.ingest.documents import compare_sources, load_documents, recorded_sources


def write(folder: Path, text: str) -> None:
    (folder / "sources.toml").write_text(text, encoding="utf-8")


def test_files_then_own_address_then_deepest_folder(tmp_path: Path):
    write(tmp_path, """
[files]
"faq.html" = "https://example.com/faq"

[folders]
"" = "https://all.example/"
"docs" = { url = "https://docs.example/base/", suffix = ".html" }
"docs/api" = { url = "https://api.example", suffix = "" }
""")
    book = load_addresses(tmp_path)
    assert book.address("faq.html", "https://canonical.example/") == "https://example.com/faq"
    assert book.address("page.html", "https://canonical.example/") == "https://canonical.example/"
    assert book.address("docs/guide/in stall.md") == "https://docs.example/base/guide/in%20stall.html"
    assert book.address("docs/api/calls.md") == "https://api.example/calls"
    assert book.address("rules.pdf") == "https://all.example/rules.pdf"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[files\n", "not valid TOML"),
        ('[files]\n"a.md" = "ftp://x"', "http:// or https://"),
        ('[files]\n"a.md" = "javascript:alert(1)"', "http:// or https://"),
        ('[links]\n"a.md" = "https://x"', "unknown table 'links'"),
        ('[folders]\n"d" = { url = "https://x", suffix = "a/b" }', "suffix"),
        ('[folders]\n"d" = { path = "https://x" }', "must be an address"),
    ],
)
def test_malformed_file_names_the_problem(tmp_path: Path, text: str, expected: str):
    write(tmp_path, text)
    with pytest.raises(SourceError, match=expected):
        load_addresses(tmp_path)


def test_malformed_file_is_reported_and_the_build_goes_on(tmp_path: Path):
    (tmp_path / "a.txt").write_text("Some text to index.", encoding="utf-8")
    write(tmp_path, "[files\n")
    result = load_documents(tmp_path)
    assert [d.path for d in result.documents] == ["a.txt"]
    assert result.documents[0].url is None
    [skipped] = result.skipped
    assert skipped.path == "sources.toml" and "not valid TOML" in skipped.reason


@pytest.mark.parametrize(
    ("text", "place"),
    [
        ("x = " + "[" * 3000, "line 1, column 105"),  # issue 20, item 3
        ("x = " + "{ a = " * 3000, "line 1, column 605"),
        ('[files]\n# [[[[ in a comment\ny = "[[[[ in a string"\nx = ' + "[ " * 3000
         + "]" * 3000, "line 4, column 205"),
    ],
)
def test_nesting_too_deep_for_the_parser_is_malformed_with_its_place(
    tmp_path: Path, text: str, place: str
):
    write(tmp_path, text)
    with pytest.raises(SourceError) as raised:
        load_addresses(tmp_path)
    assert str(raised.value) == (
        f"sources.toml: not valid TOML (arrays or tables nested too deeply at {place}); fix it "
        "or remove it"
    )
    with pytest.raises(SourceError, match=r"^sources.toml: cannot be updated \(.* nested .*\); "
                       "fix it first$"):
        record_address(tmp_path, "a.txt", "https://example.com/a.txt")
    (tmp_path / "a.txt").write_text("Some text to index.", encoding="utf-8")
    result = load_documents(tmp_path)
    assert [d.path for d in result.documents] == ["a.txt"]
    [skipped] = result.skipped
    assert skipped.reason == f"{raised.value}; no addresses from it"


def test_deep_nesting_the_parser_reads_is_not_refused(tmp_path: Path):
    write(tmp_path, "x = " + "[" * 150 + "]" * 150 + '\n[files]\n"a.txt" = "https://e.com/a"\n')
    with pytest.raises(SourceError, match="unknown table 'x'"):  # read, then checked
        load_addresses(tmp_path)


def test_documents_get_their_address_and_changes_to_the_file_are_noticed(tmp_path: Path):
    (tmp_path / "a.txt").write_text("Some text to index.", encoding="utf-8")
    result = load_documents(tmp_path)
    assert result.documents[0].url is None and result.addresses is None
    record_address(tmp_path, "a.txt", "https://example.com/a.txt")
    result = load_documents(tmp_path)
    assert result.documents[0].url == "https://example.com/a.txt"
    manifest = {
        "documents": [{"path": "a.txt", "sha256": result.documents[0].content_hash}],
        "addresses": {"sha256": result.addresses.sha256},
    }
    assert not compare_sources(tmp_path, recorded_sources(manifest))
    record_address(tmp_path, "a.txt", "https://example.com/moved.txt")
    assert compare_sources(tmp_path, recorded_sources(manifest)).modified == ("sources.toml",)
    (tmp_path / "sources.toml").unlink()
    assert compare_sources(tmp_path, recorded_sources(manifest)).removed == ("sources.toml",)


def test_recording_keeps_comments_and_other_entries(tmp_path: Path):
    write(tmp_path, '# my notes\n[folders]\n"docs" = "https://d.example/"\n')
    record_address(tmp_path, "faq.html", "https://e.example/faq?x=1")
    record_address(tmp_path, "faq.html", "https://e.example/faq?x=2")
    text = (tmp_path / "sources.toml").read_text(encoding="utf-8")
    assert text.startswith("# my notes\n") and '"docs" = "https://d.example/"' in text
    assert text.endswith('"https://e.example/faq?x=2"\n')
    book = load_addresses(tmp_path)
    assert book.files == {"faq.html": "https://e.example/faq?x=2"}
    assert [p.name for p in tmp_path.iterdir()] == ["sources.toml"]  # no temp file left
    with pytest.raises(SourceError):
        record_address(tmp_path, "x.html", "file:///etc/passwd")
