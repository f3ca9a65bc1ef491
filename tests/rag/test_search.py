import json

import attrs
import pytest

from robolearn.rag import (
    Chunk,
    Lesson,
    SearchArgumentError,
    SearchConfig,
    SearchIndex,
    chunk_lessons,
    overview_pages,
    parse_lesson,
)
from robolearn.rag._eval import Coverage

SITE = "https://book.example"
SETUP = "module-1-ros2/chapter-3-meet-ros2/01-setup.md"
TOPICS = "module-1-ros2/chapter-3-meet-ros2/02-topics.md"
CH3 = "module-1-ros2/chapter-3-meet-ros2/README.md"
PUBLISHER = "module-1-ros2/chapter-4-first-code/01-publisher.md"
LIDAR = "module-2-simulation/chapter-11-sensors/01-lidar.md"
CAMERA = "module-2-simulation/chapter-11-sensors/02-camera.md"
ISAAC = "module-3-isaac/README.md"

BOOK = {
    SETUP: (
        "id: setup\ntitle: Setting Up ROS 2\nhardware_tier: 1\n",
        "# Setting Up ROS 2\n\nInstall ROS 2 Humble on Ubuntu.\n\n"
        "## Troubleshooting\n\nIf the terminal says ros2 command not found, source the setup "
        "script in every new terminal.\n",
    ),
    TOPICS: (
        "id: topics\ntitle: Nodes and Topics\nhardware_tier: 1\n",
        "# Nodes and Topics\n\nNodes talk over topics.\n\n"
        "## Echo a Topic\n\nUse ros2 topic echo to watch messages arrive in real time.\n\n"
        "## Worked Example\n\nList the topics of turtlesim and echo the pose topic.\n",
    ),
    CH3: (
        'title: "Chapter 3: Meet ROS 2"\n',
        "# Chapter 3\n\nInstall ROS 2, drive turtlesim, explore nodes and topics.\n",
    ),
    PUBLISHER: (
        "id: publisher\ntitle: Writing a Publisher\nhardware_tier: 1\n",
        "# Writing a Publisher\n\nA publisher node sends messages on a topic.\n\n"
        "## Worked Example\n\n```python\nself.create_publisher(String, 'topic', 10)\n```\n\n"
        "The timer callback publishes a message every half second.\n",
    ),
    LIDAR: (
        "id: lidar\ntitle: LIDAR Simulation\nhardware_tier: 2\n",
        "# LIDAR Simulation\n\nA LIDAR measures distance with laser beams.\n\n"
        "## Worked Example\n\nAdd a 360 degree LIDAR sensor to the robot and check its range.\n\n"
        "## Range Problems\n\nIf the LIDAR range is short, raise the max range value.\n",
    ),
    CAMERA: (
        "id: camera\ntitle: Camera Simulation\nhardware_tier: 3\n",
        "# Camera Simulation\n\nCameras see colour images.\n\n"
        "## Field of View\n\nThe horizontal field of view sets how wide the camera sees.\n",
    ),
    ISAAC: (
        'title: "Part 3: The AI-Robot Brain"\n',
        "# Part 3\n\nNVIDIA Isaac Sim generates synthetic data; Isaac Lab trains policies with "
        "reinforcement learning.\n",
    ),
}


def build_lessons() -> list[Lesson]:
    return [
        parse_lesson(path, f"---\n{meta}---\n{body}".encode(), site_url=SITE)
        for path, (meta, body) in BOOK.items()
    ]


@pytest.fixture(scope="module")
def chunks() -> list[Chunk]:
    return chunk_lessons(build_lessons())


@pytest.fixture(scope="module")
def index(chunks: list[Chunk]) -> SearchIndex:
    return SearchIndex.build(chunks)


def paths(index: SearchIndex, query: str, **kwargs: object) -> list[str]:
    return [result.path for result in index.search(query, **kwargs)]  # type: ignore[arg-type]


def test_obvious_questions_find_their_lesson(index: SearchIndex) -> None:
    assert paths(index, "terminal says ros2 command not found")[0] == SETUP
    assert paths(index, "how do I watch messages on a topic live?")[0] == TOPICS
    assert paths(index, "how wide does the camera see")[0] == CAMERA
    assert paths(index, "my laser scanner range is too short")[0] == LIDAR


def test_results_are_one_per_lesson_with_the_best_passage(index: SearchIndex) -> None:
    results = index.search("lidar range", limit=10)
    assert len({r.path for r in results}) == len(results)
    top = results[0]
    assert top.path == LIDAR
    assert top.title == "LIDAR Simulation"
    assert top.heading == "Range Problems"
    assert "max range" in top.text
    assert top.url == f"{SITE}/docs/module-2-simulation/chapter-11-sensors/lidar"
    assert (top.module, top.chapter, top.lesson, top.hardware_tier) == (2, 11, 1, 2)
    assert [r.score for r in results] == sorted((r.score for r in results), reverse=True)


