"""SQL for the knowledge base: documents, chunks, the embedding binding, caches and recall queries."""
from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
import psycopg
from pgvector import Vector

from assistant.types import Candidate

_CANDIDATE_COLS = ("c.id, c.document_id, d.source, d.title, c.heading, c.text, c.content_sha256, c.tokens")


class EmbedderMismatch(RuntimeError):
    """The index was built by another embedding model; vectors of two models must never be mixed."""


def index_meta(conn: psycopg.Connection) -> dict[str, str]:
    return dict(conn.execute("SELECT key, value FROM index_meta").fetchall())


def bind_embedder(conn: psycopg.Connection, model_id: str, dim: int, schema: str = "public") -> bool:
    """Record the model that fills this schema's index; fix the vector dimension and build HNSW the first time.

    Returns True when this call bound the model (first use). Raises EmbedderMismatch for a different model.
    """
    conn.execute("LOCK TABLE index_meta IN EXCLUSIVE MODE")
    meta = index_meta(conn)
    if meta:
        _check(meta, model_id, dim, schema)
        return False
    conn.execute("INSERT INTO index_meta (key, value) VALUES ('embed_model', %s), ('embed_dim', %s)",
                 (model_id, str(dim)))
    conn.execute(f"ALTER TABLE chunks ALTER COLUMN embedding TYPE vector({int(dim)})")
    conn.execute("CREATE INDEX IF NOT EXISTS chunks_embedding_hnsw ON chunks "
                 "USING hnsw (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 64)")
    return True


def check_embedder(conn: psycopg.Connection, model_id: str, dim: int, schema: str = "public") -> None:
    """EmbedderMismatch when the index was built by another model (an empty index matches any)."""
    meta = index_meta(conn)
    if meta:
        _check(meta, model_id, dim, schema)


def _check(meta: dict, model_id: str, dim: int, schema: str) -> None:
    if meta.get("embed_model") != model_id or int(meta.get("embed_dim", 0)) != dim:
        raise EmbedderMismatch(mismatch_message(meta, model_id, dim, schema))


def mismatch_message(meta: dict, model_id: str, dim: int, schema: str) -> str:
    """What to do when the index was built by another model: re-embed (one command), or switch back."""
    from assistant.models.embedder import setting_for

    return (f"this knowledge base (schema {schema!r}) was indexed with {meta.get('embed_model')} "
            f"({meta.get('embed_dim')} dims) but the configured embedder is {model_id} ({dim} dims). "
            "Run `assistant reembed` to re-embed it with the configured embedder (with progress; the old index stays "
            f"whole until it finishes), or set ASSISTANT_EMBEDDER={setting_for(meta.get('embed_model', ''))} "
            "to keep using it, or use another schema (ASSISTANT_SCHEMA=...) for the new model.")


def document_state(conn: psycopg.Connection, source: str) -> tuple[int, str, int] | None:
    """(id, content hash, chunk count) of a document, or None."""
    return conn.execute(
        "SELECT d.id, d.content_sha256, (SELECT count(*) FROM chunks c WHERE c.document_id = d.id) "
        "FROM documents d WHERE d.source = %s", (source,)).fetchone()


def replace_document(conn: psycopg.Connection, *, source: str, title: str, sha256: str, meta: dict,
                     chunks: Sequence, embeddings: np.ndarray, fts: Sequence[tuple[str, str]]) -> int:
    """Insert or replace a document and all its chunks. Call inside one transaction: all or nothing."""
    from psycopg.types.json import Jsonb

    row = conn.execute(
        "INSERT INTO documents (source, title, content_sha256, meta) VALUES (%s, %s, %s, %s) "
        "ON CONFLICT (source) DO UPDATE SET title = EXCLUDED.title, content_sha256 = EXCLUDED.content_sha256, "
        "meta = EXCLUDED.meta, ingested_at = now() RETURNING id",
        (source, title, sha256, Jsonb(meta))).fetchone()
    doc_id = row[0]
    conn.execute("DELETE FROM chunks WHERE document_id = %s", (doc_id,))
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO chunks (document_id, ord, heading, text, tokens, content_sha256, embedding, tsv) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, "
            "setweight(to_tsvector('english', %s), 'A') || to_tsvector('english', %s) || to_tsvector('simple', %s))",
            [(doc_id, ch.ord, ch.heading, ch.text, ch.tokens, ch.sha256, Vector(emb), title + " " + ch.heading,
              latin, cjk)
             for ch, emb, (latin, cjk) in zip(chunks, embeddings, fts)])
    return doc_id


