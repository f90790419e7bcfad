"""Build throughput: embedding backends side by side on the same texts, in one run (issue 5).

Texts: the paragraphs and sentences (citebot's splitter) of SQuAD v1.1 dev articles: by default
the first ``--articles`` 3 of the 48 (the full set takes minutes per backend on 2 cores; pass
``--articles 48`` for it). Each backend encodes all texts ``--repeats`` times, interleaved
(A B C D, A B C D, ...) so that load from other processes hits all alike; medians are reported.

Backends:
- ``st``: plain ``SentenceTransformer.encode(texts, batch_size=64)`` (the reference);
- ``st-bs8``: the same with batch_size=8 (is the gain the batch size or the backend?);
- ``embedder``: citebot's ``Embedder.encode`` (length-sorted batches of 64);
- ``onnx``: ``OnnxEncoder`` fp32 (onnxruntime, token-length-sorted batches of 8);
- ``onnx-build``: the encoder ``citebot build`` uses since issue 26: the same fp32 graph, one
  batch per core at once, batches of ``BUILD_BATCH_TOKENS`` padded word pieces;
- ``onnx-int8``: the same graph with per-channel dynamic int8 weights;
- ``bf16-build``: the encoder ``citebot build`` uses on CPUs with AMX-BF16 (issue 26, fourth
  round): the model traced in bfloat16 (TorchScript), one batch per core at once, batches of
  ``BF16_BATCH_TOKENS`` padded word pieces in few shapes.

Quality next to speed: cosine of each backend's vectors to ``st``'s, and paragraph retrieval
hit@1 / hit@5 of each article's questions among that article's paragraphs.

    .venv/bin/python benchmarks/build_throughput.py [--articles 3] [--repeats 3]
        [--backends st,st-bs8,embedder,onnx,onnx-build,onnx-int8,bf16-build]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_SQUAD = Path("/work/shared/data/squad/dev-v1.1.json")

Encode = Callable[[list[str]], np.ndarray]


def load_texts(
    squad: Path, articles: int
) -> tuple[list[str], list[list[str]], list[list[tuple[str, int]]]]:
    """(all texts, paragraphs per article, (question, paragraph number) per article)."""
    from index.ingest.sentences import split_sentences

    data = json.loads(squad.read_text(encoding="utf-8"))["data"][:articles]
    texts: list[str] = []
    paragraphs: list[list[str]] = []
    questions: list[list[tuple[str, int]]] = []
    for article in data:
        contexts = [p["context"] for p in article["paragraphs"]]
        paragraphs.append(contexts)
        questions.append(
            [(qa["question"], i) for i, p in enumerate(article["paragraphs"]) for qa in p["qas"]]
        )
        for context in contexts:
            texts.append(context)
            texts.extend(context[start:end] for start, end in split_sentences(context))
    return texts, paragraphs, questions


def retrieval(
    encode: Encode, paragraphs: list[list[str]], questions: list[list[tuple[str, int]]]
) -> tuple[float, float]:
    """hit@1, hit@5 of questions against their own article's paragraphs."""
    hits1 = hits5 = total = 0
    for contexts, asked in zip(paragraphs, questions, strict=True):
        p = encode(contexts)
        q = encode([text for text, _ in asked])
        ranks = np.argsort(-(q @ p.T), axis=1)
        gold = np.array([index for _, index in asked])
        hits1 += int((ranks[:, 0] == gold).sum())
        hits5 += int((ranks[:, :5] == gold[:, None]).any(axis=1).sum())
        total += len(asked)
    return hits1 / total, hits5 / total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--squad", type=Path, default=DEFAULT_SQUAD)
    parser.add_argument("--articles", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--onnx-batch-size", type=int, default=8)
    parser.add_argument("--backends", default="st,st-bs8,embedder,onnx,onnx-build,onnx-int8")
    args = parser.parse_args()

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from index.build.embedding import Embedder
    from index.build.model import ModelSpec
    from index.build.onnx_encoder import BUILD_BATCH_TOKENS, OnnxEncoder, ensure_onnx

    spec = ModelSpec.resolve("all-MiniLM-L6-v2")
    texts, paragraphs, questions = load_texts(args.squad, args.articles)
    tokens = spec.count_tokens(texts)
    wanted = args.backends.split(",")
    embedder = Embedder(spec, batch_size=args.batch_size)
    st_model = embedder.model  # the very same loaded SentenceTransformer for "st"

    def st_encoder(batch_size: int) -> Encode:
        def encode(batch: list[str]) -> np.ndarray:
            return st_model.encode(
                batch,
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )

        return encode

    backends: dict[str, Encode] = {
        "st": st_encoder(args.batch_size),
        "st-bs8": st_encoder(8),
        "embedder": embedder.encode,
    }
    notes = []
    with tempfile.TemporaryDirectory(prefix="citebot-onnx-") as tmp:
        threads = os.cpu_count() or 1
        if {"onnx", "onnx-build", "onnx-int8"} & set(wanted):
            started = time.perf_counter()
            fp32 = ensure_onnx(Path(tmp), spec)
            notes.append(f"ONNX export (once per model): {time.perf_counter() - started:.1f} s")
            backends["onnx"] = OnnxEncoder(spec, fp32, threads, args.onnx_batch_size).encode
            backends["onnx-build"] = OnnxEncoder(
                spec, fp32, threads, concurrent_runs=threads, batch_tokens=BUILD_BATCH_TOKENS
            ).encode
        if "onnx-int8" in wanted:
            started = time.perf_counter()
            int8 = ensure_onnx(Path(tmp), spec, quantized=True)
            notes.append(
                f"int8 quantization (once per model): {time.perf_counter() - started:.1f} s"
            )
            backends["onnx-int8"] = OnnxEncoder(spec, int8, threads, args.onnx_batch_size).encode
        if "bf16-build" in wanted:
            from index.build.bfloat16_encoder import BFloat16Encoder, ensure_bfloat16

            started = time.perf_counter()
            bf16 = ensure_bfloat16(Path(tmp), spec)
            notes.append(f"bfloat16 trace (once per model): {time.perf_counter() - started:.1f} s")
            backends["bf16-build"] = BFloat16Encoder(
                spec, bf16, threads, concurrent_runs=threads
            ).encode
        backends = {name: backends[name] for name in wanted}
        for encode in backends.values():  # warm-up: first-call allocations, lazy loads
            encode(texts[:16])
        rates: dict[str, list[float]] = {name: [] for name in backends}
        vectors: dict[str, np.ndarray] = {}
        for _ in range(args.repeats):
            for name, encode in backends.items():
                started = time.perf_counter()
                vectors[name] = encode(texts)
                rates[name].append(len(texts) / (time.perf_counter() - started))
                print(f"  {name}: {rates[name][-1]:.1f} texts/s", file=sys.stderr, flush=True)
        quality = {
            name: retrieval(encode, paragraphs, questions) for name, encode in backends.items()
        }

    reference = vectors.get("st", next(iter(vectors.values())))
    base_rate = statistics.median(rates[next(iter(rates))])
    print(
        f"\n{len(texts)} texts ({sum(len(p) for p in paragraphs)} paragraphs + sentences) of the "
        f"first {args.articles} SQuAD v1.1 dev articles, {sum(tokens)} word pieces "
        f"(mean {statistics.mean(tokens):.0f}); {args.repeats} interleaved repeats; "
        f"{os.cpu_count()} cores, torch threads {_torch_threads()}, onnxruntime threads "
        f"{os.cpu_count()}; batch size {args.batch_size} (ONNX {args.onnx_batch_size}); "
        f"{sum(len(q) for q in questions)} questions for hit@k"
    )
    print()
    print(
        f"| backend | texts/s (median) | all repeats | × {next(iter(rates))} | cosine to st min / "
        "mean | paragraph hit@1 | hit@5 |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name, found in rates.items():
        cosine = (vectors[name] * reference).sum(axis=1)
        rate = statistics.median(found)
        print(
            f"| {name} | {rate:.1f} | {', '.join(f'{r:.1f}' for r in found)} | "
            f"{rate / base_rate:.2f} | {cosine.min():.4f} / {cosine.mean():.4f} | "
            f"{quality[name][0]:.4f} | {quality[name][1]:.4f} |"
        )
    for note in notes:
        print(f"\n{note}")
    return 0


def _torch_threads() -> int:
    import torch

    return torch.get_num_threads()


if __name__ == "__main__":
    sys.exit(main())
