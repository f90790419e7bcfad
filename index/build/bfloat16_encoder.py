"""Builds in bfloat16 where the CPU multiplies bfloat16 matrices natively (Intel AMX).

Why: a build's time is the model's passes over every chunk and sentence, and in float32 they
are compute-bound (issue 26). On a CPU with AMX-BF16, torch (oneDNN) runs the same model with
bfloat16 weights and activations about 3x as fast as the float32 ONNX export, and its vectors
agree with it to a cosine of at least 0.9999 (SQuAD v1.1 dev, all 48 articles: hit@1 0.9004
against 0.9002, hit@5 0.9864 both, highlight@1 0.7925 against 0.7923; docs/benchmarks.md,
"Build speed (issue 26)", fourth round).
Questions are still embedded with the float32 ONNX export.

The model is traced once per model to TorchScript (``<index_dir>/models/<hash16>/model.bf16.pt``,
with ``bfloat16.json`` naming the weights, the model's configuration and the torch version it
was traced with); an export whose vectors disagree with sentence-transformers' on the probe
texts is refused (``BFloat16Refused``) and the build embeds in float32. Pooling and
normalisation run in float32 inside the traced graph. Importing this module imports no torch.
"""

from __future__ import annotations

import json
import logging
import os
import time
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import numpy as np

from index.build.model import ModelSpec
from index.build.onnx_encoder import (
    PROBES,
    OnnxExportRefused,
    ProgressCallback,
    agreement,
    load_transformer,
    model_configuration,
    model_dir_for,
    pooled_model,
    read_json,
    read_pipeline,
    reference_vectors,
    write_atomic,
)
from index.build.text_batches import (
    length_batches,
    model_tokenizer,
    padded_inputs,
    padded_width,
    padding_id,
    run_in_order,
    unit_rows,
)
from index.errors import ModelError

if TYPE_CHECKING:
    from tokenizers import Encoding

log = logging.getLogger(__name__)

BF16_FILE = "model.bf16.pt"
# The weights its builds embed with, as their manifest records them (index.build.builder).
BFLOAT16 = "bfloat16"
BF16_INFO = "bfloat16.json"
# Bump when the traced graph changes: older traces are made again.
BF16_VERSION = 1
# Probe texts: least cosine to sentence-transformers' float32 vectors, most relative norm
# difference (bfloat16 keeps 8 bits of mantissa; the export measured 0.99995 here).
MIN_BF16_PROBE_COSINE = 0.9995
MAX_BF16_NORM_DIFFERENCE = 1e-2
# Padded word pieces per batch (with WIDTH_STEP): whole `citebot build` of 6 SQuAD articles on
# 2 cores, 2 concurrent runs: 512 / 768 / 1,024 -> 4.52 / 4.45 / 4.63 s, peak RSS 428 / 454 /
# 462 MiB (without WIDTH_STEP, 1,024: 4.86 s, 655 MiB).
BF16_BATCH_TOKENS = 512
# Batches are padded to a multiple of this many word pieces (few shapes: see _batches).
WIDTH_STEP = 16
# The CPU flag of native bfloat16 matrix multiplication (Intel AMX) in /proc/cpuinfo.
NATIVE_FLAG = "amx_bf16"


class BFloat16Refused(ModelError):
    """The model cannot be run in bfloat16 faithfully: build in float32 instead."""


