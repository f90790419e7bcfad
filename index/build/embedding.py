"""Embedding texts with sentence-transformers (local model only, never downloaded)."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

import numpy as np

from index.build.model import ModelSpec
from index.errors import ModelError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

ProgressCallback = Callable[[int], None]
"""Called with the number of texts just embedded."""


class TextEncoder(Protocol):
    """What the builder and the searcher need of an encoder: ``Embedder`` (sentence-transformers)
    or ``index.onnx_encoder.OnnxEncoder`` (onnxruntime, no torch) give the same vectors."""

    spec: ModelSpec

    def encode(self, texts: Sequence[str], progress: ProgressCallback | None = None) -> np.ndarray:
        """Vectors for ``texts`` as float32[n, dimension], each of unit length."""
        ...

    def encode_query(self, text: str) -> np.ndarray:
        """The vector of one question, as float32[1, dimension]."""
        ...


class Embedder:
    """Turns texts into L2-normalised float32 vectors with the model in ``spec``.

    The model is loaded on first use. Texts are embedded in batches sorted by length, which
    wastes less padding than arrival order; results come back in the caller's order.
    """

    def __init__(self, spec: ModelSpec, device: str = "cpu", batch_size: int = 64):
        self.spec = spec
        self.device = device
        self.batch_size = batch_size
        self._model: SentenceTransformer | None = None

    @property
    def model(self) -> SentenceTransformer:
        """The loaded sentence-transformers model."""
        if self._model is None:
            self._model = self._load()
        return self._model

    def _load(self) -> SentenceTransformer:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
        from sentence_transformers import SentenceTransformer

        device = resolve_device(self.device)
        try:
            model = SentenceTransformer(str(self.spec.path), device=device, local_files_only=True)
        except Exception as error:  # the library raises many kinds; all mean "unusable model"
            log.debug("model load failed", exc_info=True)
            raise ModelError(
                f"cannot load the embedding model from {self.spec.path} "
                f"({type(error).__name__}): check CITEBOT_MODEL and CITEBOT_DEVICE"
            ) from None
        if model.max_seq_length != self.spec.max_seq_length:
            model.max_seq_length = self.spec.max_seq_length
        return model

    def encode(self, texts: Sequence[str], progress: ProgressCallback | None = None) -> np.ndarray:
        """Vectors for ``texts`` as float32[n, dimension], each of unit length."""
        if not texts:
            return np.zeros((0, self.spec.dimension), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)
        vectors = np.empty((len(texts), self.spec.dimension), dtype=np.float32)
        for first in range(0, len(order), self.batch_size):
            batch = order[first : first + self.batch_size]
            encoded = self.model.encode(
                [texts[i] for i in batch],
                batch_size=len(batch),
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            vectors[batch] = encoded
            if progress is not None:
                progress(len(batch))
        return vectors

    def encode_query(self, text: str) -> np.ndarray:
        """The vector of one question, as float32[1, dimension]."""
        return self.encode([text])


def resolve_device(device: str) -> str:
    """'auto' means CUDA when a GPU is usable, else CPU; an unusable explicit choice is an error."""
    if device == "cpu":
        return "cpu"
    import torch

    if device == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ModelError(
            "CITEBOT_DEVICE=cuda but no CUDA GPU is usable: set CITEBOT_DEVICE=cpu or auto"
        )
    if device == "mps" and not torch.backends.mps.is_available():
        raise ModelError(
            "CITEBOT_DEVICE=mps but MPS is not available: set CITEBOT_DEVICE=cpu or auto"
        )
    return device
