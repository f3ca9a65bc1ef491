"""Words of a question the book does not use: misspellings, paraphrases and rare names."""

import pytest

from robolearn.rag import SearchConfig, SearchIndex, chunk_lessons
from robolearn.rag._vocabulary import BookVocabulary, english_word_frequencies
from tests.rag.test_search import CAMERA, LIDAR, SETUP, TOPICS, build_lessons


@pytest.fixture(scope="module")
def index() -> SearchIndex:
    return SearchIndex.build(chunk_lessons(build_lessons()))


def vocabulary(book: dict[str, str], understood: tuple[str, ...] = ()) -> BookVocabulary:
    """A vocabulary of ``book`` (word → term) where every term is in one chunk."""
    terms = set(book.values())
    return BookVocabulary.build(
        book,
        lambda term: int(term in terms),
        passages=10,
        understood=understood,
        common=dict.fromkeys(("sinks", "comma", "doesnt", "macro", "check", "quick", "sort"), 1e-5),
    )


def test_a_misspelled_book_word_is_read_as_that_word() -> None:
    checked = vocabulary({"publisher": "publish", "gazebo": "gazebo"}).check("my pubisher in gazbo")
    assert dict(checked.corrections) == {"pubish": "publish", "gazbo": "gazebo"}
    assert checked.rare_names == ()


def test_everyday_words_and_their_misspellings_are_paraphrases() -> None:
    checked = vocabulary({"robot": "robot"}).check("robot sinks, commas, dosnt")
    assert (dict(checked.corrections), checked.rare_names) == ({}, ())


def test_a_rare_word_the_book_lacks_is_a_rare_name() -> None:
    checked = vocabulary({"robot": "robot"}).check("quicksort for my robot, with esp32")
    assert checked.rare_names == ("quicksort", "esp32")


def test_a_known_word_with_a_prefix_or_suffix_is_no_name() -> None:
    book = vocabulary({"install": "instal", "shoots": "shoot"})
    assert book.check("uninstall, checkable, overshoots").rare_names == ()
    # Two everyday words make a name, though: only affixes are taken off.
    assert book.check("quicksort").rare_names == ("quicksort",)


def test_a_stretched_word_is_no_name() -> None:
    book = vocabulary({"robot": "robot"})
    assert book.check("robot sinkssss, cheeeeck quicksort").rare_names == ("quicksort",)


def test_a_pasted_exception_name_is_no_name() -> None:
    checked = vocabulary({"robot": "robot"}).check("ImportError: robot.srv")
    assert checked.rare_names == ()


def test_a_different_first_letter_makes_a_name_not_a_misspelling() -> None:
    # "xacro" is one letter from the everyday "macro", but people seldom mistype the first.
    assert vocabulary({"across": "across"}).check("xacro macros").rare_names == ("xacro",)


def test_short_words_numbers_quantities_and_the_students_own_vocabulary_are_left_alone() -> None:
    checked = vocabulary({"publisher": "publish"}, understood=("talker",)).check(
        "my talker, ros 2042 on a foo at 15fps"
    )
    assert checked.rare_names == ()
    assert not checked.corrections


def test_common_english_words_come_from_wordfreq_spelled_like_questions() -> None:
    common = english_word_frequencies()
    assert {"sinks", "doesnt", "floor"} <= common.keys()
    assert not {"quicksort", "xacro", "doesn't"} & common.keys()
    assert common["the"] > common["floor"] > common["sinks"] > 0


def test_a_misspelling_finds_the_lesson(index: SearchIndex) -> None:
    outcome = index.search_with_coverage("my lidr range is too short")
    assert outcome.results[0].path == LIDAR
    assert outcome.covered
    assert outcome.rare_names == ()


def test_a_question_naming_a_rare_name_is_not_covered(index: SearchIndex) -> None:
    asked = "how do I calibrate the camera field of view with a checkerboard"
    outcome = index.search_with_coverage(asked)
    assert outcome.results[0].path == CAMERA
    assert outcome.confidence >= SearchConfig().covered_threshold  # well matched otherwise
    assert outcome.rare_names == ("checkerboard",)
    assert not outcome.covered
    plain = SearchIndex.build(index.chunks, SearchConfig(rare_names=False))
    assert plain.search_with_coverage(asked).covered


def test_a_question_naming_a_rare_name_but_matching_the_book_well_is_covered(
    index: SearchIndex,
) -> None:
    outcome = index.search_with_coverage("install ros 2 humble on ubuntu under wsl2")
    assert outcome.confidence >= SearchConfig().rare_name_threshold
    assert outcome.rare_names == ("wsl2",)  # reported, for the answer to say so
    assert outcome.covered
    assert outcome.results[0].path == SETUP


def test_the_open_page_ranked_first_is_what_a_vague_question_is_about(
    index: SearchIndex,
) -> None:
    vague = "why does it say nothing arrives"
    assert not index.search_with_coverage(vague).covered
    reading = index.search_with_coverage(vague, page_path=TOPICS)
    assert reading.results[0].path == TOPICS
    assert reading.covered and reading.about_page


def test_a_question_must_name_one_of_the_books_subjects() -> None:
    # "recipe" is in the book (one of its analogies) but no more than in English at large.
    book = BookVocabulary.build(
        {"robot": "robot", "recipe": "recip", "gazebo": "gazebo"},
        lambda term: {"robot": 8, "recip": 1, "gazebo": 3}.get(term, 0),
        passages=100,
        common={"robot": 2e-5, "recipe": 1e-4, "banana": 1e-5, "bread": 4e-5, "book": 2e-4},
    )
    assert not book.check("what's a good banana bread recipe").names_subject
    # "recipe": in 1% of the passages, and of 1.5% of English ones; "robot": 8%, and 0.3%.
    assert book.check("my robot tips over").names_subject
    assert book.check("gazbo won't start").names_subject  # mistyped, still the book's word
    assert book.check("who is this book for").names_subject  # about the book itself
