"""Absolute (text, passage) scores for the answer stage: the context filter and the citation support check.

Reranked scores cannot serve here: a served cross-encoder may fuse its score with recall's (z-normalised per
question, see the model card's "serving"), which orders well but means nothing on an absolute scale. So these
scorers call the model directly. The cross-encoder is preferred; without one, the embedder's cosine stands in.
"""
from __future__ import annotations

import abc
from typing import Sequence

import numpy as np


class PairScorer(abc.ABC):
    """Scores (text, passage) pairs on a scale where one fixed threshold means the same for every question."""

    kind: str
    """'cross-encoder' or 'embedding': thresholds are kept per kind, since the scales differ."""
    model_id: str

    @abc.abstractmethod
    def score(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        """One score per (text, passage) pair, higher meaning the passage says more of what the text says."""

    def describe(self) -> str:
        return f"{self.kind} {self.model_id}"


class CrossEncoderScorer(PairScorer):
    """The raw output of a sentence-transformers CrossEncoder (never fused with recall)."""

    kind = "cross-encoder"

    def __init__(self, model, model_id: str, max_length: int = 384, batch_size: int = 32):
        self.model = model
        self.model_id = model_id
        self.max_length = max_length
        self.batch_size = max(1, batch_size)

    def score(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        if not pairs:
            return []
        # The tokenizer truncates anyway; cutting absurd lengths first only saves tokenizing what is thrown away.
        limit = self.max_length * 8
        cut = [(a[:limit], b[:limit]) for a, b in pairs]
        out = self.model.predict(cut, batch_size=self.batch_size, show_progress_bar=False, convert_to_numpy=True)
        return [float(x) for x in np.asarray(out).reshape(len(cut), -1)[:, 0]]


class EmbeddingScorer(PairScorer):
    """Cosine similarity of the two texts' embeddings (both L2-normalised by the embedder)."""

    kind = "embedding"

    def __init__(self, embedder):
        self.embedder = embedder
        self.model_id = embedder.model_id

    def score(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        if not pairs:
            return []
        texts = list(dict.fromkeys(t for pair in pairs for t in pair))
        vectors = self.embedder.embed_batch(texts)
        at = {t: i for i, t in enumerate(texts)}
        return [float(np.dot(vectors[at[a]], vectors[at[b]])) for a, b in pairs]


def cross_encoder_scorer(services) -> CrossEncoderScorer | None:
    """The cross-encoder the settings name, as a raw scorer; None when none can be loaded."""
    from assistant.rerank.base import RerankerUnavailable

    try:
        reranker = services.reranker("cross-encoder")
    except RerankerUnavailable:
        return None
    model = getattr(reranker, "model", None)
    if model is None or not hasattr(model, "predict"):
        return None
    return CrossEncoderScorer(model, reranker.model_id, getattr(reranker, "max_length", 384),
                              getattr(reranker, "batch_size", 32))


def best_scorer(services) -> PairScorer:
    """The cross-encoder when one loads, else the embedder."""
    return cross_encoder_scorer(services) or EmbeddingScorer(services.embedder)
