"""The ONNX query encoder matches sentence-transformers and never imports torch."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from bot.core.engine import Engine
from index.build.embedding import Embedder
from index.build.model import ModelSpec
from index.build.onnx_encoder import (
    _POOLING,
    CONTEXT_SHARE,
    EXPORT_INFO,
    OnnxEncoder,
    OnnxExportRefused,
    _session,
    ensure_onnx,
    has_token_output,
    is_exported,
    onnx_path_for,
    read_pipeline,
    refused_export,
)
from index.build.text_batches import model_tokenizer
from index.errors import ModelError
from index.ingest.sentences import split_sentences
from tests.conftest import isolated_settings
from tests.paths import ARTICLE, ARTICLE_DIR

ROOT = Path(__file__).resolve().parents[2]
QUESTIONS = [
    "Which Russian official visited Seoul?",
    "What did the Moon administration want from Washington?",
    "Who travelled to Seoul with Blinken?",
    "Is North Korea mentioned?",
    "  why?  ",
    "denuclearization",
]


@pytest.fixture(scope="session")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An index directory holding the ONNX export of the bundled model (exported once)."""
    directory = tmp_path_factory.mktemp("onnx-index")
    ensure_onnx(directory, ModelSpec.resolve("all-MiniLM-L6-v2"))
    return directory


@pytest.fixture(scope="session")
def texts() -> list[str]:
    """Real sentences of the article, short and ~250-token paragraphs, and questions."""
    article = ARTICLE.read_text(encoding="utf-8")
    sentences = [article[start:end] for start, end in split_sentences(article)]
    paragraphs = sorted((p for p in article.split("\n\n") if p.strip()), key=len)
    long_ones = [paragraphs[-1], paragraphs[-2], " ".join(paragraphs[-4:])]  # last is > 256 pieces
    return sentences[:30] + sentences[-6:] + long_ones + QUESTIONS


def test_export_lives_under_the_index_and_names_its_model(
    index_dir: Path, model_spec: ModelSpec
) -> None:
    path = onnx_path_for(index_dir, model_spec)
    assert path == index_dir / "models" / model_spec.weights_hash[:16] / "model.onnx"
    assert is_exported(path, model_spec)
    info = json.loads((path.parent / EXPORT_INFO).read_text(encoding="utf-8"))
    assert info["weights_sha256"] == model_spec.weights_hash
    assert info["probe_min_cosine"] >= 0.9999
    assert not [p for p in path.parent.iterdir() if ".tmp-" in p.name]


def test_ensure_onnx_reuses_an_existing_export(index_dir: Path, model_spec: ModelSpec) -> None:
    path = onnx_path_for(index_dir, model_spec)
    before = path.stat().st_mtime_ns
    assert ensure_onnx(index_dir, model_spec) == path
    assert path.stat().st_mtime_ns == before


def test_matches_sentence_transformers(
    index_dir: Path, model_spec: ModelSpec, texts: list[str]
) -> None:
    encoder = OnnxEncoder(model_spec, onnx_path_for(index_dir, model_spec), threads=2)
    expected = Embedder(model_spec).encode(texts)
    got = encoder.encode(texts)
    assert got.dtype == np.float32
    assert got.shape == (len(texts), model_spec.dimension)
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    cosines = (expected * got).sum(axis=1)
    assert cosines.min() >= 0.999, [texts[i][:60] for i in np.flatnonzero(cosines < 0.999)]
    assert max(model_spec.count_tokens(texts)) > model_spec.max_seq_length  # truncation covered


def test_query_encoder_matches_batch_encoding(
    index_dir: Path, model_spec: ModelSpec, texts: list[str]
) -> None:
    path = onnx_path_for(index_dir, model_spec)
    batch = OnnxEncoder(model_spec, path, batch_size=7).encode(QUESTIONS)
    single = OnnxEncoder.for_queries(model_spec, path)
    for question, row in zip(QUESTIONS, batch, strict=True):
        vector = single.encode_query(question)
        assert vector.shape == (1, model_spec.dimension) and vector.dtype == np.float32
        assert float(vector[0] @ row) >= 0.99999