def has_native_bfloat16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether this CPU multiplies bfloat16 matrices natively (AMX-BF16). Without it, torch
    emulates bfloat16 and a build is slower than in float32; unknown (no /proc) means no."""
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return any(
        NATIVE_FLAG in line.split(":", 1)[1].split()
        for line in text.splitlines()
        if line.startswith("flags") and ":" in line
    )


def bf16_path_for(index_dir: Path, spec: ModelSpec) -> Path:
    """Where the bfloat16 TorchScript export of ``spec`` lives under an index directory."""
    return model_dir_for(index_dir, spec) / BF16_FILE


def ensure_bfloat16(index_dir: Path, spec: ModelSpec) -> Path:
    """The bfloat16 export of ``spec`` under ``index_dir``, traced first when it is missing or
    was made for other weights, another configuration or another torch. Raises BFloat16Refused
    (at once when a refusal for this very model and torch is remembered)."""
    target = bf16_path_for(index_dir, spec)
    recorded = _recorded(target.parent, spec)
    if recorded is not None and "refused" in recorded:
        raise BFloat16Refused(f"bfloat16 export of {spec.name} refused: {recorded['refused']}")
    if recorded is None or not target.is_file():
        export_bfloat16(spec, target)
    return target


def export_bfloat16(spec: ModelSpec, target: Path) -> Path:
    """Trace ``spec``'s transformer in bfloat16 + its own pooling (float32) to TorchScript at
    ``target`` (atomically), after checking its vectors against sentence-transformers' on the
    probe texts. Needs torch and transformers (build time only)."""
    target = Path(target)
    try:
        pipeline = read_pipeline(spec)
    except OnnxExportRefused as refusal:
        _refuse(spec, target.parent, str(refusal))
    import torch

    started = time.perf_counter()
    target.parent.mkdir(parents=True, exist_ok=True)
    transformer, names = load_transformer(spec, "sdpa", "bfloat16 export")
    module = pooled_model(transformer.to(torch.bfloat16), names, pipeline)
    tokenizer = model_tokenizer(spec)
    # the probes differ in length, so the traced graph masks padding (never traced away)
    sample = padded_inputs(tokenizer.encode_batch(list(PROBES)), names, 0)
    inputs = tuple(torch.from_numpy(sample[name]) for name in names)
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    try:
        with torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            traced = torch.jit.freeze(
                torch.jit.trace(module, inputs, check_trace=False)  # type: ignore[no-untyped-call]
            )
            got = traced(*inputs)[0].numpy()
        cosine, norm_difference = agreement(reference_vectors(spec), got)
        if cosine < MIN_BF16_PROBE_COSINE or norm_difference > MAX_BF16_NORM_DIFFERENCE:
            _refuse(
                spec,
                target.parent,
                f"its output differs from sentence-transformers' (least cosine {cosine:.5f}, "
                f"norms up to {norm_difference:.1e} apart)",
            )
        traced.save(str(tmp))
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    info = {
        **_identity(spec),
        "inputs": names,
        "pooling": pipeline.pooling,
        "normalize": pipeline.normalize,
        "probe_min_cosine": round(cosine, 7),
        "export_seconds": round(time.perf_counter() - started, 2),
    }
    write_atomic(target.parent / BF16_INFO, json.dumps(info, indent=2))
    log.info("traced %s in bfloat16 to %s in %.1f s", spec.name, target, info["export_seconds"])
    return target


def _identity(spec: ModelSpec) -> dict[str, Any]:
    """What a bfloat16 export is valid for: these weights and configuration, this torch."""
    import torch

    return {
        "model": spec.name,
        "weights_sha256": spec.weights_hash,
        "configuration": model_configuration(spec),
        "bf16_version": BF16_VERSION,
        "torch": torch.__version__,
    }


def _recorded(directory: Path, spec: ModelSpec) -> dict[str, Any] | None:
    """The bfloat16 export info in ``directory`` when it is about this very model and torch."""
    recorded = read_json(directory / BF16_INFO)
    if not isinstance(recorded, dict):
        return None
    identity = _identity(spec)
    if any(recorded.get(key) != value for key, value in identity.items()):
        return None
    return recorded


def _refuse(spec: ModelSpec, directory: Path, reason: str) -> NoReturn:
    """Log and remember that ``spec`` is not run in bfloat16, then raise BFloat16Refused."""
    log.warning("bfloat16 export of %s refused: %s; building in float32", spec.name, reason)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        record = {**_identity(spec), "refused": reason}
        write_atomic(directory / BF16_INFO, json.dumps(record, indent=2))
    except OSError:  # not remembered: the next build tries again
        log.debug("cannot record the refused bfloat16 export in %s", directory, exc_info=True)
    raise BFloat16Refused(f"bfloat16 export of {spec.name} refused: {reason}")


class BFloat16Encoder:
    """Texts -> L2-normalised float32 vectors with the bfloat16 export of ``spec`` (builds).

    Same texts, tokenizer, truncation and pooling as ``OnnxEncoder``; batches of
    ``batch_tokens`` padded word pieces, longest first, ``concurrent_runs`` of them at once,
    each on ``threads // concurrent_runs`` torch threads (torch's thread count is set for the
    call and restored after it). Results and progress come back in order on the caller's
    thread; an error cancels the batches not started.
    """

    build_weights = BFLOAT16  # recorded in the manifest (index.build.builder.build_weights)
    late_chunking = False

    def __init__(
        self,
        spec: ModelSpec,
        path: Path,
        threads: int | None = None,
        *,
        concurrent_runs: int = 1,
        batch_tokens: int = BF16_BATCH_TOKENS,
    ):
        import torch

        self.spec = spec
        self.path = Path(path)
        if not self.path.is_file():
            raise ModelError(f"no bfloat16 export at {self.path}: run `citebot build`")
        self.threads = threads if threads is not None else (os.cpu_count() or 1)
        self.concurrent_runs = max(1, min(concurrent_runs, self.threads))
        self.batch_tokens = batch_tokens
        try:
            with warnings.catch_warnings():
                # TorchScript is deprecated in torch 2.x in favour of torch.export, but still
                # supported there (torch is pinned below 3) and frozen graphs run faster here
                warnings.simplefilter("ignore", DeprecationWarning)
                self._module = torch.jit.load(  # type: ignore[no-untyped-call]
                    str(self.path), map_location="cpu"
                )
        except Exception as error:  # torch raises its own types for damaged files
            raise ModelError(
                f"cannot load the bfloat16 export {self.path} ({type(error).__name__}): "
                "delete it and run `citebot build`"
            ) from None
        recorded = read_json(self.path.parent / BF16_INFO) or {}
        self._inputs = list(recorded.get("inputs") or ["input_ids", "attention_mask"])
        self._tokenizer = model_tokenizer(spec)
        self._pad_id = padding_id(self._tokenizer)

    def encode(self, texts: Sequence[str], progress: ProgressCallback | None = None) -> np.ndarray:
        """Vectors for ``texts`` as float32[n, dimension], each of unit length."""
        import torch

        vectors = np.empty((len(texts), self.spec.dimension), dtype=np.float32)
        if not texts:
            return vectors
        previous = torch.get_num_threads()
        torch.set_num_threads(max(1, self.threads // self.concurrent_runs))
        try:
            batches = run_in_order(self._batches(texts), self._run, self.concurrent_runs)
            for (batch, _), pooled in batches:
                vectors[batch] = unit_rows(pooled)
                if progress is not None:
                    progress(len(batch))
        finally:
            torch.set_num_threads(previous)
        return vectors

    def encode_query(self, text: str) -> np.ndarray:
        """The vector of one text, as float32[1, dimension] (questions use the float export;
        this is here for the encoder protocol)."""
        return np.ascontiguousarray(self.encode([text]), dtype=np.float32)

    def _batches(self, texts: Sequence[str]) -> Iterator[tuple[list[int], dict[str, np.ndarray]]]:
        """Batches of ``texts``, longest first, each as (the texts' indexes, the model's feed).

        Few distinct shapes: a batch is padded to a multiple of ``WIDTH_STEP`` word pieces and
        holds ``batch_tokens // width`` texts. oneDNN makes kernels (and keeps buffers) per
        matrix shape; with a shape per batch a build's memory grew by ~260 MiB (70 shapes for
        1,349 texts), with 16 shapes by ~150 MiB, and it runs faster too (1.86 s against 2.35)."""
        encodings: list[Encoding] = self._tokenizer.encode_batch(list(texts))
        lengths = [len(e.ids) for e in encodings]
        order = sorted(range(len(texts)), key=lengths.__getitem__, reverse=True)
        for batch in length_batches(order, lengths, len(texts), self.batch_tokens, WIDTH_STEP):
            width = padded_width(lengths[batch[0]], WIDTH_STEP)
            feed = padded_inputs([encodings[i] for i in batch], self._inputs, self._pad_id, width)
            yield batch, feed

    def _run(self, item: tuple[list[int], dict[str, np.ndarray]]) -> np.ndarray:
        """The pooled float32 vectors of one batch."""
        import torch

        feed = item[1]
        with torch.inference_mode():
            pooled = self._module(*(torch.from_numpy(feed[name]) for name in self._inputs))[0]
        result: np.ndarray = pooled.numpy()
        return result
