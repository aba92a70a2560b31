"""Teach an English WordPiece vocabulary Chinese characters before training.

The bundled all-MiniLM-L6-v2 knows 244 CJK characters: over half the characters of a Chinese paragraph become
[UNK], so a cross-encoder built on it cannot tell one Chinese passage from another. Each missing common
character becomes a token of its own (BERT's pre-tokenizer already splits CJK text into single characters), with
an embedding started at the mean of the known ones and learned from the Chinese training pairs. Which characters
is decided by jieba's dictionary (word frequency summed per character), so the list is the same on every machine.
"""
from __future__ import annotations

import os
from collections import Counter

_CJK = ("\u4e00", "\u9fff")


def common_cjk_chars(n: int) -> list[str]:
    """The n most frequent CJK characters by jieba's dictionary frequencies, most frequent first."""
    import jieba

    counts: Counter[str] = Counter()
    with open(os.path.join(os.path.dirname(jieba.__file__), "dict.txt"), encoding="utf-8") as fh:
        for line in fh:
            parts = line.split()
            if len(parts) < 2 or not parts[1].isdigit():
                continue
            for ch in parts[0]:
                if _CJK[0] <= ch <= _CJK[1]:
                    counts[ch] += int(parts[1])
    return [ch for ch, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]


def extend_with_cjk(model, n: int, seed: int = 0) -> int:
    """Add the n commonest CJK characters the tokenizer lacks; returns how many were added."""
    import torch

    tok = model.tokenizer
    vocab = tok.get_vocab()
    new = [ch for ch in common_cjk_chars(n) if ch not in vocab]
    if not new:
        return 0
    added = tok.add_tokens(new)
    emb = model.model.get_input_embeddings().weight
    old_n = emb.shape[0]
    mean, std = emb.data.mean(0), emb.data.std(0)
    model.model.resize_token_embeddings(len(tok))
    emb = model.model.get_input_embeddings().weight
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        noise = torch.randn(emb.shape[0] - old_n, emb.shape[1], generator=gen)
        emb[old_n:] = mean + 0.5 * std * noise
    return added


def added_cjk(base_tokenizer, n: int) -> list[str]:
    """The characters extend_with_cjk adds to this tokenizer, in the order (and so with the ids) it adds them."""
    vocab = base_tokenizer.get_vocab()
    return [ch for ch in common_cjk_chars(n) if ch not in vocab]


def drop_untrained_cjk(model, base_target: str, n: int, seed: int = 0) -> int:
    """Remove the added characters training never saw (their rows are still exactly their seeded start values).

    They carry no learned meaning, only bytes in the shipped file; without them such a character reads as [UNK],
    as it did before the vocabulary was extended. Returns how many were removed.
    """
    import torch
    from sentence_transformers import CrossEncoder
    from transformers import set_seed

    base = CrossEncoder(base_target, num_labels=1, device="cpu", local_files_only=True)
    set_seed(seed)
    n0 = len(base.tokenizer)
    chars = added_cjk(base.tokenizer, n)
    fresh = CrossEncoder(base_target, num_labels=1, device="cpu", local_files_only=True)
    extend_with_cjk(fresh, n, seed)
    start = fresh.model.get_input_embeddings().weight.detach()[n0:]
    weight = model.model.get_input_embeddings().weight.detach()
    if weight.shape[0] != n0 + len(chars) or start.shape != weight[n0:].shape:
        raise ValueError("the model's vocabulary is not the base plus extend_with_cjk(n): nothing dropped")
    keep = ~(weight[n0:] == start).all(dim=1)
    kept = [ch for ch, k in zip(chars, keep.tolist()) if k]
    rows = torch.cat([weight[:n0], weight[n0:][keep]]).clone()
    base.tokenizer.add_tokens(kept)
    model.model.resize_token_embeddings(n0 + len(kept))
    with torch.no_grad():
        model.model.get_input_embeddings().weight.copy_(rows)
    model[0].processor = base.tokenizer  # sentence-transformers keeps the tokenizer as the first module's processor
    return len(chars) - len(kept)
