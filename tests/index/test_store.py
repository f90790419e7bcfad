import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bot.core.engine import Engine
from bot.settings import Settings
from index.backends.local_store import FORMAT_VERSION, IndexStore, IndexWriteError
from index.build.model import ModelSpec
from index.errors import IndexCorruptError, IndexMismatchError, IndexMissingError
from index.ingest.chunking import CHUNKER_VERSION
from tests.conftest import ROOT, SOURCE_DIR, isolated_settings


def chunker_params(spec: ModelSpec, tokens: int = 256) -> dict:
    return {"version": CHUNKER_VERSION, "max_tokens": tokens}


def test_manifest_records_model_chunker_documents(built_index_dir, model_spec):
    manifest = IndexStore(built_index_dir).read_manifest()
    assert manifest["format_version"] == FORMAT_VERSION
    assert manifest["model"]["weights_sha256"] == model_spec.weights_hash
    assert manifest["model"]["dimension"] == 384 and manifest["model"]["max_seq_length"] == 256
    assert manifest["chunker"] == chunker_params(model_spec)
    assert manifest["documents"][0]["path"] == "north-korea-allied-coordination.txt"
    assert len(manifest["documents"][0]["sha256"]) == 64
    status = (SOURCE_DIR / manifest["documents"][0]["path"]).stat()
    assert manifest["documents"][0]["size"] == status.st_size  # compared before hashing
    assert manifest["documents"][0]["mtime_ns"] in (status.st_mtime_ns, None)
    assert manifest["files"]["chunks.faiss"] > 0 and "manifest.json" not in manifest["files"]
    assert {"sentence-transformers", "faiss-cpu", "torch", "numpy"} <= set(manifest["versions"])
    assert manifest["built_at"]


def test_missing_index(tmp_path, model_spec):
    with pytest.raises(IndexMissingError, match="citebot build"):
        IndexStore(tmp_path / "none").load(model_spec, chunker_params(model_spec))


