"""The in-memory lesson search: BM25F over chunks, ranked and deduplicated per lesson.

Ranking, step by step (each step measured by ``benchmarks/rag_eval.py``):

1. The question is analyzed like the book, with student shorthand spelled out and a few
   synonyms added at a lower weight (:mod:`robolearn.rag._query`).
2. Chunks are scored with BM25F: the lesson title and the section headings count more
   than body text.
3. The page being read gets a mild boost, its chapter a milder one; a place the question
   names ("module 1 capstone") is boosted too.
4. Chunk scores fold into one score per lesson: the best chunk plus a decaying share of
   the next ones, plus a whole-lesson BM25F score, so a lesson that is *about* the topic
   beats one that mentions it in passing. Chapter and module overviews, which summarise
   every lesson under them, are damped so the lesson itself comes first. The questions
   students asked about each lesson add their own score (:mod:`robolearn.rag._asked`).
5. A question that points at the page ("explain this example") puts that page first.
6. Each lesson is returned once, with its best chunk as the passage.
7. Optionally, a vector ranking of chunks (pgvector nearest neighbours, computed by the
   caller) is fused with that lesson ranking by reciprocal rank fusion.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import PurePosixPath
from types import MappingProxyType
from typing import Final

import attrs

from robolearn.rag._analyzer import analyze, words
from robolearn.rag._asked import AskedIndex, Resemblance
from robolearn.rag._bm25 import Bm25Index, FieldSpec
from robolearn.rag._chunking import Chunk
from robolearn.rag._lessons import is_index_page
from robolearn.rag._markdown import subheadings
from robolearn.rag._query import Query, QueryAnalyzer
from robolearn.rag._questions import EvalQuestion
from robolearn.rag._vocabulary import BookVocabulary, WordCheck, english_word_frequencies

HARDWARE_TIERS: Final = (1, 2, 3, 4)
"""The book's hardware tiers: 1 laptop/cloud, 2 RTX workstation, 3 Jetson edge, 4 robot."""
MAX_LIMIT: Final = 20
MAX_QUERY_CHARS: Final = 2000


class SearchArgumentError(ValueError):
    """A search argument is out of range or of the wrong type; the message says which."""


@attrs.frozen
class SearchResult:
    """One lesson matching a query, with its best passage (``text`` under ``heading``)."""

    text: str
    title: str
    module: int | None
    chapter: int | None
    lesson: int | None
    url: str
    path: str
    heading: str
    score: float
    hardware_tier: int | None = None


@attrs.frozen
class SearchOutcome:
    """Results plus whether the book appears to cover the question at all.

    ``confidence`` in [0, 1] is the best passage's BM25 score relative to the most the
    question could score (every term present, saturated), so words the book never uses
    pull it down. ``rare_names`` are the question's words that neither the book nor
    everyday English uses: names of tools or topics (:mod:`robolearn.rag._vocabulary`).
    ``covered`` is True when the question is about the page being read (it points at it,
    "explain this", or the page ranks first), else when ``confidence`` reaches
    ``SearchConfig.covered_threshold``, or ``rare_name_threshold`` for a question naming
    a rare name. It stays
    lexical when a vector ranking is fused in: cosine distances are model-specific and
    uncalibrated, while the BM25 threshold is measured on the question sets.
    ``missing_terms`` are the question's terms the book never uses. ``off_topic`` says the
    question (with the previous message it follows up on) names none of the book's
    subjects, as trivia in everyday words does: it is then not covered either, unless
    ``about_page``: the question is about the open page (it points at it, or the page ranks
    first), which covers it whatever the rest says. ``resemblance`` compares the question
    with those students asked before: much like one the book answers, it is covered
    whatever its confidence or words; more like one the book does not cover than like any
    it does (by ``SearchConfig.asked_margin``), it is not.
    """

    results: tuple[SearchResult, ...]
    covered: bool
    confidence: float
    matched_terms: tuple[str, ...]
    missing_terms: tuple[str, ...]
    rare_names: tuple[str, ...] = ()
    off_topic: bool = False
    about_page: bool = False
    resemblance: Resemblance = attrs.field(factory=Resemblance)


