"""Agreement between repeated runs: set overlap, rank agreement, citation and answer agreement, with bootstrap CIs.

Every measure compares two runs and lies in [0, 1] (Kendall tau in [-1, 1]); a report averages it over pairs of
runs of the same question ("within") or of different phrasings of it ("across").
"""
from __future__ import annotations

import math
import unicodedata
from dataclasses import asdict, dataclass
from typing import Callable, Hashable, Iterable, Sequence

import numpy as np

SCOPES = ("within", "across")


def jaccard(a: Iterable[Hashable], b: Iterable[Hashable]) -> float:
    """|A ∩ B| / |A ∪ B|; two empty sets agree fully (1.0)."""
    sa, sb = set(a), set(b)
    if not sa and not sb:
        return 1.0
    return len(sa & sb) / len(sa | sb)


def jaccard_at_k(a: Sequence[Hashable], b: Sequence[Hashable], k: int) -> float:
    """Jaccard of the two top-k sets."""
    return jaccard(a[:k], b[:k])


def _dedupe(items: Sequence[Hashable]) -> list:
    seen: set = set()
    return [x for x in items if not (x in seen or seen.add(x))]


def rbo(a: Sequence[Hashable], b: Sequence[Hashable], p: float = 0.9) -> float:
    """Extrapolated rank-biased overlap of two (possibly uneven) prefixes of indefinite rankings.

    Webber, Moffat & Zobel, "A similarity measure for indefinite rankings", ACM TOIS 28(4), 2010, eq. (32):
    RBO_ext = (1-p)/p * (sum_{d=1..l} X_d/d p^d + sum_{d=s+1..l} X_s (d-s)/(s d) p^d) + ((X_l-X_s)/l + X_s/s) p^l,
    where s <= l are the list lengths and X_d the overlap at depth d (the short list stops growing after s).
    The PyPI `rbo` package implements the same formula but pins numpy<2, hence this ~20-line version.
    """
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must be in (0, 1), got {p}")
    a, b = _dedupe(a), _dedupe(b)
    short, long_ = (a, b) if len(a) <= len(b) else (b, a)
    s, n = len(short), len(long_)  # the paper's s and l
    if s == 0:
        return 1.0 if n == 0 else 0.0
    seen_s: set = set()
    seen_l: set = set()
    overlap = 0
    x = [0] * (n + 1)  # x[d]: overlap of the two prefixes at depth d (1-based)
    for d in range(1, n + 1):
        new_l = long_[d - 1]
        if d <= s:
            new_s = short[d - 1]
            if new_s == new_l:
                overlap += 1
            else:  # each new item may match one seen earlier in the other list
                overlap += (new_s in seen_l) + (new_l in seen_s)
            seen_s.add(new_s)
        else:
            overlap += new_l in seen_s
        seen_l.add(new_l)
        x[d] = overlap
    x_s, x_l = x[s], x[n]
    total = sum(x[d] / d * p ** d for d in range(1, n + 1))
    total += sum(x_s * (d - s) / (s * d) * p ** d for d in range(s + 1, n + 1))
    value = (1 - p) / p * total + ((x_l - x_s) / n + x_s / s) * p ** n
    return min(1.0, max(0.0, value))  # float error only: the formula lies in [0, 1]


def kendall_tau(a: Sequence[Hashable], b: Sequence[Hashable]) -> float:
    """Kendall tau-b (scipy) over the items both rankings hold; nan with fewer than two shared items."""
    from scipy.stats import kendalltau

    pos_b = {x: i for i, x in enumerate(_dedupe(b))}
    shared = [x for x in _dedupe(a) if x in pos_b]
    if len(shared) < 2:
        return math.nan
    return float(kendalltau(range(len(shared)), [pos_b[x] for x in shared]).statistic)


def normalise_answer(text: str) -> str:
    """Answer text for exact comparison: NFKC, case-folded, no citation markers, punctuation or extra spaces."""
    from assistant.answer.citations import parse_citations

    text = text or ""
    # Which sources an answer cites is measured on its own (citation agreement); here only the words count.
    for citation in parse_citations(text):
        text = text.replace(citation.raw, " ")
    text = unicodedata.normalize("NFKC", text).casefold()
    text = "".join(" " if unicodedata.category(ch)[0] in "PSZC" else ch for ch in text)
    return " ".join(text.split())


def exact_match(a: str, b: str) -> float:
    """1.0 when two answers are equal after normalise_answer, else 0.0."""
    return float(normalise_answer(a) == normalise_answer(b))