def test_limit_caps_the_number_of_results(index: SearchIndex) -> None:
    assert len(index.search("topic", limit=1)) == 1
    assert len(index.search("worked example", limit=20)) == 3


def test_module_and_chapter_filters(index: SearchIndex) -> None:
    assert set(paths(index, "worked example", module=2)) == {LIDAR}
    assert set(paths(index, "worked example", chapter_min=4)) == {PUBLISHER, LIDAR}
    assert set(paths(index, "worked example", chapter_max=4)) == {TOPICS, PUBLISHER}
    assert set(paths(index, "worked example", chapter_min=4, chapter_max=4)) == {PUBLISHER}


def test_chapter_range_excludes_pages_outside_chapters(index: SearchIndex) -> None:
    assert ISAAC in paths(index, "isaac reinforcement learning")
    assert paths(index, "isaac reinforcement learning", chapter_min=1) == []


def test_lesson_filter_matches_the_lesson_number(index: SearchIndex) -> None:
    assert set(paths(index, "ros2 topic", lesson=2)) == {TOPICS}
    assert CH3 not in paths(index, "install ros 2", lesson=1)


def test_hardware_tier_keeps_pages_needing_that_tier_or_less(index: SearchIndex) -> None:
    found = set(paths(index, "simulation sensor camera lidar isaac", hardware_tier=2, limit=20))
    assert LIDAR in found
    assert ISAAC in found  # overview pages have no tier and suit everyone
    assert CAMERA not in found
    assert CAMERA in paths(index, "camera field of view", hardware_tier=3)


def test_page_gives_a_mild_boost_that_breaks_ties(index: SearchIndex) -> None:
    assert paths(index, "worked example", page_path=LIDAR)[0] == LIDAR
    assert paths(index, "worked example", page_path=PUBLISHER)[0] == PUBLISHER
    # A mild boost does not override a clearly better match elsewhere.
    assert paths(index, "ros2 command not found", page_path=LIDAR)[0] == SETUP


def test_question_pointing_at_the_page_resolves_to_it(index: SearchIndex) -> None:
    outcome = index.search_with_coverage(
        "can you explain the main example in this lesson?", page_path=CAMERA
    )
    assert outcome.results[0].path == CAMERA
    assert outcome.covered and outcome.about_page


def test_the_open_page_decides_coverage_at_any_threshold(index: SearchIndex) -> None:
    # Scored at another threshold (the eval's oracle), a question about the open page that
    # also matches the book well is still covered: the page decided, not the confidence.
    outcome = index.search_with_coverage("explain this lidar range example", page_path=LIDAR)
    assert outcome.about_page and outcome.confidence >= index.config.covered_threshold
    coverage = Coverage.of(outcome, index.config, out_of_scope=False)
    assert not coverage.refused_at(1.0)
    elsewhere = index.search_with_coverage("explain the lidar range")
    assert not elsewhere.about_page
    assert Coverage.of(elsewhere, index.config, out_of_scope=False).refused_at(1.0)


def test_page_may_be_given_as_url_and_unknown_pages_are_ignored(index: SearchIndex) -> None:
    url = f"{SITE}/docs/module-2-simulation/chapter-11-sensors/lidar/#range-problems"
    assert paths(index, "explain this", page_path=url)[0] == LIDAR
    assert (
        paths(index, "explain this", page_path="module-2-simulation/chapter-11-sensors/01-lidar")[0]
        == LIDAR
    )
    assert paths(index, "ros2 topic echo", page_path="no/such/page.md")[0] == TOPICS


def test_page_outside_the_filters_is_not_forced_in(index: SearchIndex) -> None:
    assert LIDAR not in paths(index, "explain this", page_path=LIDAR, module=1)


def test_filler_only_question_answers_with_the_page_or_nothing(index: SearchIndex) -> None:
    with_page = index.search_with_coverage("what is this?", page_path=PUBLISHER)
    assert [r.path for r in with_page.results] == [PUBLISHER]
    assert with_page.results[0].text.startswith("A publisher node")
    assert with_page.covered
    without_page = index.search_with_coverage("what is this?")
    assert without_page.results == ()
    assert not without_page.covered


def test_coverage_signal(index: SearchIndex) -> None:
    covered = index.search_with_coverage("lidar laser range")
    assert covered.covered
    assert 0 < covered.confidence <= 1
    assert covered.missing_terms == ()
    outside = index.search_with_coverage("best banana bread recipe")
    assert not outside.covered
    assert outside.confidence < SearchConfig().covered_threshold
    assert set(outside.missing_terms) == {"best", "banana", "bread", "recip"}


def test_filters_that_exclude_everything_mean_not_covered(index: SearchIndex) -> None:
    outcome = index.search_with_coverage("camera field of view", module=1)
    assert CAMERA not in [r.path for r in outcome.results]
    assert index.search_with_coverage("camera field of view", module=4).results == ()
    assert not index.search_with_coverage("camera field of view", module=4).covered


