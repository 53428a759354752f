"""The README documents every configuration key with its default, and its table is the
one in ``axis.config``'s docstring (the source the README copies)."""

from __future__ import annotations

import dataclasses
import re
import typing
from pathlib import Path

import axis.config as config_module
from axis.config import Config

ROOT = Path(__file__).resolve().parent.parent


def _keys() -> set[str]:
    hints = typing.get_type_hints(Config)
    return {
        f"{section.name}.{key.name}"
        for section in dataclasses.fields(Config)
        if dataclasses.is_dataclass(hints[section.name])
        for key in dataclasses.fields(hints[section.name])
    }


def _table(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("| `")]


def test_every_config_key_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([a-z]+\.[a-z0-9_]+)`", readme, flags=re.M))
    assert _keys() - documented == set()
    assert documented - _keys() == set()


def test_the_readme_table_is_the_docstring_table() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("<!-- config-table")
    end = readme.index("<!-- /config-table -->")
    assert _table(readme[start:end]) == _table(config_module.__doc__ or "")