def pairwise_matrix(items: Sequence, fn: Callable[[object, object], float]) -> np.ndarray:
    """Symmetric n x n matrix of fn over pairs (diagonal nan); a None item makes its pairs nan."""
    n = len(items)
    m = np.full((n, n), np.nan)
    for i in range(n):
        for j in range(i + 1, n):
            if items[i] is not None and items[j] is not None:
                m[i, j] = m[j, i] = fn(items[i], items[j])
    return m


def cosine_matrix(vectors: np.ndarray, present: Sequence[bool] | None = None) -> np.ndarray:
    """Pairwise cosine similarity of row vectors (diagonal nan; rows not present give nan)."""
    v = np.asarray(vectors, dtype=np.float64)
    v = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
    m = np.clip(v @ v.T, -1.0, 1.0)
    np.fill_diagonal(m, np.nan)
    if present is not None:
        absent = ~np.asarray(present, dtype=bool)
        m[absent, :] = np.nan
        m[:, absent] = np.nan
    return m


@dataclass(frozen=True)
class Stat:
    """Mean of a measure over pairs of runs, its spread (std over pairs) and a 95% bootstrap CI (see summarise)."""

    mean: float
    std: float
    lo: float
    hi: float
    pairs: int
    runs: int

    def to_dict(self) -> dict:
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in asdict(self).items()}

    @property
    def ok(self) -> bool:
        return self.pairs > 0


EMPTY = Stat(math.nan, math.nan, math.nan, math.nan, 0, 0)


def summarise(matrix: np.ndarray, groups: Sequence[Hashable], scope: str = "within", *, n_boot: int = 1000,
              alpha: float = 0.05, seed: int = 0) -> Stat:
    """Mean over the pairs of a scope ('within': same group, 'across': different groups), std, bootstrap CI.

    Pairs share runs, so they are not independent: the CI resamples what varies. Within a question that is the
    runs (resampled inside each question, so every question keeps its weight; a run paired with its own copy is
    skipped, self-agreement being trivially perfect). Across paraphrases it is the choice of phrasings, so whole
    questions are resampled and only pairs from different originals count.
    """
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {SCOPES}")
    m = np.asarray(matrix, dtype=np.float64)
    g = np.asarray(list(groups))
    n = len(g)
    if n < 2:
        return EMPTY
    iu, ju = np.triu_indices(n, 1)
    in_scope = (g[iu] == g[ju]) if scope == "within" else (g[iu] != g[ju])
    pi, pj = iu[in_scope], ju[in_scope]
    present = ~np.isnan(m[pi, pj])
    values = m[pi, pj][present]
    if values.size == 0:
        return EMPTY
    used = np.unique(np.concatenate([pi[present], pj[present]]))
    mean, std = float(values.mean()), float(values.std())
    rng = np.random.default_rng(seed)
    boot = _boot_runs(m, g, pi, pj, n_boot, rng) if scope == "within" else _boot_groups(m, g, n_boot, rng)
    if boot.size == 0:
        return Stat(mean, std, mean, mean, int(values.size), int(used.size))
    lo, hi = np.percentile(boot, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return Stat(mean, std, float(lo), float(hi), int(values.size), int(used.size))


def _boot_runs(m: np.ndarray, g: np.ndarray, pi: np.ndarray, pj: np.ndarray, n_boot: int, rng) -> np.ndarray:
    # Column j of a resample draws from run j's own group, so the group layout (and the pairs in scope) stay put.
    samples = np.empty((n_boot, len(g)), dtype=np.int64)
    for label in np.unique(g):
        cols = np.flatnonzero(g == label)
        samples[:, cols] = rng.choice(cols, size=(n_boot, cols.size))
    a, b = samples[:, pi], samples[:, pj]
    vals = m[a, b]
    valid = (a != b) & ~np.isnan(vals)
    counts = valid.sum(axis=1)
    keep = counts > 0
    return np.where(valid, vals, 0.0).sum(axis=1)[keep] / counts[keep]


def _boot_groups(m: np.ndarray, g: np.ndarray, n_boot: int, rng) -> np.ndarray:
    # Sums and counts of the matrix per pair of groups; a resample of groups is then a few lookups.
    _, gi = np.unique(g, return_inverse=True)
    k = gi.max() + 1
    present = ~np.isnan(m)
    sums, counts = np.zeros((k, k)), np.zeros((k, k))
    np.add.at(sums, (gi[:, None], gi[None, :]), np.where(present, m, 0.0))
    np.add.at(counts, (gi[:, None], gi[None, :]), present)
    samples = rng.integers(0, k, size=(n_boot, k))
    ia, ib = np.triu_indices(k, 1)
    a, b = samples[:, ia], samples[:, ib]
    distinct = a != b
    num = np.where(distinct, sums[a, b], 0.0).sum(axis=1)
    den = np.where(distinct, counts[a, b], 0.0).sum(axis=1)
    keep = den > 0
    return num[keep] / den[keep]