def sources_under(conn: psycopg.Connection, path: str) -> list[str]:
    """Document sources equal to path or inside the folder path (file sources only), sorted."""
    like = path.rstrip("/").replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "/%"
    rows = conn.execute("SELECT source FROM documents WHERE source = %s OR source LIKE %s ORDER BY source",
                        (path, like)).fetchall()
    return [r[0] for r in rows]


def delete_documents(conn: psycopg.Connection, sources: Iterable[str]) -> int:
    return conn.execute("DELETE FROM documents WHERE source = ANY(%s)", (list(sources),)).rowcount


def cached_embeddings(conn: psycopg.Connection, model: str, shas: Sequence[str]) -> dict[str, np.ndarray]:
    rows = conn.execute("SELECT content_sha256, embedding FROM embedding_cache WHERE model = %s "
                        "AND content_sha256 = ANY(%s)", (model, list(shas))).fetchall()
    return {sha: np.asarray(emb.to_numpy() if hasattr(emb, "to_numpy") else emb, dtype=np.float32)
            for sha, emb in rows}


def store_embeddings(conn: psycopg.Connection, model: str, items: dict[str, np.ndarray]) -> None:
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO embedding_cache (model, content_sha256, embedding) VALUES (%s, %s, %s) "
                        "ON CONFLICT DO NOTHING", [(model, sha, Vector(v)) for sha, v in items.items()])


def counts(conn: psycopg.Connection) -> tuple[int, int]:
    return conn.execute("SELECT (SELECT count(*) FROM documents), (SELECT count(*) FROM chunks)").fetchone()


def _candidates(rows) -> list[Candidate]:
    return [Candidate(chunk_id=r[0], document_id=r[1], source=r[2], title=r[3], heading=r[4], text=r[5],
                      content_sha256=r[6], tokens=r[7], score=float(r[8]), rank=i)
            for i, r in enumerate(rows, start=1)]


def vector_search(conn: psycopg.Connection, query: np.ndarray, k: int, ef_search: int = 100,
                  exact: bool = False) -> list[Candidate]:
    """Top-k chunks by cosine similarity, through HNSW (or a sequential scan when exact=True)."""
    if exact:
        conn.execute("SET LOCAL enable_indexscan = off")
    else:
        conn.execute("SELECT set_config('hnsw.ef_search', %s, true)", (str(max(ef_search, k)),))
        # Keeps results at k even when filtering would lose some (pgvector >= 0.8).
        conn.execute("SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true)")
    rows = conn.execute(
        f"SELECT {_CANDIDATE_COLS}, 1 - (c.embedding <=> %s) AS score FROM chunks c "
        "JOIN documents d ON d.id = c.document_id WHERE c.embedding IS NOT NULL "
        "ORDER BY c.embedding <=> %s LIMIT %s", (Vector(query), Vector(query), k)).fetchall()
    if not exact:
        rows.sort(key=lambda r: -r[8])  # relaxed order may be slightly out of order
    return _candidates(rows)


FTS_RANKINGS = ("bm25", "ts_rank_cd")


def fts_search(conn: psycopg.Connection, latin: Sequence[str], cjk: Sequence[str], k: int,
               ranking: str = "bm25", k1: float = 0.9, b: float = 0.4) -> list[Candidate]:
    """Top-k chunks for an OR of the question's words (English stemmed, CJK segmented), ranked by Okapi BM25.

    Postgres' own ts_rank/ts_rank_cd have no inverse document frequency: in an OR query a common word counts as
    much as a rare one, which cost 0.30 nDCG@10 on SciFact (bench/bench_fts.py). BM25 is computed here in SQL over
    the same tsv column, so no extension is needed: tf is the lexeme's position count, length the chunk's tokens.
    k1 0.9 and b 0.4 are Anserini's defaults. `ranking="ts_rank_cd"` keeps the old ranking for comparison.
    """
    if ranking == "ts_rank_cd":
        return _fts_search_ts_rank_cd(conn, latin, cjk, k)
    if ranking != "bm25":
        raise ValueError(f"unknown full-text ranking {ranking!r}: use one of {', '.join(FTS_RANKINGS)}")
    lexemes = query_lexemes(conn, latin, cjk)
    if not lexemes:
        return []
    # One statement: document frequencies (GIN index), collection size and mean length (index on tokens), then
    # BM25 over the chunks matching any lexeme. MATERIALIZED: inlined, the per-lexeme count would run once per
    # (chunk, lexeme) row of the join instead of once per lexeme.
    rows = conn.execute(
        "WITH q AS MATERIALIZED (SELECT lex, tq, (SELECT count(*) FROM chunks WHERE tsv @@ tq) AS df "
        "           FROM unnest(%(lex)s::text[], %(tq)s::tsquery[]) AS u(lex, tq)), "
        "stats AS MATERIALIZED (SELECT count(*)::float8 AS n, coalesce(avg(tokens), 1)::float8 AS avg_len "
        "                       FROM chunks), "
        "qi AS MATERIALIZED (SELECT lex, ln(1 + (n - df + 0.5) / (df + 0.5)) AS idf FROM q, stats WHERE df > 0), "
        "cand AS (SELECT id, tokens, tsv FROM chunks WHERE tsv @@ %(any)s::tsquery), "
        "scored AS (SELECT cand.id, sum(qi.idf * cardinality(u.positions) * (%(k1)s + 1) / "
        "  (cardinality(u.positions) + %(k1)s * (1 - %(b)s + %(b)s * cand.tokens / stats.avg_len))) AS score "
        "  FROM cand CROSS JOIN LATERAL unnest(cand.tsv) u JOIN qi ON qi.lex = u.lexeme, stats GROUP BY cand.id) "
        f"SELECT {_CANDIDATE_COLS}, s.score FROM scored s JOIN chunks c ON c.id = s.id "
        "JOIN documents d ON d.id = c.document_id ORDER BY s.score DESC, c.id LIMIT %(k)s",
        {"lex": lexemes, "tq": [_quote(x) for x in lexemes], "any": " | ".join(_quote(x) for x in lexemes),
         "k1": k1, "b": b, "k": k}).fetchall()
    return _candidates(rows)


