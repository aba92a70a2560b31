"""SQL for the run log. A run row is written when the run starts and completed (or failed) at the end, each in
its own transaction, so a crash half way still leaves the question, the candidates and the error."""
from __future__ import annotations

import hashlib
import re
import unicodedata
from contextvars import ContextVar
from typing import Iterable, Sequence

import psycopg
from psycopg.types.json import Jsonb


def normalise_question(question: str) -> str:
    text = unicodedata.normalize("NFKC", question).casefold()
    text = re.sub(r"[\s\?\!\.。？！,，;；:：]+", " ", text)
    return text.strip()


def question_sha(question: str) -> str:
    return hashlib.sha256(normalise_question(question).encode("utf-8")).hexdigest()


def start_run(conn: psycopg.Connection, *, question: str, strategy: str, options: dict, experiment: str | None,
              recall_mode: str | None, embed_model: str | None, model: str | None) -> int:
    return conn.execute(
        "INSERT INTO runs (question, question_norm_sha, experiment, strategy, options, recall_mode, embed_model, "
        "model) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
        (question, question_sha(question), experiment, strategy, Jsonb(options), recall_mode, embed_model,
         model)).fetchone()[0]


def record_candidates(conn: psycopg.Connection, run_id: int, rows: Sequence[dict]) -> None:
    """rows: chunk_id, chunk_sha, source, recall_rank, recall_score, rerank_rank, rerank_score, in_context,
    context_index, cited. Replaces what was recorded for this run before."""
    conn.execute("DELETE FROM run_candidates WHERE run_id = %s", (run_id,))
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO run_candidates (run_id, chunk_id, chunk_sha, source, recall_rank, recall_score, "
            "rerank_rank, rerank_score, in_context, context_index, cited) VALUES "
            "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [(run_id, r["chunk_id"], r.get("chunk_sha"), r.get("source"), r.get("recall_rank"),
              r.get("recall_score"), r.get("rerank_rank"), r.get("rerank_score"), bool(r.get("in_context")),
              r.get("context_index"), bool(r.get("cited"))) for r in rows])


def finish_run(conn: psycopg.Connection, run_id: int, *, status: str, strategy: str | None = None,
               policy_decision: dict | None = None, answer: str | None = None, citations: dict | None = None,
               prompt_sha: str | None = None, model: str | None = None, timings: dict | None = None,
               tokens: dict | None = None, trace: dict | None = None, error: str | None = None) -> None:
    conn.execute(
        "UPDATE runs SET status = %s, strategy = coalesce(%s, strategy), policy_decision = %s, answer = %s, "
        "citations = %s, prompt_sha = %s, model = coalesce(%s, model), timings = %s, tokens = %s, trace = %s, "
        "error = %s WHERE id = %s",
        (status, strategy, Jsonb(policy_decision) if policy_decision is not None else None, answer,
         Jsonb(citations) if citations is not None else None, prompt_sha, model, Jsonb(timings or {}),
         Jsonb(tokens or {}), Jsonb(trace or {}), error, run_id))


# The run an LLM call belongs to. Rerankers and the answerer call the completer without knowing about runs; the
# pipeline sets this around a run's work so every llm_calls row it causes points at the run.
current_run: ContextVar[int | None] = ContextVar("current_run", default=None)


def log_llm_call(conn: psycopg.Connection, *, purpose: str, model: str, messages_sha: str, options: dict,
                 prompt_tokens: int | None, completion_tokens: int | None, latency_ms: float | None,
                 error: str | None = None, run_id: int | None = None) -> None:
    run_id = current_run.get() if run_id is None else run_id
    conn.execute(
        "INSERT INTO llm_calls (run_id, purpose, model, messages_sha, options, prompt_tokens, completion_tokens, "
        "latency_ms, error) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (run_id, purpose, model, messages_sha, Jsonb(options), prompt_tokens, completion_tokens, latency_ms, error))


_RUN_COLS = ("id, created_at, question, question_norm_sha, experiment, strategy, options, policy_decision, "
             "recall_mode, embed_model, model, prompt_sha, answer, citations, status, error, timings, tokens, trace")


def _as_dicts(cur) -> list[dict]:
    names = [d.name for d in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]


def get_run(conn: psycopg.Connection, run_id: int) -> dict | None:
    cur = conn.execute(f"SELECT {_RUN_COLS} FROM runs WHERE id = %s", (run_id,))
    rows = _as_dicts(cur)
    if not rows:
        return None
    run = rows[0]
    cur = conn.execute("SELECT chunk_id, chunk_sha, source, recall_rank, recall_score, rerank_rank, rerank_score, "
                       "in_context, context_index, cited FROM run_candidates WHERE run_id = %s "
                       "ORDER BY rerank_rank NULLS LAST, recall_rank", (run_id,))
    run["candidates"] = _as_dicts(cur)
    return run


def list_runs(conn: psycopg.Connection, *, limit: int = 20, question: str | None = None,
              experiment: str | None = None, since=None, strategies: Iterable[str] | None = None,
              ids: Sequence[int] | None = None) -> list[dict]:
    """Runs newest first, optionally filtered; without candidates (see get_run / candidates_for)."""
    where, params = [], []
    if question is not None:
        where.append("question_norm_sha = %s")
        params.append(question_sha(question))
    if experiment is not None:
        where.append("experiment = %s")
        params.append(experiment)
    if since is not None:
        where.append("created_at >= %s")
        params.append(since)
    if strategies:
        where.append("strategy = ANY(%s)")
        params.append(list(strategies))
    if ids:
        where.append("id = ANY(%s)")
        params.append(list(ids))
    sql = f"SELECT {_RUN_COLS} FROM runs" + (" WHERE " + " AND ".join(where) if where else "")
    sql += " ORDER BY created_at DESC, id DESC" + (" LIMIT %s" if limit else "")
    if limit:
        params.append(limit)
    return _as_dicts(conn.execute(sql, params))


def candidates_for(conn: psycopg.Connection, run_ids: Sequence[int]) -> dict[int, list[dict]]:
    cur = conn.execute("SELECT run_id, chunk_id, chunk_sha, source, recall_rank, recall_score, rerank_rank, "
                       "rerank_score, in_context, context_index, cited FROM run_candidates WHERE run_id = ANY(%s) "
                       "ORDER BY run_id, rerank_rank NULLS LAST, recall_rank", (list(run_ids),))
    out: dict[int, list[dict]] = {rid: [] for rid in run_ids}
    for row in _as_dicts(cur):
        out[row.pop("run_id")].append(row)
    return out
