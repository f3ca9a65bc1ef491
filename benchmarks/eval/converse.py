"""Two-message conversations through ``POST /chatkit``, printed as Markdown.

Start a server with the offline tutor and the textbook first (loopback only)::

    robolearn ingest /work/shared/corpus/robolearn-book
    env -u OPENAI_API_KEY ROBOLEARN_AUTH=dev robolearn serve --port 8765
    python benchmarks/eval/converse.py http://127.0.0.1:8765 > conversations.md

Each conversation is a new thread (``threads.create``) and a follow-up in it
(``threads.add_user_message``), as the ChatKit widget sends them; the answers are the
assistant messages the server stored.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import httpx

CONVERSATIONS = (
    ("topic vs service?", "explain that more simply, with an example"),
    ("what is a VLA model?", "can you explain it more simply?"),
    ("what is a VLA model?", "why does it matter?"),
    ("what is a digital twin", "explain it more simply"),
    ("how do I write a publisher in python", "how do I run it?"),
    ("what is a urdf file", "ok, how do I give the parts weight so they fall properly?"),
    ("what is a node in ROS 2?", "how do I do that in code?"),
    (
        "how do I add a camera to my simulated robot",
        "what about a laser scanner, is it the same idea?",
    ),
    ("what does the ros_gz bridge do", "can you show me an example?"),
    ("how do I use xacro macros so I don't repeat my wheel definitions?", "ok, and in urdf?"),
)


def main(base_url: str) -> None:
    headers = {"X-User-ID": "conversations"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=60) as http:
        for first, follow_up in CONVERSATIONS:
            events = _post(http, "threads.create", input=_input(first))
            thread_id = events[0]["thread"]["id"]
            answer = _answer(events)
            events = _post(
                http, "threads.add_user_message", thread_id=thread_id, input=_input(follow_up)
            )
            print(f"### Student: {first}\n\n{answer}\n")
            print(f"### Student (follow-up): {follow_up}\n\n{_answer(events)}\n\n---\n")


def _post(http: httpx.Client, type_: str, **params: Any) -> list[dict[str, Any]]:
    response = http.post("/chatkit", json={"type": type_, "params": params})
    response.raise_for_status()
    blocks = response.content.decode().split("\n\n")
    return [json.loads(block[6:]) for block in blocks if block.startswith("data: ")]


def _answer(events: list[dict[str, Any]]) -> str:
    done = [
        event["item"]
        for event in events
        if event["type"] == "thread.item.done" and event["item"]["type"] == "assistant_message"
    ]
    return str(done[0]["content"][0]["text"])


def _input(text: str) -> dict[str, Any]:
    return {
        "content": [{"type": "input_text", "text": text}],
        "attachments": [],
        "inference_options": {},
    }


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8765")
