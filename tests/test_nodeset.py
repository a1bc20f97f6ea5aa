"""Host ranges as pdsh and clush users write them, and folding names back."""

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pegasus.spec import nodeset


@pytest.mark.parametrize("name, expected", [
    ("node-1", ["node-1"]),
    ("ann@node-1", ["ann@node-1"]),
    ("node[1-3]", ["node1", "node2", "node3"]),
    ("node[01-03]", ["node01", "node02", "node03"]),
    ("node[01-16]", ["node%02d" % i for i in range(1, 17)]),
    ("node[8-11]", ["node8", "node9", "node10", "node11"]),
    ("node[098-101]", ["node098", "node099", "node100", "node101"]),
    ("gpu[1-3,7]", ["gpu1", "gpu2", "gpu3", "gpu7"]),
    ("gpu[7,1-2]", ["gpu7", "gpu1", "gpu2"]),
    ("gpu[ 1-2 ]", ["gpu1", "gpu2"]),
    ("n[0-6/3]", ["n0", "n3", "n6"]),
    ("[1-2]node", ["1node", "2node"]),
    ("rack[1-2]-node[1-3]", ["rack1-node1", "rack1-node2", "rack1-node3",
                             "rack2-node1", "rack2-node2", "rack2-node3"]),
    ("a[1-2]b[1-2]c", ["a1b1c", "a1b2c", "a2b1c", "a2b2c"]),
    ("n[5]", ["n5"]),
])
def test_range_expands_leftmost_slowest_keeping_zero_padding(name, expected):
    assert nodeset.expand(name) == expected


@pytest.mark.parametrize("name, words", [
    ("node[3-1]", ["goes down", "1-3"]),
    ("node[a-b]", ["not a range"]),
    ("node[1-]", ["not a range"]),
    ("node[]", ["not a range"]),
    ("node[1,,2]", ["not a range"]),
    ("node[1-4/0]", ["step of 0"]),
    ("node[1-3", ["unbalanced"]),
    ("node1-3]", ["unbalanced"]),
    ("node[[1-3]]", ["unbalanced"]),
    ("node[1-3]]", ["unbalanced"]),
    ("node[1-100000000000]", ["more than"]),
    ("r[1-1000]n[1-1000]", ["more than"]),
])
def test_bad_range_raises_range_error_saying_why(name, words):
    with pytest.raises(nodeset.RangeError) as info:
        nodeset.expand(name)
    for word in words:
        assert word in str(info.value)


def test_a_range_up_to_the_limit_expands():
    assert len(nodeset.expand("n[1-%d]" % nodeset.LIMIT)) == nodeset.LIMIT


@pytest.mark.parametrize("names, folded", [
    (["node1", "node2", "node3", "node7", "login"], "node[1-3,7],login"),
    (["node01", "node02", "node03"], "node[01-03]"),
    (["n9", "n10", "n11"], "n[9-11]"),
    (["n09", "n10"], "n[09-10]"),
    (["n1", "n01"], "n1,n01"),
    (["a"], "a"),
    (["n3"], "n3"),
    (["rack1-node1", "rack1-node2"], "rack1-node[1-2]"),
    (["n1", "n1"], "n1"),
])
def test_fold_writes_names_in_range_notation(names, folded):
    assert nodeset.fold(names) == folded


def _split_top(text):
    """Split a folded text on the commas outside brackets."""
    return re.findall(r"(?:[^,\[]|\[[^\]]*\])+", text)


@settings(database=None)
@given(st.lists(st.tuples(st.sampled_from(["n", "node-", "gpu", "r1-n"]),
                          st.integers(0, 120), st.sampled_from([0, 2, 3])),
                min_size=1, max_size=30))
def test_fold_expands_back_to_the_same_names(parts):
    names = [prefix + str(number).zfill(width) for prefix, number, width in parts]
    expanded = [name for part in _split_top(nodeset.fold(names))
                for name in nodeset.expand(part)]
    assert sorted(expanded) == sorted(set(names))
