"""Files -> sections -> chunks -> embeddings -> Postgres, one document per transaction."""
