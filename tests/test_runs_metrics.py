"""Each agreement measure on examples worked out by hand: identical runs, disjoint runs, partial overlap."""
import math

import numpy as np
import pytest

from assistant.runs import metrics
from assistant.runs.metrics import (
    cosine_matrix,
    exact_match,
    jaccard,
    jaccard_at_k,
    kendall_tau,
    normalise_answer,
    pairwise_matrix,
    rbo,
    summarise,
)


def test_jaccard_identical_disjoint_partial():
    assert jaccard_at_k([1, 2, 3, 4, 5], [1, 2, 3, 4, 5], 5) == 1.0
    assert jaccard_at_k([5, 4, 3, 2, 1], [1, 2, 3, 4, 5], 5) == 1.0  # order does not matter to a set
    assert jaccard_at_k([1, 2, 3], [4, 5, 6], 3) == 0.0
    assert jaccard_at_k([1, 2, 3, 4, 5], [1, 2, 3, 6, 7], 5) == pytest.approx(3 / 7)
    assert jaccard_at_k([1, 2, 3, 4, 5], [1, 2, 3, 6, 7], 3) == 1.0  # only the top k count
    assert jaccard([], []) == 1.0  # two answers that cite nothing agree on citations
    assert jaccard([1], []) == 0.0


def test_rbo_identical_and_disjoint():
    assert rbo([1, 2, 3, 4, 5], [1, 2, 3, 4, 5], 0.9) == pytest.approx(1.0)
    assert rbo([1, 2, 3], [4, 5, 6], 0.9) == 0.0
    assert rbo([], []) == 1.0 and rbo([1], []) == 0.0


def test_rbo_partial_overlap_equal_lengths():
    # S=[1,2,3], T=[1,3,4], p=0.5: X1=1, X2=1, X3=2.
    # (1-p)/p * (1*0.5 + 1/2*0.25 + 2/3*0.125) + X3/3 * p^3 = 0.7083 + 0.0833 = 19/24
    assert rbo([1, 2, 3], [1, 3, 4], 0.5) == pytest.approx(19 / 24)


def test_rbo_uneven_lengths_uses_eq_32():
    # S=[1,2] (s=2), L=[1,3,2,4] (l=4), p=0.5: X = 1, 1, 2, 2.
    # sum X_d/d p^d = .5 + .125 + .0833 + .03125; tail for d=3,4: X_s(d-s)/(sd) p^d = .02083 + .015625;
    # extrapolation ((X_l-X_s)/l + X_s/s) p^l = .75 * .0625. Total 79/96; symmetric in its arguments.
    assert rbo([1, 2], [1, 3, 2, 4], 0.5) == pytest.approx(79 / 96)
    assert rbo([1, 3, 2, 4], [1, 2], 0.5) == pytest.approx(79 / 96)


def test_rbo_weights_the_top():
    top_swap = rbo([2, 1, 3, 4, 5], [1, 2, 3, 4, 5], 0.9)
    bottom_swap = rbo([1, 2, 3, 5, 4], [1, 2, 3, 4, 5], 0.9)
    assert top_swap < bottom_swap < 1.0
    with pytest.raises(ValueError):
        rbo([1], [1], 1.0)


