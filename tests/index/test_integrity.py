"""A damaged or altered index is refused with the remedy, never quoted (issue 20, item 5).

Bytes are changed in place, keeping every file's size (so the size check of the manifest
passes): "Lavrov" becomes "Petrov" in the stored texts, and one byte is flipped in each other
kind of file. ``citebot ask`` must print no answer and say the index is damaged, naming the
file, and ``citebot info`` must say the same. Milvus builds carry a digest in every chunk and
blob row; an altered row is refused the same way, through the engine and ``info``."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from bot.cli.main import main
from bot.core.engine import Engine
from index.backends.integrity import ALGORITHM, file_digest
from index.backends.local_store import IndexStore
from index.errors import IndexCorruptError
from tests.conftest import ARTICLE, isolated_settings

LAVROV = "Which Russian official visited Seoul?"
KINDS = [
    "texts.bin", "chunks.faiss", "chunk_vectors.npy", "sentences.npy", "sentence_codes.npy",
    "sentence_scale.npy", "sentence_types.npy", "chunks/byte_span.npy", "chunks/text_key.npy",
    "chunks/sections.json", "documents.json", "lexical-chunks", "lexical-sentences",
]


def _petrov(path: Path) -> None:
    data = path.read_bytes()
    assert data.count(b"Sergei Lavrov") >= 1
    path.write_bytes(data.replace(b"Sergei Lavrov", b"Sergei Petrov"))


def _flip(path: Path) -> None:
    """One byte changed in the middle of the file (past any header); the size stays."""
    data = bytearray(path.read_bytes())
    at = len(data) // 2 + len(data) // 4
    data[at] ^= 0x5A
    path.write_bytes(bytes(data))


def _damage(build: Path, kind: str) -> str:
    """Damage one file of ``kind``; returns its name as the manifest lists it."""
    path = build / kind
    if path.is_dir():  # a BM25 index: its largest file (the scores)
        path = max((p for p in path.iterdir() if p.is_file()), key=lambda p: p.stat().st_size)
    size = path.stat().st_size
    _petrov(path) if kind == "texts.bin" else _flip(path)
    assert path.stat().st_size == size
    return path.relative_to(build).as_posix()


def test_manifest_records_a_checksum_of_every_file(built_index_dir: Path):
    store = IndexStore(built_index_dir)
    manifest = store.read_manifest()
    checksums = manifest["checksums"]
    assert checksums["algorithm"] == ALGORITHM
    assert set(checksums["files"]) == set(manifest["files"])
    build = store.current_build()
    for name, digest in checksums["files"].items():
        assert file_digest(build / name) == digest
    assert store.verify() is True


@pytest.mark.parametrize("kind", KINDS)
def test_damaged_file_is_refused_by_ask_and_info(
    kind: str, index_copy: Path, sources: Path, capsys: pytest.CaptureFixture[str]
):
    name = _damage(IndexStore(index_copy).current_build(), kind)
    expected = (
        f"index at {index_copy} is damaged ({name} changed since it was built): "
        "run `citebot build` to rebuild it"
    )
    where = ["--index-dir", str(index_copy), "--source-dir", str(sources)]
    assert main([*where, "ask", LAVROV]) == 1
    out, err = capsys.readouterr()
    assert out == ""  # no answer at all, let alone one quoting the damage
    assert err.strip() == f"citebot: error: {expected}"
    assert main([*where, "info", "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["problem"] == expected
    assert main([*where, "info"]) == 1
    shown = "".join(capsys.readouterr().out.split())
    assert "".join(expected.split()) in shown
    assert "Petrov" not in shown


def test_lavrov_made_petrov_is_never_quoted(index_copy: Path, sources: Path):
    """Through the engine: the altered texts are refused before any search."""
    _damage(IndexStore(index_copy).current_build(), "texts.bin")
    engine = Engine(isolated_settings(source_dir=sources, index_dir=index_copy))
    with pytest.raises(IndexCorruptError, match=r"texts\.bin changed .* run `citebot build`"):
        engine.search(LAVROV)
    assert not engine.loaded


def test_citebot_build_repairs_a_damaged_index_without_reusing_its_vectors(
    index_copy: Path, sources: Path, capsys: pytest.CaptureFixture[str]
):
    """The remedy works: a build over a damaged index embeds everything again (vectors of a
    damaged index are never re-used) and the new build answers."""
    _damage(IndexStore(index_copy).current_build(), "chunk_vectors.npy")
    where = ["--index-dir", str(index_copy), "--source-dir", str(sources)]
    assert main([*where, "build"]) == 0
    assert "re-used 0" in capsys.readouterr().out
    assert main([*where, "ask", LAVROV]) == 0
    assert "Sergei Lavrov" in capsys.readouterr().out
    assert IndexStore(index_copy).verify() is True


def test_text_changed_in_place_after_loading_is_refused_not_quoted(index_copy: Path,
                                                                   sources: Path):
    """A running engine checked the files when it loaded them; texts.bin is memory-mapped, so
    a later change in place shows through. Each quoted chunk is checked against the hash
    recorded with it."""
    engine = Engine(isolated_settings(source_dir=sources, index_dir=index_copy))
    assert "Sergei Lavrov" in engine.search(LAVROV).passages[0].text
    path = IndexStore(index_copy).current_build() / "texts.bin"
    data = path.read_bytes()
    with path.open("r+b") as handle:  # the same file (inode) the engine has mapped
        at = data.find(b"Sergei Lavrov")
        while at >= 0:
            handle.seek(at)
            handle.write(b"Sergei Petrov")
            at = data.find(b"Sergei Lavrov", at + 1)
    with pytest.raises(IndexCorruptError, match=r"text of chunk \d+ changed .* `citebot build`"):
        engine.search(LAVROV)


def test_an_index_without_checksums_still_answers_and_info_says_so(
    index_copy: Path, sources: Path, capsys: pytest.CaptureFixture[str]
):
    """Built before checksums were recorded: loaded unchecked (sizes only), and ``info``
    suggests rebuilding to add them."""
    build = IndexStore(index_copy).current_build()
    manifest = json.loads((build / "manifest.json").read_text(encoding="utf-8"))
    del manifest["checksums"]
    (build / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    where = ["--index-dir", str(index_copy), "--source-dir", str(sources)]
    assert main([*where, "ask", LAVROV]) == 0
    assert "Sergei Lavrov" in capsys.readouterr().out
    assert main([*where, "info", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["problem"] is None and status["checksums_verified"] is False
    assert main([*where, "info"]) == 0
    assert "Checksums none recorded" in capsys.readouterr().out


def test_undecodable_text_in_an_index_without_checksums_is_damage(
    index_copy: Path, sources: Path, capsys: pytest.CaptureFixture[str]
):
    """Without checksums (an old index) bytes that are not UTF-8 in texts.bin said
    "unexpected error"; they are damage, with the remedy."""
    build = IndexStore(index_copy).current_build()
    manifest = json.loads((build / "manifest.json").read_text(encoding="utf-8"))
    del manifest["checksums"]
    (build / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    path = build / "texts.bin"
    path.write_bytes(path.read_bytes().replace(b"Sergei Lavrov", b"Sergei \xffavrov"))
    where = ["--index-dir", str(index_copy), "--source-dir", str(sources)]
    assert main([*where, "ask", LAVROV]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.strip() == (
        "citebot: error: the index is damaged (its texts are not UTF-8): run `citebot build` to "
        "rebuild it"
    )


def test_altered_checksum_record_is_damage(index_copy: Path, sources: Path):
    build = IndexStore(index_copy).current_build()
    manifest = json.loads((build / "manifest.json").read_text(encoding="utf-8"))
    manifest["checksums"]["files"].pop("texts.bin")
    (build / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    engine = Engine(isolated_settings(source_dir=sources, index_dir=index_copy))
    with pytest.raises(IndexCorruptError, match=r"the checksums changed .* `citebot build`"):
        engine.load(build_if_missing=False)


# -- Milvus ------------------------------------------------------------------------------------


@pytest.fixture
def milvus_engine(milvus_uri: str, built_index_dir: Path, model_spec, sources: Path,
                  tmp_path: Path) -> Engine:
    """An engine over the article saved into the session's Milvus under a prefix of its own
    (saved from the local index: nothing is embedded again)."""
    from index.backends.milvus import MilvusStore

    local = IndexStore(built_index_dir)
    corpus = local.load(model_spec, local.read_manifest()["chunker"])
    prefix = "t" + uuid.uuid4().hex[:10]
    MilvusStore(milvus_uri, None, "default", tmp_path / "locks", prefix=prefix).save(corpus)
    return Engine(isolated_settings(
        backend="milvus", milvus_uri=milvus_uri, milvus_prefix=prefix, source_dir=sources,
        index_dir=tmp_path / "index",
    ))


def _alter_rows(engine: Engine, kind: str, contains: str, change) -> int:
    """Rewrite (upsert) the rows of one collection of the live build whose text holds
    ``contains``, with ``change`` applied to the text; returns how many."""
    from index.backends.milvus.index import Layout

    store = engine.store
    layout = Layout(store.connection, store.alias, store.current_build())
    name = layout.names[kind]

    def alter(client) -> int:
        rows = client.query(name, filter=f'text like "%{contains}%"', output_fields=["*"],
                            limit=1000)
        for row in rows:
            row["text"] = change(row["text"])
        client.upsert(name, rows)
        client.flush(name)
        return len(rows)

    return store.connection.call("alter rows", alter)


def test_milvus_altered_chunk_is_refused_not_quoted(
    milvus_engine: Engine, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    answer = milvus_engine.search(LAVROV)
    assert "Sergei Lavrov" in answer.passages[0].highlight_text
    altered = _alter_rows(milvus_engine, "chunks", "Sergei Lavrov",
                          lambda text: text.replace("Sergei Lavrov", "Sergei Petrov"))
    assert altered >= 1
    fresh = Engine(milvus_engine.settings)
    with pytest.raises(IndexCorruptError, match=r"chunk \d+ changed .* run `citebot build`"):
        fresh.search(LAVROV)
    with pytest.raises(IndexCorruptError, match=r"chunk \d+ changed"):
        milvus_engine.store.verify()
    settings = milvus_engine.settings
    monkeypatch.setenv("CITEBOT_BACKEND", "milvus")
    monkeypatch.setenv("CITEBOT_MILVUS_URI", settings.milvus_uri)
    monkeypatch.setenv("CITEBOT_MILVUS_PREFIX", settings.milvus_prefix)
    where = ["--source-dir", str(settings.source_dir), "--index-dir", str(settings.index_dir)]
    assert main([*where, "ask", LAVROV]) == 1
    out, err = capsys.readouterr()
    assert out == "" and "Petrov" not in err
    assert "is damaged (chunk" in err and "run `citebot build`" in err
    assert main([*where, "info", "--json"]) == 1
    assert "is damaged (chunk" in json.loads(capsys.readouterr().out)["problem"]


def test_milvus_altered_document_listing_and_text_are_refused(milvus_engine: Engine):
    """The documents' listing (paths of citations) and texts live in blob rows: an altered one
    is refused when read, by questions and by ``info`` alike."""
    assert milvus_engine.store.verify() is True
    assert _alter_rows(milvus_engine, "blobs", "Sergei Lavrov",
                       lambda text: text.replace("Sergei Lavrov", "Sergei Petrov")) >= 1
    with pytest.raises(IndexCorruptError, match="the text of document 0 changed"):
        milvus_engine.store.verify()
    assert _alter_rows(milvus_engine, "blobs", ARTICLE.name,
                       lambda text: text.replace(ARTICLE.name, "elsewhere.txt")) >= 1
    with pytest.raises(IndexCorruptError, match="its documents changed"):
        milvus_engine.search(LAVROV)