def test_empty_input_and_progress(index_dir: Path, model_spec: ModelSpec) -> None:
    encoder = OnnxEncoder(model_spec, onnx_path_for(index_dir, model_spec), batch_size=2)
    assert encoder.encode([]).shape == (0, model_spec.dimension)
    seen: list[int] = []
    encoder.encode(["a", "b", "c"], progress=seen.append)
    assert seen == [2, 1]


def test_concurrent_runs_with_token_budget_batches_give_the_same_vectors_in_order(
    index_dir: Path, model_spec: ModelSpec, texts: list[str]
) -> None:
    """A build's encoder (issue 26): several batches at once on one session, batches sized by
    padded word pieces; the vectors are the sequential encoder's, in the caller's order, and
    progress is reported on the caller's thread, once per batch, adding up to every text."""
    import threading

    path = onnx_path_for(index_dir, model_spec)
    sequential = OnnxEncoder(model_spec, path, threads=2).encode(texts)
    encoder = OnnxEncoder(model_spec, path, threads=2, concurrent_runs=2, batch_tokens=512)
    assert encoder.concurrent_runs == 2
    seen: list[tuple[int, str]] = []
    got = encoder.encode(
        texts, progress=lambda n: seen.append((n, threading.current_thread().name))
    )
    assert np.allclose(got, sequential, atol=1e-5)
    assert sum(n for n, _ in seen) == len(texts)
    assert {name for _, name in seen} == {threading.current_thread().name}
    lengths = [len(e.ids) for e in model_tokenizer(model_spec).encode_batch(texts)]
    widest = max(lengths)
    # Batches hold more short texts than long ones: the first (longest) batch is the smallest.
    assert seen[0][0] == max(1, 512 // widest) and max(n for n, _ in seen) > seen[0][0]


def test_a_float_build_runs_a_batch_per_core_in_token_budget_batches(
    index_dir: Path, tmp_path: Path
) -> None:
    index = tmp_path / "index"
    shutil.copytree(index_dir / "models", index / "models")  # the session's export
    sources = tmp_path / "src"
    sources.mkdir()
    import os

    from index.build.onnx_encoder import BUILD_BATCH_TOKENS

    engine = Engine(isolated_settings(index_dir=index, source_dir=sources))
    encoder = engine.build_encoder
    assert isinstance(encoder, OnnxEncoder)
    assert encoder.batch_tokens == BUILD_BATCH_TOKENS
    assert encoder.concurrent_runs == min(os.cpu_count() or 1, encoder.threads)
    (sources / "harbour.txt").write_text(
        "The harbour opens at six.\n\nFerries leave every hour for the island.", "utf-8"
    )
    engine.rebuild()
    # a process that only builds (`citebot build`) never starts the question encoder
    assert engine._query_encoder is None
    answer = engine.search("When do ferries leave?", 2)
    assert answer.passages and "Ferries" in answer.passages[0].text
    query = engine.query_encoder
    assert getattr(query, "encoder", query).concurrent_runs == 1  # questions: one at a time


def test_token_budget_batches_stay_within_the_budget_and_keep_every_text() -> None:
    from index.build.text_batches import length_batches

    lengths = [300, 40, 12, 12, 100, 7, 256, 3]
    order = sorted(range(len(lengths)), key=lambda i: lengths[i], reverse=True)
    batches = list(length_batches(order, lengths, 8, 256))
    assert [i for batch in batches for i in batch] == order
    for batch in batches:  # rows x the batch's longest text, unless one text is over alone
        assert len(batch) == 1 or len(batch) * max(lengths[i] for i in batch) <= 256
    assert batches[0] == [0] and batches[1] == [6]  # a text over the budget is a batch alone
    assert list(length_batches(order, lengths, 3, None)) == [order[:3], order[3:6], order[6:]]


def test_an_error_in_one_concurrent_run_is_raised_and_nothing_more_runs(
    index_dir: Path, model_spec: ModelSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    encoder = OnnxEncoder(
        model_spec,
        onnx_path_for(index_dir, model_spec),
        threads=2,
        concurrent_runs=2,
        batch_size=1,
    )
    calls: list[int] = []
    real = encoder._session.run

    def failing(outputs: list[str], feed: dict[str, np.ndarray]) -> list[np.ndarray]:
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("onnxruntime failed")
        return real(outputs, feed)

    monkeypatch.setattr(encoder._session, "run", failing, raising=False)
    with pytest.raises(RuntimeError, match="onnxruntime failed"):
        encoder.encode([f"text number {i}" for i in range(40)])
    assert len(calls) < 40  # the batches not yet started were cancelled


def test_encoding_never_imports_torch(index_dir: Path, model_spec: ModelSpec) -> None:
    script = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from index.build.model import ModelSpec
        from index.build.onnx_encoder import OnnxEncoder, onnx_path_for
        spec = ModelSpec.resolve("all-MiniLM-L6-v2")
        encoder = OnnxEncoder.for_queries(spec, onnx_path_for(Path({str(index_dir)!r}), spec))
        assert encoder.encode_query("Who visited Seoul?").shape == (1, 384)
        heavy = sorted(m for m in ("torch", "transformers", "sentence_transformers")
                       if m in sys.modules)
        print(",".join(heavy) or "none")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "none"


def model_variant(
    spec: ModelSpec, directory: Path, pooling: dict | None, normalize: bool = True
) -> ModelSpec:
    """A copy of the bundled model directory with another pooling config (``None``: unchanged)
    and with or without its Normalize module; the weights file is linked, not copied."""
    shutil.copytree(spec.path, directory, ignore=shutil.ignore_patterns(spec.weights_file.name))
    (directory / spec.weights_file.name).symlink_to(spec.weights_file)
    if pooling is not None:
        config = {"word_embedding_dimension": spec.dimension, "pooling_mode_mean_tokens": False}
        (directory / "1_Pooling" / "config.json").write_text(json.dumps(config | pooling))
    if not normalize:
        modules = json.loads((directory / "modules.json").read_text())
        kept = [m for m in modules if not m["type"].endswith("Normalize")]
        (directory / "modules.json").write_text(json.dumps(kept))
    return ModelSpec.resolve(str(directory))


CLS_POOLING = {"pooling_mode_cls_token": True}


def test_bundled_model_is_mean_pooled_and_normalised(model_spec: ModelSpec) -> None:
    pipeline = read_pipeline(model_spec)
    assert (pipeline.pooling, pipeline.normalize) == ("mean", True)


def test_cls_pooling_is_exported_as_cls(
    model_spec: ModelSpec, tmp_path: Path, texts: list[str]
) -> None:
    spec = model_variant(model_spec, tmp_path / "cls-model", CLS_POOLING)
    assert read_pipeline(spec).pooling == "cls"
    path = ensure_onnx(tmp_path / "index", spec)
    info = json.loads((path.parent / EXPORT_INFO).read_text(encoding="utf-8"))
    assert info["pooling"] == "cls" and info["normalize"] is True
    sample = texts[:12] + QUESTIONS
    expected = Embedder(spec).encode(sample)
    got = OnnxEncoder(spec, path, threads=2).encode(sample)
    assert (expected * got).sum(axis=1).min() >= 0.999
    mean_vectors = Embedder(model_spec).encode(sample)
    assert (mean_vectors * got).sum(axis=1).min() < 0.95  # really CLS, not the mean


def test_an_export_of_other_pooling_is_not_reused(
    model_spec: ModelSpec, index_dir: Path, tmp_path: Path
) -> None:
    # same weights, same export folder: the recorded configuration tells them apart
    spec = model_variant(model_spec, tmp_path / "cls-model", CLS_POOLING)
    assert onnx_path_for(index_dir, spec) == onnx_path_for(index_dir, model_spec)
    assert not is_exported(onnx_path_for(index_dir, spec), spec)


def test_without_normalize_module_the_raw_output_matches(
    model_spec: ModelSpec, tmp_path: Path, texts: list[str]
) -> None:
    spec = model_variant(model_spec, tmp_path / "plain-model", None, normalize=False)
    assert read_pipeline(spec).normalize is False
    path = ensure_onnx(tmp_path / "index", spec)
    sample = texts[:8] + QUESTIONS
    model = Embedder(spec).model
    raw = model.encode(sample, normalize_embeddings=False, convert_to_numpy=True)
    assert np.abs(np.linalg.norm(raw, axis=1) - 1).min() > 0.1  # really not unit length
    session = _session(path, 1)
    names = [i.name for i in session.get_inputs()]
    tokenizer = model_tokenizer(spec)
    for text, expected in zip(sample, raw, strict=True):
        encoding = tokenizer.encode(text)
        feed = {
            "input_ids": np.array([encoding.ids]),
            "attention_mask": np.ones((1, len(encoding.ids)), np.int64),
            "token_type_ids": np.array([encoding.type_ids]),
        }
        got = session.run(None, {n: feed[n] for n in names})[0][0]
        norms = np.linalg.norm(got) * np.linalg.norm(expected)
        assert float(got @ expected) / float(norms) >= 0.999
        assert abs(np.linalg.norm(got) / np.linalg.norm(expected) - 1) < 1e-3
    vectors = OnnxEncoder(spec, path).encode(sample)  # what the index stores: unit length
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert (vectors * Embedder(spec).encode(sample)).sum(axis=1).min() >= 0.999


@pytest.mark.parametrize(
    "pooling",
    [
        {"pooling_mode_weightedmean_tokens": True},
        {"pooling_mode": "lasttoken"},
        {"pooling_mode": ["cls", "mean"]},
    ],
)
def test_unsupported_pooling_is_refused_with_a_log_line(
    model_spec: ModelSpec, tmp_path: Path, caplog: pytest.LogCaptureFixture, pooling: dict
) -> None:
    spec = model_variant(model_spec, tmp_path / "model", pooling)
    with (
        caplog.at_level(logging.WARNING, "index.build.onnx_encoder"),
        pytest.raises(OnnxExportRefused),
    ):
        ensure_onnx(tmp_path / "index", spec)
    assert "ONNX export of model refused: pooling" in caplog.text
    assert "embedding with sentence-transformers instead" in caplog.text
    assert "pooling" in (refused_export(tmp_path / "index", spec) or "")
    assert not onnx_path_for(tmp_path / "index", spec).exists()


def test_an_export_that_disagrees_is_refused(
    model_spec: ModelSpec,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spec = model_variant(model_spec, tmp_path / "model", CLS_POOLING)
    monkeypatch.setitem(_POOLING, "cls", _POOLING["mean"])  # a wrong graph for a CLS model
    with (
        caplog.at_level(logging.WARNING, "index.build.onnx_encoder"),
        pytest.raises(OnnxExportRefused),
    ):
        ensure_onnx(tmp_path / "index", spec)
    assert "differs from sentence-transformers" in caplog.text
    assert not onnx_path_for(tmp_path / "index", spec).exists()
    assert not [
        p for p in onnx_path_for(tmp_path / "index", spec).parent.iterdir() if ".tmp-" in p.name
    ]
    caplog.clear()
    with (
        caplog.at_level(logging.INFO, "index.build.onnx_encoder"),
        pytest.raises(OnnxExportRefused),
    ):
        ensure_onnx(tmp_path / "index", spec)  # remembered: not exported again
    assert "was refused before" in caplog.text


def test_a_refused_export_still_builds_and_answers(
    model_spec: ModelSpec, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spec = model_variant(model_spec, tmp_path / "model", {"pooling_mode": "lasttoken"})
    engine = Engine(
        isolated_settings(
            source_dir=ARTICLE_DIR, index_dir=tmp_path / "index", model=str(spec.path)
        )
    )
    with caplog.at_level(logging.WARNING):
        engine.load(build_if_missing=True)
    assert "embedding with sentence-transformers instead" in caplog.text
    assert isinstance(engine.build_encoder, Embedder)
    answer = engine.search("Which Russian official visited Seoul?", 3)
    assert answer.passages and isinstance(engine.query_encoder, Embedder)
    # Remembered: the next build neither announces nor retries the export.
    assert not Engine(engine.settings).needs_export()


# Late chunking (issue 26): sentence vectors pooled from their chunk's own pass.


def test_exports_give_token_embeddings_for_late_chunking(
    index_dir: Path, model_spec: ModelSpec
) -> None:
    path = onnx_path_for(index_dir, model_spec)
    assert has_token_output(path, model_spec)
    assert OnnxEncoder(model_spec, path, late_chunking=True).late_chunking
    assert not OnnxEncoder(model_spec, path).late_chunking


def test_in_context_text_vectors_are_the_plain_ones_and_spans_pool_their_pieces(
    index_dir: Path, model_spec: ModelSpec
) -> None:
    article = ARTICLE.read_text(encoding="utf-8")
    paragraphs = [p for p in article.split("\n\n") if p.strip()][:6]
    spans = [split_sentences(p) for p in paragraphs]
    path = onnx_path_for(index_dir, model_spec)
    encoder = OnnxEncoder(model_spec, path, batch_size=4, late_chunking=True)
    seen: list[int] = []
    vectors, pooled = encoder.encode_in_context(paragraphs, spans, progress=seen.append)
    assert seen == [4, 2]
    assert np.allclose(vectors, encoder.encode(paragraphs), atol=1e-5)
    # By hand: the token output of one paragraph, mean over the pieces inside a sentence.
    tokenizer = model_tokenizer(model_spec)
    encoding = tokenizer.encode(paragraphs[0])
    feed = {
        "input_ids": np.array([encoding.ids], dtype=np.int64),
        "attention_mask": np.ones((1, len(encoding.ids)), dtype=np.int64),
        "token_type_ids": np.zeros((1, len(encoding.ids)), dtype=np.int64),
    }
    tokens = _session(path, 1).run(["token_embeddings"], feed)[0][0]
    start, end = spans[0][1]
    inside = [i for i, (a, b) in enumerate(encoding.offsets) if start <= a and b <= end and b > a]
    expected = tokens[inside].mean(axis=0)
    expected /= np.linalg.norm(expected)
    expected -= CONTEXT_SHARE * vectors[0]  # less part of the paragraph's own vector
    expected /= np.linalg.norm(expected)
    second = pooled[0][1]
    assert second is not None and np.allclose(second, expected, atol=1e-5)
    alone = encoder.encode([paragraphs[0][start:end]])[0]
    for paragraph_spans, paragraph_vectors, paragraph in zip(
        spans, pooled, paragraphs, strict=True
    ):
        assert len(paragraph_vectors) == len(paragraph_spans)
        for (a, b), vector in zip(paragraph_spans, paragraph_vectors, strict=True):
            assert vector is not None, paragraph[a:b]
            assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-5
    # In context, not alone: close to the sentence's own vector, but not the same.
    assert 0.6 < float(second @ alone) < 0.999


def test_spans_without_pieces_are_left_for_their_own_pass(
    index_dir: Path, model_spec: ModelSpec
) -> None:
    long_text = " ".join(["denuclearization talks"] * 200)  # past 256 word pieces
    encoder = OnnxEncoder(model_spec, onnx_path_for(index_dir, model_spec), late_chunking=True)
    _, pooled = encoder.encode_in_context(
        [long_text, "Seoul.   Tokyo."],
        [[(0, 22), (len(long_text) - 22, len(long_text))], [(0, 6), (6, 8), (9, 15)]],
    )
    assert pooled[0][0] is not None and pooled[0][1] is None  # truncated away
    assert pooled[1][0] is not None and pooled[1][1] is None and pooled[1][2] is not None
    with pytest.raises(ModelError):
        OnnxEncoder(model_spec, onnx_path_for(index_dir, model_spec)).encode_in_context(["a"], [[]])


def test_an_older_export_without_token_output_is_redone_for_late_chunking(
    tmp_path: Path, index_dir: Path, model_spec: ModelSpec
) -> None:
    shutil.copytree(index_dir / "models", tmp_path / "models")
    path = onnx_path_for(tmp_path, model_spec)
    info = json.loads((path.parent / EXPORT_INFO).read_text(encoding="utf-8"))
    del info["outputs"]  # as written before issue 26
    (path.parent / EXPORT_INFO).write_text(json.dumps(info), encoding="utf-8")
    assert not has_token_output(path, model_spec)
    before = path.stat().st_mtime_ns
    assert ensure_onnx(tmp_path, model_spec) == path
    assert path.stat().st_mtime_ns == before  # plain builds keep it
    ensure_onnx(tmp_path, model_spec, token_output=True)
    assert has_token_output(path, model_spec) and path.stat().st_mtime_ns != before
