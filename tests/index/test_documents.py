from pathlib import Path

import pytest

from index.errors import SourceError
from index.ingest.documents import compare_sources, is_plain_heading, load_documents, parse_document
from tests.conftest import ARTICLE, SOURCE_DIR


def test_article_sections_and_paragraphs():
    documents = load_documents(SOURCE_DIR).documents
    assert [d.path for d in documents] == ["north-korea-allied-coordination.txt"]
    document = documents[0]
    assert document.sections == (
        "The United States and South Korea do not fully agree on North Korea’s policy",
        "China and Russia are additional complications",
        "US has few credible options to coerce North Korea",
    )
    assert [p.number for p in document.paragraphs] == list(range(1, 21))
    lavrov = next(p for p in document.paragraphs if "Lavrov" in document.text[p.start : p.end])
    assert (lavrov.number, lavrov.section) == (13, "China and Russia are additional complications")
    # a heading line names its section and stays a searchable paragraph (its own section's first)
    bodies = [document.text[p.start : p.end] for p in document.paragraphs]
    for section in document.sections:
        heading = document.paragraphs[bodies.index(section)]
        assert heading.section == section
    assert document.paragraphs[0].section is None


def test_paragraph_offsets_point_into_original_text():
    document = load_documents(SOURCE_DIR).documents[0]
    original = ARTICLE.read_bytes().decode("utf-8")
    assert document.text == original
    for paragraph in document.paragraphs:
        body = original[paragraph.start : paragraph.end]
        assert body == body.strip() and "\n\n" not in body


def test_markdown_headings_and_crlf():
    text = "# Title\r\nIntro line.\r\n\r\n## Part two\r\n\r\nBody one.\r\nstill body.\r\n"
    document = parse_document("a.md", text)
    assert [(p.number, p.section) for p in document.paragraphs] == [
        (1, "Title"), (2, "Title › Part two")  # the heading path
    ]
    second = document.paragraphs[1]
    # offsets index the rendered text, where a wrapped line reads as one line
    assert document.text[second.start : second.end] == "Body one. still body."


@pytest.mark.parametrize(
    ("line", "heading"),
    [
        ("China and Russia are additional complications", True),
        ("A sentence that ends with a period.", False),
        ("lower case start without punctuation", False),
        (
            "The Japanese government said North Korea launched two ballistic missiles into a sea "
            "near Japan on March 25, fueling tensions (Reuters)",
            False,
        ),
        ("Two\nlines", False),
    ],
)
def test_plain_heading_rule(line, heading):
    assert is_plain_heading(line) is heading


def test_bad_files_are_skipped_with_reason(tmp_path: Path):
    (tmp_path / "good.txt").write_text("A fine paragraph of text.", encoding="utf-8")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9 cr\xe8me.".encode("latin-1"))
    (tmp_path / "empty.md").write_text("   \n\n", encoding="utf-8")
    (tmp_path / "notes.pdf").write_bytes(b"%PDF")
    (tmp_path / ".hidden.txt").write_text("Secret.", encoding="utf-8")
    result = load_documents(tmp_path)
    assert [d.path for d in result.documents] == ["good.txt"]
    reasons = {s.path: s.reason for s in result.skipped}
    assert set(reasons) == {"latin1.txt", "empty.md", "notes.pdf"}
    assert "latin1.txt" in reasons["latin1.txt"] and "UTF-8" in reasons["latin1.txt"]
    assert "empty.md" in reasons["empty.md"]


def test_bom_is_not_counted(tmp_path: Path):
    (tmp_path / "bom.txt").write_bytes("\ufeffHello there.".encode())
    document = load_documents(tmp_path).documents[0]
    paragraph = document.paragraphs[0]
    assert document.text[paragraph.start : paragraph.end] == "Hello there."
    assert paragraph.start == 0


def test_missing_dir_and_empty_dir(tmp_path: Path):
    with pytest.raises(SourceError, match="does not exist"):
        load_documents(tmp_path / "nope")
    with pytest.raises(SourceError, match=r"no source documents \(\.txt, .*\.pdf, \.docx\)"):
        load_documents(tmp_path)
    (tmp_path / "bad.txt").write_bytes(b"\xff\xfe\xfa")
    with pytest.raises(SourceError, match=r"bad\.txt"):
        load_documents(tmp_path)


def test_compare_sources(tmp_path: Path):
    (tmp_path / "a.txt").write_text("One.", encoding="utf-8")
    (tmp_path / "b.txt").write_text("Two.", encoding="utf-8")
    recorded = {d.path: d.content_hash for d in load_documents(tmp_path).documents}
    assert not compare_sources(tmp_path, recorded)
    (tmp_path / "a.txt").write_text("One changed.", encoding="utf-8")
    (tmp_path / "b.txt").unlink()
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.md").write_text("Three.", encoding="utf-8")
    changes = compare_sources(tmp_path, recorded)
    assert changes.modified == ("a.txt",)
    assert changes.removed == ("b.txt",)
    assert changes.added == ("sub/c.md",)


