"""SQL for the rerank_cache table: pointwise reranker scores keyed by (model, query sha, chunk content sha)."""
from __future__ import annotations

from typing import Iterable, Mapping

import psycopg


def get_scores(conn: psycopg.Connection, model: str, query_sha: str, chunk_shas: Iterable[str]) -> dict[str, float]:
    """Cached scores for these chunk hashes (missing ones are simply absent)."""
    shas = sorted(set(chunk_shas))
    if not shas:
        return {}
    rows = conn.execute(
        "SELECT chunk_sha, score FROM rerank_cache WHERE model = %s AND query_sha = %s AND chunk_sha = ANY(%s)",
        (model, query_sha, shas)).fetchall()
    return {sha: float(score) for sha, score in rows}


def put_scores(conn: psycopg.Connection, model: str, query_sha: str, scores: Mapping[str, float]) -> None:
    """Store scores; a score computed again replaces the old one."""
    if not scores:
        return
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO rerank_cache (model, query_sha, chunk_sha, score) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (model, query_sha, chunk_sha) DO UPDATE SET score = EXCLUDED.score, created_at = now()",
            [(model, query_sha, sha, float(s)) for sha, s in scores.items()])


def clear(conn: psycopg.Connection, model: str | None = None) -> int:
    """Forget cached scores (of one model, or all); returns how many rows went."""
    if model is None:
        return conn.execute("DELETE FROM rerank_cache").rowcount
    return conn.execute("DELETE FROM rerank_cache WHERE model = %s", (model,)).rowcount


def count(conn: psycopg.Connection, model: str | None = None) -> int:
    """Rows cached (of one model, or all)."""
    if model is None:
        return conn.execute("SELECT count(*) FROM rerank_cache").fetchone()[0]
    return conn.execute("SELECT count(*) FROM rerank_cache WHERE model = %s", (model,)).fetchone()[0]
