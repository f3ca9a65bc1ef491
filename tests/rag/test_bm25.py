import math

import pytest

from robolearn.rag._bm25 import Bm25Index, FieldSpec

PLAIN = {"text": FieldSpec(1.0, 0.75)}


def okapi(tf: int, doc_len: int, avg_len: float, n: int, df: int, k1: float = 1.2) -> float:
    idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
    norm = 1 - 0.75 + 0.75 * doc_len / avg_len
    return idf * tf * (k1 + 1) / (tf + k1 * norm)


def test_single_field_is_okapi_bm25() -> None:
    docs = [
        {"text": ["robot", "robot", "arm"]},
        {"text": ["robot", "wheel", "wheel", "wheel", "motor"]},
        {"text": ["camera"]},
    ]
    index = Bm25Index.build(docs, PLAIN)
    scores = index.score({"robot": 1.0})
    avg = (3 + 5 + 1) / 3
    assert scores[0] == pytest.approx(okapi(2, 3, avg, 3, 2))
    assert scores[1] == pytest.approx(okapi(1, 5, avg, 3, 2))
    assert 2 not in scores


def test_rare_terms_weigh_more_and_unseen_terms_score_nothing() -> None:
    docs = [{"text": ["common", "rare"]}, {"text": ["common"]}, {"text": ["common"]}]
    index = Bm25Index.build(docs, PLAIN)
    assert index.idf("rare") > index.idf("common") > 0
    assert index.idf("unseen") > index.idf("rare")
    assert index.score({"unseen": 1.0}) == {}


def test_field_weights_boost_matches_in_that_field() -> None:
    fields = {"title": FieldSpec(3.0, 0.75), "body": FieldSpec(1.0, 0.75)}
    docs = [
        {"title": ["publisher"], "body": ["write", "code"]},
        {"title": ["subscriber"], "body": ["publisher", "code"]},
    ]
    scores = Bm25Index.build(docs, fields).score({"publisher": 1.0})
    assert scores[0] > scores[1] > 0


def test_query_weights_scale_contributions_and_ceiling_bounds_scores() -> None:
    docs = [{"text": ["lidar"] * 50}, {"text": ["camera"]}]
    index = Bm25Index.build(docs, PLAIN)
    full = index.score({"lidar": 1.0})[0]
    half = index.score({"lidar": 0.5})[0]
    assert half == pytest.approx(full / 2)
    assert full < index.max_term_score("lidar")


def test_zero_weight_fields_are_not_indexed() -> None:
    fields = {"title": FieldSpec(0.0), "body": FieldSpec(1.0)}
    index = Bm25Index.build([{"title": ["ghost"], "body": ["real"]}], fields)
    assert index.score({"ghost": 1.0}) == {}
    assert index.contains(0, "real")
    assert not index.contains(0, "ghost")


def test_empty_index() -> None:
    index = Bm25Index.build([], PLAIN)
    assert index.doc_count == 0
    assert index.score({"anything": 1.0}) == {}