# ----- links (issue 9, defect 1) ---------------------------------------------------------------


@pytest.fixture
def opened_paths(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every path opened while the test runs (os.open and io.open): clear it once the files
    are written."""
    import builtins
    import io
    import os

    opened: list[str] = []
    real_os_open, real_io_open = os.open, io.open

    def os_open(path, *args, **kwargs):
        opened.append(os.path.realpath(path))
        return real_os_open(path, *args, **kwargs)

    def io_open(file, *args, **kwargs):
        if isinstance(file, str | bytes | os.PathLike):
            opened.append(os.path.realpath(file))
        return real_io_open(file, *args, **kwargs)

    monkeypatch.setattr(os, "open", os_open)
    monkeypatch.setattr(io, "open", io_open)
    monkeypatch.setattr(builtins, "open", io_open)
    return opened


def test_link_to_a_file_outside_is_skipped_and_never_read(tmp_path: Path, opened_paths):
    secret = tmp_path / ".env"
    secret.write_text("CITEBOT_DISCORD_TOKEN=abc.secret-token.xyz\nCITEBOT_OWNER_IDS=1\n",
                      encoding="utf-8")
    sources = tmp_path / "source_docs"
    sources.mkdir()
    (sources / "guide.txt").write_text("A fine paragraph of text.", encoding="utf-8")
    (sources / "faq.txt").symlink_to("../.env")
    opened_paths.clear()
    result = load_documents(sources)
    assert [d.path for d in result.documents] == ["guide.txt"]
    assert [s.path for s in result.skipped] == ["faq.txt"]
    reason = result.skipped[0].reason
    assert reason.startswith("faq.txt:") and "outside the source folder" in reason
    assert str(secret) not in reason  # the target is not disclosed
    assert str(secret.resolve()) not in opened_paths
    assert not compare_sources(sources, {"guide.txt": result.documents[0].content_hash,
                                         "faq.txt": ""})
    assert str(secret.resolve()) not in opened_paths


def test_linked_folder_outside_is_skipped(tmp_path: Path, opened_paths):
    private = tmp_path / "private"
    private.mkdir()
    (private / "keys.md").write_text("The password is hunter2.", encoding="utf-8")
    sources = tmp_path / "src"
    (sources / "docs").mkdir(parents=True)
    (sources / "docs" / "a.txt").write_text("Alpha paragraph.", encoding="utf-8")
    (sources / "docs" / "more").symlink_to(private, target_is_directory=True)
    opened_paths.clear()
    result = load_documents(sources)
    assert [d.path for d in result.documents] == ["docs/a.txt"]
    assert [s.path for s in result.skipped] == ["docs/more"]
    assert "docs/more/: a link to a folder outside" in result.skipped[0].reason
    assert str((private / "keys.md").resolve()) not in opened_paths


def test_links_inside_are_followed_once_without_loops(tmp_path: Path):
    sources = tmp_path / "src"
    (sources / "sub").mkdir(parents=True)
    (sources / "sub" / "real.md").write_text("The real text.", encoding="utf-8")
    (sources / "alias.txt").symlink_to("sub/real.md")  # the same file again
    (sources / "data").mkdir()
    (sources / "data" / "notes.text").write_text("Only reached by a link.", encoding="utf-8")
    (sources / "notes.txt").symlink_to("data/notes.text")
    (sources / "sub" / "loop").symlink_to("..", target_is_directory=True)  # a folder loop
    (sources / "x.txt").symlink_to("y.txt")  # a loop of file links
    (sources / "y.txt").symlink_to("x.txt")
    (sources / "gone.md").symlink_to("nowhere.md")
    (sources / ".hidden.txt").write_text("Hidden.", encoding="utf-8")
    (sources / "peek.txt").symlink_to(".hidden.txt")
    result = load_documents(sources)
    assert [d.path for d in result.documents] == ["notes.txt", "sub/real.md"]
    reasons = {s.path: s.reason for s in result.skipped}
    assert set(reasons) == {"alias.txt", "x.txt", "y.txt", "gone.md", "peek.txt"}
    assert "same file as sub/real.md" in reasons["alias.txt"]
    assert "broken link" in reasons["gone.md"] and "loop" in reasons["x.txt"]
    assert "hidden" in reasons["peek.txt"]


def test_source_folder_reached_through_a_link(tmp_path: Path):
    real = tmp_path / "real"
    real.mkdir()
    (real / "a.txt").write_text("Alpha paragraph.", encoding="utf-8")
    (tmp_path / "linked").symlink_to(real, target_is_directory=True)
    assert [d.path for d in load_documents(tmp_path / "linked").documents] == ["a.txt"]


def test_linked_secret_is_never_quoted(tmp_path: Path, engine):
    """End to end: a build over a folder with a link to a secret never answers with it."""
    from bot.core.engine import Engine
    from tests.conftest import isolated_settings

    (tmp_path / ".env").write_text(
        "CITEBOT_DISCORD_TOKEN=MTIzNDU2Nzg5.secret-bot-token\nCITEBOT_OWNER_IDS=1\n",
        encoding="utf-8",
    )
    sources = tmp_path / "source_docs"
    sources.mkdir()
    (sources / "guide.md").write_text("# Setup\n\nPut the bot token in the settings file.\n",
                                      encoding="utf-8")
    (sources / "faq.txt").symlink_to("../.env")
    built = Engine(isolated_settings(source_dir=sources, index_dir=tmp_path / "index"))
    report = built.rebuild()
    assert [s.path for s in report.skipped] == ["faq.txt"]
    answer = built.search("What is the CITEBOT_DISCORD_TOKEN bot token?", k=5)
    assert all("secret-bot-token" not in p.text for p in answer.passages)
    assert "faq.txt" not in built.corpus.documents


# ----- size limit --------------------------------------------------------------------------------


def test_file_over_the_size_limit_is_skipped_unread(tmp_path: Path, opened_paths):
    (tmp_path / "small.txt").write_text("A fine paragraph of text.", encoding="utf-8")
    (tmp_path / "huge.txt").write_bytes(b"word " * 300)
    opened_paths.clear()
    result = load_documents(tmp_path, max_bytes=1000)
    assert [d.path for d in result.documents] == ["small.txt"]
    (skipped,) = result.skipped
    assert skipped.path == "huge.txt"
    assert "huge.txt" in skipped.reason and "limit" in skipped.reason
    assert "split it" in skipped.reason
    assert str((tmp_path / "huge.txt").resolve()) not in opened_paths


def test_default_size_limit_is_checked_before_reading(tmp_path: Path):
    from index.ingest.documents import MAX_SOURCE_BYTES

    (tmp_path / "ok.txt").write_text("A fine paragraph of text.", encoding="utf-8")
    with (tmp_path / "big.md").open("wb") as handle:  # sparse: costs no disk
        handle.truncate(MAX_SOURCE_BYTES + 1)
    result = load_documents(tmp_path)
    assert [s.path for s in result.skipped] == ["big.md"]
    assert f"over the {MAX_SOURCE_BYTES / 1e6:g} MB limit" in result.skipped[0].reason


# ----- change detection by size and modification time (defect 11) --------------------------------


def _recorded(tmp_path: Path) -> dict:
    from index.ingest.documents import FileRecord

    result = load_documents(tmp_path)
    return {d.path: FileRecord(d.content_hash, d.stamp) for d in result.documents}


def _age(path: Path, seconds: int = 60) -> None:
    """Set a file's modification time in the past (outside the racy window)."""
    import os

    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns - seconds * 10**9))


