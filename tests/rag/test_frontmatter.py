"""Our frontmatter contract: where the block is, which values reach the lessons, and
that a bad block is an error naming its line (YAML syntax itself is PyYAML's to test)."""

import pytest

from robolearn.rag import FrontmatterError, split_frontmatter


def test_no_frontmatter_gives_empty_mapping_and_whole_text() -> None:
    text = "# Title\n\nBody text.\n"
    assert split_frontmatter(text) == ({}, text)


def test_empty_text() -> None:
    assert split_frontmatter("") == ({}, "")


def test_unclosed_frontmatter_is_treated_as_body() -> None:
    text = "---\ntitle: Never closed\n\n# Heading\n"
    assert split_frontmatter(text) == ({}, text)


def test_delimiter_must_be_the_first_line() -> None:
    text = "\n---\ntitle: x\n---\nbody\n"
    assert split_frontmatter(text) == ({}, text)


def test_docusaurus_lesson_frontmatter() -> None:
    text = (
        "---\n"
        "id: lesson-4-2-writing-publisher\n"
        'title: "Lesson 4.2: Writing a Publisher"\n'
        "sidebar_position: 2\n"
        "hardware_tier: 1\n"
        "duration_minutes: 60\n"
        "learning_objectives:\n"
        '  - "Write a ROS 2 publisher node using rclpy"\n'
        "  - Understand the Node class and lifecycle (init → spin → shutdown)\n"
        "cognitive_load:\n"
        "  new_concepts: 2\n"
        'version: "1.0.0"\n'
        "created: 2025-11-29\n"
        "---\n"
        "\n# Lesson 4.2\n"
    )
    meta, body = split_frontmatter(text)
    assert meta == {
        "id": "lesson-4-2-writing-publisher",
        "title": "Lesson 4.2: Writing a Publisher",
        "sidebar_position": 2,
        "hardware_tier": 1,
        "duration_minutes": 60,
        "learning_objectives": [
            "Write a ROS 2 publisher node using rclpy",
            "Understand the Node class and lifecycle (init → spin → shutdown)",
        ],
        "cognitive_load": {"new_concepts": 2},
        "version": "1.0.0",
        "created": "2025-11-29",
    }
    assert body == "\n# Lesson 4.2\n"


def test_scalars_resolve_as_yaml_1_2_core_with_dates_as_text() -> None:
    meta, _ = split_frontmatter(
        "---\n"
        "int: 42\n"
        "negative: -3\n"
        "leading_zero: 010\n"
        "float: 0.5\n"
        "exponent: 1e3\n"
        "yes_flag: true\n"
        "no_flag: False\n"
        "nothing: ~\n"
        "empty:\n"
        "version: 1.0.0\n"
        "date: 2024-01-01\n"
        "timestamp: 2024-01-01 10:30:00\n"
        "answer: yes\n"
        "switch: off\n"
        "duration: 1:30\n"
        "hex: 0x1f\n"
        "infinity: .inf\n"
        "---\n"
    )
    assert meta == {
        "int": 42,
        "negative": -3,
        "leading_zero": 10,
        "float": 0.5,
        "exponent": 1000.0,
        "yes_flag": True,
        "no_flag": False,
        "nothing": None,
        "empty": None,
        "version": "1.0.0",
        "date": "2024-01-01",
        "timestamp": "2024-01-01 10:30:00",
        "answer": "yes",
        "switch": "off",
        "duration": "1:30",
        "hex": "0x1f",
        "infinity": ".inf",
    }
    assert type(meta["int"]) is int
    assert type(meta["float"]) is float
    assert type(meta["yes_flag"]) is bool


def test_keys_are_text() -> None:
    meta, _ = split_frontmatter("---\n2: two\ntrue: yes\n~: nothing\n2.5: half\n---\n")
    assert meta == {"2": "two", "true": "yes", "null": "nothing", "2.5": "half"}


@pytest.mark.parametrize(
    "block", ["", "# only a comment\n", "- just\n- a list\n", "a lone scalar\n"]
)
def test_a_block_without_a_mapping_gives_empty_mapping(block: str) -> None:
    assert split_frontmatter(f"---\n{block}---\nBody\n") == ({}, "Body\n")


def test_non_ascii_bom_and_crlf() -> None:
    text = (
        "\ufeff---\r\n"
        'title: "Capteurs et caméras — 传感器"\r\n'
        "auteur: Zoë Ŝ\r\n"
        "tags:\r\n"
        "  - ロボット\r\n"
        "---\r\n"
        "Corps du texte ✓\r\n"
    )
    meta, body = split_frontmatter(text)
    assert meta == {
        "title": "Capteurs et caméras — 传感器",
        "auteur": "Zoë Ŝ",
        "tags": ["ロボット"],
    }
    assert body == "Corps du texte ✓\r\n"


def test_dots_close_frontmatter() -> None:
    meta, body = split_frontmatter("---\n# a comment\nid: x\n...\nrest\n")
    assert meta == {"id": "x"}
    assert body == "rest\n"


def test_invalid_yaml_is_an_error_naming_the_line_in_the_file() -> None:
    text = '---\ntitle: Kept\ntier: 2\nbad_quote: "never closed\nnext: x\n---\nBody\n'
    with pytest.raises(FrontmatterError, match=r"scanning a quoted scalar \(line 4\)"):
        split_frontmatter(text)
    with pytest.raises(FrontmatterError, match=r"parsing a flow sequence \(line 3\)"):
        split_frontmatter("---\ntitle: ok\ntags: [unclosed, list\n---\n")


@pytest.mark.parametrize(
    "block",
    [
        "tags:\n\t- tabs are not YAML indentation\n",
        "colon: value: with colon\n",
        "? [a, b]\n: unhashable key\n",
        "when: !!timestamp 2024-01-01\n",
        "data: !!binary aGVsbG8=\n",
        "set: !!set {a, b}\n",
        "code: !!python/name:os.system\n",
        "count: !!int ten\n",
        "flag: !!bool maybe\n",
    ],
)
def test_what_is_not_plain_yaml_data_is_an_error(block: str) -> None:
    with pytest.raises(FrontmatterError, match="invalid YAML frontmatter"):
        split_frontmatter(f"---\n{block}---\nBody\n")


def test_absurd_nesting_and_alias_bombs_are_errors_not_crashes() -> None:
    deep_block = "".join(" " * i + f"k{i}:\n" for i in range(2000))
    deep_flow = "[" * 5000 + "]" * 5000
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]\n" for i in range(8)
    )
    for block in (deep_block, f"x: {deep_flow}\n", "x: &loop [*loop]\n", bomb):
        with pytest.raises(FrontmatterError, match="invalid YAML frontmatter"):
            split_frontmatter(f"---\n{block}---\nBody\n")
