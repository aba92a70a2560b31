"""SQL for reranker training: stored training questions, chunk samples and near neighbours, id look-ups."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import psycopg


@dataclass(frozen=True)
class ChunkRow:
    chunk_id: int
    document_id: int
    sha: str
    title: str
    heading: str
    text: str


@dataclass(frozen=True)
class StoredQuestion:
    id: int
    question: str
    kind: str
    chunk_id: int
    """The current chunk with the stored content hash (ids change when a document is re-ingested)."""
    document_id: int
    negative_chunk_id: int | None
    negative_document_id: int | None
    chunk_sha: str
    negative_chunk_sha: str | None


_CHUNK_COLS = "c.id, c.document_id, c.content_sha256, d.title, c.heading, c.text"


def _chunk_rows(rows) -> list[ChunkRow]:
    return [ChunkRow(*r) for r in rows]


def add_question(conn: psycopg.Connection, *, chunk_id: int, chunk_sha: str, question: str, question_norm: str,
                 kind: str, model: str, kept: bool, reason: str | None = None, lang: str | None = None,
                 prompt_sha: str | None = None, negative_chunk_id: int | None = None,
                 negative_chunk_sha: str | None = None) -> int:
    """Store one generated question (kept or dropped, so a resumed run does not ask again)."""
    return conn.execute(
        "INSERT INTO training_questions (chunk_id, chunk_sha, question, question_norm, kind, negative_chunk_id, "
        "negative_chunk_sha, lang, model, prompt_sha, kept, reason) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
        (chunk_id, chunk_sha, question, question_norm, kind, negative_chunk_id, negative_chunk_sha, lang, model,
         prompt_sha, kept, reason)).fetchone()[0]


def done_chunk_shas(conn: psycopg.Connection, kinds: Sequence[str]) -> set[str]:
    """Content hashes of chunks that already have a question of these kinds (kept or not)."""
    rows = conn.execute("SELECT DISTINCT chunk_sha FROM training_questions WHERE kind = ANY(%s)",
                        (list(kinds),)).fetchall()
    return {r[0] for r in rows}


def question_texts(conn: psycopg.Connection, kept_only: bool = True) -> list[tuple[str, str]]:
    """(normalised question, kind) of stored questions, for duplicate checks."""
    where = "WHERE kept" if kept_only else ""
    return [(r[0], r[1]) for r in conn.execute(f"SELECT question_norm, kind FROM training_questions {where} "
                                               "ORDER BY id").fetchall()]


def kept_questions(conn: psycopg.Connection, kinds: Sequence[str]) -> list[StoredQuestion]:
    """Kept questions of these kinds whose chunks (by content hash) are still in the knowledge base."""
    rows = conn.execute(
        "SELECT q.id, q.question, q.kind, p.id, p.document_id, n.id, n.document_id, q.chunk_sha, "
        "q.negative_chunk_sha FROM training_questions q "
        "JOIN LATERAL (SELECT c.id, c.document_id FROM chunks c WHERE c.content_sha256 = q.chunk_sha "
        "              ORDER BY c.id LIMIT 1) p ON true "
        "LEFT JOIN LATERAL (SELECT c.id, c.document_id FROM chunks c WHERE c.content_sha256 = q.negative_chunk_sha "
        "                   ORDER BY c.id LIMIT 1) n ON true "
        "WHERE q.kept AND q.kind = ANY(%s) AND (q.negative_chunk_sha IS NULL OR n.id IS NOT NULL) ORDER BY q.id",
        (list(kinds),)).fetchall()
    return [StoredQuestion(*r) for r in rows]


def question_counts(conn: psycopg.Connection) -> dict[tuple[str, bool], int]:
    """(kind, kept) -> number of stored questions."""
    rows = conn.execute("SELECT kind, kept, count(*) FROM training_questions GROUP BY kind, kept").fetchall()
    return {(k, bool(kept)): int(n) for k, kept, n in rows}


def dropped_reasons(conn: psycopg.Connection, kind: str) -> dict[str, int]:
    rows = conn.execute("SELECT reason, count(*) FROM training_questions WHERE kind = %s AND NOT kept "
                        "GROUP BY reason", (kind,)).fetchall()
    return {r or "unknown": int(n) for r, n in rows}


def sample_chunks(conn: psycopg.Connection, n: int, seed: int) -> list[ChunkRow]:
    """n chunks in a pseudo-random order fixed by the seed and their content: a larger n extends a smaller one."""
    rows = conn.execute(
        f"SELECT {_CHUNK_COLS} FROM chunks c JOIN documents d ON d.id = c.document_id "
        "ORDER BY md5(c.content_sha256 || %s), c.id LIMIT %s", (str(seed), n)).fetchall()
    return _chunk_rows(rows)


def neighbours(conn: psycopg.Connection, chunk_id: int, k: int, ef_search: int = 100) -> list[tuple[ChunkRow, float]]:
    """The k chunks of other documents nearest to a chunk's stored embedding, with cosine similarity."""
    conn.execute("SELECT set_config('hnsw.ef_search', %s, true)", (str(max(ef_search, k)),))
    conn.execute("SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true)")
    rows = conn.execute(
        f"WITH a AS (SELECT embedding, document_id FROM chunks WHERE id = %s) "
        f"SELECT {_CHUNK_COLS}, 1 - (c.embedding <=> a.embedding) AS sim FROM chunks c "
        "JOIN documents d ON d.id = c.document_id, a "
        "WHERE c.embedding IS NOT NULL AND c.document_id <> a.document_id "
        "ORDER BY c.embedding <=> a.embedding LIMIT %s", (chunk_id, k)).fetchall()
    out = [(ChunkRow(*r[:6]), float(r[6])) for r in rows]
    out.sort(key=lambda t: -t[1])
    return out


def documents_by_source(conn: psycopg.Connection, sources: Iterable[str]) -> dict[str, int]:
    """source -> document id for the sources present."""
    rows = conn.execute("SELECT source, id FROM documents WHERE source = ANY(%s)", (list(sources),)).fetchall()
    return {s: int(i) for s, i in rows}


def first_chunks(conn: psycopg.Connection, document_ids: Iterable[int]) -> dict[int, int]:
    """document id -> id of its first chunk (a positive when recall did not find the document)."""
    rows = conn.execute("SELECT DISTINCT ON (document_id) document_id, id FROM chunks "
                        "WHERE document_id = ANY(%s) ORDER BY document_id, ord", (list(document_ids),)).fetchall()
    return {int(d): int(c) for d, c in rows}
