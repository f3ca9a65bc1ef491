"""What a request addresses is read from chatkit's request types, and covers all of them."""

from __future__ import annotations

import typing

import pytest
from chatkit.types import (
    ChatKitReq,
    ItemsListReq,
    NonStreamingReq,
    StreamingReq,
    ThreadsAddStructuredInputReq,
    ThreadsAddUserMessageReq,
    ThreadsCreateReq,
    ThreadsListReq,
    UserMessageInput,
)
from pydantic import BaseModel, TypeAdapter

from robolearn.chat import RequestTarget, request_target
from robolearn.chat._target import MESSAGE_REQUESTS, THREAD_REQUESTS

_ADAPTER = TypeAdapter[ChatKitReq](ChatKitReq)
_MESSAGE = {
    "content": [{"type": "input_text", "text": "hi"}],
    "attachments": ["atc_1"],
    "inference_options": {},
}


def _request_types() -> list[type[BaseModel]]:
    return [*typing.get_args(StreamingReq), *typing.get_args(NonStreamingReq)]


def _params(request_type: type[BaseModel]) -> type[BaseModel]:
    params = typing.get_type_hints(request_type)["params"]
    assert isinstance(params, type) and issubclass(params, BaseModel)
    return params


@pytest.mark.parametrize("request_type", _request_types(), ids=lambda t: t.__name__)
def test_every_request_type_naming_a_thread_or_bringing_a_message_is_known(
    request_type: type[BaseModel],
) -> None:
    params = _params(request_type)
    assert ("thread_id" in params.model_fields) == (request_type in THREAD_REQUESTS)
    brings_message = typing.get_type_hints(params).get("input") is UserMessageInput
    assert brings_message == (request_type in MESSAGE_REQUESTS)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {"type": "threads.create", "params": {"input": _MESSAGE}},
            (None, ["atc_1"], True),
        ),
        (
            {
                "type": "threads.add_user_message",
                "params": {"thread_id": "thr_1", "input": _MESSAGE},
            },
            ("thr_1", ["atc_1"], True),
        ),
        (
            {
                "type": "threads.add_structured_input",
                "params": {"thread_id": "thr_1", "item_id": "itm_1", "input": {}},
            },
            ("thr_1", None, True),
        ),
        ({"type": "items.list", "params": {"thread_id": "thr_2"}}, ("thr_2", None, False)),
        ({"type": "threads.list", "params": {}}, (None, None, False)),
    ],
)
def test_the_target_of_a_request(
    body: dict[str, object], expected: tuple[str | None, list[str] | None, bool]
) -> None:
    target = request_target(_ADAPTER.validate_python(body))
    assert isinstance(target, RequestTarget)
    message = target.message.attachments if target.message is not None else None
    assert (target.thread_id, message, target.streaming) == expected


def test_the_known_types_are_chatkit_request_types() -> None:
    known = set(_request_types())
    assert set(THREAD_REQUESTS) <= known and set(MESSAGE_REQUESTS) <= known
    assert ThreadsCreateReq not in THREAD_REQUESTS  # its thread does not exist yet
    assert ThreadsAddStructuredInputReq not in MESSAGE_REQUESTS  # its input is no message
    assert {ThreadsAddUserMessageReq, ItemsListReq} <= set(THREAD_REQUESTS)
    assert ThreadsListReq not in THREAD_REQUESTS
