"""``robolearn feedback``: down-voted answers with their questions and cited lessons."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
import trio
from chatkit.types import (
    Annotation,
    AssistantMessageContent,
    AssistantMessageItem,
    FileSource,
    URLSource,
)

from robolearn.__main__ import main
from robolearn._feedback_cli import CitedLesson, cited_lessons, parse_since
from robolearn.store import open_store

from .store._factories import ALICE, BOB, thread, user_message

SITE = "https://robolearn.example/docs"
NODES = f"{SITE}/module-1-ros2/chapter-1-meet-ros2/nodes"
TOPICS = f"{SITE}/module-1-ros2/chapter-2-topics/topics"
LONG_ANSWER = (
    f"A node is one process in the graph; see [Nodes]({NODES}). " + "More words. " * 40
) + f"\n\nSources:\n- [Nodes]({NODES})\n- [Topics and Messages]({TOPICS})"


def answer(
    item_id: str, thread_id: str, text: str, annotations: list[Annotation] | None = None
) -> AssistantMessageItem:
    return AssistantMessageItem(
        id=item_id,
        content=[AssistantMessageContent(text=text, annotations=annotations or [])],
        thread_id=thread_id,
        created_at=datetime.now(),
    )


async def seed(database_url: str) -> None:
    """Alice down-votes a cited answer and up-votes another; Bob down-votes an uncited
    answer that no question came before, back in January 2024."""
    alice, bob = ALICE, BOB
    async with open_store(database_url, pool_min=1, pool_max=2) as store:
        await store.save_thread(thread("thr_alice"), alice)
        await store.save_thread(thread("thr_bob"), bob)
        await store.add_thread_item(
            "thr_alice", user_message("msg_q1", "What?", "thr_alice"), alice
        )
        await store.add_thread_item(
            "thr_alice",
            answer(
                "msg_a1",
                "thr_alice",
                LONG_ANSWER,
                [
                    Annotation(source=URLSource(title="Nodes again", url=NODES)),
                    Annotation(source=URLSource(title="Launch files", url=f"{SITE}/launch")),
                    Annotation(source=FileSource(title="notes", filename="notes.txt")),
                ],
            ),
            alice,
        )
        await store.add_thread_item(
            "thr_alice", user_message("msg_q2", "How do\n topics work?", "thr_alice"), alice
        )
        await store.add_thread_item("thr_alice", answer("msg_a2", "thr_alice", "Fine."), alice)
        await store.add_thread_item("thr_bob", answer("msg_b1", "thr_bob", "Hello there."), bob)
        await store.save_feedback("thr_alice", ["msg_a1"], "negative", alice)
        await store.save_feedback("thr_alice", ["msg_a2"], "positive", alice)
        await store.save_feedback("thr_bob", ["msg_b1"], "negative", bob)
        await store.run(
            lambda conn: conn.execute(
                "UPDATE feedback SET updated_at = %s WHERE item_id = 'msg_b1'",
                (datetime(2024, 1, 15, 8, 30, tzinfo=UTC),),
            )
        )


@pytest.fixture
def seeded(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DATABASE_URL", database_url)
    trio.run(seed, database_url)
    return database_url


def test_json_lists_down_voted_answers_newest_first(
    seeded: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["feedback", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [entry["item_id"] for entry in report] == ["msg_a1", "msg_b1"]
    first, second = report
    assert list(first) == [
        "thread_id",
        "item_id",
        "user_id",
        "voted_at",
        "question",
        "answer",
        "lessons",
    ]
    assert (first["thread_id"], first["user_id"], first["question"]) == (
        "thr_alice",
        "alice",
        "What?",
    )
    assert first["answer"] == LONG_ANSWER  # whole in JSON
    assert datetime.fromisoformat(first["voted_at"]) > datetime(2024, 2, 1, tzinfo=UTC)
    # Text links first, then annotation sources; each URL once; file sources are not lessons.
    assert first["lessons"] == [
        {"title": "Nodes", "url": NODES},
        {"title": "Topics and Messages", "url": TOPICS},
        {"title": "Launch files", "url": f"{SITE}/launch"},
    ]
    assert second == {
        "thread_id": "thr_bob",
        "item_id": "msg_b1",
        "user_id": "bob",
        "voted_at": "2024-01-15T08:30:00+00:00",
        "question": None,
        "answer": "Hello there.",
        "lessons": [],
    }


def test_since_keeps_later_votes(seeded: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["feedback", "--since", "2024-02-01", "--json"]) == 0
    assert [e["item_id"] for e in json.loads(capsys.readouterr().out)] == ["msg_a1"]
    # An offset moves the boundary: 09:00+01:00 is 08:00 UTC, before Bob's 08:30 vote.
    assert main(["feedback", "--since", "2024-01-15T09:00+01:00", "--json"]) == 0
    assert [e["item_id"] for e in json.loads(capsys.readouterr().out)] == ["msg_a1", "msg_b1"]
    assert main(["feedback", "--since", "2024-01-15T08:31", "--json"]) == 0
    assert [e["item_id"] for e in json.loads(capsys.readouterr().out)] == ["msg_a1"]


def test_text_report_is_readable_and_short(seeded: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["feedback"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("2 down-voted answers, newest first\n")
    alice, bob = out.split("\n\n")[1:]
    assert "alice  thread thr_alice  item msg_a1" in alice
    assert "  question: What?\n" in alice
    answer_line = next(line for line in alice.splitlines() if line.startswith("  answer:"))
    assert answer_line.endswith("…") and len(answer_line) < 220
    assert "graph; see Nodes. More words." in answer_line  # links shown as their titles
    assert f"  lessons:  Nodes <{NODES}>\n            Topics and Messages <{TOPICS}>" in alice
    assert bob.startswith("2024-01-15 08:30:00 UTC  bob  thread thr_bob  item msg_b1\n")
    assert "  question: (none)\n" in bob
    assert "  answer:   Hello there.\n" in bob
    assert bob.rstrip().endswith("  lessons:  (none)")

    assert main(["feedback", "--since", "2030-01-01"]) == 0
    assert capsys.readouterr().out == "no down-voted answers since 2030-01-01 00:00:00 UTC\n"


def test_an_empty_database_has_no_down_voted_answers(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert main(["feedback"]) == 0
    assert capsys.readouterr().out == "no down-voted answers\n"
    assert main(["feedback", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_a_bad_since_exits_2_with_a_message(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["feedback", "--since", "last tuesday"])
    assert exited.value.code == 2
    assert "--since: not an ISO date or datetime: 'last tuesday'" in capsys.readouterr().err


def test_since_without_offset_is_utc() -> None:
    assert parse_since("2025-01-31") == datetime(2025, 1, 31, tzinfo=UTC)
    assert parse_since("2025-01-31T09:00+01:00") == datetime(
        2025, 1, 31, 9, tzinfo=timezone(timedelta(hours=1))
    )


def test_cited_lessons_skip_images_and_plain_brackets() -> None:
    text = f"See ![diagram]({SITE}/img.png), [x] done, [Nodes]({NODES}) and [Nodes]({NODES})."
    assert cited_lessons(answer("msg_x", "thr_x", text)) == (CitedLesson("Nodes", NODES),)
