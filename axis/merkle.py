"""Merkle trees over receipts, as RFC 9162 (Certificate Transparency 2.0) defines them.

Pure: bytes in, bytes out. One signature of the axis covers the root of a batch of
receipts; each receipt carries its leaf's audit path to that root, so that it proves
itself alone (:mod:`axis.receipts`).

- leaf hash: ``SHA-256(0x00 || data)``; interior node: ``SHA-256(0x01 || left || right)``
  (the prefixes keep a node from passing for a leaf);
- the tree of ``n`` leaves splits at ``k``, the largest power of two below ``n``
  (RFC 9162 section 2.1.1);
- an audit path lists the sibling hashes from the leaf up; leaf index and tree size
  decide on which side each one stands (verification: RFC 9162 section 2.1.3.2).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

__all__ = ["leaf_hash", "node_hash", "root_from_path", "tree", "verifies"]


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def tree(leaves: Sequence[bytes]) -> tuple[bytes, list[list[bytes]]]:
    """The root over these leaf hashes and the audit path of each leaf (in order)."""
    if not leaves:
        raise ValueError("a Merkle tree needs at least one leaf")
    if len(leaves) == 1:
        return leaves[0], [[]]
    k = _split(len(leaves))
    left, left_paths = tree(leaves[:k])
    right, right_paths = tree(leaves[k:])
    return node_hash(left, right), [
        *([*p, right] for p in left_paths),
        *([*p, left] for p in right_paths),
    ]


def root_from_path(leaf: bytes, index: int, size: int, path: Sequence[bytes]) -> bytes | None:
    """The root that ``path`` leads to from ``leaf`` at ``index`` in a tree of ``size``
    leaves, or None when the path cannot belong to such a tree (RFC 9162 2.1.3.2)."""
    if not 0 <= index < size:
        return None
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def verifies(leaf: bytes, index: int, size: int, path: Sequence[bytes], root: bytes) -> bool:
    found = root_from_path(leaf, index, size, path)
    return found is not None and hmac.compare_digest(found, root)
