"""Runs on the asyncio side of the bridge (inside trio-asyncio's loop).

``search_robolearn_content``: the textbook search the tutor's model calls.

One :class:`FunctionTool` serves every model (OpenAI and the offline local one). It runs
the in-memory search directly (sub-millisecond, no I/O), biased towards the page the
reader has open, and answers JSON text. Bad arguments come back to the model as
``{"error": "..."}`` so it can correct itself; nothing raises into the run.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from typing import Any, Final

import attrs
from agents import FunctionTool
from agents.tool_context import ToolContext

from robolearn.rag import (
    MAX_LIMIT,
    SearchArgumentError,
    SearchIndex,
    SearchOutcome,
    SearchResult,
    VectorSearch,
)

from ._context import PageContext
from ._explain import defining_sentences
from ._question import subjects_of

__all__ = [
    "SEARCH_TOOL_NAME",
    "FoundLesson",
    "PageRef",
    "SearchFindings",
    "run_search",
    "search_tool",
]

_log = logging.getLogger("robolearn.chat")

SEARCH_TOOL_NAME: Final = "search_robolearn_content"
EXCERPT_CHARS: Final = 1500

_DESCRIPTION: Final = (
    "Search the RoboLearn robotics textbook (ROS 2, Gazebo, NVIDIA Isaac Sim, "
    "vision-language-action models). Returns the best-matching lessons, one result each: "
    "title, url, module/chapter/lesson numbers, the section heading, the matching passage "
    "and a relevance score, plus `covered` (whether the book covers the question at all) "
    "and `page` (the lesson the student has open, which the search already favours). A "
    "result's `definitions` are the lesson's sentences defining what the query asks about "
    '("what is X", "X vs Y"). For a follow-up ("explain that more simply", "and on '
    'Windows?"), search the topic it continues: as the query when the follow-up names no '
    "topic of its own, else as `previous_question`. Cite the lessons you use as markdown "
    "links [title](url). Use the "
    "filters only when the student names a place in the book or their hardware."
)

_NULLABLE_INT: Final = {"type": ["integer", "null"]}
# Strict mode (what OpenAI recommends) wants every property listed as required; optional
# filters are therefore nullable, and null means "no filter".
_SCHEMA: Final = {
    "type": "object",
    "properties": {
        "query": {
            "type": "string",
            "description": (
                "The student's question, in their words; for a follow-up naming no topic "
                'of its own ("explain that more simply"), the question it continues.'
            ),
        },
        "previous_question": {
            "type": ["string", "null"],
            "description": (
                "When the question follows up on an earlier one and names a new thing "
                '("what about a laser scanner?"), the earlier question: its topic then '
                "guides the search at a lower weight. Null otherwise."
            ),
        },
        "module": {**_NULLABLE_INT, "description": "Only this module (1-4)."},
        "chapter_min": {**_NULLABLE_INT, "description": "Only chapters from this number."},
        "chapter_max": {**_NULLABLE_INT, "description": "Only chapters up to this number."},
        "lesson": {**_NULLABLE_INT, "description": "Only lessons with this number."},
        "hardware_tier": {
            **_NULLABLE_INT,
            "description": (
                "The student's hardware tier: 1 laptop/cloud, 2 RTX workstation, "
                "3 Jetson edge, 4 physical robot; keeps lessons that need this tier or less."
            ),
        },
        "limit": {**_NULLABLE_INT, "description": f"Results to return, 1-{MAX_LIMIT} (5)."},
    },
    "required": [
        "query",
        "previous_question",
        "module",
        "chapter_min",
        "chapter_max",
        "lesson",
        "hardware_tier",
        "limit",
    ],
    "additionalProperties": False,
}
_FILTERS: Final = ("module", "chapter_min", "chapter_max", "lesson", "hardware_tier")


@attrs.frozen
class PageRef:
    """The lesson the reader has open, as the index knows it."""

    title: str
    url: str


@attrs.frozen
class FoundLesson:
    """One search result as the model sees it."""

    title: str
    url: str
    module: int | None
    chapter: int | None
    lesson: int | None
    heading: str
    text: str
    score: float
    hardware_tier: int | None = None
    definitions: tuple[str, ...] = ()


@attrs.frozen
class SearchFindings:
    """The tool's answer; ``error`` set means the search did not run."""

    query: str = ""
    covered: bool = False
    results: tuple[FoundLesson, ...] = ()
    page: PageRef | None = None
    error: str | None = None
    never_mentioned: tuple[str, ...] = ()  # names in the question the book never uses

    def to_json(self) -> str:
        if self.error is not None:
            return json.dumps({"error": self.error})
        body: dict[str, Any] = {
            "query": self.query,
            "covered": self.covered,
            "page": None if self.page is None else attrs.asdict(self.page),
            "results": [attrs.asdict(result) for result in self.results],
        }
        if self.never_mentioned:
            body["never_mentioned"] = list(self.never_mentioned)
        if not self.covered:
            body["note"] = (
                "The book does not appear to cover this question; say so rather than "
                "presenting these results as the answer."
            )
        return json.dumps(body, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> SearchFindings:
        """Parse :meth:`to_json` output; anything else becomes an ``error``."""
        try:
            body = json.loads(text)
            if not isinstance(body, dict):
                raise TypeError("not an object")
            if "error" in body:
                return cls(error=str(body["error"]))
            page = body.get("page")
            return cls(
                query=str(body.get("query", "")),
                covered=bool(body["covered"]),
                results=tuple(_found(result) for result in body["results"]),
                page=PageRef(**page) if isinstance(page, dict) else None,
                never_mentioned=tuple(map(str, body.get("never_mentioned", ()))),
            )
        except (ValueError, TypeError, KeyError) as exc:
            return cls(error=f"unreadable search output ({exc})")


def search_tool(
    index: Callable[[], SearchIndex | None], vectors: VectorSearch | None = None
) -> FunctionTool:
    """The search tool over ``index()``, the index current at each call (it may be reloaded).

    The page the reader has open comes from the run context: chatkit's ``AgentContext``
    (``.request_context.page_context``) or a :class:`RequestContext` itself. With
    ``vectors``, the query's nearest chunks are fused into the ranking; if that fails
    (embedding service or database), the search stays lexical.
    """

    async def invoke(context: ToolContext[Any], arguments: str) -> str:
        ranking = await _vector_ranking(vectors, arguments) if index() is not None else None
        return run_search(
            index(), arguments, page=_page_of(context.context), vector_ranking=ranking
        ).to_json()

    return FunctionTool(
        name=SEARCH_TOOL_NAME,
        description=_DESCRIPTION,
        params_json_schema=_SCHEMA,
        on_invoke_tool=invoke,
        strict_json_schema=True,
    )


async def _vector_ranking(vectors: VectorSearch | None, arguments: str) -> list[str] | None:
    if vectors is None:
        return None
    try:
        query = json.loads(arguments or "{}").get("query")
    except (ValueError, AttributeError):
        return None  # run_search reports the bad arguments
    if not isinstance(query, str) or not query.strip():
        return None
    try:
        return await vectors.ranking(query[:2000])
    except Exception as exc:  # any failure of an optional signal: answer lexically
        _log.warning("vector search failed, searching lexically: %s", exc)
        return None


def run_search(
    index: SearchIndex | None,
    arguments: str,
    *,
    page: PageContext | None = None,
    vector_ranking: Sequence[str] | None = None,
) -> SearchFindings:
    """Run one tool call: ``arguments`` is the model's JSON text; ``vector_ranking`` the
    query's nearest chunk ids, if vector search is on."""
    if index is None:
        return SearchFindings(error="the textbook is not loaded yet; try again in a moment")
    try:
        parsed = json.loads(arguments or "{}")
    except ValueError as exc:
        return SearchFindings(error=f"arguments are not valid JSON: {exc}")
    if not isinstance(parsed, dict):
        return SearchFindings(error='arguments must be a JSON object like {"query": "..."}')
    unknown = sorted(set(parsed) - {"query", "previous_question", "limit", *_FILTERS})
    if unknown:
        return SearchFindings(
            error=f"unknown argument(s) {', '.join(unknown)}; allowed: query, "
            "previous_question, limit, " + ", ".join(_FILTERS)
        )
    if "query" not in parsed:
        return SearchFindings(error="query is required: pass the student's question")
    previous = parsed.get("previous_question")
    if previous is not None and not isinstance(previous, str):
        return SearchFindings(error="previous_question must be a string or null")
    page_path, page_ref = _resolve_page(index, page)
    try:
        outcome = index.search_with_coverage(
            parsed["query"],
            limit=5 if parsed.get("limit") is None else parsed["limit"],
            page_path=page_path,
            vector_ranking=vector_ranking,
            previous=previous or None,
            **{name: parsed.get(name) for name in _FILTERS},
        )
    except SearchArgumentError as exc:
        return SearchFindings(error=str(exc))
    subjects = subjects_of(parsed["query"])
    results = _introduced_first(index, outcome, subjects)
    return SearchFindings(
        query=parsed["query"],
        covered=outcome.covered,
        page=page_ref,
        never_mentioned=outcome.rare_names,
        results=tuple(
            FoundLesson(
                title=result.title,
                url=result.url,
                module=result.module,
                chapter=result.chapter,
                lesson=result.lesson,
                heading=result.heading,
                text=_excerpt(result.text),
                score=round(result.score, 3),
                hardware_tier=result.hardware_tier,
                definitions=_definitions(index, result.path, subjects, parsed["query"]),
            )
            for result in results
        ),
    )


def _introduced_first(
    index: SearchIndex, outcome: SearchOutcome, subjects: Sequence[str]
) -> Sequence[SearchResult]:
    """``outcome``'s results with the lesson that introduces the one thing asked about first.

    "What is a node?" matches every lesson that uses nodes, and the one using the word
    most often ranks first (Launch Files); a student asking wants the lesson that
    teaches it (Nodes and Topics). A question about the open page keeps it first.
    """
    results = outcome.results
    if len(subjects) != 1 or not results or outcome.about_page:
        return results
    first = index.introducing_lesson(subjects[0], [result.path for result in results])
    if first is None or first == results[0].path:
        return results
    return sorted(results, key=lambda result: result.path != first)


def _definitions(
    index: SearchIndex, path: str, subjects: Sequence[str], query: str
) -> tuple[str, ...]:
    """The lesson's sentences defining ``subjects``, from any of its passages."""
    if not subjects:
        return ()
    passages = [chunk.text for chunk in index.chunks if chunk.lesson_path == path]
    return defining_sentences(passages, subjects, context=query)


def _found(result: dict[str, Any]) -> FoundLesson:
    return FoundLesson(**{**result, "definitions": tuple(result.get("definitions", ()))})


def _resolve_page(
    index: SearchIndex, page: PageContext | None
) -> tuple[str | None, PageRef | None]:
    """The doc path or URL of the reader's page that the index knows, and the page."""
    if page is None:
        return None, None
    for candidate in (page.path, page.url):
        if candidate:
            chunk = index.page(candidate)
            if chunk is not None:
                return candidate, PageRef(chunk.title, chunk.url)
    return None, None


def _page_of(context: object) -> PageContext | None:
    request = getattr(context, "request_context", context)
    page = getattr(request, "page_context", None)
    return page if isinstance(page, PageContext) else None


def _excerpt(text: str) -> str:
    if len(text) <= EXCERPT_CHARS:
        return text
    cut = text[:EXCERPT_CHARS].rsplit(maxsplit=1)[0]
    return cut + " …"
