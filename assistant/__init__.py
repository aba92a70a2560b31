"""rerank-assistant: terminal Q&A over your documents with two-stage retrieval (recall, then rerank)."""
__version__ = "0.1.0"
