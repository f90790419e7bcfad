"""Vector index kinds: chosen by size, parameters recorded, vectors recoverable, good recall."""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np
import pytest

from index.build.vector_index import (
    configure_for_queries,
    ivf_nlist,
    ivf_nprobe,
    make_vector_index,
    reconstruct_all,
)

DIMENSION = 32


def clustered(count: int, seed: int = 0) -> np.ndarray:
    """Unit vectors around 50 centres (like embeddings: not uniform on the sphere)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(50, DIMENSION))
    rows = centres[rng.integers(0, 50, size=count)] + rng.normal(0, 0.6, size=(count, DIMENSION))
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    return rows.astype(np.float32)


@pytest.fixture(scope="module")
def vectors() -> np.ndarray:
    return clustered(4000)


@pytest.fixture(scope="module")
def saved(
    vectors: np.ndarray, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, tuple[Path, dict]]:
    """Each kind built once over ``vectors`` and written to disk: {kind: (path, params)}."""
    directory = tmp_path_factory.mktemp("vector-indexes")
    result = {}
    for kind in ("flat", "ivf", "hnsw"):
        index, params = make_vector_index(vectors, kind)
        path = directory / f"{kind}.faiss"
        faiss.write_index(index, str(path))
        result[kind] = (path, params)
    return result


@pytest.fixture(scope="module")
def queries() -> np.ndarray:
    return clustered(100, seed=1)


def exact(vectors: np.ndarray, queries: np.ndarray, k: int = 10) -> np.ndarray:
    return np.argsort(-(queries @ vectors.T), axis=1)[:, :k]


def test_auto_is_exact_up_to_the_threshold(vectors: np.ndarray) -> None:
    index, params = make_vector_index(vectors, "auto", exact_threshold=len(vectors))
    assert params == {"type": "flat", "metric": "inner_product", "count": len(vectors)}
    assert isinstance(index, faiss.IndexFlatIP) and index.ntotal == len(vectors)


def test_auto_is_ivf_above_the_threshold(vectors: np.ndarray) -> None:
    _, params = make_vector_index(vectors, "auto", exact_threshold=len(vectors) - 1)
    assert params["type"] == "ivf_sq8"
    assert params["nlist"] == ivf_nlist(len(vectors))
    assert params["nprobe"] == ivf_nprobe(params["nlist"])
    assert params["count"] == len(vectors)


@pytest.mark.parametrize("kind", ["flat", "ivf", "hnsw"])
def test_kinds_find_the_exact_neighbours(
    kind: str, vectors: np.ndarray, queries: np.ndarray, saved: dict[str, tuple[Path, dict]]
) -> None:
    path, params = saved[kind]
    loaded = faiss.read_index(str(path))
    configure_for_queries(loaded, params)
    _, found = loaded.search(queries, 10)
    truth = exact(vectors, queries)
    recall = np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth, strict=True)])
    assert recall >= (0.999 if kind == "flat" else 0.95)
    assert faiss.omp_get_max_threads() == 1


@pytest.mark.parametrize("kind", ["flat", "ivf", "hnsw"])
def test_stored_vectors_come_back(kind: str, vectors: np.ndarray, tmp_path: Path) -> None:
    """Exactly from the flat indexes; within 8-bit quantisation error from IVF-SQ8 (the exact
    vectors are stored beside it, see test_store)."""
    index, _ = make_vector_index(vectors, kind)
    path = tmp_path / "chunks.faiss"
    faiss.write_index(index, str(path))
    loaded = faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC)
    back = reconstruct_all(loaded)
    if kind == "ivf":
        assert np.max(np.abs(back - vectors)) < 0.01
        assert np.min(np.sum(back * vectors, axis=1)) > 0.99
        rows = np.array([0, 7, len(vectors) - 1])
        np.testing.assert_array_equal(loaded.reconstruct_batch(rows), back[rows])
    else:
        assert np.array_equal(back, vectors)


def test_search_parameters_are_recorded_and_applied(
    saved: dict[str, tuple[Path, dict]],
) -> None:
    path, params = saved["ivf"]
    index = faiss.read_index(str(path))
    configure_for_queries(index, {**params, "nprobe": 3})
    assert faiss.extract_index_ivf(index).nprobe == 3
    path, params = saved["hnsw"]
    index = faiss.read_index(str(path))
    assert {"M", "efConstruction", "efSearch"} <= params.keys()
    configure_for_queries(index, {**params, "efSearch": 17})
    assert faiss.downcast_index(index).hnsw.efSearch == 17


def test_small_and_empty_inputs() -> None:
    index, params = make_vector_index(np.zeros((0, DIMENSION), np.float32))
    assert params["type"] == "flat" and index.ntotal == 0
    assert reconstruct_all(index).shape == (0, DIMENSION)
    _, params = make_vector_index(clustered(50), "ivf")  # too few to train: exact instead
    assert params["type"] == "flat"


def test_unknown_kind_is_refused(vectors: np.ndarray) -> None:
    with pytest.raises(ValueError, match="unknown vector index kind"):
        make_vector_index(vectors, "lsh")


def test_nlist_grows_with_size() -> None:
    assert ivf_nlist(1_000_000) == 2048
    assert ivf_nlist(100_000) == 512
    assert ivf_nlist(4000) <= 4000 // 40
    assert ivf_nprobe(2048) == 64 and ivf_nprobe(256) == 64 and ivf_nprobe(8192) == 256
    assert ivf_nprobe(50) == 50
