"""Merkle trees of receipt batches (axis.merkle, RFC 9162): every leaf's audit path
leads to the root; another leaf, index, size or path does not."""

from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from axis.merkle import leaf_hash, node_hash, root_from_path, tree, verifies

leaves = st.lists(st.binary(max_size=40), min_size=1, max_size=70).map(
    lambda items: [leaf_hash(b) for b in items]
)


def test_small_trees_are_the_rfc_9162_shape() -> None:
    a, b, c = (leaf_hash(x) for x in (b"a", b"b", b"c"))
    assert tree([a]) == (a, [[]])
    assert tree([a, b]) == (node_hash(a, b), [[b], [a]])
    # three leaves split at two: ((a b) c)
    root, paths = tree([a, b, c])
    assert root == node_hash(node_hash(a, b), c)
    assert paths == [[b, c], [a, c], [node_hash(a, b)]]


@given(leaves)
def test_every_leaf_proves_itself_and_only_at_its_place(hashes: list[bytes]) -> None:
    root, paths = tree(hashes)
    size = len(hashes)
    for i, (leaf, path) in enumerate(zip(hashes, paths, strict=True)):
        assert verifies(leaf, i, size, path, root)
        assert len(path) <= max(1, size - 1).bit_length()
        other = hashlib.sha256(leaf).digest()
        assert not verifies(other, i, size, path, root)
        if size > 1:
            assert not verifies(leaf, (i + 1) % size, size, path, root) or (
                hashes[(i + 1) % size] == leaf and paths[(i + 1) % size] == path
            )
            assert not verifies(leaf, i, size, path[:-1], root)
            assert not verifies(leaf, i, size, [*path, root], root)


@given(leaves, st.integers())
def test_an_index_outside_the_tree_is_refused(hashes: list[bytes], index: int) -> None:
    _root, paths = tree(hashes)
    if not 0 <= index < len(hashes):
        assert root_from_path(hashes[0], index, len(hashes), paths[0]) is None


def test_an_interior_node_does_not_pass_for_a_leaf() -> None:
    hashes = [leaf_hash(bytes([i])) for i in range(4)]
    root, _ = tree(hashes)
    left = node_hash(hashes[0], hashes[1])
    right = node_hash(hashes[2], hashes[3])
    # the pair (left, right) is a valid two-node step, but not a path of a 4-leaf tree
    assert node_hash(left, right) == root
    assert not verifies(left, 0, 4, [right], root)
