-- The run log: every ask, whatever the front end. Reports read only these tables.
CREATE TABLE runs (
    id                bigserial PRIMARY KEY,
    created_at        timestamptz NOT NULL DEFAULT now(),
    question          text NOT NULL,
    question_norm_sha text NOT NULL,
    experiment        text,
    strategy          text NOT NULL,
    options           jsonb NOT NULL DEFAULT '{}'::jsonb,
    policy_decision   jsonb,
    recall_mode       text,
    embed_model       text,
    model             text,
    prompt_sha        text,
    answer            text,
    citations         jsonb,
    status            text NOT NULL DEFAULT 'started',
    error             text,
    timings           jsonb NOT NULL DEFAULT '{}'::jsonb,
    tokens            jsonb NOT NULL DEFAULT '{}'::jsonb,
    trace             jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX runs_question_idx ON runs (question_norm_sha, created_at);
CREATE INDEX runs_experiment_idx ON runs (experiment);

-- Candidates are kept by value (chunk hash, source, snippet) too, since re-ingest may delete the chunk row.
CREATE TABLE run_candidates (
    run_id        bigint NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    chunk_id      bigint NOT NULL,
    chunk_sha     text,
    source        text,
    recall_rank   integer,
    recall_score  real,
    rerank_rank   integer,
    rerank_score  real,
    in_context    boolean NOT NULL DEFAULT false,
    context_index integer,
    cited         boolean NOT NULL DEFAULT false,
    PRIMARY KEY (run_id, chunk_id)
);

-- Every LLM call (answers, listwise windows, synthetic questions): what was asked, never the API key.
CREATE TABLE llm_calls (
    id                bigserial PRIMARY KEY,
    created_at        timestamptz NOT NULL DEFAULT now(),
    run_id            bigint REFERENCES runs(id) ON DELETE SET NULL,
    purpose           text NOT NULL,
    model             text NOT NULL,
    messages_sha      text NOT NULL,
    options           jsonb NOT NULL DEFAULT '{}'::jsonb,
    prompt_tokens     integer,
    completion_tokens integer,
    latency_ms        real,
    error             text
);

CREATE TABLE rerank_cache (
    model      text NOT NULL,
    query_sha  text NOT NULL,
    chunk_sha  text NOT NULL,
    score      double precision NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (model, query_sha, chunk_sha)
);
