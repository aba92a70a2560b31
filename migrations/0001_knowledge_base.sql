-- Documents and their chunks. The embedding column gets its dimension (and its HNSW index) when the first
-- embedding model is bound to this schema (see assistant/db/store.py: bind_embedder), because D depends on it.
CREATE TABLE documents (
    id             bigserial PRIMARY KEY,
    source         text NOT NULL UNIQUE,
    title          text NOT NULL DEFAULT '',
    content_sha256 text NOT NULL,
    meta           jsonb NOT NULL DEFAULT '{}'::jsonb,
    ingested_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE chunks (
    id             bigserial PRIMARY KEY,
    document_id    bigint NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    ord            integer NOT NULL,
    heading        text NOT NULL DEFAULT '',
    text           text NOT NULL,
    tokens         integer NOT NULL,
    content_sha256 text NOT NULL,
    embedding      vector,
    -- Built from text segmented in Python (jieba for CJK) with the 'simple' configuration, so Chinese matches.
    tsv            tsvector NOT NULL,
    UNIQUE (document_id, ord)
);
CREATE INDEX chunks_tsv_idx ON chunks USING gin (tsv);
CREATE INDEX chunks_sha_idx ON chunks (content_sha256);

-- One row per key: embed_model, embed_dim. A second model is refused rather than mixed into one index.
CREATE TABLE index_meta (
    key   text PRIMARY KEY,
    value text NOT NULL
);

-- Embeddings by (model, chunk hash): a resumed or edited document re-embeds only chunks it has not seen.
CREATE TABLE embedding_cache (
    model          text NOT NULL,
    content_sha256 text NOT NULL,
    embedding      vector NOT NULL,
    PRIMARY KEY (model, content_sha256)
);