def test_unchanged_files_are_not_read_to_compare(tmp_path: Path, monkeypatch):
    import index.ingest.documents as documents_module

    for name in ("a.txt", "b.txt", "c.txt"):
        (tmp_path / name).write_text(f"Paragraph {name}.", encoding="utf-8")
        _age(tmp_path / name)
    recorded = _recorded(tmp_path)
    assert all(r.stamp and r.stamp.mtime_ns for r in recorded.values())
    hashed: list[str] = []
    real_digest = documents_module.file_digest

    def counting_digest(source):
        hashed.append(source.name)
        return real_digest(source)

    monkeypatch.setattr(documents_module, "file_digest", counting_digest)
    assert not compare_sources(tmp_path, recorded)
    assert hashed == []
    # content replaced with the same size and modification time: by design not even read
    stat = (tmp_path / "a.txt").stat()
    (tmp_path / "a.txt").write_text("Paragraph X.txt.", encoding="utf-8")
    import os

    os.utime(tmp_path / "a.txt", ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert not compare_sources(tmp_path, recorded)
    # touched only: hashed once, and not reported
    os.utime(tmp_path / "b.txt")
    assert not compare_sources(tmp_path, recorded)
    assert hashed == ["b.txt"]
    # really changed: hashed and reported
    (tmp_path / "c.txt").write_text("Paragraph c, changed.", encoding="utf-8")
    assert compare_sources(tmp_path, recorded).modified == ("c.txt",)


def test_recently_modified_file_is_hashed_not_trusted(tmp_path: Path):
    (tmp_path / "fresh.txt").write_text("Just written.", encoding="utf-8")
    (document,) = load_documents(tmp_path).documents
    assert document.stamp is not None and document.stamp.mtime_ns is None  # racy: hash later
    assert document.stamp.size == len("Just written.")


def test_old_manifest_without_stamps_still_compares(tmp_path: Path):
    from index.ingest.documents import recorded_sources

    (tmp_path / "a.txt").write_text("One.", encoding="utf-8")
    digest = load_documents(tmp_path).documents[0].content_hash
    manifest = {"documents": [{"path": "a.txt", "sha256": digest, "paragraphs": 1}]}
    assert not compare_sources(tmp_path, recorded_sources(manifest))
    (tmp_path / "a.txt").write_text("Two.", encoding="utf-8")
    assert compare_sources(tmp_path, recorded_sources(manifest)).modified == ("a.txt",)


# ----- linear-time parsing (defect 15) and line ends ---------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "." * 5_000_000,
        " " * 5_000_000,
        "a" + " " * 2_000_000 + "\n" + " " * 2_000_000 + "b",
        (" " * 999 + "\n") * 5_000,
        "x" * 2_000_000 + "\r" + "y" * 2_000_000,
        "# a" + " " * 2_000_000 + "b",
        "# title " + "#" * 2_000_000 + " end",
    ],
    ids=["dots", "spaces", "spaces-one-newline", "spaces-and-newlines", "lone-cr", "heading",
         "heading-hashes"],
)
def test_pathological_text_parses_in_linear_time(text: str):
    """The old regexes took hours on these (quadratic backtracking); linear takes ~1 s. The
    bound is generous for a loaded CI machine; benchmarks/pathological_input.py measures."""
    import time

    started = time.perf_counter()
    document = parse_document("big.txt", text)
    assert time.perf_counter() - started < 30
    for paragraph in document.paragraphs:
        body = text[paragraph.start : paragraph.end]
        assert body == body.strip()


