"""Read-only queries over the run log for reports (the writing side is runlog.py)."""
from __future__ import annotations

import psycopg


def experiments(conn: psycopg.Connection, limit: int = 20) -> list[dict]:
    """Recent experiment tags with their run counts, questions, strategies and time span, newest first."""
    cur = conn.execute(
        "SELECT experiment, count(*) AS runs, count(*) FILTER (WHERE status <> 'ok') AS failed, "
        "count(DISTINCT question_norm_sha) AS questions, array_agg(DISTINCT strategy) AS strategies, "
        "min(created_at) AS first, max(created_at) AS last FROM runs WHERE experiment IS NOT NULL "
        "GROUP BY experiment ORDER BY max(created_at) DESC LIMIT %s", (limit,))
    names = [d.name for d in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]


def chunk_labels(conn: psycopg.Connection, chunk_ids: list[int]) -> dict[int, tuple[str, str, str]]:
    """(source, title, heading) of the chunks that still exist; re-ingest may have removed some."""
    rows = conn.execute("SELECT c.id, d.source, d.title, c.heading FROM chunks c JOIN documents d "
                        "ON d.id = c.document_id WHERE c.id = ANY(%s)", (list(chunk_ids),)).fetchall()
    return {r[0]: (r[1], r[2], r[3] or "") for r in rows}
