"""``search_robolearn_content``: argument validation as tool errors, results, page context."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest
from agents.tool_context import ToolContext

from robolearn.chat import SEARCH_TOOL_NAME, PageContext, RequestContext, search_tool
from robolearn.chat._tool import SearchFindings, run_search
from robolearn.rag import SearchIndex, chunk_lessons, demo_lessons, parse_lesson

SITE = "https://robolearn.github.io"
PUBLISHER = f"{SITE}/docs/module-1-ros2-basics/chapter-2-first-code/writing-a-publisher"
GAZEBO_PATH = "module-2-simulation-basics/chapter-3-gazebo/01-simulating-with-gazebo.md"


@pytest.fixture(scope="module")
def index() -> SearchIndex:
    return SearchIndex.build(chunk_lessons(demo_lessons(SITE)))


def search(index: SearchIndex | None, page: PageContext | None = None, **args: Any) -> Any:
    return json.loads(run_search(index, json.dumps(args), page=page).to_json())


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ("not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"question": "x"}', "unknown argument(s) question"),
        ('{"module": 1}', "query is required"),
        ('{"query": "   "}', "query is empty"),
        ('{"query": 42}', "query must be a string"),
        ('{"query": "nodes", "limit": 0}', "limit must be between 1 and 20"),
        ('{"query": "nodes", "limit": 21}', "limit must be between 1 and 20"),
        ('{"query": "nodes", "module": "one"}', "module must be an integer"),
        ('{"query": "nodes", "hardware_tier": 7}', "hardware_tier must be one of 1, 2, 3, 4"),
        ('{"query": "nodes", "chapter_min": 3, "chapter_max": 1}', "chapter_min (3) is greater"),
        ('{"query": "nodes", "lesson": -1}', "lesson must be zero or positive"),
    ],
)
def test_bad_arguments_come_back_as_an_error_the_model_can_read(
    index: SearchIndex, arguments: str, message: str
) -> None:
    output = json.loads(run_search(index, arguments).to_json())
    assert list(output) == ["error"]
    assert message in output["error"]


def test_no_loaded_index_is_an_error_too() -> None:
    assert "not loaded" in search(None, query="nodes")["error"]


def test_results_carry_what_a_citation_needs(index: SearchIndex) -> None:
    output = search(index, query="how do I write a publisher in python?", limit=2)
    assert output["covered"] is True
    assert output["page"] is None
    assert "note" not in output
    first = output["results"][0]
    assert first["url"] == PUBLISHER
    assert first["title"] == "Lesson 2.1: Writing a Publisher in Python"
    assert (first["module"], first["chapter"], first["lesson"]) == (1, 2, 1)
    assert first["hardware_tier"] == 1
    assert "A publisher is a node" in first["text"]
    assert isinstance(first["score"], float)
    assert len(output["results"]) == 2


def test_filters_and_nulls(index: SearchIndex) -> None:
    nulls = dict.fromkeys(["module", "chapter_min", "chapter_max", "lesson", "limit"])
    assert search(index, query="simulation", **nulls)["results"]
    simulation = search(index, query="simulation", module=2, hardware_tier=None)["results"]
    assert {result["module"] for result in simulation} == {2}
    laptop_only = search(index, query="gazebo simulation", hardware_tier=1)["results"]
    assert all(result["hardware_tier"] == 1 for result in laptop_only)


def test_out_of_scope_questions_are_flagged(index: SearchIndex) -> None:
    output = search(index, query="what's a good banana bread recipe")
    assert output["covered"] is False
    assert "does not appear to cover" in output["note"]


def test_the_readers_page_is_resolved_from_path_or_url(index: SearchIndex) -> None:
    for page in (
        PageContext(path=GAZEBO_PATH),
        PageContext(
            url=f"{SITE}/docs/module-2-simulation-basics/chapter-3-gazebo/simulating-with-gazebo"
        ),
        PageContext(
            path="/docs/module-2-simulation-basics/chapter-3-gazebo/simulating-with-gazebo"
        ),
    ):
        output = search(index, page, query="explain this")
        assert output["page"]["title"] == "Lesson 3.1: Simulating a Robot with Gazebo"
        assert output["covered"] is True  # a question about the page is about the page
        assert output["results"][0]["title"] == output["page"]["title"]
    unknown = search(index, PageContext(path="blog/some-post"), query="explain this")
    assert unknown["page"] is None


def test_findings_round_trip_and_garbage_is_an_error(index: SearchIndex) -> None:
    findings = run_search(index, '{"query": "topics"}', page=PageContext(path=GAZEBO_PATH))
    assert SearchFindings.from_json(findings.to_json()) == findings
    assert SearchFindings.from_json("nonsense").error is not None
    assert SearchFindings.from_json('{"covered": true}').error is not None


async def test_the_function_tool_reads_the_page_from_the_run_context(index: SearchIndex) -> None:
    tool = search_tool(lambda: index)
    assert tool.name == SEARCH_TOOL_NAME
    schema = tool.params_json_schema
    assert tool.strict_json_schema
    assert set(schema["required"]) == set(schema["properties"])
    assert schema["additionalProperties"] is False

    request = RequestContext(user_id="u", page_context=PageContext(path=GAZEBO_PATH))
    # chatkit's AgentContext carries the request context; a bare RequestContext works too.
    for context in (SimpleNamespace(request_context=request), request, None):
        tool_context = ToolContext(
            context=context,
            tool_name=SEARCH_TOOL_NAME,
            tool_call_id="call_1",
            tool_arguments='{"query": "explain this"}',
        )
        output = json.loads(await tool.on_invoke_tool(tool_context, '{"query": "explain this"}'))
        expected = None if context is None else "Lesson 3.1: Simulating a Robot with Gazebo"
        assert (output["page"] or {}).get("title") == expected


def test_a_follow_up_searches_with_the_earlier_question(index: SearchIndex) -> None:
    follow_up = "and how do I see its output?"
    alone = search(index, query=follow_up)
    after = search(index, query=follow_up, previous_question="how do I write a publisher?")
    assert alone["results"][0]["title"] == "Lesson 3.1: Simulating a Robot with Gazebo"
    assert after["results"][0]["title"] == "Lesson 2.1: Writing a Publisher in Python"
    assert after["query"] == follow_up
    assert search(index, query=follow_up, previous_question=None) == alone
    bad = search(index, query=follow_up, previous_question=3)
    assert bad == {"error": "previous_question must be a string or null"}


def test_results_carry_the_lessons_definitions_of_what_is_asked(index: SearchIndex) -> None:
    output = search(index, query="what is the difference between a topic and a service?")
    definitions = {
        result["title"]: result["definitions"]
        for result in output["results"]
        if result["definitions"]
    }
    assert "Topics: a stream of messages." in definitions["Lesson 1.1: What Is ROS 2?"]
    # Only "what is" / "X vs Y" questions ask for definitions.
    plain = search(index, query="how do I write a publisher in python?")
    assert all(result["definitions"] == [] for result in plain["results"])


@pytest.fixture(scope="module")
def node_book() -> SearchIndex:
    """A book whose Launch Files lesson says "node" far more often than the lesson that
    teaches nodes, as the real book's does."""
    pages = {
        "module-1/chapter-3/03-nodes-topics.md": (
            "Lesson 3.3: Nodes and Topics",
            "## Listing\n\nList what runs with ros2 node list, and topics with ros2 topic list.",
        ),
        "module-1/chapter-6/02-launch-files.md": (
            "Lesson 6.2: Launch Files",
            "## Starting\n\nA node is a process. Start each node from a launch file: every node "
            "gets its node name, and the node parameters.\n\n## More\n\nName each node; a node "
            "restarts when its node process dies.",
        ),
        "module-2/chapter-9/01-revolution.md": (
            "Lesson 9.1: The Robot Revolution",
            "## Joints\n\nA revolute joint turns; a revolute joint has limits; revolute joints "
            "turn a node's wheels.",
        ),
    }
    return book_of(pages)


