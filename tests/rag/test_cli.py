"""``robolearn ingest`` and ``robolearn eval`` from the command line, and their settings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from robolearn.__main__ import main
from robolearn.config import ConfigError, Settings

from .test_ingest import LESSONS, write_docs

QUESTIONS = [
    {"question": "what is a service", "expected": ["module-1-ros2/chapter-1-intro/02-services.md"]},
    {"question": "gazebo worlds sdf", "expected": ["module-2-sim/chapter-2-gazebo/01-worlds.md"]},
    {"question": "best banana bread recipe", "expected": []},
]


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    return write_docs(tmp_path / "docs", LESSONS)


@pytest.fixture
def questions(tmp_path: Path) -> Path:
    path = tmp_path / "questions.jsonl"
    path.write_text("\n".join(json.dumps(q) for q in QUESTIONS), encoding="utf-8")
    return path


def test_site_url_setting() -> None:
    assert Settings.from_env({}).site_url == "https://robolearn.github.io"
    settings = Settings.from_env({"ROBOLEARN_SITE_URL": "https://book.example/"})
    assert settings.site_url == "https://book.example"
    for bad in ("book.example", "ftp://book.example", "https://"):
        with pytest.raises(ConfigError, match="ROBOLEARN_SITE_URL"):
            Settings.from_env({"ROBOLEARN_SITE_URL": bad})
    with pytest.raises(ConfigError, match="ROBOLEARN_RAG_REFRESH_SECONDS"):
        Settings.from_env({"ROBOLEARN_RAG_REFRESH_SECONDS": "0"})


def test_ingest_twice_then_eval_from_the_database(
    database_url: str,
    docs: Path,
    questions: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert main(["ingest", str(docs), "--site-url", "https://book.example/"]) == 0
    out, err = capsys.readouterr()
    assert "3 pages: 3 written" in out
    assert "ingest [" in err and "3/3" in err  # the progress bar
    assert main(["ingest", str(docs), "--site-url", "https://book.example"]) == 0
    assert "0 written (0 chunks), 3 unchanged, 0 removed; version 1" in capsys.readouterr().out

    assert main(["eval", "--questions", str(questions), "--end-to-end"]) == 0
    out = capsys.readouterr().out
    assert "corpus: 3 pages" in out
    retrieval = next(line for line in out.splitlines() if line.startswith("retrieval"))
    assert retrieval.split()[1:4] == ["1.000", "1.000", "1.000"]
    cited = next(line for line in out.splitlines() if line.startswith("cited lessons"))
    # R@1, R@5, MRR, out-of-scope refused, in-scope refused
    assert cited.split()[2:7] == ["1.000", "1.000", "1.000", "1/1", "0/2"]


def test_a_page_with_invalid_frontmatter_does_not_stop_an_ingest(
    database_url: str,
    docs: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("ROBOLEARN_LOG_FORMAT", "text")
    bad = docs / "module-2-sim/chapter-2-gazebo/02-broken.md"
    bad.write_text('---\ntitle: "never closed\n---\n# Broken\n', encoding="utf-8")
    assert main(["ingest", str(docs)]) == 0
    out, err = capsys.readouterr()
    assert "3 pages: 3 written" in out
    assert f"skipping {bad}: invalid YAML frontmatter" in err


def test_eval_reads_a_docs_tree_directly(
    docs: Path, questions: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["eval", "--docs", str(docs), "--questions", str(questions), "--misses"]) == 0
    out = capsys.readouterr().out
    assert "questions: 3 (2 covered of which 0 follow-ups, 1 not covered)" in out
    assert "retrieval: 0 questions not ranked first" in out


def test_eval_scores_several_question_sets_as_one(
    docs: Path, questions: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    again = tmp_path / "again.jsonl"
    again.write_text(questions.read_text(encoding="utf-8"), encoding="utf-8")
    args = ["eval", "--docs", str(docs), "--questions", str(questions), "--questions", str(again)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "questions: 6 (4 covered of which 0 follow-ups, 2 not covered)" in out
    assert f"from {questions}, {again}" in out


def test_ingest_of_a_missing_folder_says_so(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="not a directory"):
        main(["ingest", str(tmp_path / "nowhere")])


def test_eval_of_a_broken_question_set_names_the_line(docs: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"question": "what is a node?"}\n', encoding="utf-8")
    with pytest.raises(SystemExit, match=r"broken\.jsonl:1: not a question"):
        main(["eval", "--docs", str(docs), "--questions", str(broken)])
