"""Model backends behind narrow interfaces: Embedder, Completer. Heavy imports happen only in backends."""
