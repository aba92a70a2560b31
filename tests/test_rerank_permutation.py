import pytest

from assistant.rerank.permutation import mentioned_ids, parse_permutation


@pytest.mark.parametrize("reply, n, order, ok", [
    ("[3] > [1] > [2]", 3, [2, 0, 1], True),
    ("Sure! The ranking is: [2] > [3] > [1]. Passage 7 was the least useful.", 3, [1, 2, 0], True),
    ("[2] > [2] > [1] > [3]", 3, [1, 0, 2], False),          # duplicate dropped
    ("[4] > [9] > [1] > [0]", 4, [3, 0, 1, 2], False),        # out of range dropped, missing appended in order
    ("[3]", 4, [2, 0, 1, 3], False),                          # stopped early
    ("3 > 1 > 2", 3, [2, 0, 1], True),                        # no brackets, a chain
    ("［２］ > ［１］", 2, [1, 0], True),                        # full-width brackets
    ("【2】>【1】>【3】", 3, [1, 0, 2], True),
    ("", 3, [0, 1, 2], False),
    ("I cannot rank these passages.", 3, [0, 1, 2], False),
    ("There are 3 passages.", 3, [0, 1, 2], False),           # a lone number in prose is no ranking
])
def test_parse(reply, n, order, ok):
    p = parse_permutation(reply, n)
    assert p.order == order and p.ok is ok
    assert sorted(p.order) == list(range(n))


def test_repairs_are_reported():
    p = parse_permutation("[2] > [2] > [7] > [1]", 4)
    assert p.problems() == {"duplicates": [2], "out_of_range": [7], "missing": [3, 4]}
    empty = parse_permutation("no idea", 2)
    assert not empty.usable and empty.problems()["unusable"] is True
    assert parse_permutation("[1] > [2]", 2).problems() == {}


def test_bracketed_ids_win_over_other_numbers():
    assert mentioned_ids("Of the 20 passages, [5] > [3] are best (top 2).") == [5, 3]
