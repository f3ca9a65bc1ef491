"""1000 generated malformed or hostile requests (hypothesis, fixed seed) against a live server.

Never a 500, never a crash (the server answers /healthz afterwards and the victim's data is
intact), never a cross-user read: no answer to the attacker contains the victim's secret text
or an id of the victim's that the attacker did not send himself.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from robolearn.bench import ServerProcess, item_text

from .conftest import report

pytestmark = [pytest.mark.chaos, pytest.mark.slow]

EXAMPLES = 1000
SECRET = "victim-secret-7f3a9c"
REQUEST_TYPES = [
    "threads.create", "threads.add_user_message", "threads.add_client_tool_output",
    "threads.retry_after_item", "threads.custom_action", "threads.add_structured_input",
    "threads.get_by_id", "threads.list", "items.list", "items.feedback", "attachments.create",
    "attachments.delete", "threads.update", "threads.delete", "input.transcribe",
    "threads.sync_custom_action", "threads.nope", "", "__proto__",
]  # fmt: skip


def _send(client: httpx.Client, user: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    response = client.post("/chatkit", json=body, headers={"X-User-ID": user})
    assert response.status_code == 200, response.text
    return [
        json.loads(block[6:]) for block in response.text.split("\n\n") if block.startswith("data: ")
    ]


def _plant_victim(server: ServerProcess) -> dict[str, Any]:
    """Alice's threads and items, with a secret only she may ever see."""
    victim: dict[str, Any] = {"threads": [], "items": []}
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        for n in range(3):
            text = f"{SECRET} question {n}"
            events = _send(
                client,
                "alice",
                {
                    "type": "threads.create",
                    "params": {
                        "input": {
                            "content": [{"type": "input_text", "text": text}],
                            "attachments": [],
                            "inference_options": {},
                        }
                    },
                },
            )
            victim["threads"].append(events[0]["thread"]["id"])
            victim["items"] += [e["item"]["id"] for e in events if e["type"] == "thread.item.done"]
        victim["snapshot"] = _victim_view(client, victim)
    return victim


def _victim_view(client: httpx.Client, victim: dict[str, Any]) -> list[list[str]]:
    view = []
    for thread_id in victim["threads"]:
        response = client.post(
            "/chatkit",
            json={"type": "items.list", "params": {"thread_id": thread_id, "order": "asc"}},
            headers={"X-User-ID": "alice"},
        )
        view.append([item_text(item) for item in response.json()["data"]])
    return view


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, Any]]:
    from robolearn.bench import free_port, robolearn_server, stop_embedded_postgres

    data_dir = tmp_path_factory.mktemp("fuzz")
    server = robolearn_server(
        free_port(),
        data_dir,
        {"ROBOLEARN_SCRIPTED_TOKENS": "3", "ROBOLEARN_SCRIPTED_DELAY_MS": "0"},
        name="fuzz",
    )
    try:
        server.start()
        yield server, _plant_victim(server)
    finally:
        server.stop()
        stop_embedded_postgres(data_dir)


def _strategies(victim: dict[str, Any]) -> st.SearchStrategy[tuple[dict[str, str], bytes]]:
    ids = st.sampled_from(victim["threads"] + victim["items"])
    weird_text = st.text(max_size=40) | st.sampled_from(
        ["", "\x00", "' OR 1=1 --", "../../etc/passwd", "A" * 5000, "\ud7ff\ue000", "%s%n"]
    )
    scalars = st.none() | st.booleans() | st.integers() | st.floats() | weird_text | ids
    json_values = st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(weird_text, inner, max_size=4),
        max_leaves=12,
    )
    content = st.lists(
        st.fixed_dictionaries(
            {"type": st.sampled_from(["input_text", "input_tag", "image", "x"]), "text": weird_text}
        ),
        max_size=3,
    )
    user_input = st.fixed_dictionaries(
        {
            "content": content | json_values,
            "attachments": st.lists(ids | weird_text, max_size=2),
            "inference_options": st.just({}) | json_values,
        }
    )
    params = st.fixed_dictionaries(
        {},
        optional={
            "thread_id": ids | weird_text | json_values,
            "item_id": ids | weird_text,
            "item_ids": st.lists(ids | weird_text, max_size=3),
            "input": user_input | json_values,
            "limit": st.integers() | json_values,
            "order": st.sampled_from(["asc", "desc", "sideways"]),
            "after": ids | weird_text,
            "kind": st.sampled_from(["positive", "negative", "meh"]),
            "attachment_id": ids | weird_text,
            "metadata": json_values,
            "name": weird_text,
            "mime_type": weird_text,
            "size": st.integers(),
        },
    )
    request = st.fixed_dictionaries(
        {"type": st.sampled_from(REQUEST_TYPES) | weird_text, "params": params | json_values},
        optional={"metadata": json_values},
    )
    bodies = (
        request.map(lambda r: json.dumps(r).encode())
        | json_values.map(lambda v: json.dumps(v).encode())
        | st.binary(max_size=300)
        | st.sampled_from([b"", b"{", b"null", b'{"type": "threads.list"', b"\xff\xfe" * 10])
    )
    users = st.sampled_from(["mallory", "mallory", "mallory", "", " ", "a" * 200, "al ice"])
    return st.tuples(users.map(lambda u: {"X-User-ID": u}), bodies)


def test_hostile_payloads_never_500_crash_or_leak(
    target: tuple[ServerProcess, dict[str, Any]],
) -> None:
    server, victim = target
    statuses: Counter[int] = Counter()
    leaks: list[str] = []
    secrets = [SECRET, *victim["threads"], *victim["items"]]

    with httpx.Client(base_url=server.base_url, timeout=30) as client:

        @seed(20260101)
        @settings(
            max_examples=EXAMPLES,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(_strategies(victim))
        def attack(case: tuple[dict[str, str], bytes]) -> None:
            headers, body = case
            response = client.post(
                "/chatkit", content=body, headers={**headers, "Content-Type": "application/json"}
            )
            statuses[response.status_code] += 1
            assert response.status_code < 500, (response.status_code, body[:300], response.text)
            text = response.text
            for secret in secrets:
                # An id the attacker sent may be echoed in an error; one he did not send may not.
                if secret in text and secret.encode() not in body:
                    leaks.append(f"{secret} in answer to {body[:200]!r}")
            assert not leaks, leaks
            if response.headers.get("content-type", "").startswith("text/event-stream"):
                assert text.rstrip().endswith("}"), "a stream was cut"

        attack()
        alive = client.get("/healthz").status_code
        intact = _victim_view(client, victim) == victim["snapshot"]

    counts = {
        "payloads": sum(statuses.values()),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "http_5xx": sum(v for k, v in statuses.items() if k >= 500),
        "cross_user_leaks": len(leaks),
        "server_alive": server.running and alive == 200,
        "victim_data_intact": intact,
    }
    report("hostile-payloads", counts)
    assert counts["payloads"] == EXAMPLES
    assert counts["server_alive"] and intact
