"""Time from ``/docs add`` of a 100-page PDF to its first answer, over the loopback wire (issue 26).

A real ``citebot discord`` process (``tests/loopback/launcher.py``) against the loopback Discord
(``tests/loopback``): a server manager runs ``/docs add`` with a PDF attachment (downloaded
from the stand-in's CDN, extracted and built in the bot's build child), and as soon as the
result is posted a member asks a question answered only by that PDF. The clock runs from the
``/docs add`` dispatch to the answer's follow-up. The PDF: SQuAD v1.1 dev paragraphs (articles
2, 10, 18, … until ``--pages`` pages), 10 pt Times on letter pages, drawn with reportlab.

Each run starts a fresh bot (fresh collections, the same default index and model exports), with
the default settings ("alone": each sentence embedded on its own; in bfloat16 on CPUs with
AMX-BF16), with CITEBOT_BUILD_BFLOAT16=false ("alone, float32"), with CITEBOT_LATE_CHUNKING=true
("late chunking"), and with ``--int8`` each also with CITEBOT_BUILD_INT8=true, interleaved for
``--repeats`` rounds; medians.

    .venv/bin/python benchmarks/docs_add_pdf.py [--pages 100] [--repeats 2] [--int8]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.loopback import ADMIN_PERMISSIONS, Attachment, LoopbackDiscord, World  # noqa: E402
from tests.loopback.process import BotProcess, build_article_index  # noqa: E402

DEFAULT_SQUAD = Path("/work/shared/data/squad/dev-v1.1.json")
TOKEN = "MTQwMDAwMDAwMDAwMDAwMDAw.GBench.loopback-pdf-token_not-a-real-one"
GUILD = 970000000000000100
OWNER = 970000000000000010
MEMBER = 970000000000000011
WORDS_PER_PAGE = 770  # about this many words of SQuAD text fill a letter page here


def squad_pdf(squad: Path, pages: int) -> tuple[bytes, int, str, str]:
    """(PDF bytes, pages, a question answered in it, its answer) from SQuAD paragraphs."""
    from pypdf import PdfReader
    from reportlab.lib.pagesizes import letter
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.platypus import Paragraph, SimpleDocTemplate

    body = ParagraphStyle("body", fontName="Times-Roman", fontSize=10, leading=12.5, spaceAfter=6)
    heading = ParagraphStyle("heading", fontName="Helvetica-Bold", fontSize=14, leading=17)
    articles = json.loads(squad.read_text(encoding="utf-8"))["data"][2::2]
    story: list[object] = []
    words = 0
    question = answer = ""
    for article in articles:
        if words > pages * WORDS_PER_PAGE:
            break
        story.append(Paragraph(article["title"].replace("_", " "), heading))
        for paragraph in article["paragraphs"]:
            if words > pages * WORDS_PER_PAGE:
                break
            context = paragraph["context"].strip()
            story.append(Paragraph(context.replace("&", "&amp;").replace("<", "&lt;"), body))
            words += len(context.split())
            if not question:
                qa = paragraph["qas"][0]
                question, answer = qa["question"], qa["answers"][0]["text"]
    target = io.BytesIO()
    SimpleDocTemplate(target, pagesize=letter, title="SQuAD report").build(story)
    data = target.getvalue()
    return data, len(PdfReader(io.BytesIO(data)).pages), question, answer


# Each variant's (CITEBOT_LATE_CHUNKING, CITEBOT_BUILD_INT8).
# Each variant's CITEBOT_LATE_CHUNKING, CITEBOT_BUILD_INT8, CITEBOT_BUILD_BFLOAT16.
VARIANTS = {
    "alone": (False, False, "auto"),
    "alone, float32": (False, False, "false"),
    "late chunking": (True, False, "auto"),
    "int8 build": (False, True, "auto"),
    "late chunking, int8 build": (True, True, "auto"),
}


async def one_run(
    late: bool, pdf: bytes, question: str, answer: str, index_dir: Path, workdir: Path,
    int8: bool = False, bfloat16: str = "auto",
) -> tuple[float, float]:
    """(seconds to the build's result, seconds to the first answer) of one fresh bot."""
    world = World(owner_id=OWNER, guild_ids=(GUILD,))
    async with LoopbackDiscord(TOKEN, world) as loopback:
        settings = {
            "source_dir": str(ROOT / "tests" / "data" / "article"),
            "index_dir": str(index_dir),
            "collections_dir": str(workdir / "collections"),
            "state_db": str(workdir / "state.sqlite3"),
            "discord_guilds": str(GUILD),
            "owner_ids": str(OWNER),
            "attachment_max_mb": "50",
            "late_chunking": str(late).lower(),
            "build_int8": str(int8).lower(),
            "build_bfloat16": bfloat16,
        }
        bot = BotProcess(loopback, settings, workdir)
        try:
            await bot.start()
            attachment: Attachment = loopback.attach(
                "squad-report.pdf", pdf, content_type="application/pdf"
            )
            started = time.perf_counter()
            token = await loopback.slash(
                "docs add", user_id=OWNER, permissions=ADMIN_PERMISSIONS, guild_id=GUILD,
                file=attachment,
            )

            def result() -> object:
                calls = loopback.recorder.for_token(token)
                return next((r for r in calls if r.is_followup and r.succeeded), None)

            report = await loopback.recorder.wait_for(result, 1800)
            built = time.perf_counter() - started
            content = str(report.message.get("content", ""))  # type: ignore[attr-defined]
            if not content.startswith("Added"):
                raise SystemExit(f"/docs add failed: {content}\n{bot.log()}")
            asked = await loopback.slash(
                "ask", user_id=MEMBER, guild_id=GUILD, question=question, k=5
            )
            reply = await loopback.answered(asked, timeout=300)
            answered = time.perf_counter() - started
            embeds = json.dumps(reply.message.get("embeds") or [])
            if answer.casefold() not in embeds.casefold():
                print(f"  (the answer {answer!r} is not in the top passages)", file=sys.stderr)
            return built, answered
        finally:
            await bot.stop()


async def main_async(args: argparse.Namespace) -> None:
    pdf, pages, question, answer = squad_pdf(args.squad, args.pages)
    print(f"PDF: {pages} pages, {len(pdf) // 1024} KiB; question: {question!r}", flush=True)
    with tempfile.TemporaryDirectory(prefix="citebot-pdf-") as scratch:
        index_dir = Path(scratch) / "index"
        build_article_index(index_dir)  # the default index and the model's ONNX export
        from bot.core.engine import Engine
        from bot.settings import Settings

        late = Engine(Settings(_env_file=None, index_dir=index_dir, late_chunking=True,
                               build_int8=args.int8))
        assert late.build_encoder is not None  # the export with token outputs, made once here
        names = list(VARIANTS) if args.int8 else ["alone", "alone, float32", "late chunking"]
        figures: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
        for repeat in range(args.repeats):
            order = list(figures) if repeat % 2 == 0 else list(figures)[::-1]
            for name in order:
                workdir = Path(scratch) / f"run-{repeat}-{names.index(name)}"
                workdir.mkdir()
                in_chunk, int8, bfloat16 = VARIANTS[name]
                seconds = await one_run(
                    in_chunk, pdf, question, answer, index_dir, workdir, int8, bfloat16
                )
                figures[name].append(seconds)
                print(f"[{repeat + 1}/{args.repeats}] {name}: built {seconds[0]:.1f} s, "
                      f"answered {seconds[1]:.1f} s", flush=True)
    print(f"\n### /docs add of a {pages}-page PDF to its first answer, loopback wire, "
          f"{args.repeats} interleaved repeats\n")
    print("| sentence vectors | build result s (median) | first answer s (median) | runs |")
    print("| --- | --- | --- | --- |")
    for name, runs in figures.items():
        print(f"| {name} | {statistics.median(r[0] for r in runs):.1f} | "
              f"{statistics.median(r[1] for r in runs):.1f} | "
              f"{', '.join(f'{r[1]:.1f}' for r in runs)} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--squad", type=Path, default=DEFAULT_SQUAD)
    parser.add_argument("--pages", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--int8", action="store_true",
                        help="also each with CITEBOT_BUILD_INT8=true")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
