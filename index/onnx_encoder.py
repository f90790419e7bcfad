"""A light query/build encoder: the same model exported to ONNX, run with onnxruntime.

Why: importing torch + sentence-transformers takes ~6.6 s, which alone breaks the 3 s budget of
``citebot ask``. The model is exported once per model (at build time, with torch) to
``<index_dir>/models/<weights_hash[:16]>/model.onnx``; at query time only onnxruntime, tokenizers
and numpy are imported. The graph contains the transformer, attention-mask mean pooling and L2
normalisation, so its output is the sentence embedding itself.

Importing this module imports neither torch nor onnxruntime; ``export_onnx`` imports torch and
transformers, ``OnnxEncoder`` imports onnxruntime on construction.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from index.errors import ModelError
from index.model import ModelSpec

if TYPE_CHECKING:
    import onnxruntime
    from tokenizers import Encoding, Tokenizer

log = logging.getLogger(__name__)

ProgressCallback = Callable[[int], None]
"""Called with the number of texts just embedded."""

ONNX_FILE = "model.onnx"
INT8_FILE = "model.int8.onnx"
EXPORT_INFO = "export.json"
OPSET = 17
_PROBES = (
    "Which Russian official visited Seoul?",
    "Just days after the trip to Seoul, the administration welcomed the foreign minister "
    "for a bilateral visit. " * 6,
)
_MIN_PROBE_COSINE = 0.9999


def model_dir_for(index_dir: Path, spec: ModelSpec) -> Path:
    """Directory of the exported model files of ``spec`` under an index directory."""
    return Path(index_dir) / "models" / spec.weights_hash[:16]


def onnx_path_for(index_dir: Path, spec: ModelSpec, quantized: bool = False) -> Path:
    """Where the ONNX export of ``spec`` lives: ``<index_dir>/models/<hash16>/model.onnx``."""
    return model_dir_for(index_dir, spec) / (INT8_FILE if quantized else ONNX_FILE)


def is_exported(onnx_path: Path, spec: ModelSpec) -> bool:
    """Whether a complete export of ``spec`` is at ``onnx_path`` (its info file names the model)."""
    info = onnx_path.parent / EXPORT_INFO
    if not onnx_path.is_file() or not info.is_file():
        return False
    try:
        recorded = json.loads(info.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return recorded.get("weights_sha256") == spec.weights_hash


def ensure_onnx(index_dir: Path, spec: ModelSpec, quantized: bool = False) -> Path:
    """The ONNX file of ``spec`` under ``index_dir``, exported first when it is not there yet."""
    target = onnx_path_for(index_dir, spec)
    if not is_exported(target, spec):
        export_onnx(spec, target)
    if not quantized:
        return target
    int8 = onnx_path_for(index_dir, spec, quantized=True)
    if not int8.is_file():
        quantize_onnx(target, int8)
    return int8


def export_onnx(spec: ModelSpec, target: Path) -> Path:
    """Export ``spec``'s transformer + mean pooling + L2 norm to ONNX at ``target`` (atomically).

    Dynamic batch and sequence axes. The export is checked against torch on probe texts before
    it is moved into place. Needs torch and transformers (build time only).
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    import warnings

    import torch
    from transformers import AutoModel
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()

    started = time.perf_counter()
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        transformer = AutoModel.from_pretrained(
            str(spec.path), local_files_only=True, attn_implementation="eager"
        ).eval()
    except Exception as error:  # many kinds; all mean "unusable model"
        raise ModelError(f"cannot load {spec.path} for ONNX export: {error}") from None
    accepts = inspect.signature(transformer.forward).parameters
    names = ["input_ids", "attention_mask"]
    if "token_type_ids" in accepts:
        names.append("token_type_ids")
    module = _pooled_model(transformer, names)
    tokenizer = _tokenizer(spec)
    sample = _batch_arrays(tokenizer.encode_batch(list(_PROBES)), names, 0)
    inputs = tuple(torch.from_numpy(sample[name]) for name in names)
    axes = {name: {0: "batch", 1: "sequence"} for name in names}
    axes["sentence_embedding"] = {0: "batch"}
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                module,
                inputs,
                str(tmp),
                input_names=names,
                output_names=["sentence_embedding"],
                dynamic_axes=axes,
                opset_version=OPSET,
                dynamo=False,
            )
            expected = module(*inputs).numpy()
        got = _session(tmp, threads=1).run(None, sample)[0]
        cosine = (expected * got).sum(axis=1)
        if float(cosine.min()) < _MIN_PROBE_COSINE:
            raise ModelError(
                f"ONNX export of {spec.name} does not match torch (cosine {cosine.min():.5f})"
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    info = {
        "model": spec.name,
        "weights_sha256": spec.weights_hash,
        "inputs": names,
        "output": "sentence_embedding (mean pooled, L2-normalised)",
        "opset": OPSET,
        "max_seq_length": spec.max_seq_length,
        "torch": torch.__version__,
        "probe_min_cosine": round(float(cosine.min()), 7),
        "export_seconds": round(time.perf_counter() - started, 2),
    }
    _write_atomic(target.parent / EXPORT_INFO, json.dumps(info, indent=2))
    log.info("exported %s to %s in %.1f s", spec.name, target, info["export_seconds"])
    return target


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
    at ``spec.max_seq_length`` word pieces, attention-mask mean pooling, unit length. Texts are
    embedded in batches sorted by token count (little padding); results come back in order.
    ``threads`` is onnxruntime's intra-op thread count (None: one per core, at most 4); for
    single questions one thread is fastest here (see ``for_queries``). Small batches are faster
    on CPU here (2 cores, SQuAD texts: batch 8 ~2x the texts/s of batch 64).
    """

    def __init__(
        self,
        spec: ModelSpec,
        onnx_path: Path,
        threads: int | None = None,
        batch_size: int = 8,
    ):
        self.spec = spec
        self.onnx_path = Path(onnx_path)
        self.batch_size = batch_size
        if not self.onnx_path.is_file():
            raise ModelError(f"no ONNX model at {self.onnx_path}: run `citebot build`")
        self.threads = threads if threads is not None else min(4, os.cpu_count() or 1)
        self._session = _session(self.onnx_path, self.threads)
        self._inputs = [i.name for i in self._session.get_inputs()]
        self._tokenizer = _tokenizer(spec)
        pad = self._tokenizer.token_to_id("[PAD]")
        self._pad_id = int(pad) if pad is not None else 0

    @classmethod
    def for_queries(cls, spec: ModelSpec, onnx_path: Path) -> OnnxEncoder:
        """An encoder tuned for one question at a time (one thread: least overhead)."""
        return cls(spec, onnx_path, threads=1, batch_size=1)

    def encode(self, texts: Sequence[str], progress: ProgressCallback | None = None) -> np.ndarray:
        """Vectors for ``texts`` as float32[n, dimension], each of unit length."""
        dimension = self.spec.dimension
        if not texts:
            return np.zeros((0, dimension), dtype=np.float32)
        encodings = self._tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids), reverse=True)
        vectors = np.empty((len(texts), dimension), dtype=np.float32)
        for first in range(0, len(order), self.batch_size):
            batch = order[first : first + self.batch_size]
            feed = _batch_arrays([encodings[i] for i in batch], self._inputs, self._pad_id)
            vectors[batch] = self._session.run(None, feed)[0]
            if progress is not None:
                progress(len(batch))
        return vectors

    def encode_query(self, text: str) -> np.ndarray:
        """The vector of one question, as float32[1, dimension]."""
        encoding = self._tokenizer.encode(text)
        feed = _batch_arrays([encoding], self._inputs, self._pad_id)
        return np.ascontiguousarray(self._session.run(None, feed)[0], dtype=np.float32)


def _tokenizer(spec: ModelSpec) -> Tokenizer:
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


def _batch_arrays(encodings: Sequence[Encoding], names: Sequence[str], pad_id: int) -> dict:
    """Right-padded int64 arrays (input_ids, attention_mask, token_type_ids) for one batch."""
    width = max(len(e.ids) for e in encodings)
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


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _pooled_model(transformer: Any, names: Sequence[str]) -> Any:
    """A torch module: transformer -> attention-mask mean pooling -> L2 normalisation."""
    import torch

    class PooledModel(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            named = dict(zip(names, inputs, strict=True))
            hidden = self.transformer(**named).last_hidden_state
            mask = named["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            # exactly sentence-transformers' Pooling (mean) and Normalize modules
            mean = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2.0, dim=1)

    return PooledModel().eval()
