"""The answer composer: a direct answer first, then the passage, code when asked, sources."""

from __future__ import annotations

import re

import attrs

from robolearn.chat._answer import compose_answer
from robolearn.chat._question import Ask
from robolearn.chat._tool import FoundLesson, SearchFindings

SITE = "https://robolearn.github.io/docs"
LINK = re.compile(r"\[([^\]]+)\]\((https?://[^)\s]+)\)")

TOPICS = FoundLesson(
    title="Lesson 3.3: Nodes and Topics",
    url=f"{SITE}/topics",
    module=1,
    chapter=3,
    lesson=3,
    heading="Topics",
    text=(
        "Nodes talk over topics all the time in a running robot system.\n\n"
        "A **topic** is a named channel for messages. Think of it as a radio station.\n\n"
        "Publishers send on a topic and every subscriber on it receives the messages.\n\n"
        "```bash\nros2 topic list\n```\n"
    ),
    score=10.0,
)
SERVICES = FoundLesson(
    title="Lesson 3.4: Services",
    url=f"{SITE}/services",
    module=1,
    chapter=3,
    lesson=4,
    heading="Services",
    text=(
        "A service is a request and one response, like a function call across programs.\n\n"
        "The client waits for the server to answer before it carries on with its work.\n"
    ),
    score=8.0,
    definitions=("A service is a request and one response, like a function call across programs.",),
)
INSTALL = FoundLesson(
    title="Lesson 3.1: Setup",
    url=f"{SITE}/setup",
    module=1,
    chapter=3,
    lesson=1,
    heading="Install ROS 2",
    text=(
        "Installing takes about twenty minutes on a fresh Ubuntu machine.\n\n"
        "1. Add the ROS 2 apt repository to your system sources.\n"
        "2. Install the `ros-humble-desktop` package with apt.\n"
        "3. Source `/opt/ros/humble/setup.bash` in every new terminal.\n"
    ),
    score=9.0,
)
RUNNING = FoundLesson(
    title="Lesson 4.2: Writing a Publisher",
    url=f"{SITE}/publisher",
    module=1,
    chapter=4,
    lesson=2,
    heading="Running the Publisher",
    text=(
        "**Terminal 1: Start the publisher**\n\n```bash\n"
        "ros2 run my_first_package minimal_publisher\n```\n\n"
        "You should see output:\n\n```\n[INFO] Publishing: Hello\n```\n\n"
        "**Terminal 2: Listen to the topic**\n\n```bash\nros2 topic echo /topic\n```\n"
    ),
    score=9.0,
)
CODE_ONLY = FoundLesson(
    title="Lesson 5.3: Custom Services",
    url=f"{SITE}/custom",
    module=1,
    chapter=5,
    lesson=3,
    heading="Using Custom Services",
    text="```python\nfrom my_interfaces.srv import Command\n\nprint(Command)\n```\n",
    score=9.0,
)


def found(*lessons: FoundLesson) -> SearchFindings:
    return SearchFindings(query="q", covered=True, results=lessons)


def sources(answer: str) -> list[str]:
    listed = answer.partition("\nSources:\n")[2].partition("\nRelated lessons:\n")[0]
    return [url for _, url in LINK.findall(listed)]


def related(answer: str) -> list[str]:
    return [url for _, url in LINK.findall(answer.partition("\nRelated lessons:\n")[2])]


def test_what_is_questions_lead_with_the_books_definition() -> None:
    answer = compose_answer("what is a topic?", found(TOPICS, SERVICES))
    assert answer.startswith(
        "**In short:** A topic is a named channel for messages. Think of it as a radio station."
    )
    framing = answer.split("\n\n")[1]
    assert framing == "The book covers this in *Lesson 3.3: Nodes and Topics*."
    # The supporting passage follows, without repeating the definition.
    assert "Publishers send on a topic" in answer
    assert answer.count("named channel") == 1
    assert sources(answer) == [TOPICS.url]
    assert "```" not in answer


def test_comparisons_define_both_things() -> None:
    answer = compose_answer("topic vs service?", found(TOPICS, SERVICES))
    assert answer.startswith("**In short:**\n- **topic**: A topic is a named channel")
    assert "\n- **service**: A service is a request and one response" in answer
    assert sources(answer) == [TOPICS.url, SERVICES.url]


def test_a_definition_from_a_later_lesson_leads_but_the_sources_follow_the_ranking() -> None:
    answer = compose_answer("what is a service?", found(TOPICS, SERVICES))
    assert answer.startswith("**In short:** A service is a request and one response")
    assert sources(answer) == [TOPICS.url, SERVICES.url]


