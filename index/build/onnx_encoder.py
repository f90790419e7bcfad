"""A light query/build encoder: the same model exported to ONNX, run with onnxruntime.

Why: importing torch + sentence-transformers takes ~6.6 s, which alone breaks the 3 s budget of
``citebot ask``. The model is exported once per model (at build time, with torch) to
``<index_dir>/models/<weights_hash[:16]>/model.onnx``; at query time only onnxruntime, tokenizers
and numpy are imported. The graph contains the transformer and the model's own pooling and
normalisation, read from its ``modules.json`` and ``1_Pooling/config.json`` (sentence-transformers
layout), so its output is the sentence embedding itself.

An export is only kept when it matches sentence-transformers on probe texts; a model whose
modules or pooling this module cannot reproduce exactly, or whose export disagrees, is refused
(``OnnxExportRefused``, logged, remembered in ``export.json``) and embedded with
sentence-transformers instead.

Importing this module imports neither torch nor onnxruntime; ``export_onnx`` imports torch and
transformers, ``OnnxEncoder`` imports onnxruntime on construction.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import numpy as np

from index.build.model import ModelSpec
from index.build.text_batches import (
    length_batches,
    model_tokenizer,
    padded_inputs,
    padding_id,
    run_in_order,
    unit_rows,
)
from index.errors import ModelError

if TYPE_CHECKING:
    import onnxruntime
    from tokenizers import Encoding

log = logging.getLogger(__name__)

ProgressCallback = Callable[[int], None]
"""Called with the number of texts just embedded."""

ONNX_FILE = "model.onnx"
INT8_FILE = "model.int8.onnx"
# The weights a build encoder embeds with, as its manifest records them (index.build.builder).
FLOAT32 = "float32"
INT8 = "int8"
EXPORT_INFO = "export.json"
OPSET = 17
# Bump when what can be exported changes: remembered refusals of older versions are retried.
EXPORT_VERSION = 2
# Second output of exports since issue 26: the transformer's last hidden state, from which
# sentence vectors are pooled inside their chunk's own pass ("late chunking").
TOKEN_OUTPUT = "token_embeddings"
# Late chunking: the share of its text's vector taken out of each span's pooled vector. Pooled
# inside their chunk's pass, a chunk's sentences all lean towards the chunk's own vector, and
# the sentence that answers stands out less (for chunks over ~140 words the alone vectors won
# more questions than they lost). Chosen on the even SQuAD v1.1 dev articles among 0 / 0.3 /
# 0.35 / 0.4 / 0.45 / 0.5 / 0.7 (hit@1 0.8801 / 0.8818 / 0.8825 / 0.8831 / 0.8823 / 0.8823 /
# 0.8790); at 0.4, all 48 articles: hit@1 0.8986 -> 0.8999, highlight@1 0.7908 -> 0.7932
# (docs/benchmarks.md, "Build speed (issue 26)", third round).
CONTEXT_SHARE = 0.4
# A build's batches: padded word pieces per batch (rows x the longest text). 512 was the fastest
# of 256 / 384 / 512 / 768 / 1024 / 2048 for the texts of 6 SQuAD articles on 2 cores, with
# 2 concurrent runs (7.25 / 6.95 / 6.9 / 7.2 / 7.6 / 8.2 s; batches of 8 texts: 7.6 s).
BUILD_BATCH_TOKENS = 512
PROBES = (
    "Which Russian official visited Seoul?",
    "Just days after the trip to Seoul, the administration welcomed the foreign minister "
    "for a bilateral visit. " * 6,
    "denuclearization",
    "Москва — столица России. 北京是中国的首都。",
)
# Export vs sentence-transformers on the probes: least cosine, and most relative norm difference.
MIN_PROBE_COSINE = 0.999
MAX_NORM_DIFFERENCE = 1e-3
SUPPORTED_POOLING = ("mean", "cls", "max", "mean_sqrt_len_tokens")
# sentence-transformers' legacy pooling flags, in its concatenation order.
_LEGACY_POOLING_FLAGS = {
    "pooling_mode_cls_token": "cls",
    "pooling_mode_max_tokens": "max",
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
    "pooling_mode_weightedmean_tokens": "weightedmean",
    "pooling_mode_lasttoken": "lasttoken",
}


class OnnxExportRefused(ModelError):
    """The model cannot be exported exactly: embed with sentence-transformers instead."""


@dataclass(frozen=True, slots=True)
class Pipeline:
    """What follows the transformer in a sentence-transformers model: one pooling mode, and
    whether a Normalize module makes the output unit length."""

    pooling: str
    normalize: bool


def model_configuration(spec: ModelSpec) -> dict[str, Any]:
    """The model's ``modules.json`` and the config of each of its modules, as recorded with an
    export (a changed pooling or normalisation means a new export)."""
    modules = read_json(spec.path / "modules.json")
    configs = {}
    if isinstance(modules, list):
        for module in modules:
            if isinstance(module, dict) and isinstance(module.get("path"), str) and module["path"]:
                configs[module["path"]] = read_json(spec.path / module["path"] / "config.json")
    return {"modules": modules, "configs": configs}


def read_pipeline(spec: ModelSpec) -> Pipeline:
    """The pooling and normalisation of ``spec``, as sentence-transformers would load them.

    Raises OnnxExportRefused for anything this module cannot reproduce exactly: other modules
    (Dense, …), several pooling modes at once, weighted-mean or last-token pooling.
    """
    configuration = model_configuration(spec)
    modules = configuration["modules"]
    if modules is None:  # a plain transformers model: sentence-transformers adds mean pooling
        return Pipeline("mean", normalize=False)
    if not isinstance(modules, list) or not all(isinstance(m, dict) for m in modules):
        raise OnnxExportRefused(f"{spec.path / 'modules.json'} is not a list of modules")
    ordered = sorted(modules, key=lambda m: int(m.get("idx", 0)))
    kinds = [str(m.get("type", "")).rsplit(".", 1)[-1] for m in ordered]
    if kinds not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
        raise OnnxExportRefused(f"modules {' → '.join(kinds)} are not supported for ONNX export")
    pooling_config = configuration["configs"].get(str(ordered[1].get("path", "")))
    modes = _pooling_modes(pooling_config if isinstance(pooling_config, dict) else {})
    if len(modes) != 1 or modes[0] not in SUPPORTED_POOLING:
        raise OnnxExportRefused(
            f"pooling {'+'.join(modes)} is not supported for ONNX export "
            f"(supported: {', '.join(SUPPORTED_POOLING)})"
        )
    return Pipeline(modes[0], normalize=len(kinds) == 3)


def _pooling_modes(config: dict[str, Any]) -> list[str]:
    """Pooling modes in sentence-transformers' order: ``pooling_mode`` or the legacy flags."""
    if "pooling_mode" in config:
        mode = config["pooling_mode"]
        return [str(m) for m in mode] if isinstance(mode, list) else [str(mode)]
    modes = [mode for flag, mode in _LEGACY_POOLING_FLAGS.items() if config.get(flag)]
    return modes or ["mean"]


