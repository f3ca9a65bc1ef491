"""Textbook retrieval: read the Docusaurus book, chunk it, search it.

Pure and storage-agnostic: :func:`read_lessons` is the only function that touches the
file system; :class:`Lesson` and :class:`Chunk` are plain frozen values that a store can
persist as rows, and :class:`SearchIndex` is rebuilt from chunks in memory::

    lessons = read_lessons(book_dir, site_url="https://book.example")
    index = SearchIndex.build(chunk_lessons(lessons))
    results = index.search("how do I write a publisher?", module=1, limit=5)
"""

from robolearn.rag._analyzer import analyze, analyze_query
from robolearn.rag._chunking import Chunk, chunk_lesson, chunk_lessons
from robolearn.rag._frontmatter import FrontmatterValue, split_frontmatter
from robolearn.rag._lessons import Lesson, is_index_page, lesson_url, parse_lesson, read_lessons
from robolearn.rag._search import (
    HARDWARE_TIERS,
    MAX_LIMIT,
    SearchArgumentError,
    SearchConfig,
    SearchIndex,
    SearchOutcome,
    SearchResult,
)
from robolearn.rag._stemmer import stem

__all__ = [
    "HARDWARE_TIERS",
    "MAX_LIMIT",
    "Chunk",
    "FrontmatterValue",
    "Lesson",
    "SearchArgumentError",
    "SearchConfig",
    "SearchIndex",
    "SearchOutcome",
    "SearchResult",
    "analyze",
    "analyze_query",
    "chunk_lesson",
    "chunk_lessons",
    "is_index_page",
    "lesson_url",
    "parse_lesson",
    "read_lessons",
    "split_frontmatter",
    "stem",
]
