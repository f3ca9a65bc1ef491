"""Picking the book's sentences that explain: definitions, analogies, steps."""

from __future__ import annotations

import pytest

from robolearn.chat._explain import (
    best_definition,
    defining_sentences,
    numbered_steps,
    plainness,
    reason_strength,
)
from robolearn.rag import Sentence, prose_sentences

NODES = """\
While a node is running, you can change its logging level without restarting it.

A **node** is an independent process running ROS logic. Think of it as a program.

- Missing node: Expected node not in graph, so the node crashed
"""


def test_the_sentence_whose_subject_is_the_thing_defines_it() -> None:
    found = best_definition(prose_sentences(NODES), "node")
    assert found is not None
    # The next sentence joins: it goes on about the same thing, in plainer words.
    assert found.text == (
        "A node is an independent process running ROS logic. Think of it as a program."
    )
    assert not found.plain


@pytest.mark.parametrize(
    ("text", "subject", "defines"),
    [
        (
            "VLA models (Vision-Language-Action) represent the frontier of robotics AI.",
            "VLA model",
            True,
        ),
        ("URDF is an XML language for robot structure.", "urdf file", True),
        ("Topic: News broadcast (continuous stream, anyone listening gets it)", "topic", True),
        ("A ROS 2 node is an independent process.", "node", True),  # qualified by the question
        ("Their models are reliable and well tested by many users.", "VLA model", False),
        ("Explain what URDF is and why simulators need robot descriptions.", "urdf", False),
        ("A digital twin is a concept.", "digital twin", False),  # says too little
        ("Node A: Publishes to /control every second", "node", False),  # a label
        ("What is a node and how does it relate to topics?", "node", False),
    ],
)
def test_what_counts_as_a_definition(text: str, subject: str, defines: bool) -> None:
    found = best_definition([Sentence(text, 0)], subject, context=f"what is a {subject} in ROS 2")
    assert (found is not None) == defines


def test_analogies_are_plain_definitions() -> None:
    sentences = prose_sentences(
        "URDF is an XML language with tags. Think of a URDF file as a blueprint for a robot."
    )
    formal = best_definition(sentences, "urdf file", plain=False)
    plain = best_definition(sentences, "urdf file", plain=True)
    assert formal is not None and formal.text.startswith("URDF is an XML language")
    assert plain is not None and plain.plain
    assert plain.text == "Think of a URDF file as a blueprint for a robot."


def test_definitions_are_found_in_any_passage_of_a_lesson() -> None:
    passages = ["## Setup\nInstall the tools first.", NODES]
    assert defining_sentences(passages, ["node"]) == (
        "A node is an independent process running ROS logic. Think of it as a program.",
    )
    assert defining_sentences(passages, ["service"]) == ()


def test_numbered_lists_are_steps_in_order() -> None:
    sentences = prose_sentences(
        "To install:\n\n1. Add the apt source.\n   - use the key\n2. Install the package. "
        "It is large.\n3. Source the setup file.\n\nThen carry on.\n\n1. Another list\n"
        "2. Ignored\n"
    )
    assert numbered_steps(sentences) == [
        "Add the apt source.",
        "Install the package. It is large.",
        "Source the setup file.",
    ]
    assert numbered_steps(prose_sentences("- a bullet\n- another\n")) == []


def test_plain_sentences_are_short_and_use_analogies() -> None:
    analogy = Sentence("A service is like a phone call: you ask and wait for the answer.", 0)
    dense = Sentence(
        "The `rclpy` executor (single-threaded by default) dispatches callbacks from the "
        "middleware's wait set whenever the underlying DDS implementation signals that "
        "data is available on a subscribed topic or a service request arrives.",
        0,
    )
    assert plainness(analogy) > 0 > plainness(dense)
    assert reason_strength(Sentence("Simulate first because hardware is expensive.", 0)) == 1