@attrs.frozen
class SearchConfig:
    """Ranking knobs; the defaults are calibrated on ``robolearn/rag/asked/questions.jsonl``,
    ``previous_weight`` on the dev split of ``fresh.jsonl``, and ``covered_threshold`` and
    the ``asked_*`` knobs on the dev splits of ``fresh.jsonl``, ``fresh2.jsonl`` and
    ``fresh4.jsonl`` (each author's questions searched with the others' asked questions).

    ``fielded=False`` indexes heading and text as one plain field (the Okapi baseline).
    ``next_chunk_weight`` is the decay applied to a lesson's 2nd, 3rd, ... best chunks
    when they are summed into the lesson score (0 keeps the best chunk only), and
    ``lesson_weight`` scales the whole-lesson BM25F score added to it. ``rrf_k`` is the
    reciprocal rank fusion constant used when a vector ranking is given.
    ``previous_weight`` weighs the terms of the student's previous message when a
    question follows up on it (0 ignores it). ``overview_weight`` scales the score of
    chapter and module overview pages that have lessons under them (1 leaves them be):
    an overview names every topic of its lessons, so it often outranks the lesson that
    teaches one. Of the thresholds that refuse no more than 2% of the covered dev
    questions, ``covered_threshold`` is the lowest of those refusing the most uncovered
    ones (a higher one would only refuse covered questions more). ``read_misspellings``
    reads a rare word one edit away from a book word as that word; ``rare_names`` makes
    a question naming a rare word the book never uses ("xacro") need
    ``rare_name_threshold`` to be covered: twice the usual confidence, so that a question
    matching the book that well ("install ROS 2 on wsl2") is answered from it, while the
    uncovered dev questions naming one all score below 0.31. ``off_topic`` leaves a question
    that names none of the book's subjects uncovered, however well its everyday words match.
    ``asked`` learns from the questions students asked (:mod:`robolearn.rag._asked`): a
    lesson's asked questions add ``asked_weight`` times their BM25 score to its score; a
    question whose resemblance to an answered one reaches ``asked_covers`` is covered, and
    one more like an unanswered one than any answered one by ``asked_margin`` is not.
    """

    k1: float = 1.2
    b: float = 0.75
    fielded: bool = True
    title_weight: float = 3.0
    heading_weight: float = 2.0
    student_vocabulary: bool = True
    synonym_weight: float = 0.5
    drop_query_filler: bool = True
    page_boost: float = 0.2
    chapter_boost: float = 0.05
    page_first_when_pointed: bool = True
    place_boost: float = 0.3
    next_chunk_weight: float = 0.8
    lesson_weight: float = 0.5
    covered_threshold: float = 0.189
    rare_name_threshold: float = 0.35
    rrf_k: int = 60
    previous_weight: float = 0.35
    overview_weight: float = 0.8
    read_misspellings: bool = True
    rare_names: bool = True
    off_topic: bool = True
    asked: bool = True
    asked_weight: float = 1.0
    asked_covers: float = 0.35
    asked_margin: float = 0.15

    @classmethod
    def plain_bm25(cls) -> SearchConfig:
        """Okapi BM25 over heading + text, best chunk per lesson, nothing else."""
        return cls(
            fielded=False,
            student_vocabulary=False,
            drop_query_filler=False,
            page_boost=0.0,
            chapter_boost=0.0,
            page_first_when_pointed=False,
            place_boost=0.0,
            next_chunk_weight=0.0,
            lesson_weight=0.0,
            previous_weight=0.0,
            overview_weight=1.0,
            read_misspellings=False,
            rare_names=False,
            off_topic=False,
            asked=False,
        )

    def vouches(self, resemblance: Resemblance) -> bool:
        """Whether a question this much like asked ones is covered, whatever its words."""
        return resemblance.answered >= self.asked_covers

    def doubts(self, resemblance: Resemblance) -> bool:
        """Whether a question this much like asked ones is not covered: it is more like
        one the book does not cover than like any it does."""
        return resemblance.unanswered > resemblance.answered + self.asked_margin


