import hashlib
import logging
from pathlib import Path

import pytest

from robolearn.rag import (
    FrontmatterError,
    is_index_page,
    lesson_url,
    parse_lesson,
    read_lessons,
)

SITE = "https://book.example/"


def lesson_bytes(frontmatter: str, body: str = "\n# Heading From Body\n\nText.\n") -> bytes:
    return (f"---\n{frontmatter}---\n" if frontmatter else "").encode() + body.encode()


def test_url_uses_frontmatter_id_in_place_of_the_file_name() -> None:
    lesson = parse_lesson(
        "module-1-ros2/chapter-3-meet-ros2/03-nodes-topics.md",
        lesson_bytes('id: lesson-3-3-nodes-topics\ntitle: "Lesson 3.3: Nodes"\n'),
        site_url=SITE,
    )
    assert lesson.url == (
        "https://book.example/docs/module-1-ros2/chapter-3-meet-ros2/lesson-3-3-nodes-topics"
    )
    assert lesson.doc_id == "lesson-3-3-nodes-topics"


def test_readme_is_served_as_its_folder_whatever_its_id() -> None:
    chapter = parse_lesson(
        "module-1-ros2/chapter-3-meet-ros2/README.md",
        lesson_bytes("id: chapter-3-meet-ros2\ntitle: Chapter 3\n"),
        site_url=SITE,
    )
    module = parse_lesson("module-1-ros2/README.md", lesson_bytes("id: m1\n"), site_url=SITE)
    assert chapter.url == "https://book.example/docs/module-1-ros2/chapter-3-meet-ros2"
    assert module.url == "https://book.example/docs/module-1-ros2"
    assert chapter.is_index and module.is_index
    assert (chapter.module, chapter.chapter, chapter.lesson) == (1, 3, None)
    assert (module.module, module.chapter, module.lesson) == (1, None, None)


def test_file_without_id_keeps_its_name_minus_the_numeric_prefix() -> None:
    lesson = parse_lesson("module-2-sim/chapter-9-urdf/03-topics.md", b"# Topics\n", site_url=SITE)
    assert lesson.url == "https://book.example/docs/module-2-sim/chapter-9-urdf/topics"
    assert lesson.doc_id == "topics"
    assert (lesson.module, lesson.chapter, lesson.lesson) == (2, 9, 3)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("a/01_intro.md", "https://s.test/docs/a/intro"),
        ("a/1. intro.mdx", "https://s.test/docs/a/intro"),
        ("a/2024-notes.md", "https://s.test/docs/a/notes"),
        ("a/2021-11-notes.md", "https://s.test/docs/a/2021-11-notes"),
        ("a/7.0-notes.md", "https://s.test/docs/a/7.0-notes"),
        ("a/42.md", "https://s.test/docs/a/42"),
        ("a/index.md", "https://s.test/docs/a"),
        ("a/b/b.md", "https://s.test/docs/a/b"),
        ("README.md", "https://s.test/docs"),
        ("preface-agent-native.md", "https://s.test/docs/preface-agent-native"),
    ],
)
def test_url_rules(path: str, expected: str) -> None:
    assert lesson_url(path, site_url="https://s.test") == expected


def test_slug_frontmatter_overrides_the_url() -> None:
    assert lesson_url("a/b/01-x.md", site_url=SITE, slug="/custom/place") == (
        "https://book.example/docs/custom/place"
    )
    assert lesson_url("a/b/01-x.md", site_url=SITE, doc_id="x", slug="renamed") == (
        "https://book.example/docs/a/b/renamed"
    )


def test_index_page_detection() -> None:
    assert is_index_page("x/README.md")
    assert is_index_page("x/readme.mdx")
    assert is_index_page("x/index.md")
    assert is_index_page("chapter-1/chapter-1.md")
    assert not is_index_page("x/01-readme-first.md")


def test_title_falls_back_to_first_h1_then_file_name() -> None:
    from_h1 = parse_lesson(
        "m/c/01-a.md", b"```\n# not a title\n```\n\n# Real Title\n", site_url=SITE
    )
    from_name = parse_lesson("m/c/02-b.md", b"Just text, no heading.\n", site_url=SITE)
    assert from_h1.title == "Real Title"
    assert from_name.title == "02-b"


