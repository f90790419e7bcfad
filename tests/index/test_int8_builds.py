"""int8 builds (issue 26, ``CITEBOT_BUILD_INT8``, off by default): texts are embedded with the
quantized export one text per batch, so a text's vector is the same whatever it is built with;
the manifest says so and a rebuild re-uses vectors only of an index embedded with the same
weights; questions keep the float model."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from bot.core.engine import Engine
from index.build.onnx_encoder import INT8, INT8_FILE, OnnxEncoder
from tests.conftest import SOURCE_DIR, isolated_settings


def _engine(tmp_path: Path, built_index_dir: Path, int8: bool, late: bool = False) -> Engine:
    sources = tmp_path / "src"
    if not sources.exists():
        sources.mkdir()
        shutil.copy(SOURCE_DIR / "north-korea-allied-coordination.txt", sources / "article.txt")
    index_dir = tmp_path / "index"
    if not (index_dir / "models").exists():  # the session's export: no second export here
        shutil.copytree(built_index_dir / "models", index_dir / "models")
    return Engine(
        isolated_settings(
            source_dir=sources, index_dir=index_dir, build_int8=int8, late_chunking=late
        )
    )


def test_an_int8_build_embeds_with_the_quantized_model_one_text_at_a_time(
    tmp_path: Path, built_index_dir: Path, engine: Engine
) -> None:
    quantized = _engine(tmp_path, built_index_dir, int8=True)
    encoder = quantized.build_encoder
    assert isinstance(encoder, OnnxEncoder)
    assert encoder.quantized and encoder.onnx_path.name == INT8_FILE and encoder.batch_size == 1
    assert encoder.batch_tokens is None  # one text per batch, even with concurrent runs
    query = quantized.query_encoder
    assert not getattr(query, "encoder", query).quantized  # questions: the float model
    quantized.rebuild()
    corpus = quantized.corpus
    assert corpus.manifest["build_weights"] == INT8
    assert "build_weights" not in engine.corpus.manifest  # float builds: as before
    floats = engine.corpus.chunk_vectors()
    int8 = corpus.chunk_vectors()
    assert int8.shape == floats.shape
    cosines = (int8 * floats).sum(axis=1)
    assert cosines.min() > 0.97 and np.median(cosines) < 0.99999  # close, not the same
    answer = quantized.search("Which Russian official visited Seoul?", 3)
    assert answer.passages and "Lavrov" in answer.passages[0].text


def test_an_int8_vector_does_not_depend_on_the_texts_built_with_it(
    tmp_path: Path, built_index_dir: Path
) -> None:
    encoder = _engine(tmp_path, built_index_dir, int8=True).build_encoder
    text = "Lavrov called on all countries concerned to renounce an arms race."
    others = ["Seoul.", "A much longer sentence about the talks in Seoul and Washington " * 8]
    alone = encoder.encode([text])
    together = encoder.encode([*others, text])
    assert np.array_equal(alone[0], together[-1])


def test_int8_and_float_vectors_are_never_mixed_by_a_rebuild(
    tmp_path: Path, built_index_dir: Path
) -> None:
    first = _engine(tmp_path, built_index_dir, int8=True).rebuild()
    again = _engine(tmp_path, built_index_dir, int8=True).rebuild()
    assert again.embedded == 0 and again.reused == first.embedded + first.reused
    floats = _engine(tmp_path, built_index_dir, int8=False).rebuild()
    assert floats.reused == 0 and floats.embedded == first.embedded
    back = _engine(tmp_path, built_index_dir, int8=True).rebuild()
    assert back.reused == 0 and back.embedded == first.embedded