@attrs.frozen
class _Filters:
    module: int | None
    chapter_min: int | None
    chapter_max: int | None
    lesson: int | None
    hardware_tier: int | None

    def admit(self, chunk: Chunk) -> bool:
        if self.module is not None and chunk.module != self.module:
            return False
        if (self.chapter_min is not None or self.chapter_max is not None) and chunk.chapter is None:
            return False  # a chapter range excludes pages outside any chapter
        if (
            self.chapter_min is not None
            and chunk.chapter is not None
            and chunk.chapter < self.chapter_min
        ):
            return False
        if (
            self.chapter_max is not None
            and chunk.chapter is not None
            and chunk.chapter > self.chapter_max
        ):
            return False
        if self.lesson is not None and chunk.lesson != self.lesson:
            return False
        # A reader with tier N can follow anything that needs tier N or less; pages
        # without a tier (overviews) suit everyone.
        return (
            self.hardware_tier is None
            or chunk.hardware_tier is None
            or chunk.hardware_tier <= self.hardware_tier
        )


@attrs.frozen
class SearchIndex:
    """An immutable, in-memory search index over lesson chunks (no I/O).

    Build it once with :meth:`build` from chunks (freshly chunked or loaded from a store)
    and share it freely: searching never mutates it.
    """

    chunks: tuple[Chunk, ...]
    config: SearchConfig
    _analyzer: QueryAnalyzer
    _chunk_index: Bm25Index
    _lesson_index: Bm25Index  # one document per lesson, numbered like _lesson_paths
    _lesson_paths: tuple[str, ...]
    _lesson_chunks: Mapping[str, tuple[int, ...]]
    _pages: Mapping[str, str]  # normalised doc path / URL → lesson path
    _chunk_ids: Mapping[str, int]  # Chunk.chunk_id → position in chunks
    _overviews: frozenset[str]  # lesson paths of overview pages that have pages under them
    _vocabulary: BookVocabulary | None  # None: words the book lacks are not looked at
    _asked: AskedIndex | None  # None: no asked questions for this book

    @classmethod
    def build(
        cls,
        chunks: Iterable[Chunk],
        config: SearchConfig | None = None,
        *,
        english: Mapping[str, float] | None = None,
        asked: Iterable[EvalQuestion] = (),
    ) -> SearchIndex:
        """Index ``chunks`` (in their reading order) with ``config`` or the defaults.

        ``english`` is the everyday English words and their frequencies (default:
        :func:`~robolearn.rag._vocabulary.english_word_frequencies`). ``asked`` is the
        questions students asked about the book, with their lessons
        (:func:`~robolearn.rag._asked.load_asked` for the RoboLearn book's).
        """
        config = config or SearchConfig()
        ordered = tuple(chunks)
        fields, docs, stems = _documents(ordered, config)
        lesson_chunks: dict[str, list[int]] = {}
        pages: dict[str, str] = {}
        for index, chunk in enumerate(ordered):
            lesson_chunks.setdefault(chunk.lesson_path, []).append(index)
            for key in (chunk.lesson_path, re.sub(r"\.mdx?$", "", chunk.lesson_path), chunk.url):
                pages.setdefault(_page_key(key), chunk.lesson_path)
        lesson_paths = tuple(lesson_chunks)
        lesson_docs = [_merge([docs[i] for i in lesson_chunks[path]]) for path in lesson_paths]
        analyzer = QueryAnalyzer.create(
            student_vocabulary=config.student_vocabulary,
            synonym_weight=config.synonym_weight,
            drop_filler=config.drop_query_filler,
            previous_weight=config.previous_weight,
        )
        chunk_index = Bm25Index.build(docs, fields, k1=config.k1)
        vocabulary = None
        if config.read_misspellings or config.rare_names or config.off_topic:
            vocabulary = BookVocabulary.build(
                stems,
                lambda term: len(chunk_index.postings.get(term, ())),
                passages=len(docs),
                understood=analyzer.understood,
                common=english_word_frequencies() if english is None else english,
            )
        return cls(
            chunks=ordered,
            config=config,
            analyzer=analyzer,
            chunk_index=chunk_index,
            lesson_index=Bm25Index.build(lesson_docs, fields, k1=config.k1),
            lesson_paths=lesson_paths,
            lesson_chunks=MappingProxyType({k: tuple(v) for k, v in lesson_chunks.items()}),
            pages=MappingProxyType(pages),
            chunk_ids=MappingProxyType({c.chunk_id: i for i, c in enumerate(ordered)}),
            overviews=overview_pages(lesson_paths),
            vocabulary=vocabulary,
            asked=AskedIndex.build(asked, lesson_paths) if config.asked else None,
        )

    @property
    def asked_questions(self) -> int:
        """How many questions students asked it learned from (0: none, or another book's)."""
        return self._asked.size if self._asked is not None else 0

    def search(
        self,
        query: str,
        *,
        module: int | None = None,
        chapter_min: int | None = None,
        chapter_max: int | None = None,
        lesson: int | None = None,
        hardware_tier: int | None = None,
        limit: int = 5,
        page_path: str | None = None,
        previous: str | None = None,
    ) -> list[SearchResult]:
        """Find the lessons that best answer ``query``: best first, one result each.

        Filters narrow the book: ``module``; chapters ``chapter_min..chapter_max``
        (inclusive); ``lesson`` number; ``hardware_tier`` keeps pages that need that tier
        or less. ``page_path`` (doc path or page URL) is the page being read: it gets a
        mild boost, and comes first when the question points at it ("explain this").
        ``limit`` is 1..20. Raises :class:`SearchArgumentError` on invalid arguments.
        """
        return list(
            self.search_with_coverage(
                query,
                module=module,
                chapter_min=chapter_min,
                chapter_max=chapter_max,
                lesson=lesson,
                hardware_tier=hardware_tier,
                limit=limit,
                page_path=page_path,
                previous=previous,
            ).results
        )

    def search_with_coverage(
        self,
        query: str,
        *,
        module: int | None = None,
        chapter_min: int | None = None,
        chapter_max: int | None = None,
        lesson: int | None = None,
        hardware_tier: int | None = None,
        limit: int = 5,
        page_path: str | None = None,
        vector_ranking: Sequence[str] | None = None,
        previous: str | None = None,
    ) -> SearchOutcome:
        """Like :meth:`search`, plus whether the book covers the question at all.

        ``vector_ranking`` is chunk ids (:attr:`Chunk.chunk_id`), most similar first, from
        a vector search for ``query``. The filters apply to it too (unknown ids are
        ignored); its lesson ranking (each lesson at its best chunk's rank) is fused with
        the BM25F one by reciprocal rank fusion, and results then score
        ``sum(1 / (rrf_k + rank))``. A page the question points at still comes first, and
        a lesson found by vectors alone shows its nearest chunk. Without a ranking (None,
        or no admitted chunk in it) the search is purely lexical.
        """
        filters = _validate(
            query, module, chapter_min, chapter_max, lesson, hardware_tier, limit, page_path
        )
        checked = self._check_words(query)
        if previous:
            earlier = self._check_words(previous)
            checked = attrs.evolve(
                checked,
                corrections={**earlier.corrections, **checked.corrections},
                names_subject=checked.names_subject or earlier.names_subject,
            )
        question = self._analyzer.analyze(query, previous, checked.corrections)
        # A question pointing at what is read ("can I do this on a mac?") is about the page
        # or the course, whatever its words.
        off_topic = not checked.names_subject and not question.points_at_page
        page = self._resolve_page(page_path, filters)
        raw = {
            index: score
            for index, score in self._chunk_index.score(question.weights).items()
            if filters.admit(self.chunks[index])
        }
        boosted = {
            index: score * self._boost(index, question, page) for index, score in raw.items()
        }
        lesson_scores = self._lesson_scores(boosted, question, filters)
        # With nothing to match, or a question about "this" page, the page is the answer.
        page_is_answer = page is not None and (
            not question.terms or (question.points_at_page and self.config.page_first_when_pointed)
        )
        if page is not None and page_is_answer:
            top = max(lesson_scores.values(), default=0.0)
            lesson_scores[page] = top + lesson_scores.get(page, 0.0) + 1.0

        ranked = sorted(lesson_scores.items(), key=lambda item: (-item[1], item[0]))
        nearest = self._vector_lessons(vector_ranking or (), filters)
        if nearest:
            ranked = self._fuse(ranked, nearest, page if page_is_answer else None)
        results = tuple(
            _result(self._best_chunk(path, boosted, nearest.get(path)), score)
            for path, score in ranked[:limit]
        )
        confidence = self._confidence(question, raw)
        resemblance = (
            self._asked.resemblance(question.weights) if self._asked is not None else Resemblance()
        )
        distinct = tuple(dict.fromkeys(question.terms))
        # The page being read that also ranks first is what the question is about, however
        # vaguely it is put ("why does it say 0 subscribers?").
        about_page = page_is_answer or (
            bool(results) and page is not None and results[0].path == page
        )
        matched = not off_topic and confidence >= (
            self.config.rare_name_threshold if checked.rare_names else self.config.covered_threshold
        )
        return SearchOutcome(
            results=results,
            covered=bool(results)
            and (
                about_page
                or (
                    not self.config.doubts(resemblance)
                    and (matched or self.config.vouches(resemblance))
                )
            ),
            confidence=confidence,
            matched_terms=tuple(t for t in distinct if t in self._chunk_index.postings),
            missing_terms=tuple(t for t in distinct if t not in self._chunk_index.postings),
            rare_names=checked.rare_names,
            off_topic=off_topic,
            about_page=about_page,
            resemblance=resemblance,
        )

    def introducing_lesson(self, subject: str, paths: Iterable[str]) -> str | None:
        """The lesson among ``paths`` that introduces ``subject``: the first in the book
        whose title names the subject's most specific word ("node" in "a node in ROS 2").

        Overview pages do not count: they name what their lessons teach. None when no
        title among ``paths`` names it, or ``subject`` has no word the book uses; paths
        that are not indexed lessons are ignored.
        """
        known = [
            (word, term)
            for word in words(subject)
            if word.isalpha() and len(word) > 1
            for term in analyze(word)
            if term in self._chunk_index.postings
        ]
        if not known:
            return None
        word, _ = max(known, key=lambda pair: self._chunk_index.idf(pair[1]))
        named = [
            path
            for path in paths
            if path in self._lesson_chunks
            and path not in self._overviews
            and _names(words(self._first_chunk(path).title), word)
        ]
        return min(named, key=self._book_order, default=None)

    def _book_order(self, path: str) -> tuple[int, int, int]:
        chunk = self._first_chunk(path)
        return (chunk.module or 0, chunk.chapter or 0, chunk.lesson or 0)

    def _first_chunk(self, path: str) -> Chunk:
        """Lesson ``path``'s opening chunk: it carries the lesson's title and numbering."""
        return self.chunks[self._lesson_chunks[path][0]]

    def _check_words(self, text: str) -> WordCheck:
        if self._vocabulary is None:
            return WordCheck()
        checked = self._vocabulary.check(text)
        return WordCheck(
            checked.corrections if self.config.read_misspellings else MappingProxyType({}),
            checked.rare_names if self.config.rare_names else (),
            checked.names_subject or not self.config.off_topic,
        )

    def page(self, page_path: str) -> Chunk | None:
        """The first chunk of the lesson at ``page_path`` (doc path or page URL), if indexed.

        It carries the lesson's title, URL and numbering: what a tutor needs to name the
        page the reader has open.
        """
        path = self._pages.get(_page_key(page_path))
        return None if path is None else self._first_chunk(path)

    def _resolve_page(self, page_path: str | None, filters: _Filters) -> str | None:
        """The indexed lesson ``page_path`` names; None if unknown or filtered out."""
        page = self._pages.get(_page_key(page_path)) if page_path else None
        if page is None or not filters.admit(self._first_chunk(page)):
            return None
        return page

    def _boost(self, index: int, question: Query, page: str | None) -> float:
        chunk = self.chunks[index]
        factor = 1.0
        if question.place.is_named and question.place.contains(
            chunk.module, chunk.chapter, chunk.lesson
        ):
            factor *= 1 + self.config.place_boost
        if page is None:
            return factor
        if chunk.lesson_path == page:
            return factor * (1 + self.config.page_boost)
        page_chunk = self._first_chunk(page)
        if chunk.chapter is not None and (chunk.module, chunk.chapter) == (
            page_chunk.module,
            page_chunk.chapter,
        ):
            return factor * (1 + self.config.chapter_boost)
        return factor

    def _lesson_scores(
        self, chunk_scores: Mapping[int, float], question: Query, filters: _Filters
    ) -> dict[str, float]:
        per_lesson: dict[str, list[float]] = {}
        for index, score in chunk_scores.items():
            per_lesson.setdefault(self.chunks[index].lesson_path, []).append(score)
        decay = self.config.next_chunk_weight
        scores = {
            path: sum(
                score * decay**rank for rank, score in enumerate(sorted(values, reverse=True))
            )
            for path, values in per_lesson.items()
        }
        if self.config.lesson_weight > 0:
            for doc, score in self._lesson_index.score(question.weights).items():
                path = self._lesson_paths[doc]
                if path in scores:  # lessons the filters admitted
                    scores[path] += self.config.lesson_weight * score
        if self._asked is not None and self.config.asked_weight > 0:
            # Asked questions may name a lesson in words its text never uses.
            for doc, score in self._asked.lessons.score(question.weights).items():
                path = self._lesson_paths[doc]
                if path in scores or filters.admit(self._first_chunk(path)):
                    scores[path] = scores.get(path, 0.0) + self.config.asked_weight * score
        if self.config.overview_weight != 1.0:
            for path in self._overviews & scores.keys():
                scores[path] *= self.config.overview_weight
        return scores

    def _vector_lessons(self, ranking: Sequence[str], filters: _Filters) -> dict[str, int]:
        """Lesson path → its nearest admitted chunk, in the ranking's lesson order."""
        nearest: dict[str, int] = {}
        for chunk_id in ranking:
            index = self._chunk_ids.get(chunk_id)
            if index is not None and filters.admit(self.chunks[index]):
                nearest.setdefault(self.chunks[index].lesson_path, index)
        return nearest

    def _fuse(
        self, lexical: Sequence[tuple[str, float]], vector: Iterable[str], first: str | None
    ) -> list[tuple[str, float]]:
        """Reciprocal rank fusion of two lesson rankings; ``first`` is kept on top."""
        k = self.config.rrf_k
        fused: dict[str, float] = {}
        for rank, (path, _) in enumerate(lexical, 1):
            fused[path] = 1 / (k + rank)
        for rank, path in enumerate(vector, 1):
            fused[path] = fused.get(path, 0.0) + 1 / (k + rank)
        return sorted(fused.items(), key=lambda item: (item[0] != first, -item[1], item[0]))

    def _best_chunk(
        self, path: str, chunk_scores: Mapping[int, float], nearest: int | None = None
    ) -> Chunk:
        # A page ranked only because the question points at it may match nothing: its
        # opening passage then stands for the whole page (or, with a vector ranking, the
        # page's nearest chunk).
        chunks = self._lesson_chunks[path]
        if nearest is not None and not any(chunk_scores.get(i, 0.0) for i in chunks):
            return self.chunks[nearest]
        best = max(chunks, key=lambda i: (chunk_scores.get(i, 0.0), -i))
        return self.chunks[best]

    def _confidence(self, question: Query, raw: Mapping[int, float]) -> float:
        ceiling = sum(self._chunk_index.max_term_score(term) for term in question.terms)
        if not ceiling:
            return 0.0
        return min(1.0, max(raw.values(), default=0.0) / ceiling)