def model_dir_for(index_dir: Path, spec: ModelSpec) -> Path:
    """Directory of the exported model files of ``spec`` under an index directory."""
    return Path(index_dir) / "models" / spec.weights_hash[:16]


def onnx_path_for(index_dir: Path, spec: ModelSpec, quantized: bool = False) -> Path:
    """Where the ONNX export of ``spec`` lives: ``<index_dir>/models/<hash16>/model.onnx``."""
    return model_dir_for(index_dir, spec) / (INT8_FILE if quantized else ONNX_FILE)


def is_exported(onnx_path: Path, spec: ModelSpec) -> bool:
    """Whether a complete export of ``spec`` is at ``onnx_path``: its info file names the model's
    weights and its current modules and pooling configuration."""
    if not onnx_path.is_file():
        return False
    recorded = _recorded_export(onnx_path.parent, spec)
    return recorded is not None and "refused" not in recorded


def refused_export(index_dir: Path, spec: ModelSpec) -> str | None:
    """Why exporting ``spec`` was refused (remembered under ``index_dir``), or None."""
    recorded = _recorded_export(model_dir_for(index_dir, spec), spec)
    if recorded is None or recorded.get("export_version") != EXPORT_VERSION:
        return None
    reason = recorded.get("refused")
    return str(reason) if reason is not None else None


