"""Okapi BM25 over multi-field documents (BM25F), in memory.

Fields are combined the BM25F way: each field's term frequency is length-normalised
with its own ``b`` and scaled by its weight, the weighted sum goes through one
saturation curve, and the document frequency counts a document once whatever the field.
With a single field of weight 1 this is exactly Okapi BM25.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from types import MappingProxyType

import attrs


@attrs.frozen
class FieldSpec:
    """How one field counts: ``weight`` scales its term frequency, ``b`` its length norm."""

    weight: float = 1.0
    b: float = 0.75


@attrs.frozen
class Bm25Index:
    """An immutable BM25F index over documents numbered ``0..doc_count-1``.

    Term frequencies are folded into one field-weighted, length-normalised pseudo
    frequency per (term, document) at build time, so a query costs one dictionary
    lookup per term and one addition per posting.
    """

    doc_count: int
    k1: float
    postings: Mapping[str, Mapping[int, float]]

    @classmethod
    def build(
        cls,
        docs: Sequence[Mapping[str, Sequence[str]]],
        fields: Mapping[str, FieldSpec],
        *,
        k1: float = 1.2,
    ) -> Bm25Index:
        """Index ``docs``, each a mapping from field name to its analyzed terms.

        Fields missing from ``fields`` are ignored; fields missing from a document are
        empty.
        """
        average = {
            name: (sum(len(doc.get(name, ())) for doc in docs) / len(docs)) if docs else 0.0
            for name in fields
        }
        postings: dict[str, dict[int, float]] = {}
        for doc_id, doc in enumerate(docs):
            for name, spec in fields.items():
                terms = doc.get(name, ())
                if not terms or spec.weight == 0:
                    continue
                norm = 1 - spec.b + spec.b * (len(terms) / average[name] if average[name] else 1)
                for term, count in Counter(terms).items():
                    per_doc = postings.setdefault(term, {})
                    per_doc[doc_id] = per_doc.get(doc_id, 0.0) + spec.weight * count / norm
        frozen = {term: MappingProxyType(per_doc) for term, per_doc in postings.items()}
        return cls(doc_count=len(docs), k1=k1, postings=MappingProxyType(frozen))

    def idf(self, term: str) -> float:
        """Inverse document frequency (the non-negative Lucene form); unseen terms max out."""
        df = len(self.postings.get(term, ()))
        return math.log(1 + (self.doc_count - df + 0.5) / (df + 0.5))

    def max_term_score(self, term: str) -> float:
        """The most a single occurrence-saturated ``term`` can add to a document's score."""
        return self.idf(term) * (self.k1 + 1)

    def score(self, query: Mapping[str, float]) -> dict[int, float]:
        """Score every document matching any query term; ``query`` maps term → weight."""
        scores: dict[int, float] = {}
        for term, weight in query.items():
            per_doc = self.postings.get(term)
            if not per_doc or weight <= 0:
                continue
            idf = self.idf(term)
            for doc_id, tf in per_doc.items():
                contribution = weight * idf * tf * (self.k1 + 1) / (tf + self.k1)
                scores[doc_id] = scores.get(doc_id, 0.0) + contribution
        return scores

    def contains(self, doc_id: int, term: str) -> bool:
        """Whether document ``doc_id`` has ``term`` in any indexed field."""
        per_doc = self.postings.get(term)
        return per_doc is not None and doc_id in per_doc
