"""The ONNX query encoder matches sentence-transformers and never imports torch."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from index.embedding import Embedder
from index.model import ModelSpec
from index.onnx_encoder import (
    EXPORT_INFO,
    OnnxEncoder,
    ensure_onnx,
    is_exported,
    onnx_path_for,
)
from index.sentences import split_sentences

ROOT = Path(__file__).resolve().parents[2]
ARTICLE = ROOT / "source_docs" / "north-korea-allied-coordination.txt"
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


def test_encoding_never_imports_torch(index_dir: Path, model_spec: ModelSpec) -> None:
    script = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from index.model import ModelSpec
        from index.onnx_encoder import OnnxEncoder, onnx_path_for
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
