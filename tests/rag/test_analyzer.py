import concurrent.futures

import pytest

from robolearn.rag import analyze, analyze_query, stem
from robolearn.rag._analyzer import american, words


def test_stems_are_porters_not_porter2s() -> None:
    # The index, the search weights and the eval figures were made with Porter (1980)
    # stems; Snowball's "english" (Porter2) stems these differently.
    assert stem("generalizations") == "gener"
    assert stem("ros") == "ro"
    assert stem("always") == "alwai"
    assert stem("communication") == "commun"


def test_student_and_book_forms_meet() -> None:
    assert stem("simulation") == stem("simulator") == stem("simulate") == stem("simulating")
    assert stem("publishers") == stem("publishing") == stem("published")
    assert stem("controller") == stem("controlling") == stem("control")
    assert stem("sensors") == stem("sensor")


@pytest.mark.parametrize(
    "word", ["ros2", "gazébo", "a", "is", "URDF", "x86", "ロボット", "ab" * 21, "y" * 5000]
)
def test_non_plain_short_or_long_words_are_not_stemmed(word: str) -> None:
    assert stem(word) == word


def test_stemming_from_many_threads_gives_the_same_stems() -> None:
    # The index is built in worker threads while queries are analysed on the event loop.
    words_ = ["simulations", "publishers", "controlling", "generalizations", "sensors"] * 400
    expected = [stem(word) for word in words_]
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: [stem(word) for word in words_], range(8)))
    assert results == [expected] * 8


def test_words_split_on_punctuation_and_underscores_and_fold_case() -> None:
    assert words("ros2 topic echo /turtle1/cmd_vel") == [
        "ros2",
        "topic",
        "echo",
        "turtle1",
        "cmd",
        "vel",
    ]
    assert words("Create_Publisher(String, 'topic', 10)") == [
        "create",
        "publisher",
        "string",
        "topic",
        "10",
    ]
    assert words("Don't won\u2019t") == ["dont", "wont"]


def test_words_are_unicode_aware() -> None:
    assert words("Caméra \uff32\uff2f\uff33\uff12 传感器—ロボット Straße") == [
        "caméra",
        "ros2",
        "传感器",
        "ロボット",
        "strasse",
    ]


def test_analyze_drops_stopwords_and_single_letters_but_keeps_digits() -> None:
    # Porter turns "ros" into "ro"; both sides of a match go through it, so that is fine.
    assert analyze("What is the ROS 2 publisher in a node?") == ["ro", "2", "publish", "node"]
    assert analyze("x y z axes") == ["ax"]


def test_analyze_query_also_drops_conversational_filler() -> None:
    question = "hey can you please explain how publishers work, i don't get it"
    assert analyze(question) == ["hei", "pleas", "explain", "publish", "work", "get"]
    assert analyze_query(question) == ["publish"]


def test_stem_cache_gives_the_same_terms() -> None:
    cache: dict[str, str] = {}
    text = "Simulating sensors and simulated publishers"
    assert analyze(text, stem_cache=cache) == analyze(text)
    assert cache["simulating"] == "simul"


def test_british_spellings_meet_american_ones() -> None:
    for british, us in (
        ("randomised", "randomized"),
        ("organising", "organizing"),
        ("colour", "color"),
        ("behaviours", "behaviors"),
        ("centre", "center"),
        ("analyse", "analyze"),
        ("optimisation", "optimization"),
    ):
        assert analyze(british) == analyze(us), british
    # Short words are left alone: they are not British spellings.
    for word in ("noise", "rise", "hour", "four", "tour"):
        assert american(word) == word
