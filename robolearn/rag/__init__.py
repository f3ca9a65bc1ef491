"""Textbook retrieval: read the Docusaurus book, chunk it, search it.

The core is pure and storage-agnostic: :func:`read_lessons` is its only function that
touches the file system; :class:`Lesson` and :class:`Chunk` are plain frozen values that
a store can persist as rows, and :class:`SearchIndex` is rebuilt from chunks in memory::

    lessons = read_lessons(book_dir, site_url="https://book.example")
    index = SearchIndex.build(chunk_lessons(lessons))
    results = index.search("how do I write a publisher?", module=1, limit=5)

Storage and serving: :class:`RagRepository` keeps the book in PostgreSQL (``ingest`` makes
the stored book equal to a docs tree, touching only changed lessons) and
:func:`open_live_index` gives a server a :class:`LiveIndex` rebuilt whenever an ingest
changes the stored book. :func:`evaluate_retrieval` scores ranking on a question set.

The search learns from questions students asked (:func:`load_asked`: the RoboLearn book's
question bank, shipped in ``asked/``): ``SearchIndex.build(chunks, asked=load_asked())``.

Vector search is optional: with an :class:`Embedder` (:class:`OpenAIEmbedder`), ingest
stores chunk embeddings (pgvector) and :class:`VectorSearch` ranks chunks for a question,
which the search fuses with BM25F (``search_with_coverage(..., vector_ranking=...)``).
"""

from robolearn.rag._analyzer import analyze, analyze_query
from robolearn.rag._asked import ASKED_DIR, AskedIndex, Resemblance, load_asked
from robolearn.rag._chunking import Chunk, chunk_lesson, chunk_lessons
from robolearn.rag._embeddings import Embedder, OpenAIEmbedder
from robolearn.rag._eval import (
    RankScores,
    Refusals,
    RetrievalReport,
    best_oos_threshold,
    evaluate_retrieval,
    first_relevant_rank,
    indexes_by_author,
    oos_scores,
    rank_scores,
)
from robolearn.rag._frontmatter import FrontmatterError, FrontmatterValue, split_frontmatter
from robolearn.rag._ingest import CHUNKING, IngestPlan, IngestReport, StoredLesson, plan_ingest
from robolearn.rag._lessons import Lesson, is_index_page, lesson_url, parse_lesson, read_lessons
from robolearn.rag._live import (
    DEMO_DOCS,
    LiveIndex,
    LiveIndexStatistics,
    demo_lessons,
    open_live_index,
)
from robolearn.rag._progress import TextProgress
from robolearn.rag._questions import (
    SPLITS,
    EvalQuestion,
    Split,
    load_questions,
    question_split,
    select_split,
)
from robolearn.rag._repository import (
    Database,
    IngestProgress,
    RagRepository,
    StoredCorpus,
    VectorSearch,
)
from robolearn.rag._search import (
    HARDWARE_TIERS,
    MAX_LIMIT,
    SearchArgumentError,
    SearchConfig,
    SearchIndex,
    SearchOutcome,
    SearchResult,
    overview_pages,
)
from robolearn.rag._sentences import (
    CommandStep,
    Sentence,
    code_blocks,
    command_steps,
    prose_sentences,
)
from robolearn.rag._stemmer import stem

__all__ = [
    "ASKED_DIR",
    "CHUNKING",
    "DEMO_DOCS",
    "HARDWARE_TIERS",
    "MAX_LIMIT",
    "SPLITS",
    "AskedIndex",
    "Chunk",
    "CommandStep",
    "Database",
    "Embedder",
    "EvalQuestion",
    "FrontmatterError",
    "FrontmatterValue",
    "IngestPlan",
    "IngestProgress",
    "IngestReport",
    "Lesson",
    "LiveIndex",
    "LiveIndexStatistics",
    "OpenAIEmbedder",
    "RagRepository",
    "RankScores",
    "Refusals",
    "Resemblance",
    "RetrievalReport",
    "SearchArgumentError",
    "SearchConfig",
    "SearchIndex",
    "SearchOutcome",
    "SearchResult",
    "Sentence",
    "Split",
    "StoredCorpus",
    "StoredLesson",
    "TextProgress",
    "VectorSearch",
    "analyze",
    "analyze_query",
    "best_oos_threshold",
    "chunk_lesson",
    "chunk_lessons",
    "code_blocks",
    "command_steps",
    "demo_lessons",
    "evaluate_retrieval",
    "first_relevant_rank",
    "indexes_by_author",
    "is_index_page",
    "lesson_url",
    "load_asked",
    "load_questions",
    "oos_scores",
    "open_live_index",
    "overview_pages",
    "parse_lesson",
    "plan_ingest",
    "prose_sentences",
    "question_split",
    "rank_scores",
    "read_lessons",
    "select_split",
    "split_frontmatter",
    "stem",
]