def _documents(
    chunks: Sequence[Chunk], config: SearchConfig
) -> tuple[dict[str, FieldSpec], list[dict[str, list[str]]], dict[str, str]]:
    """The BM25F fields, each chunk's analyzed field texts, and each book word's term."""
    cache: dict[str, str] = {}
    if not config.fielded:
        plain = [
            {"text": analyze(f"{chunk.heading}\n{chunk.text}", stem_cache=cache)}
            for chunk in chunks
        ]
        return {"text": FieldSpec(1.0, config.b)}, plain, cache
    fields = {
        "title": FieldSpec(config.title_weight, config.b),
        "heading": FieldSpec(config.heading_weight, config.b),
        "body": FieldSpec(1.0, config.b),
    }
    docs = [
        {
            "title": analyze(chunk.title, stem_cache=cache),
            # Subheadings inside the passage name its topics as well as its own heading.
            "heading": analyze(
                " ".join([chunk.heading, *subheadings(chunk.text)]), stem_cache=cache
            ),
            "body": analyze(chunk.text, stem_cache=cache),
        }
        for chunk in chunks
    ]
    return fields, docs, cache


def _names(title: Sequence[str], word: str) -> bool:
    """Whether the ``title`` words name ``word``: as a whole word, plural or not (a stem
    would let "revolute" name "Revolution"), or as the initials of words in a row ("VLA":
    "Vision-Language-Action")."""
    if not {word, f"{word}s", f"{word}es", word.removesuffix("s")}.isdisjoint(title):
        return True
    size = len(word)
    return size > 1 and any(
        "".join(w[0] for w in title[i : i + size]) == word for i in range(len(title) - size + 1)
    )


