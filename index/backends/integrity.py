"""Checksums of an index's files and rows, so that a damaged or altered index is refused rather
than quoted.

Sizes alone miss damage that keeps a file's length: "Lavrov" changed to "Petrov" in the stored
texts made the old code quote a sentence that is in no source, and flipped bytes in a vector
file silently changed answers. A build records a digest of every file (local backend) or of
every stored row a passage is made from (Milvus backend); loading compares them, and the local
backend checks each quoted chunk's text against its ``text_key`` too (index/backends/local.py).

Files are hashed with xxh3-128 (xxhash): every load hashes the whole index, and xxh3 runs at
memory speed (~3.7 GB/s a core here, blake2b ~0.4-0.8): a cold ``citebot ask`` of a 10k-chunk
index (58 MiB) pays ~2 % instead of ~17 % (docs/benchmarks.md, "Index checksums"). Files are
read in large blocks, a few files at once on threads (reads overlap hashing). A file already
verified by this process and not changed since (same inode, size, modification and change
times) is not hashed again, so engines of one process that load the same build pay once.
Rows (small) use blake2b-128.

These digests catch damage and edits made without knowing of them; someone who can write the
index can also rewrite its manifest, which is not signed.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import xxhash

ALGORITHM = "xxh3-128"
"""Of files (the local backend's manifest records it)."""
ROW_ALGORITHM = "blake2b-128"
"""Of rows (the Milvus backend's manifest records it)."""
DIGEST_BYTES = 16
_BLOCK = 4 << 20
_THREADS = 4

_verified: set[tuple[Any, ...]] = set()
_verified_lock = threading.Lock()


def file_digest(path: Path) -> str:
    """Hex xxh3-128 of a file's bytes."""
    digest = xxhash.xxh3_128()
    buffer = bytearray(_BLOCK)
    view = memoryview(buffer)
    with path.open("rb", buffering=0) as handle:
        while True:
            size = handle.readinto(buffer)
            if not size:
                break
            digest.update(view[:size])
    return digest.hexdigest()


def file_digests(directory: Path, names: Iterable[str]) -> dict[str, str]:
    """Digest of each file ``names`` (relative to ``directory``), hashed a few at a time."""
    ordered = sorted(names)
    with ThreadPoolExecutor(max_workers=_workers(len(ordered))) as pool:
        found = pool.map(lambda name: file_digest(directory / name), ordered)
        return dict(zip(ordered, found, strict=True))


def changed_files(directory: Path, recorded: Mapping[str, str]) -> list[str]:
    """The files of ``recorded`` (name -> digest) whose bytes differ from the digest recorded,
    or that cannot be read; empty when every one matches."""
    names = sorted(recorded)

    def changed(name: str) -> bool:
        path = directory / name
        try:
            status = path.stat()
            stamp = (str(path), status.st_ino, status.st_size, status.st_mtime_ns,
                     status.st_ctime_ns, recorded[name])
            with _verified_lock:
                if stamp in _verified:
                    return False
            if file_digest(path) != recorded[name]:
                return True
        except (OSError, TypeError, ValueError):
            return True
        with _verified_lock:
            _verified.add(stamp)
        return False

    with ThreadPoolExecutor(max_workers=_workers(len(names))) as pool:
        flags = list(pool.map(changed, names))
    return [name for name, flag in zip(names, flags, strict=True) if flag]


def row_digest(*values: Any) -> str:
    """Hex blake2b-128 of a row's values (their repr, joined by NUL): what the Milvus backend
    stores beside each row a passage is made from, and checks when it reads the row."""
    text = "\0".join(repr(value) for value in values)
    return hashlib.blake2b(text.encode("utf-8"), digest_size=DIGEST_BYTES).hexdigest()


def _workers(count: int) -> int:
    return max(1, min(_THREADS, os.cpu_count() or 1, count))