def test_kendall_tau_on_shared_items():
    assert kendall_tau([1, 2, 3, 4], [1, 2, 3, 4]) == pytest.approx(1.0)
    assert kendall_tau([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert kendall_tau([1, 2, 3, 4], [2, 1, 3, 4]) == pytest.approx(2 / 3)  # 5 concordant, 1 discordant pair
    # shared {1,2,3}: b orders them 3,1,2 -> pairs (1,2) concordant, (1,3) and (2,3) discordant
    assert kendall_tau([1, 2, 3, 5], [3, 1, 2, 6]) == pytest.approx(-1 / 3)
    assert math.isnan(kendall_tau([1, 2, 3], [4, 5, 6]))  # disjoint: undefined
    assert math.isnan(kendall_tau([1, 2], [2, 3]))  # one shared item has no order


def test_answer_exact_match_after_normalisation():
    assert normalise_answer("Use SET NX PX [1], then release with Lua [2, 3].") == \
        "use set nx px then release with lua"
    assert exact_match("Use SET key NX PX 30000 [1].", "use set key nx px 30000") == 1.0
    assert exact_match("使用 SET NX 加锁【1】。", "使用 SET NX 加锁。") == 1.0
    assert exact_match("Use Redlock [1].", "Use ZooKeeper [1].") == 0.0
    assert exact_match("ＳＥＴ　ＮＸ", "set nx") == 1.0  # full-width forms fold (NFKC)


def test_cosine_matrix_identical_orthogonal_and_absent():
    v = np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 3.0]])
    m = cosine_matrix(v)
    assert m[0, 1] == pytest.approx(1.0) and m[0, 2] == pytest.approx(0.0) and math.isnan(m[0, 0])
    m = cosine_matrix(v, present=[True, True, False])
    assert m[0, 1] == pytest.approx(1.0) and math.isnan(m[0, 2]) and math.isnan(m[2, 1])


def test_pairwise_matrix_mean_over_three_runs():
    runs = [[1, 2, 3], [1, 2, 3], [4, 5, 6]]
    m = pairwise_matrix(runs, lambda a, b: jaccard_at_k(a, b, 3))
    s = summarise(m, ["q"] * 3)
    assert s.mean == pytest.approx(1 / 3)  # pairs: 1, 0, 0
    assert s.std == pytest.approx(math.sqrt(2) / 3)
    assert (s.pairs, s.runs) == (3, 3)
    assert 0.0 <= s.lo <= s.mean <= s.hi <= 1.0


def test_summarise_scopes_and_bootstrap():
    m = np.full((4, 4), np.nan)
    for (i, j), v in {(0, 1): 1.0, (2, 3): 0.5, (0, 2): 0.0, (0, 3): 0.0, (1, 2): 0.2, (1, 3): 0.4}.items():
        m[i, j] = m[j, i] = v
    groups = ["a", "a", "b", "b"]
    within = summarise(m, groups, "within")
    assert (within.mean, within.std, within.pairs) == (pytest.approx(0.75), pytest.approx(0.25), 2)
    # Resampling runs inside each question: a resample holds pair (0,1), pair (2,3), or both.
    assert within.lo == pytest.approx(0.5) and within.hi == pytest.approx(1.0)
    across = summarise(m, groups, "across")
    assert (across.mean, across.pairs, across.runs) == (pytest.approx(0.15), 4, 4)
    # Two phrasings give one pair of questions to resample: no spread between questions to see.
    assert across.lo == pytest.approx(0.15) and across.hi == pytest.approx(0.15)
    assert across == summarise(m, groups, "across")  # a fixed seed: a report recomputes to the same CI


def test_across_interval_resamples_questions():
    # Three questions, one run each; question pairs agree 0.9 (a,b), 0.5 (a,c), 0.1 (b,c).
    m = np.array([[np.nan, 0.9, 0.5], [0.9, np.nan, 0.1], [0.5, 0.1, np.nan]])
    s = summarise(m, ["a", "b", "c"], "across", n_boot=2000)
    assert s.mean == pytest.approx(0.5) and s.pairs == 3
    # a resample holds two or three distinct questions: its mean is one pair's value or the mean of all three
    assert s.lo == pytest.approx(0.1) and s.hi == pytest.approx(0.9)


def test_summarise_identical_and_disjoint_runs_have_tight_intervals():
    ones = np.ones((5, 5))
    s = summarise(ones, ["q"] * 5)
    assert (s.mean, s.std, s.lo, s.hi) == (1.0, 0.0, 1.0, 1.0)
    s = summarise(np.zeros((5, 5)), ["q"] * 5)
    assert (s.mean, s.lo, s.hi) == (0.0, 0.0, 0.0)


def test_summarise_without_pairs_is_empty():
    assert summarise(np.ones((1, 1)), ["q"]) == metrics.EMPTY
    assert not summarise(np.ones((3, 3)), ["a", "b", "c"], "within").ok  # no question was repeated
    nan = np.full((3, 3), np.nan)
    assert not summarise(nan, ["q"] * 3).ok
