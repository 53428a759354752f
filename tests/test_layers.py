"""The import rules of ADR 0001, checked on the source: a layer imports only those below it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# package -> top-level modules it must never import
FORBIDDEN: dict[str, set[str]] = {
    "signing": {
        "axis",
        "adapters",
        "certs",
        "aiohttp",
        "sqlalchemy",
        "requests",
        "urllib",
        "socket",
    },
    "edxml": {"axis", "adapters", "signing", "certs", "aiohttp", "sqlalchemy"},
    "schemas": {"axis", "adapters", "signing", "certs", "edxml", "aiohttp", "sqlalchemy"},
    "certs": {"axis", "adapters", "aiohttp", "sqlalchemy"},
    "adapters": {"axis", "sqlalchemy"},
}


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_respects_its_layer(package: str) -> None:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"{package}/ has no Python files"
    offenders = {
        str(f.relative_to(ROOT)): sorted(imported_roots(f) & FORBIDDEN[package]) for f in files
    }
    assert {k: v for k, v in offenders.items() if v} == {}


CLOCK_CALLS = {"now", "utcnow", "today", "time", "monotonic", "perf_counter"}


def test_signing_reads_no_clock() -> None:
    """signing/ takes time as an argument: no now()/utcnow()/time.time() calls."""
    calls = []
    for f in (ROOT / "signing").rglob("*.py"):
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            func = node.func if isinstance(node, ast.Call) else None
            if isinstance(func, ast.Attribute) and func.attr in CLOCK_CALLS:
                calls.append(f"{f.name}:{node.lineno}:{func.attr}")
    assert calls == []


def test_detector_sees_a_forbidden_import(tmp_path: Path) -> None:
    bad = tmp_path / "m.py"
    bad.write_text("import aiohttp\nfrom axis.store import x\nfrom . import y\n")
    assert imported_roots(bad) == {"aiohttp", "axis"}
