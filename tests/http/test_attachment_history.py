"""What attachments cost a turn: each is read and encoded once, for the message that carries
it; later turns see a one-line reference; a message may not list one twice."""

from __future__ import annotations

import attrs
import pytest

from robolearn.config import Settings

from ._models import RecordingModel
from .conftest import ChatKit, user_input
from .test_attachments import PNG, _two_phase


@pytest.fixture
def model() -> RecordingModel:
    return RecordingModel()


async def test_an_attachment_listed_twice_is_refused(alice: ChatKit, model: RecordingModel) -> None:
    image = await _two_phase(alice, "dot.png", "image/png", PNG)
    ids = [image["id"]] * 2
    response = await alice.call("threads.create", input=user_input("twice?", ids))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "duplicate_attachment"
    assert model.calls == []


async def test_earlier_attachments_reach_the_model_as_references(
    alice: ChatKit, model: RecordingModel
) -> None:
    image = await _two_phase(alice, "diagram.png", "image/png", PNG)
    first = await alice.stream("threads.create", input=user_input("look", [str(image["id"])]))
    thread_id = first[0]["thread"]["id"]
    await alice.stream("threads.add_user_message", thread_id=thread_id, input=user_input("and?"))
    later = repr(model.calls[-1].input)
    assert "data:image/png" not in later
    assert "[attached image: diagram.png (image/png)]" in later


class TestInlineHistory:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return attrs.evolve(settings, history_attachments="inline")

    async def test_earlier_attachments_are_sent_whole_when_asked(
        self, alice: ChatKit, model: RecordingModel
    ) -> None:
        image = await _two_phase(alice, "diagram.png", "image/png", PNG)
        first = await alice.stream("threads.create", input=user_input("look", [str(image["id"])]))
        thread_id = first[0]["thread"]["id"]
        await alice.stream(
            "threads.add_user_message", thread_id=thread_id, input=user_input("and?")
        )
        later = repr(model.calls[-1].input)
        assert "data:image/png" in later
        assert "[attached image: diagram.png" not in later
