"""The long-lived things (database pool, embedder, recaller, completer, rerankers), built once and lazily.

Front ends build one Services from Settings; tests pass fakes (subclasses of the real interfaces) in instead.
"""
from __future__ import annotations

import threading
from functools import cached_property


class Services:
    def __init__(self, settings, *, db=None, embedder=None, completer=None, rerankers: dict | None = None):
        self.settings = settings
        self._lock = threading.RLock()
        if db is not None:
            self.__dict__["db"] = db
        if embedder is not None:
            self.__dict__["embedder"] = embedder
        # A completer passed in (tests, fakes) answers for every model name.
        self._completers: dict = {}
        self._fixed_completer = completer
        self._rerankers: dict = dict(rerankers or {})

    @cached_property
    def db(self):
        from assistant.db import open_database
        with self._lock:
            return open_database(self.settings)

    @cached_property
    def embedder(self):
        from assistant.models.embedder import load_embedder
        with self._lock:
            return load_embedder(self.settings.embedder, self.settings)

    @cached_property
    def recaller(self):
        """Recall over the schema; refuses (EmbedderMismatch, with what to do) an index of another embedder."""
        from assistant.db import store
        from assistant.recall import Recaller

        with self.db.connection() as conn:
            store.check_embedder(conn, self.embedder.model_id, self.embedder.dim, self.db.schema)
        return Recaller(self.db, self.embedder, self.settings.ef_search, self.settings.rrf_k)

    @cached_property
    def ingestor(self):
        from assistant.ingest.pipeline import Ingestor
        return Ingestor(self.db, self.embedder, self.settings)

    @property
    def completer(self):
        """The answer model of the settings."""
        return self.completer_for(None)

    def completer_for(self, model: str | None):
        """A completer for a litellm model string (None: settings.llm_model); built once per model."""
        if self._fixed_completer is not None:
            return self._fixed_completer
        model = model or self.settings.llm_model
        with self._lock:
            if model not in self._completers:
                from assistant.models.registry import load_completer
                self._completers[model] = load_completer(self.settings.replace(llm_model=model), db=self.db)
            return self._completers[model]

    def reranker(self, name: str):
        """A reranker by strategy name (none, cross-encoder, remote, llm); built once, then reused."""
        with self._lock:
            if name not in self._rerankers:
                from assistant.rerank.registry import build_reranker
                self._rerankers[name] = build_reranker(name, self)
            return self._rerankers[name]

    def ensure_knowledge_base(self, on_progress=None):
        """Ingest the demo knowledge base when the database is empty (first run); returns the report or None."""
        if not self.settings.demo_kb:
            return None
        from assistant.ingest.demo import ensure_demo
        return ensure_demo(self.db, self.ingestor, on_progress)

    def close(self) -> None:
        db = self.__dict__.get("db")
        if db is not None:
            db.close()
