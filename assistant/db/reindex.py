"""SQL for moving an index from one embedding model to another (`assistant reembed`)."""
from __future__ import annotations

import psycopg


def count_chunks_to_embed(conn: psycopg.Connection, model: str) -> tuple[int, int]:
    """(chunks in the schema, chunks whose text has no cached embedding by model yet)."""
    return conn.execute(
        "SELECT count(*), count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM embedding_cache e "
        "WHERE e.model = %s AND e.content_sha256 = c.content_sha256)) FROM chunks c", (model,)).fetchone()


def chunks_to_embed(conn: psycopg.Connection, model: str, after_id: int, limit: int) -> list[tuple]:
    """(id, title, heading, text, content_sha256) of chunks after after_id that model has not embedded, by id."""
    return conn.execute(
        "SELECT c.id, d.title, c.heading, c.text, c.content_sha256 FROM chunks c "
        "JOIN documents d ON d.id = c.document_id WHERE c.id > %s AND NOT EXISTS (SELECT 1 FROM embedding_cache e "
        "WHERE e.model = %s AND e.content_sha256 = c.content_sha256) ORDER BY c.id LIMIT %s",
        (after_id, model, limit)).fetchall()


def swap_embeddings(conn: psycopg.Connection, model_id: str, dim: int) -> int:
    """Replace every chunk's vector by model's cached one and rebind the index; call inside one transaction.

    Returns the chunks updated. Raises RuntimeError (and the caller's transaction rolls back, leaving the old
    index whole) if any chunk has no cached vector, e.g. a document ingested while the vectors were computed.
    """
    conn.execute("LOCK TABLE index_meta, chunks IN EXCLUSIVE MODE")
    conn.execute("DROP INDEX IF EXISTS chunks_embedding_hnsw")
    conn.execute(f"ALTER TABLE chunks ALTER COLUMN embedding TYPE vector({int(dim)}) USING NULL")
    updated = conn.execute(
        "UPDATE chunks c SET embedding = e.embedding FROM embedding_cache e "
        "WHERE e.model = %s AND e.content_sha256 = c.content_sha256", (model_id,)).rowcount
    left = conn.execute("SELECT count(*) FROM chunks WHERE embedding IS NULL").fetchone()[0]
    if left:
        raise RuntimeError(f"{left} chunk(s) have no {model_id} vector yet; run the command again")
    conn.execute("DELETE FROM index_meta WHERE key IN ('embed_model', 'embed_dim')")
    conn.execute("INSERT INTO index_meta (key, value) VALUES ('embed_model', %s), ('embed_dim', %s)",
                 (model_id, str(dim)))
    conn.execute("CREATE INDEX chunks_embedding_hnsw ON chunks "
                 "USING hnsw (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 64)")
    return updated
