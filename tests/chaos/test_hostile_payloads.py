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


def _request(
    request_type: str, /, **params: st.SearchStrategy[Any]
) -> st.SearchStrategy[dict[str, Any]]:
    """A request of ``request_type`` with every param present and of the right shape."""
    return st.fixed_dictionaries(
        {"type": st.just(request_type), "params": st.fixed_dictionaries(params)}
    )


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
    own = st.sampled_from(["thr_mallory", "msg_mallory"])
    target_id = ids | own | weird_text
    valid_input = st.fixed_dictionaries(
        {
            "content": st.lists(
                st.fixed_dictionaries({"type": st.just("input_text"), "text": weird_text}),
                min_size=1,
                max_size=2,
            ),
            "attachments": st.lists(ids | own, max_size=1),
            "inference_options": st.just({}),
        }
    )
    order = st.sampled_from(["asc", "desc"])
    well_formed = st.one_of(
        _request("threads.create", input=valid_input),
        _request("threads.add_user_message", thread_id=target_id, input=valid_input),
        _request("threads.get_by_id", thread_id=target_id),
        _request("items.list", thread_id=target_id, order=order, limit=st.integers(1, 50)),
        _request("items.list", thread_id=target_id, order=order, after=target_id),
        _request("threads.list", limit=st.integers(1, 50), order=order, after=target_id),
        _request("threads.retry_after_item", thread_id=target_id, item_id=target_id),
        _request("threads.update", thread_id=target_id, title=weird_text),
        _request("threads.delete", thread_id=target_id),
        _request(
            "items.feedback",
            thread_id=target_id,
            item_ids=st.lists(target_id, max_size=2),
            kind=st.sampled_from(["positive", "negative"]),
        ),
        _request("attachments.delete", attachment_id=target_id),
    )
    request = st.fixed_dictionaries(
        {"type": st.sampled_from(REQUEST_TYPES) | weird_text, "params": params | json_values},
        optional={"metadata": json_values},
    )
    bodies = (
        well_formed.map(lambda r: json.dumps(r).encode())
        | well_formed.map(lambda r: json.dumps(r).encode())
        | request.map(lambda r: json.dumps(r).encode())
        | json_values.map(lambda v: json.dumps(v).encode())
        | st.binary(max_size=300)
        | st.sampled_from([b"", b"{", b"null", b'{"type": "threads.list"', b"\xff\xfe" * 10])
    )
    users = st.sampled_from(["mallory"] * 6 + ["", "a" * 200, "al ice", "bob;al"])
    return st.tuples(users.map(lambda u: {"X-User-ID": u}), bodies)


def test_hostile_payloads_never_500_crash_or_leak(
    target: tuple[ServerProcess, dict[str, Any]],
) -> None:
    server, victim = target
    statuses: Counter[int] = Counter()
    leaks: list[str] = []
    secrets = [SECRET, *victim["threads"], *victim["items"]]

    history: list[tuple[dict[str, str], bytes, int]] = []
    # One connection per request: a refused request can leave a keep-alive connection hung
    # (a server bug, reported with issue 8); here each payload must be judged on its own.
    fresh = httpx.Limits(max_keepalive_connections=0)
    with httpx.Client(base_url=server.base_url, timeout=10, limits=fresh) as client:

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
            try:
                response = client.post(
                    "/chatkit",
                    content=body,
                    headers={**headers, "Content-Type": "application/json"},
                )
            except httpx.TimeoutException:
                raise AssertionError(
                    f"no answer to {headers} {body[:200]!r}; the request before it on this"
                    f" connection: {history[-1:]}"
                ) from None
            history.append((headers, body[:300], response.status_code))
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
