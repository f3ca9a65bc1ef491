"""Passage → quotable sentences and code blocks (what extractive answers are made of)."""

from robolearn.rag import CommandStep, code_blocks, command_steps, prose_sentences

PASSAGE = """\
A **publisher** sends [messages](https://x/y) on a *topic*. Subscribers receive them.

```python
def __init__(self):
    pass
```
```bash
ros2 topic echo /chatter
```

The `super().__init__()` call names the node.

- Reliable delivery retries lost messages
  until they arrive
- Best effort drops them

| a | b |
|---|---|
:::tip
Hidden admonition marker lines are dropped.
:::
<img src="x.png"/>

Problems:
"""


def test_prose_is_split_into_plain_sentences_with_their_blocks() -> None:
    sentences = prose_sentences(PASSAGE)
    texts = [s.text for s in sentences]
    assert texts == [
        "A publisher sends messages on a topic.",
        "Subscribers receive them.",
        "The `super().__init__()` call names the node.",
        "Reliable delivery retries lost messages until they arrive",
        "Best effort drops them",
        "Hidden admonition marker lines are dropped.",
        "Problems:",
    ]
    assert sentences[0].block == sentences[1].block != sentences[2].block
    assert [s.in_list for s in sentences[2:5]] == [False, True, True]
    assert not sentences[0].is_complete  # a sentence, but too short to quote alone
    assert not sentences[3].is_complete  # no final punctuation: a fragment


def test_code_blocks_are_whole_fences_even_back_to_back() -> None:
    assert code_blocks(PASSAGE) == [
        "```python\ndef __init__(self):\n    pass\n```",
        "```bash\nros2 topic echo /chatter\n```",
    ]
    assert code_blocks("no code here") == []
    assert code_blocks("```\nunclosed\n") == ["```\nunclosed"]


def test_numbered_list_items_are_marked() -> None:
    sentences = prose_sentences(
        "Steps:\n\n1. Install it.\n2) Source it.\n- a bullet\n\nDone here.\n"
    )
    assert [(s.text, s.numbered) for s in sentences] == [
        ("Steps:", False),
        ("Install it.", True),
        ("Source it.", True),
        ("a bullet", False),
        ("Done here.", False),
    ]


def test_command_steps_are_shell_blocks_with_their_lead_ins() -> None:
    passage = """\
**Terminal 1: Start the publisher**

```bash
# start it
$ ros2 run my_pkg talker
```

You should see output:

```
[INFO] Publishing
```

```bash
ros2 topic echo /topic
```

```python
print("not a command")
```
"""
    assert command_steps(passage) == [
        CommandStep("Terminal 1: Start the publisher", ("ros2 run my_pkg talker",)),
        # Its lead-in introduced the output block, not this one.
        CommandStep("", ("ros2 topic echo /topic",)),
    ]
