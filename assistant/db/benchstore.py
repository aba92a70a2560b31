"""SQL that only the benchmarks need: bulk-load synthetic chunks into a throwaway schema and build HNSW after;
and BM25 over the full-text column, measured against the product's ts_rank_cd ranking by bench/bench_fts.py.

The product binds the model and builds the index on an empty table (bind_embedder); a benchmark of 100k rows
loads first and indexes once, which is the fast path and gives a build time worth reporting.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import psycopg
from psycopg import sql

from assistant.db.store import _CANDIDATE_COLS, _candidates
from assistant.types import Candidate


def prepare(conn: psycopg.Connection, dim: int) -> None:
    """Fix the vector dimension with no index yet, and let bulk rows omit the full-text column."""
    conn.execute(f"ALTER TABLE chunks ALTER COLUMN embedding TYPE vector({int(dim)})")
    conn.execute("ALTER TABLE chunks ALTER COLUMN tsv SET DEFAULT ''::tsvector")
    conn.execute("INSERT INTO index_meta (key, value) VALUES ('embed_model', 'bench/synthetic'), ('embed_dim', %s) "
                 "ON CONFLICT (key) DO NOTHING", (str(int(dim)),))


def copy_chunks(conn: psycopg.Connection, vectors: np.ndarray, per_document: int = 100) -> int:
    """COPY (binary) one document per `per_document` vectors and one chunk per vector; returns rows written."""
    n = len(vectors)
    n_docs = (n + per_document - 1) // per_document
    with conn.cursor() as cur:
        first = cur.execute("SELECT coalesce(max(id), 0) FROM documents").fetchone()[0] + 1
        with cur.copy("COPY documents (id, source, title, content_sha256) FROM STDIN (FORMAT BINARY)") as cp:
            cp.set_types(["int8", "text", "text", "text"])
            for d in range(n_docs):
                cp.write_row((first + d, f"bench:{first + d}", f"doc {first + d}", f"{first + d:064x}"))
        with cur.copy("COPY chunks (document_id, ord, text, tokens, content_sha256, embedding) "
                      "FROM STDIN (FORMAT BINARY)") as cp:
            cp.set_types(["int8", "int4", "text", "int4", "text", "vector"])
            for i, v in enumerate(np.asarray(vectors, dtype=np.float32)):
                cp.write_row((first + i // per_document, i % per_document, f"chunk {i}", 1, f"{i:064x}", v))
    conn.execute("SELECT setval(pg_get_serial_sequence('documents', 'id'), (SELECT max(id) FROM documents))")
    return n


def build_hnsw(conn: psycopg.Connection, m: int = 16, ef_construction: int = 64,
               maintenance_work_mem: str = "1GB") -> None:
    """The product's index (vector_cosine_ops, same m/ef_construction), built over the loaded rows."""
    # A graph larger than maintenance_work_mem builds many times slower; give it room as a bulk build would.
    conn.execute("SELECT set_config('maintenance_work_mem', %s, true)", (maintenance_work_mem,))
    conn.execute("DROP INDEX IF EXISTS chunks_embedding_hnsw")
    conn.execute(f"CREATE INDEX chunks_embedding_hnsw ON chunks USING hnsw (embedding vector_cosine_ops) "
                 f"WITH (m = {int(m)}, ef_construction = {int(ef_construction)})")


def analyze(conn: psycopg.Connection) -> None:
    conn.execute("ANALYZE documents")
    conn.execute("ANALYZE chunks")


def relation_sizes(conn: psycopg.Connection) -> dict[str, int]:
    """Bytes of the chunks table (with TOAST) and of its HNSW index."""
    row = conn.execute("SELECT pg_total_relation_size('chunks') - pg_indexes_size('chunks'), "
                       "coalesce(pg_relation_size(to_regclass('chunks_embedding_hnsw')), 0)").fetchone()
    return {"table_bytes": int(row[0]), "hnsw_bytes": int(row[1])}


def drop_schema(conn: psycopg.Connection, schema: str) -> None:
    conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def query_lexemes(conn: psycopg.Connection, latin: Sequence[str], cjk: Sequence[str]) -> list[str]:
    """The lexemes the chunks' tsv holds for these query words (English stemmed, CJK words as they are)."""
    out: list[str] = []
    for config, words in (("english", latin), ("simple", cjk)):
        if words:
            out += [r[0] for r in conn.execute(
                "SELECT DISTINCT lexeme FROM unnest(to_tsvector(%s::regconfig, %s))", (config, " ".join(words)))]
    return list(dict.fromkeys(out))


def bm25_search(conn: psycopg.Connection, latin: Sequence[str], cjk: Sequence[str], k: int,
                k1: float = 0.9, b: float = 0.4) -> list[Candidate]:
    """Top-k chunks by Okapi BM25 computed in SQL from the same tsv column (a candidate for store.fts_search).

    ts_rank/ts_rank_cd have no inverse document frequency, so in an OR query a common word counts as much as a
    rare one; BM25 weighs each query lexeme by its IDF. Term frequency is the lexeme's position count in the
    chunk, length is the chunk's token count.
    """
    lexemes = query_lexemes(conn, latin, cjk)
    if not lexemes:
        return []
    n, avg_len = conn.execute("SELECT count(*), coalesce(avg(tokens), 1) FROM chunks").fetchone()
    kept, idf = [], []
    for lex in lexemes:
        df = conn.execute("SELECT count(*) FROM chunks WHERE tsv @@ %s::tsquery", (_lexeme_query(lex),)).fetchone()[0]
        if df:
            kept.append(lex)
            idf.append(math.log(1 + (n - df + 0.5) / (df + 0.5)))
    if not kept:
        return []
    rows = conn.execute(
        "WITH q(lex, idf) AS (SELECT * FROM unnest(%s::text[], %s::float8[])), "
        "cand AS (SELECT id, tokens, tsv FROM chunks WHERE tsv @@ %s::tsquery), "
        "scored AS (SELECT cand.id, sum(q.idf * cardinality(u.positions) * (%s + 1) / "
        "  (cardinality(u.positions) + %s * (1 - %s + %s * cand.tokens / %s))) AS score "
        "  FROM cand CROSS JOIN LATERAL unnest(cand.tsv) u JOIN q ON q.lex = u.lexeme GROUP BY cand.id) "
        f"SELECT {_CANDIDATE_COLS}, s.score FROM scored s JOIN chunks c ON c.id = s.id "
        "JOIN documents d ON d.id = c.document_id ORDER BY s.score DESC, c.id LIMIT %s",
        (kept, idf, " | ".join(_lexeme_query(x) for x in kept), k1, k1, b, b, float(avg_len), k)).fetchall()
    return _candidates(rows)


def _lexeme_query(lexeme: str) -> str:
    # A lexeme already normalised: quoted so that to_tsquery-style parsing takes it literally.
    return "'" + lexeme.replace("'", "''").replace("\\", "\\\\") + "'"