def test_lone_carriage_returns_end_lines():
    text = "Old Mac title\r\rFirst line of text.\rSecond line.\r\r# Next\rBody two."
    document = parse_document("mac.txt", text)
    bodies = [text[p.start : p.end] for p in document.paragraphs]
    assert bodies == [
        "Old Mac title", "First line of text.\rSecond line.", "# Next", "Body two."
    ]
    assert [p.section for p in document.paragraphs] == [
        "Old Mac title", "Old Mac title", "Next", "Next"
    ]


def test_crlf_is_one_line_end_not_a_blank_line():
    text = "One line.\r\nAnother line.\r\n\r\nNew paragraph."
    document = parse_document("dos.txt", text)
    assert [text[p.start : p.end] for p in document.paragraphs] == [
        "One line.\r\nAnother line.", "New paragraph."
    ]


def test_markdown_heading_titles():
    text = "# Title ##  \n\nBody.\n\n## ##\n\nMore.\n\n#hashtag is text.\n\n### C# ###"
    document = parse_document("h.md", text)
    assert [(p.section, document.text[p.start : p.end]) for p in document.paragraphs] == [
        ("Title", "Body."), ("Title", "More."), ("Title", "#hashtag is text.")
    ]


def _write_bytes_named(folder: Path, *parts: bytes, data: bytes) -> None:
    """A file whose name is raw bytes (not UTF-8), as another system may leave one."""
    import os

    path = os.path.join(os.fsencode(folder), *parts)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(data)


def test_a_file_name_that_is_not_utf8_is_skipped_with_its_bytes_escaped(tmp_path):
    # Issue 20, item 4: such a name aborted the whole build (UnicodeEncodeError in chunk_id).
    import json

    from index.ingest.documents import FileRecord

    (tmp_path / "good.txt").write_text("Good text to index.", encoding="utf-8")
    _write_bytes_named(tmp_path, b"bad\xff\xfename.txt", data=b"Text under a bad name.")
    _write_bytes_named(tmp_path, b"folder\xe9", b"inside.md", data=b"Text in a bad folder.")
    loaded = load_documents(tmp_path)
    assert [d.path for d in loaded.documents] == ["good.txt"]
    reasons = {s.path: s.reason for s in loaded.skipped}
    assert reasons == {
        "bad\\xff\\xfename.txt": "bad\\xff\\xfename.txt: the file name is not valid UTF-8 (its "
        "bytes are shown as \\x escapes); rename the file to index it",
        "folder\\xe9/inside.md": "folder\\xe9/inside.md: the file name is not valid UTF-8 (its "
        "bytes are shown as \\x escapes); rename the file to index it",
    }
    json.dumps(reasons, ensure_ascii=False).encode("utf-8")  # a manifest can hold them
    recorded = {s.path: FileRecord(s.content_hash) for s in loaded.skipped}
    recorded["good.txt"] = FileRecord(loaded.documents[0].content_hash)
    assert not compare_sources(tmp_path, recorded)  # still skipped: not a change
