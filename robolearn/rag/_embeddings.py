"""Text embeddings for vector search: the :class:`Embedder` protocol and an OpenAI one.

Embeddings are optional: without an embedder the book is searched with BM25F alone,
offline. With one, ingest stores a vector per chunk (pgvector) and the search tool fuses
the nearest chunks with the BM25F ranking (:meth:`SearchIndex.search_with_coverage`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Final, Protocol

import attrs

__all__ = ["Embedder", "OpenAIEmbedder", "vector_literal"]

DEFAULT_BATCH: Final = 64


class Embedder(Protocol):
    """Turns texts into vectors; ``name`` identifies the model the vectors belong to.

    ``embed`` is blocking (call it in a worker thread) and returns one vector per text,
    in order. ``dimensions`` is the vector size when known (None: the model's default).
    """

    @property
    def name(self) -> str: ...

    @property
    def dimensions(self) -> int | None: ...

    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


@attrs.frozen
class OpenAIEmbedder:
    """Embeddings from an OpenAI-compatible ``/embeddings`` endpoint, in batches."""

    model: str
    api_key: str | None = attrs.field(default=None, repr=False)
    base_url: str | None = None
    dimensions: int | None = None
    batch_size: int = DEFAULT_BATCH
    _client: Any = attrs.field(default=None, init=False, eq=False)

    def __attrs_post_init__(self) -> None:
        from openai import OpenAI  # imported only when embeddings are configured

        object.__setattr__(self, "_client", OpenAI(api_key=self.api_key, base_url=self.base_url))

    @property
    def name(self) -> str:
        return self.model if self.dimensions is None else f"{self.model}@{self.dimensions}"

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        extra: dict[str, Any] = {} if self.dimensions is None else {"dimensions": self.dimensions}
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            batch = list(texts[start : start + self.batch_size])
            response = self._client.embeddings.create(model=self.model, input=batch, **extra)
            ordered = sorted(response.data, key=lambda item: item.index)
            vectors.extend([float(x) for x in item.embedding] for item in ordered)
        if len(vectors) != len(texts):
            raise ValueError(f"asked for {len(texts)} embeddings, got {len(vectors)}")
        return vectors


def vector_literal(vector: Sequence[float]) -> str:
    """``vector`` as pgvector's text input (``'[0.1,0.2]'``), cast with ``::vector``."""
    if not vector or not all(math.isfinite(x) for x in vector):
        raise ValueError("an embedding must be a non-empty list of finite numbers")
    return "[" + ",".join(repr(float(x)) for x in vector) + "]"
