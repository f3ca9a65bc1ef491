import pytest

from robolearn.rag import Chunk, Lesson, chunk_lesson, chunk_lessons, parse_lesson

PATH = "module-1-ros2/chapter-3-meet-ros2/03-topics.md"


def make_lesson(body: str, *, frontmatter: str = "title: Topics\nhardware_tier: 1\n") -> Lesson:
    raw = f"---\n{frontmatter}---\n{body}".encode()
    return parse_lesson(PATH, raw, site_url="https://s.test")


def words(count: int, stem: str = "word") -> str:
    return " ".join(f"{stem}{i}" for i in range(count))


def fenced_units(chunk: Chunk) -> int:
    return sum(1 for line in chunk.text.splitlines() if line.strip().startswith(("```", "~~~")))


def test_one_chunk_per_section_and_intro_without_title() -> None:
    chunks = chunk_lesson(
        make_lesson(
            "# Topics\n\nIntro text.\n\n## Publishers\n\nPub text.\n\n## Subscribers\n\nSub.\n"
        )
    )
    assert [(c.ordinal, c.heading, c.text) for c in chunks] == [
        (0, "", "Intro text."),
        (1, "Publishers", "Pub text."),
        (2, "Subscribers", "Sub."),
    ]


def test_chunks_carry_lesson_metadata() -> None:
    (chunk,) = chunk_lesson(make_lesson("## Only\n\nText.\n"))
    assert chunk.lesson_path == PATH
    assert chunk.title == "Topics"
    assert (chunk.module, chunk.chapter, chunk.lesson, chunk.hardware_tier) == (1, 3, 3, 1)
    assert chunk.url == "https://s.test/docs/module-1-ros2/chapter-3-meet-ros2/topics"
    assert chunk.chunk_id == f"{PATH}#0"
    assert chunk.token_count == 1


@pytest.mark.parametrize("fence", ["```", "~~~", "````"])
def test_hash_lines_inside_code_fences_are_not_headings(fence: str) -> None:
    body = (
        "## Shell\n\nRun this:\n\n"
        f"{fence}bash\n## not a heading\n# nor this\n\nstill code\n{fence}\n\n"
        "After the fence.\n\n## Next\n\nNext text.\n"
    )
    chunks = chunk_lesson(make_lesson(body))
    assert [c.heading for c in chunks] == ["Shell", "Next"]
    assert "## not a heading\n# nor this\n\nstill code" in chunks[0].text
    assert chunks[0].text.endswith("After the fence.")


def test_a_shorter_or_different_closing_fence_does_not_close() -> None:
    body = "## A\n\n````\n```\n## inside\n~~~\n````\n\n## B\n\nb\n"
    chunks = chunk_lesson(make_lesson(body))
    assert [c.heading for c in chunks] == ["A", "B"]
    assert "## inside" in chunks[0].text


def test_unclosed_fence_runs_to_the_end() -> None:
    chunks = chunk_lesson(make_lesson("## A\n\n```\ncode\n## B\nmore\n"))
    assert [c.heading for c in chunks] == ["A"]
    assert chunks[0].text == "```\ncode\n## B\nmore"


def test_huge_section_is_split_with_overlap_and_subheading_paths() -> None:
    body = (
        "## Topics\n\n"
        + words(300, "a")
        + "\n\n### Publishers\n\n"
        + words(300, "b")
        + "\n\n### Subscribers\n\n"
        + words(300, "c")
        + "\n"
    )
    chunks = chunk_lesson(make_lesson(body), max_tokens=400, overlap_tokens=40)
    assert [c.heading for c in chunks] == [
        "Topics",
        "Topics > Publishers",
        "Topics > Subscribers",
    ]
    assert all(c.token_count <= 400 for c in chunks)
    # Each later piece opens with the tail of the previous piece's last paragraph.
    assert chunks[1].text.startswith(" ".join(f"a{i}" for i in range(260, 300)))
    assert chunks[2].text.startswith(" ".join(f"b{i}" for i in range(260, 300)))
    assert "### Publishers" in chunks[1].text


