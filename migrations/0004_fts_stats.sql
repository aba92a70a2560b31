-- BM25 full-text recall needs the collection size and mean chunk length on every query; an index on the token
-- count makes that an index-only scan instead of a pass over every chunk's vector.
CREATE INDEX chunks_tokens_idx ON chunks (tokens);