def _recorded_export(directory: Path, spec: ModelSpec) -> dict[str, Any] | None:
    """The export info in ``directory`` when it is about this very model, else None."""
    recorded = read_json(directory / EXPORT_INFO)
    if (
        not isinstance(recorded, dict)
        or recorded.get("weights_sha256") != spec.weights_hash
        or recorded.get("configuration") != model_configuration(spec)
    ):
        return None
    return recorded


def has_token_output(onnx_path: Path, spec: ModelSpec) -> bool:
    """Whether the export at ``onnx_path`` also outputs token embeddings (exports since issue
    26 do; older ones give the sentence embedding only)."""
    recorded = _recorded_export(Path(onnx_path).parent, spec)
    return recorded is not None and TOKEN_OUTPUT in recorded.get("outputs", ())


def ensure_onnx(
    index_dir: Path, spec: ModelSpec, quantized: bool = False, token_output: bool = False
) -> Path:
    """The ONNX file of ``spec`` under ``index_dir``, exported first when it is not there yet
    (or, with ``token_output``, when the export there has no token-embeddings output).

    Raises OnnxExportRefused (at once when a refusal is remembered) when the model cannot be
    exported exactly; callers embed with sentence-transformers then.
    """
    target = onnx_path_for(index_dir, spec)
    if not is_exported(target, spec) or (token_output and not has_token_output(target, spec)):
        reason = refused_export(index_dir, spec)
        if reason is not None:
            log.info("ONNX export of %s was refused before (%s)", spec.name, reason)
            raise OnnxExportRefused(f"ONNX export of {spec.name} refused: {reason}")
        export_onnx(spec, target)
    if not quantized:
        return target
    int8 = onnx_path_for(index_dir, spec, quantized=True)
    if not int8.is_file():
        quantize_onnx(target, int8)
    return int8