def test_student_shorthand_and_synonyms(index: SearchIndex) -> None:
    assert paths(index, "pub node with a timer")[0] == PUBLISHER
    assert paths(index, "laser scanner")[0] == LIDAR


def test_named_place_in_the_question_is_boosted(index: SearchIndex) -> None:
    assert paths(index, "the worked example in chapter 11")[0] == LIDAR
    assert paths(index, "the worked example in lesson 4.1")[0] == PUBLISHER


def test_plain_bm25_config_still_searches(chunks: list[Chunk]) -> None:
    plain = SearchIndex.build(chunks, SearchConfig.plain_bm25())
    assert plain.search("ros2 command not found")[0].path == SETUP
    assert plain.search("worked example", page_path=LIDAR)  # page is accepted, not used
    # The baseline has none of the vocabulary rules: no word makes a question off topic.
    assert not plain.search_with_coverage("a recipe for banana bread").off_topic


def test_values_serialise_to_json(index: SearchIndex, chunks: list[Chunk]) -> None:
    lesson = build_lessons()[0]
    for value in (lesson, chunks[0], index.search("lidar")[0]):
        assert json.loads(json.dumps(attrs.asdict(value)))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"query": ""}, "query is empty"),
        ({"query": "   \n"}, "query is empty"),
        ({"query": 42}, "query must be a string"),
        ({"query": "x" * 2001}, "at most 2000"),
        ({"limit": 0}, "limit must be between 1 and 20"),
        ({"limit": 21}, "limit must be between 1 and 20"),
        ({"limit": True}, "limit must be an integer"),
        ({"limit": "5"}, "limit must be an integer"),
        ({"limit": None}, "limit must be between 1 and 20"),
        ({"module": -1}, "module must be zero or positive"),
        ({"chapter_min": -2}, "chapter_min must be zero or positive"),
        ({"lesson": -1}, "lesson must be zero or positive"),
        ({"module": 1.5}, "module must be an integer"),
        (
            {"chapter_min": 5, "chapter_max": 3},
            r"chapter_min \(5\) is greater than chapter_max \(3\)",
        ),
        ({"hardware_tier": 5}, "hardware_tier must be one of 1, 2, 3, 4"),
        ({"hardware_tier": 0}, "hardware_tier must be one of"),
        ({"page_path": 3}, "page_path must be a doc path or page URL"),
    ],
)
def test_invalid_arguments_raise_a_typed_error(
    index: SearchIndex, kwargs: dict[str, object], message: str
) -> None:
    arguments: dict[str, object] = {"query": "lidar", **kwargs}
    query = arguments.pop("query")
    with pytest.raises(SearchArgumentError, match=message):
        index.search(query, **arguments)  # type: ignore[arg-type]
    assert issubclass(SearchArgumentError, ValueError)


def test_edge_values_are_accepted(index: SearchIndex) -> None:
    assert index.search("lidar", limit=20, chapter_min=11, chapter_max=11, hardware_tier=4)
    assert index.search("lidar", limit=1, module=0) == []


def test_a_follow_up_takes_its_topic_from_the_previous_message(index: SearchIndex) -> None:
    follow_up = "and where is the worked example?"
    alone = paths(index, follow_up)
    assert {TOPICS, PUBLISHER, LIDAR} <= set(alone[:3])
    for previous, expected in (("my laser scanner misses far walls", LIDAR), ("pub", PUBLISHER)):
        assert index.search(follow_up, previous=previous)[0].path == expected
    # The earlier message only steers: what the student asks now still decides.
    assert index.search("how do I echo a topic", previous="lidar range")[0].path == TOPICS


def test_previous_message_is_ignored_at_weight_zero(chunks: list[Chunk]) -> None:
    index = SearchIndex.build(chunks, attrs.evolve(SearchConfig(), previous_weight=0.0))
    question = "and where is the worked example?"
    assert index.search(question, previous="lidar range") == index.search(question)


def test_overview_pages_are_index_pages_with_pages_under_them() -> None:
    paths = [SETUP, CH3, ISAAC, "module-1-ros2/README.md", "preface.md"]
    # The module 3 overview stands alone (its module has no lessons): it is the answer.
    assert overview_pages(paths) == {CH3, "module-1-ros2/README.md"}


def test_overview_weight_scales_only_overview_pages(chunks: list[Chunk]) -> None:
    def scores(weight: float) -> dict[str, float]:
        config = attrs.evolve(SearchConfig(), overview_weight=weight)
        index = SearchIndex.build(chunks, config)
        return {r.path: r.score for r in index.search("drive turtlesim")}

    plain, damped = scores(1.0), scores(0.4)
    assert damped[CH3] == pytest.approx(0.4 * plain[CH3])
    assert damped[TOPICS] == pytest.approx(plain[TOPICS])
    # The overview mentions turtlesim in its summary; damped, the lesson comes first.
    assert max(plain, key=plain.__getitem__) == CH3
    assert max(damped, key=damped.__getitem__) == TOPICS
