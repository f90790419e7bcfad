"""Ingest: text extraction per format next to embedding, on the same documents (issue 10).

The first ``--articles`` SQuAD v1.1 dev articles are written in every format citebot reads (the
same paragraphs under each article's title as a heading): plain text, Markdown, an HTML page
with navigation and a footer, a Word file with heading styles, and a PDF (reportlab, A4, with a
running header and page numbers). For each format, interleaved over ``--repeats`` rounds:

- extraction: ``load_documents`` on the folder (read, extract, paragraphs), with its throughput
  (MB/s of source files; pages/s for PDF);
- a whole build of the folder into a fresh index (extraction, chunking, embedding with the ONNX
  encoder as ``citebot build`` does on a CPU, writing), and extraction's share of it
  (target: under 20 %).

    .venv/bin/python benchmarks/ingest.py [--articles 6] [--repeats 3] [--squad PATH]
"""

from __future__ import annotations

import argparse
import html
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_SQUAD = Path("/work/shared/data/squad/dev-v1.1.json")
FORMATS = ("txt", "md", "html", "docx", "pdf")


def load_articles(squad: Path, count: int) -> list[tuple[str, list[str]]]:
    """(title, paragraphs) of the first ``count`` SQuAD dev articles."""
    data = json.loads(squad.read_text(encoding="utf-8"))["data"][:count]
    return [
        (a["title"].replace("_", " "), [p["context"].strip() for p in a["paragraphs"]])
        for a in data
    ]


def write_txt(path: Path, title: str, paragraphs: list[str]) -> None:
    path.write_text("\n\n".join([title, *paragraphs]) + "\n", encoding="utf-8")


def write_md(path: Path, title: str, paragraphs: list[str]) -> None:
    body = "\n\n".join(f"{p} *(source: [SQuAD](https://rajpurkar.github.io/SQuAD-explorer/))*"
                       if i % 5 == 0 else p for i, p in enumerate(paragraphs))
    path.write_text(f"---\ntitle: {title}\n---\n\n# {title}\n\n{body}\n", encoding="utf-8")


def write_html(path: Path, title: str, paragraphs: list[str]) -> None:
    nav = "".join(f'<li><a href="/p{i}">Section {i}</a></li>' for i in range(30))
    body = "\n".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    path.write_text(
        f"<!doctype html><html><head><title>{html.escape(title)}</title>"
        "<style>body{font:16px serif}</style><script>var x=1;</script></head><body>"
        f"<nav><ul>{nav}</ul></nav><main><article><h1>{html.escape(title)}</h1>\n{body}"
        "</article></main><footer><p>Copyright Example. All rights reserved.</p>"
        f"<ul>{nav}</ul></footer></body></html>",
        encoding="utf-8",
    )


def write_docx(path: Path, title: str, paragraphs: list[str]) -> None:
    import docx

    document = docx.Document()
    document.add_heading(title, level=1)
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    document.save(str(path))


def write_pdf(path: Path, title: str, paragraphs: list[str]) -> None:
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import Paragraph, SimpleDocTemplate

    styles = getSampleStyleSheet()

    def decorate(canvas, document) -> None:
        canvas.saveState()
        canvas.setFont("Helvetica", 8)
        canvas.drawString(72, A4[1] - 40, f"{title} - benchmark corpus")
        canvas.drawString(A4[0] / 2, 30, str(document.page))
        canvas.restoreState()

    story = [Paragraph(html.escape(title), styles["Heading1"])]
    story += [Paragraph(html.escape(p), styles["BodyText"]) for p in paragraphs]
    SimpleDocTemplate(str(path), pagesize=A4).build(
        story, onFirstPage=decorate, onLaterPages=decorate
    )


WRITERS = {"txt": write_txt, "md": write_md, "html": write_html, "docx": write_docx,
           "pdf": write_pdf}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--squad", type=Path, default=DEFAULT_SQUAD)
    args = parser.parse_args()

    from bot.core.engine import Engine
    from bot.settings import Settings
    from index.ingest.documents import load_documents

    articles = load_articles(args.squad, args.articles)
    work = Path(tempfile.mkdtemp(prefix="citebot-ingest-"))
    folders = {}
    for fmt in FORMATS:
        folder = work / fmt
        folder.mkdir()
        for number, (title, paragraphs) in enumerate(articles):
            WRITERS[fmt](folder / f"article-{number:02d}.{fmt}", title, paragraphs)
        folders[fmt] = folder
    sizes = {fmt: sum(f.stat().st_size for f in folders[fmt].iterdir()) for fmt in FORMATS}

    # the model and its ONNX export once, outside the timings
    warm = Engine(Settings(_env_file=None, source_dir=folders["txt"], index_dir=work / "warm"))
    warm.rebuild()

    extract: dict[str, list[float]] = {fmt: [] for fmt in FORMATS}
    build: dict[str, list[float]] = {fmt: [] for fmt in FORMATS}
    facts: dict[str, tuple[int, int, int]] = {}
    for repeat in range(args.repeats):
        for fmt in FORMATS:
            started = time.perf_counter()
            loaded = load_documents(folders[fmt])
            extract[fmt].append(time.perf_counter() - started)
            assert not loaded.skipped, loaded.skipped
            pages = sum(max(1, len(d.pages)) for d in loaded.documents)
            characters = sum(len(d.text) for d in loaded.documents)
            index_dir = work / f"index-{fmt}-{repeat}"
            shutil_copy_models(work / "warm", index_dir)
            engine = Engine(Settings(_env_file=None, source_dir=folders[fmt], index_dir=index_dir))
            started = time.perf_counter()
            report = engine.rebuild()
            build[fmt].append(time.perf_counter() - started)
            facts[fmt] = (pages, characters, report.chunks)

    print(f"{args.articles} SQuAD v1.1 dev articles per format, {args.repeats} interleaved "
          "repeats, medians\n")
    print("| format | source MB | pages | extracted chars | chunks | extraction s | throughput "
          "| whole build s | extraction share |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for fmt in FORMATS:
        seconds = statistics.median(extract[fmt])
        whole = statistics.median(build[fmt])
        pages, characters, chunks = facts[fmt]
        rate = (f"{pages / seconds:.0f} pages/s" if fmt == "pdf"
                else f"{sizes[fmt] / 1e6 / seconds:.1f} MB/s")
        print(f"| {fmt} | {sizes[fmt] / 1e6:.2f} | {pages if fmt == 'pdf' else '—'} | "
              f"{characters:,} | {chunks} | {seconds:.3f} | {rate} | {whole:.1f} | "
              f"{100 * seconds / whole:.1f} % |")


def shutil_copy_models(source_index: Path, index_dir: Path) -> None:
    """Give a fresh index directory the ONNX export already made (so builds only embed)."""
    import shutil

    models = source_index / "models"
    if models.exists():
        index_dir.mkdir(parents=True)
        shutil.copytree(models, index_dir / "models")


if __name__ == "__main__":
    main()
