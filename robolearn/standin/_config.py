"""How the stand-in answers: token count, pacing, tool-call policy, usage policy.

One frozen value, validated when built, so a bad ``POST /_standin/config`` or CLI flag is
refused with a message instead of breaking a stream half-way through.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, Literal, cast

import attrs

__all__ = ["ConfigError", "StandInConfig", "ToolCallPolicy", "UsagePolicy"]

ToolCallPolicy = Literal["never", "always", "marker"]
UsagePolicy = Literal["requested", "always"]

TOOL_CALL_POLICIES: tuple[ToolCallPolicy, ...] = ("never", "always", "marker")
USAGE_POLICIES: tuple[UsagePolicy, ...] = ("requested", "always")


class ConfigError(ValueError):
    """A setting has a wrong name, type or value; the message names it."""


def _tokens(_inst: object, attribute: attrs.Attribute[int], value: object) -> None:
    # bool is an int subclass: ``tokens=True`` is a bug, not one token.
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{attribute.name} must be an int >= 1, got {value!r}")


def _delay(_inst: object, attribute: attrs.Attribute[float], value: object) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < 0
    ):
        raise ConfigError(f"{attribute.name} must be a number of milliseconds >= 0, got {value!r}")


def _one_of(choices: tuple[str, ...]) -> Callable[[object, attrs.Attribute[str], object], None]:
    def check(_inst: object, attribute: attrs.Attribute[str], value: object) -> None:
        if value not in choices:
            raise ConfigError(f"{attribute.name} must be one of {choices}, got {value!r}")

    return check


@attrs.frozen(kw_only=True)
class StandInConfig:
    """What every model answer looks like until the next reset or config change.

    Attributes:
        tokens: text deltas per answer: ``answer to: <user text>`` and then `` t1`` ...
            up to ``t<tokens-1>``.
        delay_ms: milliseconds between deltas; delta ``n`` (counting from 1) is due
            ``n * delay_ms`` after the response headers, whatever sending took.
        tool_calls: when to answer with a ``search`` tool call (if the request offers that
            tool and carries no tool result yet): ``never``, ``always``, or ``marker``
            (when the user text contains the word "search").
        usage: ``requested`` sends the Chat Completions usage chunk only when the request
            asks (``stream_options.include_usage``); ``always`` sends it anyway.
    """

    tokens: int = attrs.field(default=20, validator=_tokens)
    delay_ms: float = attrs.field(default=5.0, validator=_delay)
    tool_calls: ToolCallPolicy = attrs.field(
        default="marker", validator=_one_of(TOOL_CALL_POLICIES)
    )
    usage: UsagePolicy = attrs.field(default="requested", validator=_one_of(USAGE_POLICIES))

    @property
    def delay(self) -> float:
        """``delay_ms`` in seconds, as trio's clock counts."""
        return self.delay_ms / 1000.0

    def updated(self, changes: Mapping[str, object]) -> StandInConfig:
        """A copy with ``changes`` (JSON from ``/_standin/config``) applied and validated."""
        known = {field.name for field in attrs.fields(StandInConfig)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ConfigError(f"unknown settings {unknown}; known: {sorted(known)}")
        return attrs.evolve(self, **cast(dict[str, Any], dict(changes)))

    def to_json(self) -> dict[str, object]:
        return attrs.asdict(self)