@pytest.mark.parametrize(
    "damage",
    [
        "manifest", "faiss", "faiss-truncated", "chunks", "chunk-column-missing",
        "chunk-outside-texts", "chunk-bad-document", "texts-truncated", "documents", "sections",
        "current", "sentences", "sentences-float32", "sentence-codes", "sentence-scale",
        "chunk-vectors", "types", "lexical",
    ],
)
def test_corrupt_index_is_refused_with_remedy(index_copy, model_spec, damage):
    store = IndexStore(index_copy)
    build = store.current_build()
    if damage == "manifest":
        (build / "manifest.json").write_text("{not json", encoding="utf-8")
    elif damage == "faiss":
        (build / "chunks.faiss").write_bytes(b"garbage")
    elif damage == "faiss-truncated":
        data = (build / "chunks.faiss").read_bytes()
        (build / "chunks.faiss").write_bytes(data[: len(data) // 2])
    elif damage == "chunks":
        np.save(build / "chunks" / "paragraph.npy", np.zeros(3, dtype=np.int32))
    elif damage == "chunk-column-missing":
        (build / "chunks" / "text_key.npy").unlink()
    elif damage == "chunk-outside-texts":
        spans = np.load(build / "chunks" / "byte_span.npy")
        spans[-1, 1] += 10_000
        np.save(build / "chunks" / "byte_span.npy", spans)
    elif damage == "chunk-bad-document":
        documents = np.load(build / "chunks" / "document.npy")
        documents[0] = 7
        np.save(build / "chunks" / "document.npy", documents)
    elif damage == "texts-truncated":
        data = (build / "texts.bin").read_bytes()
        (build / "texts.bin").write_bytes(data[:100])
    elif damage == "documents":
        (build / "documents.json").write_text('{"paths": ["a"]}', encoding="utf-8")
    elif damage == "sections":
        (build / "chunks" / "sections.json").write_text("[", encoding="utf-8")
    elif damage == "sentences":
        (build / "sentences.npy").write_bytes(b"\x93NUMPY broken")
    elif damage == "sentences-float32":
        np.save(build / "sentences.npy", np.load(build / "sentences.npy").astype(np.float32))
    elif damage == "sentence-codes":
        np.save(build / "sentence_codes.npy", np.zeros((3, 384), dtype=np.int8))
    elif damage == "sentence-scale":
        (build / "sentence_scale.npy").unlink()
    elif damage == "chunk-vectors":
        np.save(build / "chunk_vectors.npy", np.load(build / "chunk_vectors.npy")[:-1])
    elif damage == "types":
        np.save(build / "sentence_types.npy", np.zeros((2, 3), dtype=np.uint8))
    elif damage == "lexical":
        shutil.rmtree(build / "lexical-sentences")
    else:
        (index_copy / "CURRENT").write_text("../../etc", encoding="utf-8")
    with pytest.raises(IndexCorruptError, match="citebot build"):
        store.load(model_spec, chunker_params(model_spec))


def test_chunker_mismatch_is_refused(index_copy, model_spec):
    with pytest.raises(IndexMismatchError, match="CITEBOT_CHUNK_TOKENS"):
        IndexStore(index_copy).load(model_spec, chunker_params(model_spec, 128))


@pytest.fixture
def other_model(tmp_path, model_spec) -> Path:
    """A model directory like the bundled one but with different weights bytes."""
    target = tmp_path / "other-model"
    shutil.copytree(model_spec.path, target)
    with (target / "model.safetensors").open("ab") as handle:
        handle.write(b"\0")
    return target


def test_model_mismatch_is_refused(index_copy, other_model):
    with pytest.raises(IndexMismatchError, match="citebot build"):
        IndexStore(index_copy).load(
            ModelSpec.resolve(str(other_model)), {"version": 1, "max_tokens": 256}
        )


def test_failed_save_leaves_previous_index(index_copy, model_spec, monkeypatch, engine):
    import faiss

    store = IndexStore(index_copy)
    before = store.current_build()

    def explode(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(faiss, "write_index", explode)
    with pytest.raises(IndexWriteError, match=r"no space left.*citebot build.*previous index"):
        store.save(engine.corpus)
    assert store.current_build() == before
    assert not [p for p in index_copy.iterdir() if p.name.startswith(".tmp-")]
    assert [p.name for p in index_copy.iterdir() if p.name.startswith("build-")] == [before.name]
    corpus = store.load(model_spec, chunker_params(model_spec))
    assert len(corpus.chunks) == 20


KILL_BUILD = """
import os, signal, sys
from pathlib import Path
import faiss
import index.build.builder
import index.backends.local_store
from bot.core.engine import Engine
from bot.settings import Settings

point = sys.argv[3]
def die():
    os.kill(os.getpid(), signal.SIGKILL)

if point == "loading":  # lock held, sources read, nothing written yet
    real_load = index.build.builder.load_documents
    def load_then_die(*args, **kwargs):
        real_load(*args, **kwargs)
        die()
    index.build.builder.load_documents = load_then_die
elif point == "mid-write":  # half of the build's files on disk
    real_write = faiss.write_index
    def write_then_die(index, path):
        real_write(index, path)
        die()
    faiss.write_index = write_then_die
elif point == "before-switch":  # build renamed into place, pointer written, CURRENT not switched
    real_replace = os.replace
    def replace(source, target):
        if Path(target).name == "CURRENT":
            die()
        return real_replace(source, target)
    os.replace = replace
elif point == "after-switch":  # new build live, old build not yet removed
    def remove_then_die(self, keep):
        die()
    index.backends.local_store.IndexStore._remove_old_builds = remove_then_die
Engine(Settings(_env_file=None, source_dir=sys.argv[1], index_dir=sys.argv[2])).rebuild()
"""


@pytest.mark.parametrize("point", ["loading", "mid-write", "before-switch", "after-switch"])
def test_killed_build_leaves_a_working_index(index_copy, point):
    """SIGKILL at several points of a build: a complete index stays live (the old one, or the
    new one once CURRENT switched), nothing half-written is ever live, and the next build runs
    at once (the lock died with the process) and cleans the leftovers up."""
    before = IndexStore(index_copy).current_build()
    result = subprocess.run(
        [sys.executable, "-c", KILL_BUILD, str(SOURCE_DIR), str(index_copy), point],
        cwd=ROOT,
        capture_output=True,
        timeout=300,
    )
    assert result.returncode == -9, result.stderr.decode()[-2000:]
    leftovers = [p.name for p in index_copy.iterdir() if p.name.startswith(".tmp-")]
    builds = sorted(p.name for p in index_copy.iterdir() if p.name.startswith("build-"))
    store = IndexStore(index_copy)
    if point == "after-switch":
        assert store.current_build() != before and len(builds) == 2
    else:
        assert store.current_build() == before
    if point == "mid-write":
        assert leftovers  # the half-written build, never live
    if point == "before-switch":
        assert len(builds) == 2 and any(p.startswith(".tmp-CURRENT-") for p in leftovers)
    engine = Engine(isolated_settings(source_dir=SOURCE_DIR, index_dir=index_copy))
    answer = engine.search("Which Russian official visited Seoul?")
    assert "Sergei Lavrov" in answer.passages[0].text
    engine.rebuild(wait=False)  # refused at once if the dead build's lock were stuck
    assert not [p for p in index_copy.iterdir() if p.name.startswith(".tmp-")]
    assert len([p for p in index_copy.iterdir() if p.name.startswith("build-")]) == 1
    assert "Sergei Lavrov" in engine.search("Which Russian official visited Seoul?").passages[
        0
    ].text


def test_rebuild_reuses_vectors_and_tracks_changes(tmp_path, engine):
    sources = tmp_path / "src"
    sources.mkdir()
    shutil.copy(SOURCE_DIR / "north-korea-allied-coordination.txt", sources)
    settings = Settings(source_dir=sources, index_dir=tmp_path / "index")
    first = Engine(settings).rebuild()
    assert first.reused == 0 and first.embedded > 0
    unchanged = Engine(settings).rebuild()
    assert unchanged.embedded == 0 and unchanged.chunks == first.chunks
    (sources / "extra.md").write_text("# Pets\n\nCats sleep most of the day.", encoding="utf-8")
    added = Engine(settings).rebuild()
    assert added.documents == 2 and added.embedded == 1  # one chunk == its one sentence
    (sources / "extra.md").unlink()
    removed = Engine(settings).rebuild()
    assert removed.documents == 1 and removed.embedded == 0
    manifest = IndexStore(settings.index_dir).read_manifest()
    assert [d["path"] for d in manifest["documents"]] == ["north-korea-allied-coordination.txt"]
    assert json.loads(json.dumps(manifest))["counts"]["chunks"] == 20
    assert os.listdir(settings.index_dir).count("CURRENT") == 1


def test_compressed_vector_index_keeps_exact_vectors_beside_it(engine, tmp_path, article_text):
    """Above the exact threshold FAISS holds 8-bit codes; the exact vectors are stored too, so
    rebuilds re-use them exactly. Sentence vectors are searched as 8-bit codes and kept as
    float16 for rebuilds."""
    from index.build.builder import assemble_corpus
    from index.ingest.documents import DocumentSet, parse_document

    copies = DocumentSet(tuple(
        parse_document(f"copy{i}/article.txt", article_text) for i in range(10)
    ))
    corpus, _, _ = assemble_corpus(
        copies, engine.build_encoder, engine.chunker(), index_type="ivf"
    )
    assert corpus.manifest["vector_index"]["type"] == "ivf_sq8"
    store = IndexStore(tmp_path / "index")
    store.save(corpus)
    loaded = store.load(engine.spec, engine.chunker().parameters)
    assert loaded.manifest["vector_index"]["type"] == "ivf_sq8"
    np.testing.assert_array_equal(loaded.chunk_vectors(), corpus.chunk_vectors())
    assert loaded.sentence_vectors.dtype == np.int8  # searched: codes * per-dimension scale
    decoded = np.asarray(loaded.sentence_vectors, dtype=np.float32) * loaded.sentence_scale
    assert np.max(np.abs(decoded - corpus.sentence_vectors)) < 2e-3
    assert np.min(np.sum(decoded * corpus.sentence_vectors, axis=1)) > 0.999
    rows = np.arange(0, len(decoded), 7)
    vector = corpus.sentence_vectors[3]
    np.testing.assert_allclose(
        loaded.sentence_similarities(rows, vector), decoded[rows] @ vector, atol=1e-5
    )
    assert loaded.exact_sentence_vectors.dtype == np.float16  # kept for rebuilds
    assert np.max(np.abs(loaded.sentence_floats() - corpus.sentence_vectors)) < 1e-3
    approximate = faiss_reconstruct(loaded)
    assert not np.array_equal(approximate, corpus.chunk_vectors())  # the codes are lossy
    assert np.min(np.sum(approximate * corpus.chunk_vectors(), axis=1)) > 0.995


def faiss_reconstruct(corpus):
    from index.build.vector_index import reconstruct_all

    return reconstruct_all(corpus.vector_index)


def test_stored_index_answers_like_the_in_memory_one(engine, tmp_path):
    """The stored index (float16 sentence vectors for a corpus this small) answers the article
    question set exactly as the in-memory one."""
    import json as json_module

    from index.build.builder import assemble_corpus
    from index.ingest.documents import load_documents
    from index.query.search import make_searcher

    in_memory, _, _ = assemble_corpus(
        load_documents(SOURCE_DIR), engine.build_encoder, engine.chunker()
    )
    memory_searcher = make_searcher(in_memory, engine.query_encoder)
    lines = (ROOT / "tests" / "data" / "article_questions.jsonl").read_text().splitlines()
    for line in lines:
        question = json_module.loads(line)["question"]
        stored = engine.searcher.search(question, k=3)
        fresh = memory_searcher.search(question, k=3)
        assert [p.chunk_id for p in stored.passages] == [p.chunk_id for p in fresh.passages]
        assert [p.highlight for p in stored.passages] == [p.highlight for p in fresh.passages]
        assert stored.found == fresh.found


def test_searched_files_are_prefetched_only_when_memory_allows(built_index_dir, monkeypatch):
    import index.backends.local_store as store_module

    build = IndexStore(built_index_dir).current_build()
    files = [build / name for name in store_module.SEARCHED_FILES]
    assert all(f.exists() for f in files)
    assert store_module.available_memory() > 0
    assert store_module.prefetch(files)
    monkeypatch.setattr(store_module, "available_memory", lambda: 1024)
    assert not store_module.prefetch(files)
    monkeypatch.setattr(store_module, "available_memory", lambda: 1 << 40)
    monkeypatch.setattr(store_module, "PREFETCH_INLINE", 0)  # the background-thread path
    assert store_module.prefetch(files)


def _copy_live_build(index_dir: Path, target: Path) -> IndexStore:
    """A copy of the live build and CURRENT only (not the exported model)."""
    build = IndexStore(index_dir).current_build()
    target.mkdir(parents=True)
    shutil.copy(index_dir / "CURRENT", target / "CURRENT")
    shutil.copytree(build, target / build.name)
    return IndexStore(target)


def test_every_index_file_truncated_or_damaged_is_refused_with_remedy(
    built_index_dir, tmp_path, model_spec
):
    """Each file of a build, in turn: emptied, cut to half, or with its first bytes
    overwritten. Loading refuses every one with the remedy (never another exception, never a
    silently wrong index). Overwritten text bytes are valid text, so texts.bin is only cut."""
    build = IndexStore(built_index_dir).current_build()
    names = sorted(p.relative_to(build).as_posix() for p in build.rglob("*") if p.is_file())
    assert {"manifest.json", "chunks.faiss", "texts.bin", "documents.json",
            "chunks/sections.json", "sentence_codes.npy"} <= set(names)
    assert len(names) > 15
    damages = {
        "empty": lambda data: b"",
        "half": lambda data: data[: len(data) // 2],
        "overwritten": lambda data: b"\xff\x00garbage\x00\xff" + data[11:],
    }
    refused = 0
    for number, name in enumerate(names):
        for damage, change in damages.items():
            if damage == "overwritten" and name == "texts.bin":
                continue
            store = _copy_live_build(built_index_dir, tmp_path / f"{number}-{damage}")
            path = store.current_build() / name
            path.write_bytes(change(path.read_bytes()))
            with pytest.raises(IndexCorruptError, match="citebot build") as caught:
                store.load(model_spec, chunker_params(model_spec))
            assert "Traceback" not in str(caught.value)
            refused += 1
    assert refused == 3 * len(names) - 1


def test_missing_build_directory_and_empty_current_are_refused(index_copy, model_spec):
    store = IndexStore(index_copy)
    shutil.rmtree(store.current_build())
    with pytest.raises(IndexCorruptError, match="citebot build"):
        store.load(model_spec, chunker_params(model_spec))
    (index_copy / "CURRENT").write_text("", encoding="utf-8")
    with pytest.raises(IndexCorruptError, match="citebot build"):
        store.load(model_spec, chunker_params(model_spec))
