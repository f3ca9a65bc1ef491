"""Thread titles: the first message cut between words."""

from __future__ import annotations

from datetime import datetime

from chatkit.types import InferenceOptions, UserMessageItem, UserMessageTextContent

from robolearn.chat._titles import MAX_TITLE_CHARS, clean_title, first_words_title


def message(text: str) -> UserMessageItem:
    return UserMessageItem(
        id="m",
        thread_id="t",
        created_at=datetime(2026, 1, 1),
        content=[UserMessageTextContent(text=text)],
        inference_options=InferenceOptions(),
    )


def test_a_short_message_is_its_own_title() -> None:
    assert first_words_title(message("  What is\na  node? ")) == "What is a node?"


def test_a_long_message_is_cut_between_words() -> None:
    text = "How do I make a publisher node in Python that sends a message every second to a topic"
    title = first_words_title(message(text))
    assert len(title) <= MAX_TITLE_CHARS
    assert title.endswith("…")
    assert text.startswith(title[:-1])
    assert text[len(title) - 1] == " ", "cut inside a word"


def test_one_long_word_is_cut_where_it_must_be() -> None:
    assert clean_title("x" * 100) == "x" * (MAX_TITLE_CHARS - 1) + "…"


def test_quotes_and_markup_around_a_model_title_go() -> None:
    assert clean_title('"**ROS 2 Topics Explained**"') == "ROS 2 Topics Explained"


def test_an_empty_message_gets_a_placeholder() -> None:
    assert first_words_title(message("   ")) == "New conversation"


def test_control_characters_do_not_reach_a_title() -> None:
    assert clean_title("hello\x01\x07\x1b[31mred") == "hello [31mred"
