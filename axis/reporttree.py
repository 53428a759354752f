"""The exchange report as a tree following the directory: the province, its departments
and districts, their communes. Pure: report lines by agency and the agencies in, nodes
out. A node's ``rollup`` is its own figures plus all its descendants'; the roots'
rollups add up to the whole report (property-tested).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from axis.report import ExchangeLine, grand_total

__all__ = ["TreeNode", "exchange_tree", "flatten"]

OUTSIDE = "(outside the directory)"


class AgencyLike(Protocol):
    @property
    def code(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def tier(self) -> str: ...
    @property
    def parent(self) -> str | None: ...


@dataclass
class TreeNode:
    code: str
    name: str
    tier: str | None
    own: ExchangeLine
    rollup: ExchangeLine
    children: list[TreeNode] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "name": self.name,
            "tier": self.tier,
            "own": self.own.as_dict(),
            "rollup": self.rollup.as_dict(),
            "children": [c.as_dict() for c in self.children],
        }


def exchange_tree(
    lines: Mapping[str, ExchangeLine], agencies: Sequence[AgencyLike], *, keep_empty: bool = False
) -> list[TreeNode]:
    """Nodes for the agencies (children by ``parent``), each with its own line and the
    rollup of its subtree. Lines of codes the directory does not hold hang under one
    extra root. Subtrees with nothing in them are dropped unless ``keep_empty``."""
    by_code = {a.code: a for a in agencies}
    children: dict[str | None, list[str]] = {}
    for a in agencies:
        parent = a.parent if a.parent in by_code and a.parent != a.code else None
        children.setdefault(parent, []).append(a.code)

    def build(code: str, seen: frozenset[str]) -> TreeNode | None:
        a = by_code[code]
        own = lines.get(code) or ExchangeLine(code)
        kids = [
            n
            for c in sorted(children.get(code, ()))
            if c not in seen
            for n in [build(c, seen | {c})]
            if n is not None
        ]
        rollup = grand_total([own, *(k.rollup for k in kids)], code)
        if not keep_empty and not kids and own.total == 0 and own.refused == 0:
            return None
        return TreeNode(code, a.name, a.tier, own, rollup, kids)

    roots = [
        n
        for c in sorted(children.get(None, ()))
        for n in [build(c, frozenset({c}))]
        if n is not None
    ]
    # agencies only reachable through a parent cycle become roots of their own
    placed: set[str] = set()
    for node in flatten(roots):
        placed.add(node.code)
    for code in sorted(set(by_code) - placed):
        if code in placed:
            continue
        extra = build(code, frozenset(placed | {code}))  # never count a placed one again
        if extra is not None:
            roots.append(extra)
            placed.update(n.code for n in flatten([extra]))
    outside = [lines[c] for c in sorted(lines) if c not in by_code]
    if outside:
        total = grand_total(outside, OUTSIDE)
        leaves = [TreeNode(line.key, line.key, None, line, line) for line in outside]
        roots.append(TreeNode(OUTSIDE, OUTSIDE, None, ExchangeLine(OUTSIDE), total, leaves))
    return roots


def flatten(nodes: Sequence[TreeNode], depth: int = 0) -> list[TreeNode]:
    """Depth-first, parents before children."""
    out: list[TreeNode] = []
    for n in nodes:
        out.append(n)
        out.extend(flatten(n.children, depth + 1))
    return out


def depths(nodes: Sequence[TreeNode], depth: int = 0) -> list[tuple[int, TreeNode]]:
    """Like :func:`flatten`, with each node's depth (for indented tables)."""
    out: list[tuple[int, TreeNode]] = []
    for n in nodes:
        out.append((depth, n))
        out.extend(depths(n.children, depth + 1))
    return out