def test_how_to_questions_lead_with_the_numbered_steps() -> None:
    answer = compose_answer("how do I install ROS 2?", found(INSTALL))
    assert answer.startswith(
        "**Steps** (from *Lesson 3.1: Setup*):\n\n"
        "1. Add the ROS 2 apt repository to your system sources.\n"
        "2. Install the `ros-humble-desktop` package with apt.\n"
        "3. Source `/opt/ros/humble/setup.bash` in every new terminal.\n\n"
        "The book covers this in *Lesson 3.1: Setup*."
    )


def test_without_a_numbered_list_the_steps_are_the_shell_commands() -> None:
    answer = compose_answer("how do I run it?", found(RUNNING))
    assert answer.startswith(
        "**Steps** (from *Lesson 4.2: Writing a Publisher*):\n\n"
        "1. Terminal 1: Start the publisher: `ros2 run my_first_package minimal_publisher`\n"
        "2. Terminal 2: Listen to the topic: `ros2 topic echo /topic`\n"
    )


def test_code_is_shown_when_asked_for() -> None:
    answer = compose_answer("show me an example of a topic", found(TOPICS))
    assert "The example in *Lesson 3.3: Nodes and Topics*:\n\n```bash\nros2 topic list\n```" in (
        answer
    )
    assert answer.index("```") < answer.index("Sources:")


def test_more_simply_leads_with_the_books_analogy() -> None:
    ask = Ask("explain that more simply", topic="what is a topic?", names_topic=False)
    answer = compose_answer(ask, found(TOPICS))
    lead = answer.partition("\n\n")[0]
    assert lead.startswith("**Put simply:** A topic is a named channel for messages.")
    assert "radio station" in lead
    assert lead.count("named channel") == 1
    assert len(answer.split("Key points from the book:\n")[-1].split("\n\n")[0].splitlines()) <= 2


def test_a_follow_up_does_not_repeat_what_was_said() -> None:
    first = compose_answer("what is a topic?", found(TOPICS))
    ask = Ask("why does it matter?", topic="what is a topic?", names_topic=False)
    again = compose_answer(ask, found(TOPICS), said=first)
    assert "named channel" not in again  # the definition was given already
    assert sources(again) == [TOPICS.url]


def test_a_passage_of_code_only_shows_the_code_and_cites_its_lesson() -> None:
    answer = compose_answer("what about my own service definition?", found(CODE_ONLY, SERVICES))
    assert "walks through it" not in answer
    assert "```python\nfrom my_interfaces.srv import Command" in answer
    assert sources(answer)[0] == CODE_ONLY.url


def test_lessons_not_quoted_but_ranked_close_are_related_lessons_in_ranking_order() -> None:
    # Neither Setup nor Services says "topic", so neither is quoted; both score close to
    # the best lesson, so the answer still points at them, in the search's order.
    far = attrs.evolve(RUNNING, url=f"{SITE}/far", score=TOPICS.score * 0.3)
    answer = compose_answer("what is a topic?", found(TOPICS, INSTALL, SERVICES, far))
    assert sources(answer) == [TOPICS.url]
    assert related(answer) == [INSTALL.url, SERVICES.url]
    assert answer.index("Sources:") < answer.index("Related lessons:")


def test_quoted_lessons_follow_the_ranking() -> None:
    close = [
        attrs.evolve(TOPICS, title=f"Lesson {n}", url=f"{SITE}/t{n}", score=9.0 - n / 10)
        for n in range(6)
    ]
    ranking = [TOPICS.url, *(lesson.url for lesson in close), SERVICES.url]
    answer = compose_answer("what is a service?", found(TOPICS, *close, SERVICES))
    cited = sources(answer) + related(answer)
    assert cited[0] == TOPICS.url  # the best lesson first
    assert SERVICES.url in sources(answer)  # the lead's definition comes from it
    assert sources(answer) == sorted(sources(answer), key=ranking.index)
    assert len(cited) == 5  # at most five lessons in all


def test_a_follow_ups_lead_from_another_lesson_is_a_source_after_the_one_that_answered() -> None:
    ask = Ask("explain that more simply", topic="what is a service?", names_topic=False)
    answer = compose_answer(ask, found(TOPICS, SERVICES))
    assert answer.startswith("**Put simply:** A service is a request and one response")
    assert sources(answer) == [TOPICS.url, SERVICES.url]
    assert related(answer) == []


def lesson(name: str, text: str, score: float) -> FoundLesson:
    """A lesson named ``name`` whose passage is ``text``, with no definitions of its own."""
    slug = name.split(":")[0].replace(" ", "-").lower()
    return attrs.evolve(
        SERVICES, title=name, url=f"{SITE}/{slug}", text=text, definitions=(), score=score
    )