def overview_pages(paths: Iterable[str]) -> frozenset[str]:
    """The index pages among ``paths`` whose folder holds other pages: chapter and module
    overviews, which summarise their lessons (a module that is only an overview is not one).
    """
    ordered = tuple(paths)
    folders = {path: PurePosixPath(path).parent for path in ordered if is_index_page(path)}
    return frozenset(
        index
        for index, folder in folders.items()
        if any(other != index and folder in PurePosixPath(other).parents for other in ordered)
    )


def _merge(chunk_docs: Sequence[Mapping[str, list[str]]]) -> dict[str, list[str]]:
    """A whole lesson as one document; its title, repeated on every chunk, counts once."""
    merged: dict[str, list[str]] = {}
    for doc in chunk_docs:
        for name, terms in doc.items():
            if name == "title" and name in merged:
                continue
            merged.setdefault(name, []).extend(terms)
    return merged


def _result(chunk: Chunk, score: float) -> SearchResult:
    return SearchResult(
        text=chunk.text,
        title=chunk.title,
        module=chunk.module,
        chapter=chunk.chapter,
        lesson=chunk.lesson,
        url=chunk.url,
        path=chunk.lesson_path,
        heading=chunk.heading,
        score=score,
        hardware_tier=chunk.hardware_tier,
    )