def test_one_huge_paragraph_is_windowed_with_overlap() -> None:
    chunks = chunk_lesson(make_lesson("## Wall\n\n" + words(1000) + "\n"), max_tokens=400)
    assert len(chunks) == 3
    assert all(c.token_count <= 400 for c in chunks)
    first, second = chunks[0].text.split(), chunks[1].text.split()
    assert second[:40] == first[-40:]
    covered = {w for c in chunks for w in c.text.split()}
    assert covered == {f"word{i}" for i in range(1000)}


def test_huge_code_block_is_never_split() -> None:
    code = "```python\n" + "\n".join(f"x{i} = {i}" for i in range(600)) + "\n```"
    body = f"## Code\n\nIntro paragraph.\n\n{code}\n\nAfter.\n"
    chunks = chunk_lesson(make_lesson(body), max_tokens=400, overlap_tokens=40)
    holding = [c for c in chunks if "x0 = 0" in c.text]
    assert len(holding) == 1
    assert code in holding[0].text
    assert all(fenced_units(c) % 2 == 0 for c in chunks)
    # Overlap is prose only: the piece after the code does not start with code.
    after = chunks[chunks.index(holding[0]) + 1]
    assert after.text == "After."


def test_no_chunk_boundary_inside_any_fence() -> None:
    paragraphs = []
    for i in range(12):
        paragraphs.append(words(60, f"p{i}_"))
        paragraphs.append("```\n" + words(50, f"code{i}_") + "\n## fake\n```")
    chunks = chunk_lesson(make_lesson("## Mixed\n\n" + "\n\n".join(paragraphs) + "\n"))
    assert len(chunks) > 1
    assert all(fenced_units(c) % 2 == 0 for c in chunks)
    assert all(c.heading.startswith("Mixed") for c in chunks)


def test_empty_sections_are_dropped() -> None:
    body = (
        "# Title\n\n"
        "## Empty\n\n"
        "## Only a rule\n\n---\n\n"
        "## Only an empty subsection\n\n### Nothing here\n\n"
        "## Real\n\nContent.\n\n"
        "## Trailing\n"
    )
    chunks = chunk_lesson(make_lesson(body))
    assert [(c.heading, c.text) for c in chunks] == [("Real", "Content.")]


def test_non_ascii_text_and_headings_survive() -> None:
    body = "## Capteurs — センサー\n\nLa caméra voit «loin»; 传感器 ✓.\n"
    (chunk,) = chunk_lesson(make_lesson(body, frontmatter='title: "Leçon 1"\n'))
    assert chunk.heading == "Capteurs — センサー"
    assert chunk.text == "La caméra voit «loin»; 传感器 ✓."
    assert chunk.title == "Leçon 1"


def test_lesson_without_frontmatter_or_headings_is_one_chunk() -> None:
    lesson = parse_lesson("notes.md", b"Just some notes.\n", site_url="https://s.test")
    assert [(c.heading, c.text) for c in chunk_lesson(lesson)] == [("", "Just some notes.")]


def test_chunk_lessons_keeps_order_and_ordinals_per_lesson() -> None:
    a = make_lesson("## A1\n\nx\n\n## A2\n\ny\n")
    b = parse_lesson("m/c/02-b.md", b"## B1\n\nz\n", site_url="https://s.test")
    chunks = chunk_lessons([a, b])
    assert [(c.lesson_path, c.ordinal) for c in chunks] == [
        (PATH, 0),
        (PATH, 1),
        ("m/c/02-b.md", 0),
    ]


@pytest.mark.parametrize(("max_tokens", "overlap"), [(0, 0), (10, 10), (10, -1)])
def test_invalid_sizes_are_rejected(max_tokens: int, overlap: int) -> None:
    with pytest.raises(ValueError, match="max_tokens"):
        chunk_lesson(make_lesson("text"), max_tokens=max_tokens, overlap_tokens=overlap)
