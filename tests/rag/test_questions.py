"""Question sets: reading every field, and the fixed dev/test split."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from robolearn.rag import SPLITS, EvalQuestion, load_questions, question_split, select_split

REPO = Path(__file__).resolve().parents[2]


def _write(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n", encoding="utf-8")
    return path


def test_every_field_is_read(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "q.jsonl",
        [
            {
                "id": "f1",
                "question": "and on windows?",
                "expected": ["a.md"],
                "kind": "followup",
                "source": "a.md",
                "previous": "how do I install it",
                "page": "b.md",
                "author": "ana",
            },
            {"question": "banana bread", "expected": []},
        ],
    )
    first, second = load_questions(path)
    assert first == EvalQuestion(
        "and on windows?", ("a.md",), "b.md", "how do I install it", "followup", "a.md", "ana"
    )
    # Without a source or id, a question is its own group; no expected lesson: out of scope;
    # without an author, the file's name is.
    assert second == EvalQuestion(
        "banana bread", (), kind="out-of-scope", group="banana bread", author="q"
    )


@pytest.mark.parametrize(
    "line",
    [
        "not json",
        '{"expected": []}',
        '{"question": "why?"}',
        '{"question": "why?", "expected": "a.md"}',
        '["why?", []]',
    ],
)
def test_a_row_that_is_not_a_question_is_named_by_file_and_line(tmp_path: Path, line: str) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text('{"question": "fine", "expected": []}\n\n' + line + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"q\.jsonl:3: not a question"):
        load_questions(path)


def test_the_split_is_a_fixed_function_of_the_group() -> None:
    # Pinned values: the rule must never change once questions were dealt by it.
    assert question_split("module-1-ros2/chapter-4-first-code/02-writing-publisher.md") == "test"
    assert question_split("f139") == "dev"
    assert {question_split(f"g{i}") for i in range(20)} == set(SPLITS)
    a = EvalQuestion("q1", ("x.md",), group="x.md")
    b = EvalQuestion("q2", ("y.md",), group="x.md")
    assert a.split == b.split  # one lesson's questions stay together


def test_a_split_selects_its_questions_only(tmp_path: Path) -> None:
    rows: list[dict[str, object]] = [
        {"question": f"q{i}", "expected": [], "id": f"g{i}"} for i in range(20)
    ]
    path = _write(tmp_path / "q.jsonl", rows)
    everything = load_questions(path)
    dev, test = load_questions(path, "dev"), load_questions(path, "test")
    assert dev and test
    assert sorted(q.text for q in dev + test) == sorted(q.text for q in everything)
    assert all(q.split == "dev" for q in dev) and all(q.split == "test" for q in test)
    assert select_split(everything, None) == everything


def test_the_fresh_set_is_well_formed() -> None:
    questions = load_questions(REPO / "robolearn/rag/asked/fresh.jsonl")
    assert len(questions) >= 120
    out_of_scope = [q for q in questions if not q.expected]
    assert len(out_of_scope) == 15
    assert sum(q.previous is not None for q in questions) >= 10
    assert sum(q.page is not None for q in questions) >= 10
    # Both splits hold covered and uncovered questions.
    for split in SPLITS:
        chosen = select_split(questions, split)
        assert any(q.expected for q in chosen) and any(not q.expected for q in chosen)