def test_metadata_fields_and_content_hash() -> None:
    raw = lesson_bytes(
        'title: "Camera"\nhardware_tier: 2\ndescription: Cameras in sim\n'
        "learning_objectives:\n  - Add a camera\n  - Set the FOV\n"
    )
    lesson = parse_lesson("module-2-simulation/chapter-11-sensors/01-camera.md", raw, site_url=SITE)
    assert lesson.title == "Camera"
    assert lesson.hardware_tier == 2
    assert lesson.description == "Cameras in sim"
    assert lesson.learning_objectives == ("Add a camera", "Set the FOV")
    assert lesson.content_hash == hashlib.sha256(raw).hexdigest()
    assert lesson.body.startswith("\n# Heading From Body")


def test_odd_metadata_does_not_break_parsing() -> None:
    lesson = parse_lesson(
        "module-x/chapter-y/lesson.md",
        lesson_bytes("hardware_tier: high\ntitle: [a, list]\nid: 7\n"),
        site_url=SITE,
    )
    assert lesson.hardware_tier is None
    assert lesson.title == "Heading From Body"
    assert lesson.doc_id == "7"
    assert (lesson.module, lesson.chapter, lesson.lesson) == (None, None, None)


def test_name_numbers_need_a_separator() -> None:
    lesson = parse_lesson("ros2-basics/part-3-x/ros2-nodes.md", b"# T\n", site_url=SITE)
    assert (lesson.module, lesson.chapter, lesson.lesson) == (None, 3, None)


def test_invalid_utf8_is_replaced_not_fatal() -> None:
    lesson = parse_lesson("m/c/01-x.md", b"# Caf\xe9 \xff\n", site_url=SITE)
    assert lesson.title == "Caf\ufffd \ufffd"


def test_read_lessons_walks_docs_and_skips_partials(tmp_path: Path) -> None:
    chapter = tmp_path / "module-1-ros2" / "chapter-2-x"
    chapter.mkdir(parents=True)
    (chapter / "01-a.md").write_text("---\nid: a-id\ntitle: A\n---\n# A\n", encoding="utf-8")
    (chapter / "02-b.mdx").write_text("# B ✓\n", encoding="utf-8")
    (chapter / "README.md").write_text("# Chapter\n", encoding="utf-8")
    (chapter / "_partial.md").write_text("# Partial\n", encoding="utf-8")
    (chapter / "notes.txt").write_text("not a doc\n", encoding="utf-8")
    (tmp_path / "_drafts").mkdir()
    (tmp_path / "_drafts" / "x.md").write_text("# Draft\n", encoding="utf-8")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "y.md").write_text("# Hidden\n", encoding="utf-8")

    lessons = read_lessons(tmp_path, site_url="https://s.test")

    assert [lesson.path for lesson in lessons] == [
        "module-1-ros2/chapter-2-x/01-a.md",
        "module-1-ros2/chapter-2-x/02-b.mdx",
        "module-1-ros2/chapter-2-x/README.md",
    ]
    assert [lesson.url for lesson in lessons] == [
        "https://s.test/docs/module-1-ros2/chapter-2-x/a-id",
        "https://s.test/docs/module-1-ros2/chapter-2-x/b",
        "https://s.test/docs/module-1-ros2/chapter-2-x",
    ]
    assert lessons[1].title == "B ✓"


def test_a_page_with_invalid_frontmatter_is_logged_and_skipped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bad = b"---\ntitle: [unclosed\n---\n# Bad\n"
    with pytest.raises(FrontmatterError, match="line 2"):
        parse_lesson("m/c/02-bad.md", bad, site_url=SITE)
    chapter = tmp_path / "m" / "c"
    chapter.mkdir(parents=True)
    (chapter / "01-good.md").write_bytes(lesson_bytes("title: Good\n"))
    (chapter / "02-bad.md").write_bytes(bad)
    (chapter / "03-also-good.md").write_bytes(lesson_bytes("title: Also good\n"))

    with caplog.at_level(logging.WARNING, logger="robolearn.rag"):
        lessons = read_lessons(tmp_path, site_url=SITE)

    assert [lesson.title for lesson in lessons] == ["Good", "Also good"]
    [record] = caplog.records
    assert str(chapter / "02-bad.md") in record.getMessage()
    assert "invalid YAML frontmatter" in record.getMessage()


def test_read_lessons_rejects_a_missing_root(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not a directory"):
        read_lessons(tmp_path / "nope", site_url=SITE)
