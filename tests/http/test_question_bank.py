"""The server's search learns from the question bank its settings name."""

from __future__ import annotations

import json
from pathlib import Path

from robolearn.chat import ScriptedTokensModel
from robolearn.config import Settings
from robolearn.rag import demo_lessons
from robolearn.services import open_services


async def test_the_server_learns_from_the_configured_question_bank(
    database_url: str, tmp_path: Path
) -> None:
    bank = tmp_path / "bank"
    bank.mkdir()
    lesson = demo_lessons("https://book.example")[0].path
    row = {"question": "why does my program never show up anywhere", "expected": [lesson]}
    (bank / "students.jsonl").write_text(json.dumps(row) + "\n", encoding="utf-8")
    for folder, learned in ((bank, 1), (None, 0)):
        settings = Settings(
            database_url=database_url, data_dir=tmp_path, auth="dev", asked_dir=folder
        )
        async with open_services(settings, model=ScriptedTokensModel(tokens=1)) as services:
            await services.textbook.wait_for_version(1)
            index = services.textbook.current
            assert index is not None
            assert index.asked_questions == learned
