"""What an index holds and whether it is current, read from its manifest (no model loaded)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from bot.core.backends import open_store
from bot.core.safe_text import printable
from bot.settings import Settings
from index.build.model import ModelSpec
from index.errors import CitebotError
from index.ingest.documents import SourceChanges, compare_sources, recorded_sources


@dataclass
class IndexStatus:
    """The state of the configured index."""

    index_dir: str
    source_dir: str
    exists: bool
    manifest: dict[str, Any] = field(default_factory=dict)
    problem: str | None = None
    changes: SourceChanges = field(default_factory=SourceChanges)
    model_matches: bool | None = None
    size_bytes: int = 0
    verified: bool | None = None  # every file matched its checksum (False: none recorded)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        manifest = self.manifest
        return {
            "index_dir": self.index_dir,
            "source_dir": self.source_dir,
            "exists": self.exists,
            "problem": self.problem,
            "built_at": manifest.get("built_at"),
            "model": manifest.get("model"),
            "model_matches_settings": self.model_matches,
            "chunker": manifest.get("chunker"),
            "vector_index": manifest.get("vector_index"),
            "counts": manifest.get("counts"),
            "documents": manifest.get("documents", []),
            "skipped": manifest.get("skipped", []),
            "size_bytes": self.size_bytes,
            "checksums_verified": self.verified,
            "sources_changed": bool(self.changes),
            "changes": {
                "added": list(self.changes.added),
                "removed": list(self.changes.removed),
                "modified": list(self.changes.modified),
            },
        }

    def to_rich(self) -> Group:
        """A readable summary for the terminal (document text is never read as markup)."""
        if not self.exists or self.problem:
            message = self.problem or f"No index at {self.index_dir}: run `citebot build`."
            return Group(_text(message, style="yellow"))
        manifest = self.manifest
        model = manifest.get("model", {})
        counts = manifest.get("counts", {})
        lines = [
            _text(f"Index     {self.index_dir} ({self.size_bytes / 1024:.0f} KiB)"),
            _text(f"Built     {manifest.get('built_at')}"),
            _text(
                f"Model     {model.get('name')} (weights {str(model.get('weights_sha256'))[:12]}, "
                f"{model.get('dimension')} dims, max {model.get('max_seq_length')} tokens)"
            ),
            _text(
                f"Chunks    {counts.get('chunks')} chunks, {counts.get('sentences')} sentences; "
                f"chunker {manifest.get('chunker')}"
            ),
        ]
        if self.verified is False:
            lines.append(_text(
                "Checksums none recorded (built before citebot recorded them): run "
                "`citebot build` to add them.", style="yellow",
            ))
        if self.model_matches is False:
            lines.append(
                _text(
                    "The configured model differs from the index's: run `citebot build`.",
                    style="bold red",
                )
            )
        table = Table(
            "document", "format", "paragraphs", "sha256",
            title=_text(f"Sources ({self.source_dir})"),
        )
        for document in manifest.get("documents", []):
            table.add_row(
                _text(document["path"]),
                _text(str(document.get("format", "text"))),
                str(document.get("paragraphs")),
                _text(document["sha256"][:12]),
            )
        lines_after = []
        for skipped in manifest.get("skipped", []):
            lines_after.append(_text(f"skipped: {skipped['reason']}", style="yellow"))
        if self.changes:
            lines_after.append(
                _text(
                    f"Sources changed since the build ({self.changes.describe()}): "
                    "run `citebot build`.",
                    style="bold yellow",
                )
            )
        else:
            lines_after.append(Text("Sources unchanged since the build.", style="green"))
        return Group(*lines, table, *lines_after)


def _text(value: str, style: str = "") -> Text:
    """Literal terminal text: no markup, control characters escaped."""
    return Text(printable(value), style=style)


def source_changes(settings: Settings, manifest: dict[str, Any]) -> SourceChanges:
    """How the source directory differs from the files the index was built from (only files
    whose size or modification time differ from the manifest's are read)."""
    return compare_sources(settings.source_dir, recorded_sources(manifest))


def index_status(settings: Settings, collection: str = "default") -> IndexStatus:
    """Inspect the configured index without loading the model."""
    store = open_store(settings, collection)
    where = str(settings.index_dir)
    if settings.backend == "milvus":
        where = f"Milvus {settings.milvus_uri} ({collection})"
    status = IndexStatus(where, str(settings.source_dir), exists=False)
    try:
        if not store.exists():
            return status
        status.exists = True
        status.manifest = store.read_manifest()
        status.size_bytes = store.size_bytes()
        status.verified = store.verify()  # damage is a problem, as when loading
    except CitebotError as error:
        status.problem = str(error)
        return status
    status.changes = source_changes(settings, status.manifest)
    try:
        spec = ModelSpec.resolve(settings.model)
        status.model_matches = (
            status.manifest.get("model", {}).get("weights_sha256") == spec.weights_hash
        )
    except CitebotError as error:
        status.problem = str(error)
    return status