def book_of(pages: dict[str, tuple[str, str]]) -> SearchIndex:
    """An index of ``pages``: path → (title, markdown body)."""
    lessons = [
        parse_lesson(path, f'---\ntitle: "{title}"\n---\n{body}\n'.encode(), site_url=SITE)
        for path, (title, body) in pages.items()
    ]
    return SearchIndex.build(chunk_lessons(lessons))


def titles(output: Any) -> list[str]:
    return [result["title"] for result in output["results"]]


def test_asked_what_a_thing_is_the_lesson_that_introduces_it_comes_first(
    node_book: SearchIndex,
) -> None:
    # The ranking alone puts the lesson that says "node" most often first.
    assert node_book.search("what is a node?")[0].title == "Lesson 6.2: Launch Files"
    assert titles(search(node_book, query="what is a node?")) == [
        "Lesson 3.3: Nodes and Topics",
        "Lesson 6.2: Launch Files",
        "Lesson 9.1: The Robot Revolution",
    ]
    # Not asked what it is: the ranking stands.
    assert titles(search(node_book, query="how do I name a node?"))[0] == "Lesson 6.2: Launch Files"
    assert node_book.introducing_lesson("node", ["no/such/page.md"]) is None
    # A title must name the word itself: "Revolution" does not introduce "revolute".
    assert (
        node_book.introducing_lesson("revolute joint", ["module-2/chapter-9/01-revolution.md"])
        is None
    )
    # The open page ranked first stays first.
    page = PageContext(path="module-1/chapter-6/02-launch-files.md")
    assert titles(search(node_book, page, query="what is a node?"))[0] == "Lesson 6.2: Launch Files"


def test_an_acronym_names_the_title_it_abbreviates() -> None:
    pages = {
        "preface.md": ("Welcome", "VLA models, VLA robots, VLA everywhere: the VLA future."),
        "module-4/README.md": ("Part 4: Vision-Language-Action", "A VLA model sees and acts."),
    }
    book = book_of(pages)
    assert book.search("what is VLA")[0].title == "Welcome"
    assert titles(search(book, query="what is VLA"))[0] == "Part 4: Vision-Language-Action"
