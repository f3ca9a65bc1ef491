"""The offline tutor model: when it searches, what it answers, how it streams."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from agents import Agent, RunConfig, Runner
from agents.items import TResponseInputItem
from agents.model_settings import ModelSettings
from agents.models.interface import ModelTracing
from agents.tool import Tool

from robolearn import _aio
from robolearn.chat import (
    SEARCH_TOOL_NAME,
    LocalTutorModel,
    PageContext,
    RequestContext,
    UserInfo,
    search_tool,
)
from robolearn.chat._answer import NOT_COVERED, compose_answer
from robolearn.chat._local_model import Reply, SearchCall, next_step
from robolearn.chat._prompt import build_instructions
from robolearn.chat._tool import FoundLesson, PageRef, SearchFindings, run_search
from robolearn.rag import SearchIndex, chunk_lessons, demo_lessons

SITE = "https://robolearn.github.io"
LINK = re.compile(r"\[([^\]]+)\]\((https?://[^)\s]+)\)")
PUBLISHER_PATH = "module-1-ros2-basics/chapter-2-first-code/01-writing-a-publisher.md"
PUBLISHER_URL = f"{SITE}/docs/module-1-ros2-basics/chapter-2-first-code/writing-a-publisher"


@pytest.fixture(scope="module")
def index() -> SearchIndex:
    return SearchIndex.build(chunk_lessons(demo_lessons(SITE)))


def user(text: str) -> TResponseInputItem:
    return {"role": "user", "content": [{"type": "input_text", "text": text}]}


def assistant(text: str) -> TResponseInputItem:
    return {"role": "assistant", "content": text}


def call(call_id: str, query: str) -> TResponseInputItem:
    return {
        "type": "function_call",
        "call_id": call_id,
        "name": SEARCH_TOOL_NAME,
        "arguments": json.dumps({"query": query}),
    }


def output(call_id: str, text: str) -> TResponseInputItem:
    return {"type": "function_call_output", "call_id": call_id, "output": text}


def findings(index: SearchIndex, query: str, page: PageContext | None = None) -> str:
    return run_search(index, json.dumps({"query": query}), page=page).to_json()


TOOLS = [SEARCH_TOOL_NAME]


def test_first_call_of_a_turn_searches_for_the_question() -> None:
    step = next_step(None, [user("What is a topic?")], TOOLS)
    assert step == SearchCall("What is a topic?")
    # A search made for an earlier question does not answer the new one.
    history = [user("old"), call("c1", "old"), output("c1", "{}"), assistant("..."), user("new?")]
    assert next_step(None, history, TOOLS) == SearchCall("new?")
    assert next_step(None, "plain string input", TOOLS) == SearchCall("plain string input")


def test_second_call_answers_from_the_search_output(index: SearchIndex) -> None:
    question = "how do I write a publisher in python?"
    items = [user(question), call("c1", question), output("c1", findings(index, question))]
    step = next_step(None, items, TOOLS)
    assert isinstance(step, Reply)
    assert "Sources:\n- [Lesson 2.1: Writing a Publisher in Python](" in step.text
    urls = [url for _, url in LINK.findall(step.text)]
    assert urls[0] == f"{SITE}/docs/module-1-ros2-basics/chapter-2-first-code/writing-a-publisher"


def test_structured_tool_output_is_read_too(index: SearchIndex) -> None:
    text = findings(index, "services")
    structured = {"type": "function_call_output", "call_id": "c1"}
    structured["output"] = [{"type": "input_text", "text": text}]  # type: ignore[assignment]
    step = next_step(None, [user("services"), call("c1", "services"), structured], TOOLS)  # type: ignore[list-item]
    assert isinstance(step, Reply) and "Sources:" in step.text


def test_without_question_or_search_tool_it_says_what_it_can_do() -> None:
    assert isinstance(next_step(None, [user("   ")], TOOLS), Reply)
    reply = next_step(None, [user("What is a topic?")], [])
    assert isinstance(reply, Reply) and "not available" in reply.text


def test_out_of_scope_answers_start_with_the_phrase_and_cite_nothing(index: SearchIndex) -> None:
    question = "what's a good banana bread recipe?"
    answer = compose_answer(question, SearchFindings.from_json(findings(index, question)))
    assert answer.startswith(f"{NOT_COVERED}.")
    assert not LINK.search(answer)


def test_a_refusal_names_what_the_book_never_mentions(index: SearchIndex) -> None:
    question = "how do I write xacro macros for my robot?"
    found = SearchFindings.from_json(findings(index, question))
    assert found.never_mentioned == ("xacro",)
    answer = compose_answer(question, found)
    assert answer.startswith(f"{NOT_COVERED}.")
    assert "it never mentions *xacro*." in answer
    assert not LINK.search(answer)


def test_tool_errors_are_explained_without_citations() -> None:
    answer = compose_answer("x", SearchFindings(error="the textbook is not loaded yet"))
    assert "not loaded" in answer and not LINK.search(answer)
    assert not answer.startswith(NOT_COVERED)


def test_answers_lead_with_definitions_then_quote_passages_and_list_sources(
    index: SearchIndex,
) -> None:
    question = "what is the difference between a topic and a service?"
    answer = compose_answer(question, SearchFindings.from_json(findings(index, question)))
    lead, _, rest = answer.partition("\n\n")
    # The direct answer first: the book's definition of each thing compared.
    assert lead.startswith("**In short:**\n- **topic**: A stream of messages.")
    assert "\n- **service**: A request and one response" in lead
    framing, _, rest = rest.partition("\n\nKey points from the book:\n")
    best = index.search(question, limit=1)[0]
    assert framing.startswith(f"The book covers this in *{best.title}*")
    points, _, sources = rest.partition("\n\nSources:\n")
    sources, _, related = sources.partition("\n\nRelated lessons:\n")
    bullets = points.splitlines()
    assert 1 <= len(bullets) <= 4
    assert all(line.startswith("- **") for line in bullets)
    cited = LINK.findall(sources)
    assert len(cited) == len(sources.splitlines()) >= 1
    assert cited[0][0] == best.title  # the best lesson first, then the search's order
    assert "Lesson 1.1: What Is ROS 2?" in [title for title, _ in cited]  # the lead quotes it
    # Related lessons are not quoted, and an answer names at most five lessons.
    also = LINK.findall(related)
    assert all(f"**{title}**" not in points for title, _ in also)
    assert len(cited) + len(also) <= 5
    assert "```" not in answer  # not asked for code
    assert "walks through it" not in answer


def test_code_questions_get_the_lessons_example(index: SearchIndex) -> None:
    question = "show me the code for a service server"
    answer = compose_answer(question, SearchFindings.from_json(findings(index, question)))
    assert "```python\nfrom example_interfaces.srv import AddTwoInts" in answer


def test_answers_know_the_page_being_read() -> None:
    lesson = FoundLesson(
        title="Lesson 9: Launch Files",
        url=f"{SITE}/docs/launch",
        module=1,
        chapter=6,
        lesson=2,
        heading="Why launch files",
        text="A launch file starts many nodes with one command, each with its parameters.",
        score=3.0,
    )
    on_page = SearchFindings(
        query="q", covered=True, results=(lesson,), page=PageRef(lesson.title, lesson.url)
    )
    assert compose_answer("launch files?", on_page).startswith(
        "The lesson you're reading, *Lesson 9: Launch Files*, covers this."
    )
    elsewhere = SearchFindings(query="q", covered=True, results=(lesson,))
    assert compose_answer("launch files?", elsewhere, reading="Lesson 1: Nodes").startswith(
        "You're reading *Lesson 1: Nodes*; the book covers this in *Lesson 9: Launch Files*."
    )


def test_the_open_page_title_is_read_from_the_instructions(index: SearchIndex) -> None:
    instructions = build_instructions(
        UserInfo(name="Ada"), PageContext(title="Lesson 7: Not Indexed", path="elsewhere")
    )
    question = "what is a node?"
    items = [user(question), call("c1", question), output("c1", findings(index, question))]
    step = next_step(instructions, items, TOOLS)
    assert isinstance(step, Reply)
    assert step.text.startswith("You're reading *Lesson 7: Not Indexed*; the book covers")


async def stream(
    model: LocalTutorModel, items: list[TResponseInputItem], tools: list[Tool]
) -> list[Any]:
    return [
        event
        async for event in model.stream_response(
            None,
            items,
            ModelSettings(),
            tools,
            None,
            [],
            ModelTracing.DISABLED,
            previous_response_id=None,
            conversation_id=None,
            prompt=None,
        )
    ]


async def test_turn_one_streams_a_function_call(index: SearchIndex) -> None:
    events = await stream(
        LocalTutorModel(delay=0), [user("what is a node?")], [search_tool(lambda: index)]
    )
    assert [event.type for event in events] == [
        "response.created",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    added, done, completed = events[1].item, events[4].item, events[5].response
    assert added.status == "in_progress" and added.arguments == ""
    assert done.name == SEARCH_TOOL_NAME
    assert json.loads(done.arguments) == {"query": "what is a node?"}
    assert completed.output == [done]
    assert done.call_id == added.call_id


async def test_turn_two_streams_the_answer_in_small_word_groups(index: SearchIndex) -> None:
    question = "what is a node?"
    items = [user(question), call("c1", question), output("c1", findings(index, question))]
    events = await stream(
        LocalTutorModel(delay=0, words_per_delta=3), items, [search_tool(lambda: index)]
    )
    deltas = [event.delta for event in events if event.type == "response.output_text.delta"]
    expected = next_step(None, items, TOOLS)
    assert isinstance(expected, Reply)
    assert "".join(deltas) == expected.text
    assert len(deltas) > 10
    assert all(len(delta.split()) <= 3 for delta in deltas)
    assert events[-1].type == "response.completed"
    assert events[-1].response.output[0].content[0].text == expected.text


async def test_non_streamed_responses_follow_the_same_steps(index: SearchIndex) -> None:
    model = LocalTutorModel(delay=0)
    first = await model.get_response(
        None,
        [user("what is a node?")],
        ModelSettings(),
        [search_tool(lambda: index)],
        None,
        [],
        ModelTracing.DISABLED,
        previous_response_id=None,
        conversation_id=None,
        prompt=None,
    )
    assert first.output[0].type == "function_call"
    with pytest.raises(ValueError, match="words_per_delta"):
        LocalTutorModel(words_per_delta=0)


def test_a_follow_up_is_searched_with_the_earlier_topic(index: SearchIndex) -> None:
    question = "what is a topic?"
    earlier = [user(question), call("c1", question), output("c1", findings(index, question))]
    items = [*earlier, assistant("A topic is ..."), user("explain that more simply")]
    # Naming no topic of its own: the earlier question's search again, the same lesson.
    assert next_step(None, items, TOOLS) == SearchCall("what is a topic?")
    # A new thing named, pointing back: searched as said, the earlier question weighed lower.
    items = [*earlier, assistant("..."), user("and what about a service?")]
    assert next_step(None, items, TOOLS) == SearchCall("and what about a service?", question)


def test_a_follow_up_answer_stays_with_the_lesson_that_answered(index: SearchIndex) -> None:
    question = "how do I write a publisher in python?"
    # Thread history as chatkit replays it: messages only, no tool calls.
    earlier = [user(question), assistant(f"...\n\nSources:\n- [Lesson 2.1]({PUBLISHER_URL})")]
    step = next_step(None, [*earlier, user("how do I run it?")], TOOLS)
    assert step == SearchCall("how do I run it?", question)
    # The search ranks another lesson first; the answer stays with the one that answered.
    found = json.loads(findings(index, "how do I run it?"))
    assert found["results"][0]["url"] != PUBLISHER_URL
    items = [*earlier, user("how do I run it?"), call("c2", "how do I run it?")]
    items.append(output("c2", json.dumps(found)))
    reply = next_step(None, items, TOOLS)
    assert isinstance(reply, Reply)
    assert LINK.findall(reply.text)[0][1] == PUBLISHER_URL
    # A new question is answered from wherever the search says.
    items[2] = user("how do I run it? what is a service")
    fresh = next_step(None, items, TOOLS)
    assert isinstance(fresh, Reply) and LINK.findall(fresh.text)[0][1] != PUBLISHER_URL


async def test_follow_ups_through_the_agent_stay_on_the_topic(index: SearchIndex) -> None:
    """Two turns through the Agents SDK (model, tool, history), as a thread runs them."""
    agent = Agent[RequestContext](
        name="tutor",
        instructions=build_instructions(None, None),
        model=LocalTutorModel(delay=0),
        tools=[search_tool(lambda: index)],
    )
    context = RequestContext(user_id="u")
    config = RunConfig(tracing_disabled=True)

    async def turns() -> tuple[str, str, list[TResponseInputItem]]:
        first = await Runner.run(
            agent,
            "what is the difference between a topic and a service?",
            context=context,
            run_config=config,
        )
        history = [*first.to_input_list(), user("explain that more simply, with an example")]
        second = await Runner.run(agent, history, context=context, run_config=config)
        return str(first.final_output), str(second.final_output), second.to_input_list()

    async with _aio.open_asyncio_loop():
        first_text, text, items = await _aio.run_aio(turns)
    assert first_text.startswith("**In short:**\n- **topic**: ")
    calls = [item for item in items if item.get("type") == "function_call"]
    query = json.loads(calls[-1]["arguments"])["query"]  # type: ignore[typeddict-item]
    assert query == "what is the difference between a topic and a service?"
    assert text.startswith("**Put simply:** "), text
    # The same lesson answers, in other sentences.
    assert LINK.findall(text)[0] == LINK.findall(first_text)[0]
    assert text.partition("\n\n")[0] != first_text.partition("\n\n")[0]
    assert "walks through it" not in text
