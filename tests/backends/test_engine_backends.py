"""The engine answers the same on both backends (issue 13): a local index folder and Milvus
(a Milvus Lite server on loopback, started for the session; and an embedded Milvus Lite file).

Every test here runs once per backend through the parametrised ``backend_settings`` fixture."""

from __future__ import annotations

import json
import threading
import time
import uuid
from pathlib import Path

import pytest

from bot.cli.main import main
from bot.core.engine import Engine
from bot.settings import Settings
from tests.conftest import ARTICLE, isolated_settings

LAVROV = "Which Russian official visited Seoul?"
VAULT = "What is the code of the vault?"


def _prefix() -> str:
    return "t" + uuid.uuid4().hex[:10]


@pytest.fixture(params=["local", "milvus"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def settings_for(backend: str, request: pytest.FixtureRequest, **values: object) -> Settings:
    """Settings of one test on ``backend`` (Milvus: the session's server, a prefix of its own)."""
    if backend == "milvus":
        uri = request.getfixturevalue("milvus_uri")
        values = {"backend": "milvus", "milvus_uri": uri, "milvus_prefix": _prefix(),
                  **values}
    return isolated_settings(**values)


@pytest.fixture
def backend_settings(backend: str, request: pytest.FixtureRequest, sources: Path,
                     tmp_path: Path) -> Settings:
    return settings_for(backend, request, source_dir=sources, index_dir=tmp_path / "index")


def test_the_lavrov_question_with_exact_quotes(backend_settings: Settings, article_text: str):
    engine = Engine(backend_settings)
    report = engine.load(build_if_missing=True)
    assert report is not None and report.chunks > 10 and report.build
    answer = engine.search(LAVROV, 5)
    assert answer.found
    assert "Sergei Lavrov" in answer.passages[0].text
    assert "Sergei Lavrov" in answer.passages[0].highlight_text
    for passage in answer.passages:
        citation = passage.citation
        assert article_text[citation.start : citation.end] == passage.text
        assert citation.document == ARTICLE.name
    assert not engine.search("How many moons does Jupiter have?").found
    assert [s.document for s in engine.sources()] == [ARTICLE.name]


def test_both_backends_rank_alike(request: pytest.FixtureRequest, sources: Path,
                                  tmp_path: Path):
    """The same index searched locally and in Milvus: the same first passage for nearly every
    question of the article set (BM25 statistics differ slightly in Milvus Lite)."""
    local = Engine(isolated_settings(source_dir=sources, index_dir=tmp_path / "local"))
    local.load(build_if_missing=True)
    settings = settings_for("milvus", request, source_dir=sources, index_dir=tmp_path / "local")
    from bot.core.index_migration import migrate

    migrate(settings, "default", "milvus")
    remote = Engine(settings)
    remote.load(build_if_missing=False)
    questions = [
        json.loads(line)["question"]
        for line in (Path(__file__).parent.parent / "data" / "article_questions.jsonl")
        .read_text(encoding="utf-8").splitlines()
    ]
    same = sum(
        local.search(q, 1).passages[0].chunk_id == remote.search(q, 1).passages[0].chunk_id
        for q in questions
    )
    assert same >= 0.9 * len(questions), (same, len(questions))


def test_a_rebuild_embeds_only_what_changed(backend_settings: Settings, sources: Path):
    (sources / "vault.md").write_text("# Vault\n\nThe code of the vault is 1111.\n",
                                      encoding="utf-8")
    (sources / "old.md").write_text("# Old\n\nThe lighthouse keeper retired in 1931.\n",
                                    encoding="utf-8")
    engine = Engine(backend_settings)
    first = engine.rebuild()
    assert "1111" in engine.search(VAULT, 1).passages[0].text
    (sources / "vault.md").write_text("# Vault\n\nThe code of the vault is 2222.\n",
                                      encoding="utf-8")
    (sources / "old.md").unlink()
    second = engine.rebuild()
    assert second.build != first.build
    assert 0 < second.embedded <= 2 and second.reused > 30  # the vault: one chunk, one sentence
    answer = engine.search(VAULT, 3)
    assert "2222" in answer.passages[0].text
    assert not any("1111" in p.text for p in answer.passages)
    assert not any("lighthouse" in p.text for p in engine.search("lighthouse keeper", 5).passages)


def test_a_new_build_is_served_while_questions_keep_coming(backend_settings: Settings,
                                                          sources: Path):
    """Another process's build goes live (an alias switch in Milvus, the pointer file locally)
    while four threads ask: no question fails, none sees both builds, and the new build is
    answered within 5 s."""
    (sources / "vault.md").write_text("# Vault\n\nThe code of the vault is 1111.\n",
                                      encoding="utf-8")
    serving = Engine(backend_settings)
    serving.load(build_if_missing=True)
    builder = Engine(backend_settings)
    errors: list[BaseException] = []
    seen: list[str] = []
    stop = threading.Event()

    def ask() -> None:
        while not stop.is_set():
            try:
                serving.refresh(0.0)
                answer = serving.search(VAULT, 3)
                texts = " ".join(p.text for p in answer.passages)
                assert not ("1111" in texts and "2222" in texts), texts
                seen.append("2222" if "2222" in texts else "1111")
            except BaseException as error:
                errors.append(error)

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(0.5)
        (sources / "vault.md").write_text("# Vault\n\nThe code of the vault is 2222.\n",
                                          encoding="utf-8")
        builder.rebuild(wait=True)
        switched = time.monotonic()
        while time.monotonic() - switched < 5 and (not seen or seen[-1] != "2222"):
            time.sleep(0.05)
        time.sleep(0.5)
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    assert not errors, errors[:3]
    assert seen and seen[-1] == "2222"


def test_cli_build_info_ask_and_migrate_back(backend: str, request: pytest.FixtureRequest,
                                             sources: Path, tmp_path: Path, capsys,
                                             monkeypatch):
    settings = settings_for(backend, request, source_dir=sources, index_dir=tmp_path / "index")
    for key, value in settings.model_dump(exclude_defaults=True).items():
        shown = value.get_secret_value() if hasattr(value, "get_secret_value") else value
        monkeypatch.setenv(f"CITEBOT_{key.upper()}", str(shown))
    assert main(["build"]) == 0
    assert main(["info", "--json"]) == 0
    out = capsys.readouterr().out
    info = json.loads(out[out.index("{"):])
    assert info["exists"] and info["counts"]["documents"] == 1 and not info["sources_changed"]
    assert main(["ask", "--json", LAVROV]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert "Sergei Lavrov" in answer["passages"][0]["text"]
    other = "local" if backend == "milvus" else "milvus"
    if other == "milvus":
        monkeypatch.setenv("CITEBOT_MILVUS_URI", request.getfixturevalue("milvus_uri"))
        monkeypatch.setenv("CITEBOT_MILVUS_PREFIX", _prefix())
    else:
        monkeypatch.setenv("CITEBOT_INDEX_DIR", str(tmp_path / "copied"))
    assert main(["migrate", "--to", other]) == 0
    assert "nothing was embedded again" in capsys.readouterr().out
    monkeypatch.setenv("CITEBOT_BACKEND", other)
    assert main(["ask", "--json", LAVROV]) == 0
    again = json.loads(capsys.readouterr().out)
    assert [p["id"] for p in again["passages"]][:1] == [
        p["id"] for p in answer["passages"]
    ][:1]
    assert again["passages"][0]["citation"] == answer["passages"][0]["citation"]


def test_the_embedded_milvus_lite_file(sources: Path, tmp_path: Path, article_text: str):
    settings = isolated_settings(
        source_dir=sources, index_dir=tmp_path / "index", backend="milvus",
        milvus_uri=str(tmp_path / "citebot.db"),
    )
    engine = Engine(settings)
    engine.load(build_if_missing=True)
    passage = engine.search(LAVROV, 1).passages[0]
    assert "Sergei Lavrov" in passage.text
    assert article_text[passage.citation.start : passage.citation.end] == passage.text


def test_eval_of_a_squad_file(backend: str, request: pytest.FixtureRequest, tmp_path: Path,
                              capsys, monkeypatch):
    """`citebot eval` on a SQuAD-format file indexes each article on the configured backend
    (a scratch collection in Milvus, dropped afterwards) and scores it the same."""
    context = ARTICLE.read_text(encoding="utf-8")
    answer = "Sergei Lavrov"
    squad = {"data": [{"title": "Article", "paragraphs": [{"context": context, "qas": [
        {"id": "1", "question": LAVROV,
         "answers": [{"text": answer, "answer_start": context.index(answer)}]},
    ]}]}]}
    path = tmp_path / "squad.json"
    path.write_text(json.dumps(squad), encoding="utf-8")
    settings = settings_for(backend, request, index_dir=tmp_path / "index")
    for key, value in settings.model_dump(exclude_defaults=True).items():
        monkeypatch.setenv(f"CITEBOT_{key.upper()}", str(value))
    assert main(["eval", "--json", str(path)]) == 0
    out = capsys.readouterr().out
    report = json.loads(out[out.index("{"):])
    assert report["questions"] == 1 and report["hit_at_1"] == 1.0, report
    if backend == "milvus":
        from bot.core.backends import milvus_store

        assert not milvus_store(settings, "eval-scratch").exists()


def test_milvus_scores_from_candidates_below_the_setting(request: pytest.FixtureRequest,
                                                         sources: Path, tmp_path: Path,
                                                         article_text: str):
    """CITEBOT_MILVUS_FULL_SCORING_CHUNKS=0: even the article is answered from the nearest and
    best-BM25 candidates (what large collections do), with the same first passage."""
    settings = settings_for("milvus", request, source_dir=sources, index_dir=tmp_path / "index",
                            milvus_full_scoring_chunks=0)
    engine = Engine(settings)
    engine.load(build_if_missing=True)
    assert engine.index.full_scoring_limit == 0  # type: ignore[attr-defined]
    import index.query.search as search_module

    found = engine.index.candidates(
        engine.query_encoder.encode_query(LAVROV)[0], None, search_module.CANDIDATES
    )
    assert found.complete  # 20 chunks: the top 200 hold them all, but not by full scoring
    passage = engine.search(LAVROV, 1).passages[0]
    assert "Sergei Lavrov" in passage.text
    assert article_text[passage.citation.start : passage.citation.end] == passage.text


def test_pages_and_links_are_cited_alike(request: pytest.FixtureRequest, tmp_path: Path):
    """A PDF of the article with an address in sources.toml: the same passage, page and link
    (``#page=N``) on both backends."""
    from tests.web_server import pdf_document

    paragraphs = [p for p in ARTICLE.read_text(encoding="utf-8").split("\n") if p.strip()]
    folder = tmp_path / "pdf-sources"
    folder.mkdir()
    (folder / "article.pdf").write_bytes(pdf_document(paragraphs))
    (folder / "sources.toml").write_text(
        '[files]\n"article.pdf" = "https://example.com/files/article.pdf"\n', encoding="utf-8"
    )
    cited = []
    for backend in ("local", "milvus"):
        settings = settings_for(backend, request, source_dir=folder,
                                index_dir=tmp_path / f"index-{backend}")
        engine = Engine(settings)
        engine.load(build_if_missing=True)
        cited.append([p.citation for p in engine.search(LAVROV, 3).passages])
    assert cited[0] == cited[1]
    first = cited[0][0]
    assert first.page is not None
    assert first.url is not None and f"#page={first.page}" in first.url


def test_both_backends_flag_section_chunks_of_structured_documents_alike(
    request: pytest.FixtureRequest, tmp_path: Path
):
    """``Candidates.in_section`` (what SECTION_DENSE_WEIGHT weighs): chunks under a heading
    of a Markdown page, not those of a plain-text file, on both backends."""
    import numpy as np

    folder = tmp_path / "docs-sources"
    folder.mkdir()
    (folder / "guide.md").write_text(
        "# Guide\n\nWelcome to the guide.\n\n## Install\n\nRun the installer once.\n",
        encoding="utf-8",
    )
    (folder / "notes.txt").write_text("Install\n\nRun the installer twice.\n", encoding="utf-8")
    flags = []
    for backend in ("local", "milvus"):
        settings = settings_for(backend, request, source_dir=folder,
                                index_dir=tmp_path / f"index-{backend}")
        engine = Engine(settings)
        engine.load(build_if_missing=True)
        vector = engine.query_encoder.encode_query("how do I install it")[0]
        found = engine.index.candidates(vector, None, 200)
        assert found.in_section is not None
        chunks = engine.index.stored_chunks(found.rows)
        flags.append(sorted(
            (record.chunk.document, record.chunk.text, bool(flag))
            for record, flag in zip(chunks, np.asarray(found.in_section), strict=True)
        ))
    assert flags[0] == flags[1]
    assert ("guide.md", "Run the installer once.", True) in flags[0]
    assert ("notes.txt", "Run the installer twice.", False) in flags[0]
