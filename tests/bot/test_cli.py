import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import pytest

from bot.cli.main import COMMANDS, main
from tests.conftest import ROOT, SOURCE_DIR

QUESTION = "Which Russian official visited Seoul?"


def clean_environment(env: dict | None = None) -> dict[str, str]:
    """This environment without CITEBOT_* variables, able to import the project from anywhere."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("CITEBOT_")}
    paths = [str(ROOT), os.environ.get("PYTHONPATH")]
    full_env["PYTHONPATH"] = os.pathsep.join(filter(None, paths))
    full_env.update(env or {})
    return full_env


def run_cli(*args: str, stdin: str | None = None, env: dict | None = None, cwd=None):
    """``python -m bot ARGS`` in ``cwd`` (default: an empty folder, never the project's own, whose
    ``.env``, ``source_docs/`` and ``.citebot/`` belong to whoever checked it out)."""
    with tempfile.TemporaryDirectory() as empty:
        return subprocess.run(
            [sys.executable, "-m", "bot", *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=clean_environment(env),
            cwd=cwd or empty,
            timeout=300,
        )


def test_ask_json_end_to_end(built_index_dir, article_text):
    result = run_cli(
        "--index-dir",
        str(built_index_dir),
        "--source-dir",
        str(SOURCE_DIR),
        "ask",
        "--json",
        QUESTION,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    data = json.loads(result.stdout)
    first = data["passages"][0]
    assert "Sergei Lavrov" in first["text"]
    citation = first["citation"]
    assert set(citation) == {
        "document", "section", "paragraph", "start", "end", "page", "page_end", "url"
    }
    assert citation["page"] is citation["page_end"] is citation["url"] is None  # plain text
    assert article_text[citation["start"] : citation["end"]] == first["text"]
    highlight = first["highlight"]
    assert article_text[highlight["start"] : highlight["end"]] == highlight["text"]
    assert data["found"] is True and data["question"] == QUESTION


def test_help_does_not_import_torch(tmp_path):
    code = (
        "import sys\n"
        "from bot.cli.main import main\n"
        "for argv in (['--help'], ['build', '--help'], ['info']):\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
        "assert 'sentence_transformers' not in sys.modules\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=clean_environment(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


def test_ask_builds_on_first_use_and_says_so(tmp_path, capsys):
    status = main(
        ["--index-dir", str(tmp_path / "idx"), "--source-dir", str(SOURCE_DIR), "ask", QUESTION]
    )
    out, err = capsys.readouterr()
    assert status == 0
    assert "No index yet" in err and "Indexed 1 document(s)" in err
    assert "Sergei Lavrov" in out and "¶13" in out
    assert "China and Russia are additional complications" in out
    assert "**" in out  # the best sentence stands out in plain text


def test_model_change_without_rebuild_is_refused(
    index_copy, tmp_path, model_spec, capsys, monkeypatch
):
    other = tmp_path / "other-model"
    shutil.copytree(model_spec.path, other)
    with (other / "model.safetensors").open("ab") as handle:
        handle.write(b"\0")
    monkeypatch.setenv("CITEBOT_MODEL", str(other))
    status = main(
        ["--index-dir", str(index_copy), "--source-dir", str(SOURCE_DIR), "ask", QUESTION]
    )
    _out, err = capsys.readouterr()
    assert status == 1
    assert "citebot build" in err and "model" in err
    assert "Traceback" not in err


def test_bad_setting_is_one_line_naming_the_key(monkeypatch, capsys):
    monkeypatch.setenv("CITEBOT_TOP_K", "zero")
    assert main(["info"]) == 2
    err = capsys.readouterr().err.strip()
    assert "CITEBOT_TOP_K" in err and "\n" not in err and "Traceback" not in err


def test_chunk_tokens_above_model_limit(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("CITEBOT_CHUNK_TOKENS", "512")
    status = main(["--index-dir", str(tmp_path / "i"), "--source-dir", str(SOURCE_DIR), "build"])
    assert status == 1
    assert "CITEBOT_CHUNK_TOKENS" in capsys.readouterr().err


@pytest.mark.parametrize("question", ["   ", "?!"])
def test_empty_question(built_index_dir, capsys, question):
    status = main(
        ["--index-dir", str(built_index_dir), "--source-dir", str(SOURCE_DIR), "ask", question]
    )
    assert status == 1
    assert "question" in capsys.readouterr().err


def test_missing_source_dir_message(tmp_path, capsys):
    status = main(
        ["--index-dir", str(tmp_path / "i"), "--source-dir", str(tmp_path / "none"), "build"]
    )
    assert status == 1
    err = capsys.readouterr().err
    assert "does not exist" in err and "CITEBOT_SOURCE_DIR" in err


def test_build_skips_bad_file_and_reports(tmp_path, capsys):
    sources = tmp_path / "src"
    sources.mkdir()
    shutil.copy(SOURCE_DIR / "north-korea-allied-coordination.txt", sources)
    (sources / "broken.txt").write_bytes(b"\xff\xfe bad bytes")
    status = main(["--index-dir", str(tmp_path / "i"), "--source-dir", str(sources), "build"])
    out, err = capsys.readouterr()
    assert status == 0
    assert "broken.txt" in err and "UTF-8" in err
    assert "Indexed 1 document(s): 20 chunks" in out
    # info reports the index and that nothing changed (the broken file is known)
    assert (
        main(["--index-dir", str(tmp_path / "i"), "--source-dir", str(sources), "info", "--json"])
        == 0
    )
    info = json.loads(capsys.readouterr().out)
    assert info["exists"] and info["sources_changed"] is False
    assert info["counts"]["chunks"] == 20 and info["model_matches_settings"] is True
    (sources / "new.md").write_text("# New\n\nFresh text.", encoding="utf-8")
    main(["--index-dir", str(tmp_path / "i"), "--source-dir", str(sources), "info", "--json"])
    assert json.loads(capsys.readouterr().out)["changes"]["added"] == ["new.md"]


def test_console_reads_questions_from_a_pipe(built_index_dir):
    result = run_cli(
        "--index-dir",
        str(built_index_dir),
        "--source-dir",
        str(SOURCE_DIR),
        "console",
        "--k",
        "1",
        stdin=f"{QUESTION}\n\n:k 2\n   \n:sources\nWhat about bread recipes?\n:quit\n",
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Sergei Lavrov" in out and "[1] north-korea-allied-coordination.txt" in out
    assert "Showing 2 passage(s)" in out
    assert "Not in the source" in out
    assert "Traceback" not in out + result.stderr


def test_console_leaves_on_a_bare_exit_or_quit(built_index_dir):
    for word in ("exit", "Quit", "exit()"):
        result = run_cli(
            "--index-dir", str(built_index_dir), "--source-dir", str(SOURCE_DIR), "console",
            stdin=f"{word}\n{QUESTION}\n",
        )
        assert result.returncode == 0, result.stderr
        assert "Sergei Lavrov" not in result.stdout and "Not in the source" not in result.stdout


def test_unknown_index_dir_info(tmp_path, capsys):
    assert main(["--index-dir", str(tmp_path / "x"), "info"]) == 0
    assert "No index" in capsys.readouterr().out


def test_ask_with_built_index_does_not_import_torch(built_index_dir):
    code = (
        "import sys\n"
        "from bot.cli.main import main\n"
        f"status = main(['--index-dir', {str(built_index_dir)!r}, '--source-dir', "
        f"{str(SOURCE_DIR)!r}, 'ask', 'Which Russian official visited Seoul?'])\n"
        "assert status == 0\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
        "assert 'sentence_transformers' not in sys.modules\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "Sergei Lavrov" in result.stdout


DIAGNOSTIC = re.compile(r"citebot: (error|warning|note): \S")


def test_every_stderr_message_says_what_kind_it_is(tmp_path, capsys, monkeypatch):
    """One scheme for errors, warnings and notes (argparse's own "citebot: error: …")."""
    sources = tmp_path / "src"
    sources.mkdir()
    shutil.copy(SOURCE_DIR / "north-korea-allied-coordination.txt", sources)
    (sources / "broken.txt").write_bytes(b"\xff\xfe bad bytes")
    folders = ["--index-dir", str(tmp_path / "i"), "--source-dir", str(sources)]
    assert main([*folders, "build"]) == 0
    built = capsys.readouterr().err
    assert "citebot: warning: skipped broken.txt: " in built
    (sources / "new.md").write_text("# New\n\nFresh text.", encoding="utf-8")
    assert main([*folders, "ask", QUESTION]) == 0
    changed = capsys.readouterr().err
    assert changed.startswith("citebot: note: the sources changed since the index was built")
    missing = ["--index-dir", str(tmp_path / "j"), "--source-dir", str(tmp_path / "none")]
    assert main([*missing, "build"]) == 1
    failed = capsys.readouterr().err
    assert failed.startswith("citebot: error: ") and "does not exist" in failed
    monkeypatch.setenv("CITEBOT_TOPK", "3")
    assert main([*folders, "info"]) == 0
    warned = capsys.readouterr().err
    assert warned.startswith("citebot: warning: CITEBOT_TOPK")
    monkeypatch.setenv("CITEBOT_TOP_K", "zero")
    assert main(["info"]) == 2
    refused = capsys.readouterr().err
    assert refused.startswith("citebot: error: invalid setting CITEBOT_TOP_K")
    lines = (changed + failed + warned + refused).splitlines()
    lines += [line for line in built.splitlines() if "skipped" in line]
    for line in lines:
        assert DIAGNOSTIC.match(line), line


@pytest.mark.parametrize("command", [["ask", QUESTION], ["console"], ["build"]])
def test_an_empty_source_folder_is_refused_before_the_model_loads(tmp_path, capsys, command):
    """It took ~6 s (exporting the model to ONNX) to say that there is nothing to index."""
    (tmp_path / "src").mkdir()
    index_dir = tmp_path / "idx"
    status = main(["--index-dir", str(index_dir), "--source-dir", str(tmp_path / "src"), *command])
    captured = capsys.readouterr()
    assert status == 1 and captured.out == ""
    assert captured.err == (
        "citebot: error: no source documents (.txt, .md, .markdown, .html, .htm, .pdf, .docx) "
        f"in {tmp_path / 'src'}: add documents there, or set CITEBOT_SOURCE_DIR\n"
    )
    assert not index_dir.exists()  # no export, no index folder


def test_a_missing_source_folder_is_refused_before_the_model_loads(tmp_path, capsys):
    status = main(["--index-dir", str(tmp_path / "idx"), "ask", QUESTION])  # in an empty folder
    captured = capsys.readouterr()
    assert status == 1 and captured.err.startswith(
        "citebot: error: source directory source_docs does not exist: create it"
    )
    assert captured.err.count("\n") == 1 and not (tmp_path / "idx").exists()


def test_the_engine_checks_its_sources_before_exporting_the_model(tmp_path):
    """Every path that builds (Discord's first start, /reindex) gets the check too."""
    from bot.core.engine import Engine
    from index.errors import SourceError
    from tests.conftest import isolated_settings

    (tmp_path / "src").mkdir()
    engine = Engine(isolated_settings(source_dir=tmp_path / "src", index_dir=tmp_path / "idx"))
    with pytest.raises(SourceError, match="no source documents"):
        engine.load(build_if_missing=True)
    assert engine.needs_export() and not (tmp_path / "idx").exists()


def test_the_readme_command_table_lists_every_command_of_the_help(capsys):
    """A newcomer reads the README's table: eval and feedback were missing from it."""
    with pytest.raises(SystemExit):
        main(["--help"])
    helped = set(re.findall(r"^    ([a-z-]+)\s", capsys.readouterr().out, flags=re.MULTILINE))
    assert helped == set(COMMANDS)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("\n## Using it\n", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `citebot ([a-z-]+)", table, flags=re.MULTILINE))
    assert documented == helped


def test_version_is_the_installed_packages(capsys):
    from importlib.metadata import version

    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out == f"citebot {version('citebot')}\n"


def test_version_comes_from_the_package_metadata_not_a_copy(tmp_path):
    """pyproject.toml's version is the one said: an installation of 9.9.9 says 9.9.9."""
    metadata = tmp_path / "site" / "citebot-9.9.9.dist-info"
    metadata.mkdir(parents=True)
    (metadata / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: citebot\nVersion: 9.9.9\n", encoding="utf-8"
    )
    result = run_cli("--version", env={"PYTHONPATH": f"{metadata.parent}{os.pathsep}{ROOT}"})
    assert result.returncode == 0, result.stderr
    assert result.stdout == "citebot 9.9.9\n"


def test_source_dir_help_names_every_format_read(capsys):
    from index.ingest.formats import SOURCE_SUFFIXES

    with pytest.raises(SystemExit):
        main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert ".txt/.md" not in text
    assert all(suffix in text for suffix in SOURCE_SUFFIXES)


LAUNCH = "On what date were the ballistic missiles launched toward Japan?"


def test_ask_and_the_console_mark_weak_passages(built_index_dir, engine, capsys):
    """A passage far below the best one said so nowhere: JSON, plain text, console, rich."""
    import io

    from rich.console import Console
    from rich.text import Text

    from bot.cli.console import run_console
    from bot.cli.render import WEAK, answer_to_rich

    folders = ["--index-dir", str(built_index_dir), "--source-dir", str(SOURCE_DIR)]
    assert main([*folders, "ask", "--json", "--k", "8", LAUNCH]) == 0
    weak = [passage["weak"] for passage in json.loads(capsys.readouterr().out)["passages"]]
    assert any(weak) and not weak[0]
    assert main([*folders, "ask", "--k", "8", LAUNCH]) == 0
    cited = [line for line in capsys.readouterr().out.splitlines() if line.startswith("[")]
    assert [line.endswith(f"; {WEAK})") for line in cited] == weak
    out = io.StringIO()
    run_console(engine, Console(file=out, width=200), 8, stdin=io.StringIO(f"{LAUNCH}\n"))
    cited = [line for line in out.getvalue().splitlines() if line.startswith("[")]
    assert [line.endswith(f"; {WEAK})") for line in cited] == weak
    lines = [part for part in answer_to_rich(engine.search(LAUNCH, 8)).renderables
             if isinstance(part, Text) and part.plain.startswith("[")]
    assert [line.style for line in lines] == ["cyan" if w else "bold cyan" for w in weak]