def query_lexemes(conn: psycopg.Connection, latin: Sequence[str], cjk: Sequence[str]) -> list[str]:
    """The lexemes the chunks' tsv holds for these query words (English stemmed, CJK words as they are)."""
    out: list[str] = []
    for config, words in (("english", latin), ("simple", cjk)):
        if words:
            out += [r[0] for r in conn.execute(
                "SELECT DISTINCT lexeme FROM unnest(to_tsvector(%s::regconfig, %s))", (config, " ".join(words)))]
    return list(dict.fromkeys(out))


def _fts_search_ts_rank_cd(conn: psycopg.Connection, latin: Sequence[str], cjk: Sequence[str],
                           k: int) -> list[Candidate]:
    parts, params = [], []
    if latin:
        parts.append("to_tsquery('english', %s)")
        params.append(" | ".join(_quote(w) for w in latin))
    if cjk:
        parts.append("to_tsquery('simple', %s)")
        params.append(" | ".join(_quote(w) for w in cjk))
    if not parts:
        return []
    q = " || ".join(parts)
    rows = conn.execute(
        f"WITH q AS (SELECT {q} AS q) SELECT {_CANDIDATE_COLS}, ts_rank_cd(c.tsv, q.q, 1) AS score "
        "FROM chunks c JOIN documents d ON d.id = c.document_id, q WHERE c.tsv @@ q.q "
        "ORDER BY score DESC, c.id LIMIT %s", (*params, k)).fetchall()
    return _candidates(rows)


def _quote(word: str) -> str:
    # tsquery syntax: quote each term so characters like ':' or '&' inside it are literal.
    return "'" + word.replace("'", "''").replace("\\", "\\\\") + "'"


def chunks_by_id(conn: psycopg.Connection, ids: Sequence[int]) -> dict[int, Candidate]:
    rows = conn.execute(f"SELECT {_CANDIDATE_COLS}, 0.0 FROM chunks c JOIN documents d ON d.id = c.document_id "
                        "WHERE c.id = ANY(%s)", (list(ids),)).fetchall()
    return {c.chunk_id: c for c in _candidates(rows)}


def document_text(conn: psycopg.Connection, document_id: int) -> tuple[str, str, str]:
    """(source, title, full text as its chunks joined) for showing a whole document."""
    src = conn.execute("SELECT source, title FROM documents WHERE id = %s", (document_id,)).fetchone()
    texts = conn.execute("SELECT heading, text FROM chunks WHERE document_id = %s ORDER BY ord",
                         (document_id,)).fetchall()
    return src[0], src[1], "\n\n".join(t for _, t in texts)


def drop_schema(db) -> None:
    """Drop every table of the database's schema (documents, chunks, runs, caches, migration records).

    Tables, not the schema: dropping `public` would cascade to the vector extension and every other schema's vectors.
    """
    from psycopg import sql

    with db.connection() as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s", (db.schema,))]
        for name in tables:
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {}.{} CASCADE").format(sql.Identifier(db.schema),
                                                                              sql.Identifier(name)))
