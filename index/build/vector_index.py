"""Choosing and building the FAISS index of chunk vectors by collection size.

Exact ``IndexFlatIP`` below ``exact_threshold`` vectors; above it an inverted-file index
(spherical k-means) whose residuals are stored as 8-bit scalar codes (IVF-SQ8): at 1M chunks of
dimension 384 it answers one question in ~1.6 ms at recall@10 0.978 against exact search, in
a quarter of IVF-flat's 1.5 GB (cosine error of a decoded vector ~0.001). The exact vectors
are kept beside the index (``chunk_vectors.npy``) for rebuilds. HNSW is offered too
(``kind="hnsw"``), but builds far slower on two cores (see benchmarks/scale.py).

Vectors are unit length; the metric is inner product (= cosine) throughout.
"""

from __future__ import annotations

import math
import os
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Iterator

    import faiss

KINDS = ("auto", "flat", "ivf", "hnsw")
DEFAULT_EXACT_THRESHOLD = 50_000
"""Above this many vectors "auto" picks IVF: exact search of 50k x 384 takes ~5 ms here."""

IVF_TRAIN_PER_LIST = 40
"""k-means training points per inverted list (FAISS warns below 39)."""
IVF_TRAIN_ITERATIONS = 10
IVF_TARGET_PROBED = 1 / 32
"""Fraction of the lists searched per query by default, never fewer than IVF_MIN_NPROBE.

Measured with IVF-flat (benchmarks/scale.py, SQuAD sentence embeddings): nprobe 64 gives
recall@10 0.97 at 100k (nlist 512, 1.4 ms) and 0.98 at 1M (nlist 2048, 2.7 ms); 16 gives only
0.93 at 100k. IVF-SQ8 at 1M (whole-index chunk vectors): 0.978 in 1.6 ms."""
IVF_MIN_NPROBE = 64
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 64
HNSW_EF_SEARCH = 96


def make_vector_index(
    vectors: np.ndarray,
    kind: str = "auto",
    exact_threshold: int = DEFAULT_EXACT_THRESHOLD,
    seed: int = 1234,
) -> tuple[faiss.Index, dict[str, Any]]:
    """A FAISS index holding ``vectors`` (row i = id i) and its parameters for the manifest.

    ``kind``: "auto" (flat up to ``exact_threshold`` vectors, IVF above), "flat", "ivf" or
    "hnsw". The returned index is already configured for single queries.
    """
    import faiss

    if kind not in KINDS:
        raise ValueError(f"unknown vector index kind {kind!r}: use one of {', '.join(KINDS)}")
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if vectors.ndim != 2:
        raise ValueError("vectors must be a 2-D array [n, dimension]")
    count, dimension = vectors.shape
    if kind == "auto":
        kind = "flat" if count <= exact_threshold else "ivf"
    if kind == "ivf" and count < 2 * IVF_TRAIN_PER_LIST:
        kind = "flat"  # too few vectors to train even two lists: exact is better anyway
    with _build_threads():
        if kind == "flat":
            index: faiss.Index = faiss.IndexFlatIP(dimension)
            index.add(vectors)
            params: dict[str, Any] = {"type": "flat", "metric": "inner_product"}
        elif kind == "ivf":
            index, params = _ivf(vectors, seed)
        else:
            index, params = _hnsw(vectors)
    params["count"] = int(count)
    configure_for_queries(index, params)
    return index, params


def ivf_nlist(count: int) -> int:
    """Inverted lists for ``count`` vectors: about 2·sqrt(n), a power of two, 2048 at 1M."""
    target = max(1, 2 * math.sqrt(count))
    nlist: int = 2 ** round(math.log2(target))
    return max(2, min(nlist, count // IVF_TRAIN_PER_LIST))


def ivf_nprobe(nlist: int) -> int:
    """Lists searched per query by default (see IVF_TARGET_PROBED)."""
    return min(nlist, max(IVF_MIN_NPROBE, round(nlist * IVF_TARGET_PROBED)))


def _ivf(vectors: np.ndarray, seed: int) -> tuple[faiss.Index, dict[str, Any]]:
    import faiss

    count, dimension = vectors.shape
    nlist = ivf_nlist(count)
    quantizer = faiss.IndexFlatIP(dimension)
    index = faiss.IndexIVFScalarQuantizer(
        quantizer, dimension, nlist, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
    )
    index.cp.spherical = True  # centroids of unit vectors, re-normalised
    index.cp.niter = IVF_TRAIN_ITERATIONS
    index.cp.seed = seed
    train_size = min(count, nlist * IVF_TRAIN_PER_LIST)
    rng = np.random.default_rng(seed)
    sample = vectors[np.sort(rng.choice(count, size=train_size, replace=False))]
    index.cp.max_points_per_centroid = IVF_TRAIN_PER_LIST + 1  # no FAISS re-sampling
    index.train(sample)
    index.make_direct_map()  # reconstruct_batch of candidates (8 bytes per vector)
    index.add(vectors)
    params = {
        "type": "ivf_sq8",
        "metric": "inner_product",
        "nlist": nlist,
        "nprobe": ivf_nprobe(nlist),
        "train_size": int(train_size),
        "train_iterations": IVF_TRAIN_ITERATIONS,
        "spherical": True,
        "seed": seed,
    }
    return index, params


def _hnsw(vectors: np.ndarray) -> tuple[faiss.Index, dict[str, Any]]:
    import faiss

    index = faiss.IndexHNSWFlat(vectors.shape[1], HNSW_M, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    index.add(vectors)
    params = {
        "type": "hnsw_flat",
        "metric": "inner_product",
        "M": HNSW_M,
        "efConstruction": HNSW_EF_CONSTRUCTION,
        "efSearch": HNSW_EF_SEARCH,
    }
    return index, params


def configure_for_queries(index: faiss.Index, params: dict[str, Any] | None = None) -> None:
    """Set search parameters from ``params`` and FAISS to one thread (best for single queries).

    Call after ``faiss.read_index``. One OpenMP thread: a single query is not split across
    threads by any of these index types, and idle OpenMP threads spin on a busy 2-core box.
    """
    import faiss

    params = params or {}
    ivf = _as_ivf(index)
    if ivf is not None and "nprobe" in params:
        ivf.nprobe = int(params["nprobe"])
    hnsw = getattr(faiss.downcast_index(index), "hnsw", None)
    if hnsw is not None and "efSearch" in params:
        hnsw.efSearch = int(params["efSearch"])
    faiss.omp_set_num_threads(1)


def reconstruct_all(index: faiss.Index) -> np.ndarray:
    """Every stored vector as float32[ntotal, d], in id order (IVF gets a direct map if needed;
    IVF-SQ8 gives the decoded, approximate vectors)."""
    if index.ntotal == 0:
        return np.zeros((0, index.d), dtype=np.float32)
    ivf = _as_ivf(index)
    if ivf is not None:
        ivf.make_direct_map()  # a no-op when it already has one
    vectors: np.ndarray = index.reconstruct_n(0, index.ntotal)
    return vectors


def _as_ivf(index: faiss.Index) -> Any:
    import faiss

    try:
        return faiss.extract_index_ivf(index)
    except RuntimeError:
        return None


@contextmanager
def _build_threads() -> Iterator[None]:
    """All cores while training/adding; the previous OpenMP setting afterwards."""
    import faiss

    previous = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(previous)
