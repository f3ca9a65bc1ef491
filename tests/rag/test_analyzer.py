import pytest

from robolearn.rag import analyze, analyze_query, stem
from robolearn.rag._analyzer import american, words

# Pairs from Porter's published test vocabulary, plus the book's own words.
PORTER = {
    "caresses": "caress",
    "ponies": "poni",
    "ties": "ti",
    "cats": "cat",
    "feed": "feed",
    "agreed": "agre",
    "plastered": "plaster",
    "bled": "bled",
    "motoring": "motor",
    "sing": "sing",
    "conflated": "conflat",
    "troubled": "troubl",
    "sized": "size",
    "hopping": "hop",
    "falling": "fall",
    "hissing": "hiss",
    "filing": "file",
    "happy": "happi",
    "sky": "sky",
    "relational": "relat",
    "conditional": "condit",
    "rational": "ration",
    "digitizer": "digit",
    "operator": "oper",
    "feudalism": "feudal",
    "decisiveness": "decis",
    "hopefulness": "hope",
    "sensibiliti": "sensibl",
    "triplicate": "triplic",
    "formative": "form",
    "electrical": "electr",
    "goodness": "good",
    "revival": "reviv",
    "allowance": "allow",
    "airliner": "airlin",
    "adjustable": "adjust",
    "replacement": "replac",
    "adoption": "adopt",
    "communism": "commun",
    "activate": "activ",
    "effective": "effect",
    "probate": "probat",
    "rate": "rate",
    "cease": "ceas",
    "controlling": "control",
    "generalizations": "gener",
    "oscillators": "oscil",
}


@pytest.mark.parametrize(("word", "expected"), sorted(PORTER.items()))
def test_porter_vocabulary(word: str, expected: str) -> None:
    assert stem(word) == expected


def test_y_as_vowel_or_consonant() -> None:
    assert stem("sayings") == "sai"  # y after a vowel is a consonant: no extra syllable
    assert stem("crying") == "cry"
    assert stem("y" * 30).startswith("yyy")  # alternating roles, computed without recursion
    assert stem("y" * 5000) == "y" * 5000  # too long to be a word: left alone, no recursion


def test_student_and_book_forms_meet() -> None:
    assert stem("simulation") == stem("simulator") == stem("simulate") == stem("simulating")
    assert stem("publishers") == stem("publishing") == stem("published")
    assert stem("controller") == stem("controlling") == stem("control")
    assert stem("sensors") == stem("sensor")


@pytest.mark.parametrize("word", ["ros2", "gazébo", "a", "is", "URDF", "x86", "ロボット"])
def test_non_plain_words_are_not_stemmed(word: str) -> None:
    assert stem(word) == word


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
