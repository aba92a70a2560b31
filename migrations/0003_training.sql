-- Training questions written for a knowledge base (synthetic from one chunk, constraint from a near-miss pair).
-- Chunks are referenced by content hash as well as id: re-ingest replaces chunk rows (new ids), and a question
-- must stay usable, and generation resumable, as long as the text it was written from still exists.
CREATE TABLE training_questions (
    id                 bigserial PRIMARY KEY,
    chunk_id           bigint NOT NULL,
    chunk_sha          text NOT NULL,
    question           text NOT NULL,
    question_norm      text NOT NULL,
    kind               text NOT NULL,
    -- Constraint questions: the chunk that mentions the excluded thing, a hard negative for this question.
    negative_chunk_id  bigint,
    negative_chunk_sha text,
    lang               text,
    model              text NOT NULL,
    prompt_sha         text,
    kept               boolean NOT NULL,
    -- Why a question was dropped (duplicate, not_in_recall, unparsable, wrong_language); NULL when kept.
    reason             text,
    created_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX training_questions_chunk_idx ON training_questions (kind, chunk_sha);
CREATE INDEX training_questions_norm_idx ON training_questions (question_norm);