def export_onnx(spec: ModelSpec, target: Path) -> Path:
    """Export ``spec``'s transformer + its own pooling (+ L2 norm when it has a Normalize module)
    to ONNX at ``target`` (atomically).

    Dynamic batch and sequence axes. The export is compared with sentence-transformers on probe
    texts before it is moved into place; a model that cannot be reproduced, or an export that
    disagrees, raises OnnxExportRefused (logged, and remembered next to ``target``). Needs torch,
    transformers and sentence-transformers (build time only).
    """
    target = Path(target)
    try:
        pipeline = read_pipeline(spec)
    except OnnxExportRefused as refusal:
        _refuse(spec, target.parent, str(refusal))
    import warnings

    import torch

    started = time.perf_counter()
    target.parent.mkdir(parents=True, exist_ok=True)
    transformer, names = load_transformer(spec, "eager", "ONNX export")
    module = pooled_model(transformer, names, pipeline)
    tokenizer = model_tokenizer(spec)
    sample = padded_inputs(tokenizer.encode_batch(list(PROBES)), names, 0)
    inputs = tuple(torch.from_numpy(sample[name]) for name in names)
    axes = {name: {0: "batch", 1: "sequence"} for name in names}
    axes["sentence_embedding"] = {0: "batch"}
    axes[TOKEN_OUTPUT] = {0: "batch", 1: "sequence"}
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                module,
                inputs,
                str(tmp),
                input_names=names,
                output_names=["sentence_embedding", TOKEN_OUTPUT],
                dynamic_axes=axes,
                opset_version=OPSET,
                dynamo=False,
            )
        got = _session(tmp, threads=1).run(["sentence_embedding"], sample)[0]
        cosine, norm_difference = agreement(reference_vectors(spec), got)
        if cosine < MIN_PROBE_COSINE or norm_difference > MAX_NORM_DIFFERENCE:
            _refuse(
                spec,
                target.parent,
                f"its output differs from sentence-transformers' (least cosine {cosine:.5f}, "
                f"norms up to {norm_difference:.1e} apart)",
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    (target.parent / INT8_FILE).unlink(missing_ok=True)  # quantized from an older export
    info = {
        "model": spec.name,
        "weights_sha256": spec.weights_hash,
        "configuration": model_configuration(spec),
        "export_version": EXPORT_VERSION,
        "inputs": names,
        "outputs": ["sentence_embedding", TOKEN_OUTPUT],
        "output": f"sentence_embedding ({pipeline.pooling} pooling"
        + (", L2-normalised)" if pipeline.normalize else ", not normalised)"),
        "pooling": pipeline.pooling,
        "normalize": pipeline.normalize,
        "opset": OPSET,
        "max_seq_length": spec.max_seq_length,
        "torch": torch.__version__,
        "probe_min_cosine": round(cosine, 7),
        "export_seconds": round(time.perf_counter() - started, 2),
    }
    write_atomic(target.parent / EXPORT_INFO, json.dumps(info, indent=2))
    log.info("exported %s to %s in %.1f s", spec.name, target, info["export_seconds"])
    return target


def load_transformer(spec: ModelSpec, attention: str, purpose: str) -> tuple[Any, list[str]]:
    """``spec``'s transformer (transformers' AutoModel, offline, in eval mode, with the
    ``attention`` implementation) and the names of the inputs it takes, for an export
    (``purpose`` names it in the error). Raises ModelError when the model cannot be loaded."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    from transformers import AutoModel
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    try:
        transformer = AutoModel.from_pretrained(
            str(spec.path), local_files_only=True, attn_implementation=attention
        ).eval()
    except Exception as error:  # many kinds; all mean "unusable model"
        raise ModelError(f"cannot load {spec.path} for the {purpose}: {error}") from None
    accepts = inspect.signature(transformer.forward).parameters
    names = ["input_ids", "attention_mask"]
    if "token_type_ids" in accepts:
        names.append("token_type_ids")
    return transformer, names


@functools.lru_cache(maxsize=2)
def reference_vectors(spec: ModelSpec) -> np.ndarray:
    """sentence-transformers' own embeddings of the probe texts, as the model defines them
    (read-only; computed once per model and process: a first build checks both the ONNX export
    and the bfloat16 trace against them)."""
    from index.build.embedding import Embedder

    vectors: np.ndarray = Embedder(spec).model.encode(
        list(PROBES),
        batch_size=len(PROBES),
        normalize_embeddings=False,
        convert_to_numpy=True,
        show_progress_bar=False,
    )
    vectors.setflags(write=False)
    return vectors


def agreement(expected: np.ndarray, got: np.ndarray) -> tuple[float, float]:
    """Least cosine between matching rows, and largest relative difference of their norms."""
    if expected.shape != got.shape:
        return -1.0, float("inf")
    expected_norms = np.linalg.norm(expected, axis=1)
    got_norms = np.linalg.norm(got, axis=1)
    cosines = (expected * got).sum(axis=1) / np.maximum(expected_norms * got_norms, 1e-12)
    differences = np.abs(got_norms / np.maximum(expected_norms, 1e-12) - 1.0)
    return float(cosines.min()), float(differences.max())


def _refuse(spec: ModelSpec, directory: Path, reason: str) -> NoReturn:
    """Log and remember that ``spec`` is not exported, then raise OnnxExportRefused."""
    log.warning(
        "ONNX export of %s refused: %s; embedding with sentence-transformers instead",
        spec.name,
        reason,
    )
    record = {
        "model": spec.name,
        "weights_sha256": spec.weights_hash,
        "configuration": model_configuration(spec),
        "export_version": EXPORT_VERSION,
        "refused": reason,
    }
    try:
        directory.mkdir(parents=True, exist_ok=True)
        write_atomic(directory / EXPORT_INFO, json.dumps(record, indent=2))
    except OSError:  # not remembered: the next build tries again
        log.debug("cannot record the refused export in %s", directory, exc_info=True)
    raise OnnxExportRefused(f"ONNX export of {spec.name} refused: {reason}")


def quantize_onnx(source: Path, target: Path) -> Path:
    """Dynamic int8 quantization of ``source``'s weight MatMuls, per channel, written atomically.

    MatMuls of two activations (attention scores) stay float: quantizing them, or quantizing
    weights per tensor, costs far more accuracy (cosine to fp32 ~0.96 instead of ~0.994).
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    graph = onnx.load(str(source), load_external_data=False).graph
    weights = {initializer.name for initializer in graph.initializer}
    activation_only = [
        node.name
        for node in graph.node
        if node.op_type == "MatMul" and not any(name in weights for name in node.input)
    ]
    target = Path(target)
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # its "consider pre-processing" warning goes to the root logger
    try:
        quantize_dynamic(
            str(source),
            str(tmp),
            op_types_to_quantize=["MatMul"],
            per_channel=True,
            weight_type=QuantType.QInt8,
            nodes_to_exclude=activation_only,
        )
        os.replace(tmp, target)
    finally:
        root.setLevel(level)
        tmp.unlink(missing_ok=True)
    return target


class OnnxEncoder:
    """Texts -> L2-normalised float32 vectors with an ONNX export of ``spec``.

    Same semantics as ``index.embedding.Embedder.encode``: the model's own tokenizer, truncation
    at ``spec.max_seq_length`` word pieces, the model's own pooling, unit length (normalised
    here too, for models without a Normalize module, as ``Embedder`` does). Texts are
    embedded in batches sorted by token count (little padding); results come back in order.
    ``threads`` is the number of cores it uses (None: one per core, at most 4); for single
    questions one thread is fastest here (see ``for_queries``). Small batches are faster on CPU
    here (2 cores, SQuAD texts: batch 8 ~2x the texts/s of batch 64).

    ``concurrent_runs`` > 1 (builds): that many batches run at once on the one session, each on
    one core (``threads // concurrent_runs`` intra-op threads), instead of each batch split
    across the cores: small matrices waste less time waiting for each other so. The weights
    are loaded once; results and progress still come back in order, on the caller's thread.
    ``batch_tokens`` (builds) sizes batches by padded word pieces instead of ``batch_size``
    texts: a batch of short sentences holds more of them than a batch of long chunks.
    Measured on 2 cores, the 1,815 texts of the first 6 SQuAD v1.1 dev articles: 189 texts/s
    at batch 8 on 2 intra-op threads, 227 with 2 concurrent runs and 512-token batches
    (``benchmarks/build_throughput.py --articles 6 --backends onnx,onnx-build``).
    """

    def __init__(
        self,
        spec: ModelSpec,
        onnx_path: Path,
        threads: int | None = None,
        batch_size: int = 8,
        late_chunking: bool = False,
        *,
        concurrent_runs: int = 1,
        batch_tokens: int | None = None,
    ):
        self.spec = spec
        self.onnx_path = Path(onnx_path)
        self.batch_size = batch_size
        self.batch_tokens = batch_tokens
        # int8 weights (a build's encoder; questions always use the float export)
        self.quantized = self.onnx_path.name == INT8_FILE
        # the weights recorded in a build's manifest (index.build.builder.build_weights)
        self.build_weights = INT8 if self.quantized else FLOAT32
        if not self.onnx_path.is_file():
            raise ModelError(f"no ONNX model at {self.onnx_path}: run `citebot build`")
        self.threads = threads if threads is not None else min(4, os.cpu_count() or 1)
        self.concurrent_runs = max(1, min(concurrent_runs, self.threads))
        self._session = _session(self.onnx_path, max(1, self.threads // self.concurrent_runs))
        self._inputs = [i.name for i in self._session.get_inputs()]
        outputs = [o.name for o in self._session.get_outputs()]
        self._output = outputs[0]
        self._tokenizer = model_tokenizer(spec)
        self._pad_id = padding_id(self._tokenizer)
        recorded = _recorded_export(self.onnx_path.parent, spec) or {}
        # Sentence vectors pooled inside their chunk's pass: mean-pooled models whose export
        # gives token embeddings only (the pooling of the sentence is the model's own).
        self.late_chunking = (
            late_chunking and TOKEN_OUTPUT in outputs and recorded.get("pooling") == "mean"
        )
        if late_chunking and not self.late_chunking:
            log.info("late chunking unavailable with %s: sentences embedded alone", onnx_path)

    @classmethod
    def for_queries(cls, spec: ModelSpec, onnx_path: Path) -> OnnxEncoder:
        """An encoder tuned for one question at a time (one thread: least overhead)."""
        return cls(spec, onnx_path, threads=1, batch_size=1)

    def encode(self, texts: Sequence[str], progress: ProgressCallback | None = None) -> np.ndarray:
        """Vectors for ``texts`` as float32[n, dimension], each of unit length."""
        dimension = self.spec.dimension
        if not texts:
            return np.zeros((0, dimension), dtype=np.float32)
        vectors = np.empty((len(texts), dimension), dtype=np.float32)
        batches = self._batches(texts)
        for (batch, _, _), (sentence,) in self._run(batches, [self._output]):
            vectors[batch] = unit_rows(sentence)
            if progress is not None:
                progress(len(batch))
        return vectors

    def encode_in_context(
        self,
        texts: Sequence[str],
        spans: Sequence[Sequence[tuple[int, int]]],
        progress: ProgressCallback | None = None,
    ) -> tuple[np.ndarray, list[list[np.ndarray | None]]]:
        """Vectors of ``texts`` and, from the same forward pass, of each (start, end) character
        span of each text: the model's mean pooling over the span's word pieces, unit length,
        less ``CONTEXT_SHARE`` of its text's vector (then unit length again).

        A span vector "sees" the rest of its text ("late chunking"), so it is not the vector
        of the span embedded alone: every span of a text leans towards the text's own vector,
        and taking part of it out sets them apart again (see ``CONTEXT_SHARE``). A span with no
        word piece inside (cut off by truncation, or only whitespace) gets None: embed it on
        its own. Needs ``late_chunking``.
        """
        if not self.late_chunking:
            raise ModelError("this encoder does not pool spans (late_chunking is off)")
        dimension = self.spec.dimension
        pooled: list[list[np.ndarray | None]] = [[None] * len(s) for s in spans]
        if not texts:
            return np.zeros((0, dimension), dtype=np.float32), pooled
        vectors = np.empty((len(texts), dimension), dtype=np.float32)
        batches = self._batches(texts)
        for (batch, _, encodings), (sentence, tokens) in self._run(
            batches, [self._output, TOKEN_OUTPUT]
        ):
            vectors[batch] = unit_rows(sentence)
            for row, index in enumerate(batch):
                pooled[index] = _pool_spans(
                    tokens[row], encodings[index], spans[index], vectors[index]
                )
            if progress is not None:
                progress(len(batch))
        return vectors, pooled

    def _batches(
        self, texts: Sequence[str]
    ) -> Iterator[tuple[list[int], dict[str, np.ndarray], list[Encoding]]]:
        """Batches of ``texts`` longest first (less padding): each as (the texts' indexes, the
        model's feed, every text's encoding)."""
        encodings = self._tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids), reverse=True)
        for batch in length_batches(
            order, [len(e.ids) for e in encodings], self.batch_size, self.batch_tokens
        ):
            feed = padded_inputs([encodings[i] for i in batch], self._inputs, self._pad_id)
            yield batch, feed, encodings

    def _run(
        self,
        batches: Iterable[tuple[list[int], dict[str, np.ndarray], list[Encoding]]],
        outputs: list[str],
    ) -> Iterator[tuple[tuple[list[int], dict[str, np.ndarray], list[Encoding]], list[Any]]]:
        """Each batch with the session's ``outputs`` for it, in order; with ``concurrent_runs``
        > 1, that many batches run at once (``text_batches.run_in_order``)."""

        def run(item: tuple[list[int], dict[str, np.ndarray], list[Encoding]]) -> list[Any]:
            found: list[Any] = self._session.run(outputs, item[1])
            return found

        return run_in_order(batches, run, self.concurrent_runs)

    def encode_query(self, text: str) -> np.ndarray:
        """The vector of one question, as float32[1, dimension]."""
        encoding = self._tokenizer.encode(text)
        feed = padded_inputs([encoding], self._inputs, self._pad_id)
        vector = self._session.run([self._output], feed)[0]
        return np.ascontiguousarray(unit_rows(vector), dtype=np.float32)


def _pool_spans(
    tokens: np.ndarray,
    encoding: Encoding,
    spans: Sequence[tuple[int, int]],
    text_vector: np.ndarray,
) -> list[np.ndarray | None]:
    """Mean of the word-piece rows of ``tokens`` lying inside each character span, unit length,
    less ``CONTEXT_SHARE`` x ``text_vector`` (unit length again); None for a span with none."""
    special = np.asarray(encoding.special_tokens_mask, dtype=bool)
    offsets = np.asarray(encoding.offsets, dtype=np.int64).reshape(-1, 2)
    starts, ends = offsets[:, 0], offsets[:, 1]
    result: list[np.ndarray | None] = []
    for start, end in spans:
        inside = ~special & (starts >= start) & (ends <= end) & (ends > starts)
        if not inside.any():
            result.append(None)
            continue
        mean = tokens[: len(special)][inside].mean(axis=0)
        own = mean / max(float(np.linalg.norm(mean)), 1e-12) - CONTEXT_SHARE * text_vector
        result.append((own / max(float(np.linalg.norm(own)), 1e-12)).astype(np.float32))
    return result


def _session(path: Path, threads: int) -> onnxruntime.InferenceSession:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    # EXTENDED: same speed as ALL for this graph here, but the session starts ~0.2 s sooner
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    options.log_severity_level = 3
    # no busy-waiting between ops: on a shared 2-core machine spinning threads steal the cores
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return onnxruntime.InferenceSession(
            str(path), sess_options=options, providers=["CPUExecutionProvider"]
        )
    except Exception as error:  # onnxruntime raises its own exception types
        raise ModelError(
            f"cannot load the ONNX model {path} ({type(error).__name__}): run `citebot build`"
        ) from None


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def read_json(path: Path) -> Any:
    """The parsed JSON file at ``path``, or None when it is missing or unreadable."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


# Exactly sentence-transformers' Pooling modes over right-padded batches: (hidden states
# float[b, t, d], attention mask float[b, t, 1]) -> float[b, d].
def _mean(hidden: Any, mask: Any) -> Any:
    return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)


def _mean_sqrt_len(hidden: Any, mask: Any) -> Any:
    return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9).sqrt()


def _cls(hidden: Any, mask: Any) -> Any:
    return hidden[:, 0]


def _max(hidden: Any, mask: Any) -> Any:
    return hidden.masked_fill(mask == 0, float("-inf")).max(dim=1).values


_POOLING: dict[str, Callable[[Any, Any], Any]] = {
    "mean": _mean,
    "mean_sqrt_len_tokens": _mean_sqrt_len,
    "cls": _cls,
    "max": _max,
}


def pooled_model(transformer: Any, names: Sequence[str], pipeline: Pipeline) -> Any:
    """A torch module: transformer -> the model's pooling -> L2 normalisation if it has one.
    Pooling is in float32 whatever the transformer's precision (a bfloat16 export's too)."""
    import torch

    pool = _POOLING[pipeline.pooling]

    class PooledModel(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            named = dict(zip(names, inputs, strict=True))
            hidden = self.transformer(**named).last_hidden_state
            if hidden.dtype != torch.float32:  # bfloat16 builds: pool and normalise in float32
                hidden = hidden.float()
            mask = named["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = pool(hidden, mask)
            if pipeline.normalize:
                pooled = torch.nn.functional.normalize(pooled, p=2.0, dim=1)
            return pooled, hidden

    return PooledModel().eval()
