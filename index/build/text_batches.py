"""Batches of texts for an exported model: tokenised like sentence-transformers, grouped by
length, padded into the model's inputs, and run one or several at once with results in order.

Shared by the encoders that run an export of the model (``index.build.onnx_encoder`` with
onnxruntime, ``index.build.bfloat16_encoder`` with TorchScript). Imports neither.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from index.build.model import ModelSpec
from index.errors import ModelError

if TYPE_CHECKING:
    from tokenizers import Encoding, Tokenizer

Item = TypeVar("Item")
Result = TypeVar("Result")


def model_tokenizer(spec: ModelSpec) -> Tokenizer:
    """A private copy of the model's tokenizer, truncating like sentence-transformers."""
    from tokenizers import Tokenizer

    file = spec.path / "tokenizer.json"
    if not file.is_file():
        raise ModelError(f"model directory {spec.path} has no tokenizer.json")
    tokenizer = Tokenizer.from_file(str(file))
    # sentence-transformers truncates at min(max_seq_length, model_max_length), specials included
    tokenizer.enable_truncation(max_length=spec.max_seq_length)
    tokenizer.no_padding()
    return tokenizer


def length_batches(
    order: Sequence[int], lengths: Sequence[int], size: int, tokens: int | None, step: int = 1
) -> Iterator[list[int]]:
    """``order`` (longest first) cut into batches: ``size`` texts each, or with ``tokens``, as
    many texts as keep rows x the batch's width within ``tokens`` (at least one), the width
    being the batch's longest text rounded up to a multiple of ``step`` (``padded_width``)."""
    if tokens is None:
        for first in range(0, len(order), size):
            yield list(order[first : first + size])
        return
    batch: list[int] = []
    for index in order:
        width = padded_width(lengths[batch[0]] if batch else lengths[index], step)
        if batch and (len(batch) + 1) * width > tokens:
            yield batch
            batch = []
        batch.append(index)
    if batch:
        yield batch


def padded_width(length: int, step: int) -> int:
    """``length`` word pieces rounded up to a multiple of ``step``."""
    return -(-length // step) * step


def padding_id(tokenizer: Tokenizer) -> int:
    """The id of the tokenizer's ``[PAD]`` token (0 when it has none)."""
    pad = tokenizer.token_to_id("[PAD]")
    return int(pad) if pad is not None else 0


def padded_inputs(
    encodings: Sequence[Encoding], names: Sequence[str], pad_id: int, width: int | None = None
) -> dict[str, np.ndarray]:
    """Right-padded int64 arrays (input_ids, attention_mask, token_type_ids) for one batch,
    ``width`` word pieces wide (None: the longest text's)."""
    width = max([len(e.ids) for e in encodings] + [width or 0])
    ids = np.full((len(encodings), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(encodings), width), dtype=np.int64)
    types = np.zeros((len(encodings), width), dtype=np.int64)
    for row, encoding in enumerate(encodings):
        length = len(encoding.ids)
        ids[row, :length] = encoding.ids
        mask[row, :length] = 1
        types[row, :length] = encoding.type_ids
    arrays = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
    return {name: arrays[name] for name in names}


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Each row scaled to unit length (a zero row stays zero)."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit: np.ndarray = vectors / np.maximum(norms, 1e-12)
    return unit


def run_in_order(
    items: Iterable[Item], run: Callable[[Item], Result], concurrent_runs: int
) -> Iterator[tuple[Item, Result]]:
    """Each item with ``run(item)``, in order, on the caller's thread; with ``concurrent_runs``
    > 1, that many items run at once on worker threads (a few more are prepared ahead, no more:
    a large build's inputs are never all in memory). An error, or a generator abandoned,
    cancels the runs not started."""
    if concurrent_runs <= 1:
        for item in items:
            yield item, run(item)
        return
    ahead = 2 * concurrent_runs
    with ThreadPoolExecutor(concurrent_runs, thread_name_prefix="embed") as pool:
        pending: deque[tuple[Item, Future[Result]]] = deque()
        try:
            for item in items:
                pending.append((item, pool.submit(run, item)))
                if len(pending) >= ahead:
                    done, future = pending.popleft()
                    yield done, future.result()
            while pending:
                done, future = pending.popleft()
                yield done, future.result()
        finally:  # an error or an abandoned generator: run nothing more
            for _, future in pending:
                future.cancel()
