from robolearn.rag import split_frontmatter


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


def test_scalar_types() -> None:
    meta, _ = split_frontmatter(
        "---\n"
        "int: 42\n"
        "negative: -3\n"
        "float: 0.5\n"
        "yes: true\n"
        "no: False\n"
        "nothing: ~\n"
        "empty:\n"
        "version: 1.0.0\n"
        "plain: hello world  # a comment\n"
        "hash_in_word: C#sharp\n"
        "single: 'it''s quoted'\n"
        'double: "tab\\tand \\"escapes\\" \\u00e9"\n'
        "colon: value: with colon\n"
        "---\n"
    )
    assert meta == {
        "int": 42,
        "negative": -3,
        "float": 0.5,
        "yes": True,
        "no": False,
        "nothing": None,
        "empty": None,
        "version": "1.0.0",
        "plain": "hello world",
        "hash_in_word": "C#sharp",
        "single": "it's quoted",
        "double": 'tab\tand "escapes" é',
        "colon": "value: with colon",
    }


def test_flow_lists_and_maps() -> None:
    meta, _ = split_frontmatter(
        "---\n"
        "tags: [ros2, 'gazebo sim', \"a, b\", 3]\n"
        "empty: []\n"
        'authors: ["RoboLearn Team"]\n'
        "map: {tier: 1, name: cloud}\n"
        "broken: [unclosed, list\n"
        "---\n"
    )
    assert meta == {
        "tags": ["ros2", "gazebo sim", "a, b", 3],
        "empty": [],
        "authors": ["RoboLearn Team"],
        "map": {"tier": 1, "name": "cloud"},
        "broken": "[unclosed, list",
    }


def test_block_lists_at_key_indent_and_nested_mappings() -> None:
    meta, _ = split_frontmatter(
        "---\n"
        "skills:\n"
        "- ros2-fundamentals\n"
        "- ros2-cli\n"
        "steps:\n"
        "  - name: build\n"
        "    minutes: 5\n"
        "  - plain item\n"
        "after: done\n"
        "---\n"
    )
    assert meta == {
        "skills": ["ros2-fundamentals", "ros2-cli"],
        "steps": [{"name": "build", "minutes": 5}, "plain item"],
        "after": "done",
    }


def test_block_scalars_and_multiline_plain_values() -> None:
    meta, _ = split_frontmatter(
        "---\n"
        "literal: |\n"
        "  line one\n"
        "    indented\n"
        "  line three\n"
        "folded: >\n"
        "  folded\n"
        "  together\n"
        "\n"
        "  new paragraph\n"
        "description: a long description\n"
        "  continued here\n"
        "next: 1\n"
        "---\n"
    )
    assert meta == {
        "literal": "line one\n  indented\nline three\n",
        "folded": "folded together\nnew paragraph\n",
        "description": "a long description continued here",
        "next": 1,
    }


def test_malformed_lines_are_skipped_not_fatal() -> None:
    meta, body = split_frontmatter(
        "---\n"
        "title: Kept\n"
        "this line has no colon\n"
        ":starts with colon\n"
        "   stray: over-indented\n"
        '"unterminated: "quote\n'
        "tier: 2\n"
        'bad_quote: "never closed\n'
        "---\n"
        "Body\n"
    )
    assert meta["title"] == "Kept"
    assert meta["tier"] == 2
    assert meta["bad_quote"] == '"never closed'
    assert body == "Body\n"


def test_non_mapping_document_gives_empty_mapping() -> None:
    meta, body = split_frontmatter("---\n- just\n- a list\n---\nBody\n")
    assert meta == {}
    assert body == "Body\n"


def test_non_ascii_bom_crlf_and_tabs() -> None:
    text = (
        "\ufeff---\r\n"
        'title: "Capteurs et caméras — 传感器"\r\n'
        "auteur: Zoë Ŝ\r\n"
        "tags:\r\n"
        "\t- ロボット\r\n"
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


def test_dots_close_frontmatter_and_comments_are_ignored() -> None:
    meta, body = split_frontmatter("---\n# a comment\nid: x\n...\nrest\n")
    assert meta == {"id": "x"}
    assert body == "rest\n"


def test_duplicate_keys_last_wins() -> None:
    meta, _ = split_frontmatter("---\nid: first\nid: second\n---\n")
    assert meta == {"id": "second"}


def test_absurd_nesting_is_skipped_not_a_crash() -> None:
    deep_block = "".join(" " * i + f"k{i}:\n" for i in range(2000))
    meta, body = split_frontmatter(f"---\n{deep_block}after: 1\n---\nBody\n")
    assert meta["after"] == 1
    assert body == "Body\n"
    deep_flow = "[" * 5000 + "]" * 5000
    meta, _ = split_frontmatter(f"---\nx: {deep_flow}\n---\n")
    assert meta == {"x": deep_flow}