def _page_key(value: str) -> str:
    """Normalise a doc path or page URL to its docs-relative part."""
    value = value.strip().split("#", 1)[0].split("?", 1)[0]
    if "/docs/" in value:
        value = value.split("/docs/", 1)[1]
    elif value.endswith("/docs"):
        value = ""
    return value.strip("/")


def _validate(
    query: object,
    module: object,
    chapter_min: object,
    chapter_max: object,
    lesson: object,
    hardware_tier: object,
    limit: object,
    page_path: object,
) -> _Filters:
    if not isinstance(query, str):
        raise SearchArgumentError(f"query must be a string, got {type(query).__name__}")
    if not query.strip():
        raise SearchArgumentError("query is empty: pass the question to search for")
    if len(query) > MAX_QUERY_CHARS:
        raise SearchArgumentError(
            f"query is {len(query)} characters long; shorten it to at most {MAX_QUERY_CHARS}"
        )
    limit_value = _optional_int("limit", limit)
    if limit_value is None or not 1 <= limit_value <= MAX_LIMIT:
        raise SearchArgumentError(f"limit must be between 1 and {MAX_LIMIT}, got {limit!r}")
    numbers = {
        "module": _optional_int("module", module),
        "chapter_min": _optional_int("chapter_min", chapter_min),
        "chapter_max": _optional_int("chapter_max", chapter_max),
        "lesson": _optional_int("lesson", lesson),
    }
    for name, value in numbers.items():
        if value is not None and value < 0:
            raise SearchArgumentError(f"{name} must be zero or positive, got {value}")
    low, high = numbers["chapter_min"], numbers["chapter_max"]
    if low is not None and high is not None and low > high:
        raise SearchArgumentError(
            f"chapter_min ({low}) is greater than chapter_max ({high}); swap them or drop one"
        )
    tier = _optional_int("hardware_tier", hardware_tier)
    if tier is not None and tier not in HARDWARE_TIERS:
        raise SearchArgumentError(
            f"hardware_tier must be one of {', '.join(map(str, HARDWARE_TIERS))}, got {tier}"
        )
    if page_path is not None and not isinstance(page_path, str):
        raise SearchArgumentError(
            f"page_path must be a doc path or page URL string, got {type(page_path).__name__}"
        )
    return _Filters(numbers["module"], low, high, numbers["lesson"], tier)


def _optional_int(name: str, value: object) -> int | None:
    # bool is an int subclass, but limit=True is a caller bug, not the number 1.
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise SearchArgumentError(f"{name} must be an integer or None, got {value!r}")