def test_another_lesson_is_quoted_only_for_a_sentence_with_two_of_the_questions_words() -> None:
    vla = lesson("Part 4: VLA", "VLA models combine vision, language and action for robots.\n", 10)
    fuel = lesson("Lesson 10.2: Fuel", "Look for models with high download counts.\n", 9)
    history = lesson("Lesson 1.3: History", "Module 4 teaches VLA models for real robots.\n", 8.5)
    answer = compose_answer("what is a VLA model?", found(vla, fuel, history))
    assert "**Lesson 1.3: History**: Module 4 teaches VLA models" in answer
    assert "download counts" not in answer  # it shares "model" alone
    assert fuel.url not in sources(answer)


def test_comparing_two_things_another_lesson_is_quoted_on_either() -> None:
    services = attrs.evolve(
        SERVICES,
        text="The client waits for the server.\n\nServices suit a one-off question to a node.\n",
    )
    answer = compose_answer("topic vs service?", found(TOPICS, services))
    # The sentence names "service" alone.
    assert "**Lesson 3.4: Services**: Services suit a one-off question" in answer


def test_an_answer_says_what_the_book_never_mentions() -> None:
    findings = attrs.evolve(found(INSTALL), never_mentioned=("wsl2",))
    answer = compose_answer("how do I install ROS 2 on wsl2?", findings)
    assert "The book covers this in *Lesson 3.1: Setup*. It never mentions *wsl2*." in answer


def test_the_books_own_questions_and_pointers_onwards_are_never_quoted() -> None:
    services = lesson(
        "Lesson 5.2: Clients",
        "When would a client wait for a service forever?\n\n"
        "A client waits for the service with a timeout, then gives up.\n\n"
        "Robots in the field must stay responsive while they wait.\n\n"
        "Next lesson: how long a client waits for a service of your own types.\n",
        10,
    )
    answer = compose_answer("how long does a client wait for a service", found(services))
    assert "A client waits for the service with a timeout" in answer
    assert "forever?" not in answer
    assert "Next lesson" not in answer


def test_a_definition_labelled_with_its_subject_is_not_labelled_twice() -> None:
    topics = lesson("Lesson 3.3: Topics", "Topic: a news broadcast anyone can listen to.\n", 10)
    topics = attrs.evolve(topics, definitions=("Topic: a news broadcast anyone can listen to.",))
    answer = compose_answer("topic vs service?", found(topics, SERVICES))
    assert "\n- **topic**: A news broadcast anyone can listen to.\n" in answer


def coded(name: str, prose: str, code: str, score: float, *, fence: str = "") -> FoundLesson:
    """A lesson whose passage is ``prose`` then ``code`` fenced (tagged ``fence``)."""
    return lesson(name, f"{prose}\n\n```{fence}\n{code}\n```\n", score)


def test_an_example_about_the_subject_beats_tidier_code_about_something_else() -> None:
    diagram = "ROS 2 node\n    ↓\nbridge (translator)\n    ↓\nGazebo"
    bridge = coded("Lesson 12.1: The Bridge", "The bridge links ROS 2 and Gazebo.", diagram, 10)
    check = "Check that the simulation publishes what the bridge needs first."
    checks = coded("Lesson 13.2: Checks", check, "gz topic --list", 9, fence="bash")
    ask = Ask("can you show me an example?", topic="what does the bridge do", names_topic=False)
    answer = compose_answer(ask, found(bridge, checks))
    assert "The example in *Lesson 12.1: The Bridge*:\n\n```\nROS 2 node" in answer


def test_asked_for_code_it_shows_program_code_not_commands_to_type() -> None:
    listing = "A node is one program in the robot's system. List the running ones in a terminal."
    cli = coded("Lesson 3.3: Nodes (CLI)", listing, "ros2 node list", 10, fence="bash")
    prose = "Every node you write inherits from the Node class of rclpy."
    code = coded(
        "Lesson 4.2: Writing a Node", prose, "from rclpy.node import Node", 9, fence="python"
    )
    ask = Ask("how do I do that in code?", topic="what is a node?", names_topic=False)
    assert ask.wants_program and not Ask("how do I run it?").wants_program
    answer = compose_answer(ask, found(cli, code))
    assert "**Steps**" not in answer  # typing `ros2 node list` is no code
    assert "The example in *Lesson 4.2: Writing a Node*:\n\n```python\n" in answer
    # Asked for the commands, the same lessons give the steps and the shell example.
    commands = compose_answer(
        Ask("how do I do that in the terminal?", topic="what is a node?", names_topic=False),
        found(cli, code),
    )
    assert commands.startswith("**Steps** (from *Lesson 3.3: Nodes (CLI)*)")
