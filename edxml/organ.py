"""Organization codes (mã định danh, Decision 20/2020/QĐ-TTg).

A code is up to four dot-separated groups read right to left, level 1 first:
``LLL.KK.JJ.Xnn``. The level-1 group is one letter A–Z and two digits (``G22``,
``H36``); the other groups are digits, zeros where a level is unused. The decision
allows up to 35 characters of digits, A–Z and dots.

Decisions (see docs/adr/0002-edxml-model-package.md):

* **Fewer than four groups are accepted.** Real packets carry ``28.22.H17`` (three
  groups) and a production hub refuses only *more* than four. The text is kept as
  sent; :attr:`OrganId.padded` gives the four-group form (``000.28.22.H17``) for
  look-ups, reading the missing left-hand levels as unused.
* Lower-level groups are digits only, of any width, within the 35-character cap
  (the decision fixes the alphabet and the total length, not the widths).
* No surrounding whitespace, no lower case: a code is an identifier the router
  matches byte for byte; the caller sees ``organ.invalid`` with the reason.

The tier of an agency cannot be read from its code (see the facts page §3): that
is the directory's job. This module only parses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from axis_errors import PacketError

__all__ = ["MAX_GROUPS", "MAX_LENGTH", "OrganId", "is_valid_organ_id"]

MAX_LENGTH: Final = 35
MAX_GROUPS: Final = 4

_ALPHABET: Final = re.compile(r"[0-9A-Z.]+")
_LEVEL1: Final = re.compile(r"[A-Z][0-9]{2}")
_DIGITS: Final = re.compile(r"[0-9]+")


@dataclass(frozen=True, order=True)
class OrganId:
    """A parsed organization code; ``text`` is exactly what was sent."""

    text: str

    def __post_init__(self) -> None:
        _validate(self.text)

    @classmethod
    def parse(cls, text: str) -> OrganId:
        """Parse ``text`` or raise :class:`PacketError` (code ``organ.invalid``)."""
        return cls(text)

    @property
    def groups(self) -> tuple[str, ...]:
        """The groups as written, left to right (``("000", "00", "00", "G22")``)."""
        return tuple(self.text.split("."))

    @property
    def levels(self) -> tuple[str, ...]:
        """The groups from level 1 upward (``("G22", "00", "00", "000")``)."""
        return tuple(reversed(self.groups))

    @property
    def level1(self) -> str:
        """The level-1 group: a letter and two digits (``G22``, ``H36``)."""
        return self.groups[-1]

    @property
    def bloc(self) -> str:
        """The letter of the level-1 group: ``G`` central, ``H`` People's Committee,
        ``K`` People's Council, ``A`` Party bloc, ..."""
        return self.level1[0]

    @property
    def is_central(self) -> bool:
        """True for central ministries and agencies (level 1 ``Gnn``)."""
        return self.bloc == "G"

    @property
    def province_group(self) -> str | None:
        """The level-1 group when it names a province's bloc (``H``, ``K``, ``A``),
        else ``None``. Codes of one province share it (``H53`` for Tây Ninh)."""
        return None if self.is_central else self.level1

    @property
    def padded(self) -> str:
        """The four-group form, unused left-hand levels as zeros.

        ``28.22.H17`` -> ``000.28.22.H17``; a four-group code is returned as is.
        """
        widths = (3, 2, 2)  # level 4, 3, 2 as in LLL.KK.JJ
        missing = MAX_GROUPS - len(self.groups)
        pad = ["0" * w for w in widths[:missing]]
        return ".".join([*pad, *self.groups])

    def __str__(self) -> str:
        return self.text


def is_valid_organ_id(text: str) -> bool:
    """True when ``text`` is an acceptable organization code."""
    try:
        _validate(text)
    except PacketError:
        return False
    return True


#: codes :func:`_validate` has accepted (the same few hundred codes come in every
#: packet; the grammar's regular expressions and the refusal's closure cost ~4.5 us a code)
_ACCEPTED: set[str] = set()
_ACCEPTED_KEPT: Final = 65536


def _validate(text: object) -> None:
    if type(text) is str and text in _ACCEPTED:
        return
    _check_grammar(text)
    assert isinstance(text, str)
    if len(_ACCEPTED) >= _ACCEPTED_KEPT:
        _ACCEPTED.clear()
    _ACCEPTED.add(text)


def _check_grammar(text: object) -> None:
    if not isinstance(text, str):
        raise PacketError("An organization code must be text.", code="organ.invalid")
    shown = repr(text) if len(text) <= 60 else repr(text[:60]) + "..."
    if not text:
        raise PacketError("The organization code is empty.", code="organ.invalid")

    def refuse(reason: str) -> PacketError:
        return PacketError(
            f"The organization code {shown} is invalid: {reason}.",
            code="organ.invalid",
            details={"organ_id": text[:60], "reason": reason},
        )

    if len(text) > MAX_LENGTH:
        raise refuse(f"it is {len(text)} characters long, more than {MAX_LENGTH}")
    if not _ALPHABET.fullmatch(text):
        raise refuse("only digits, capital letters A-Z and dots are allowed")
    groups = text.split(".")
    if len(groups) > MAX_GROUPS:
        raise refuse(f"it has {len(groups)} dot-separated groups, more than {MAX_GROUPS}")
    if any(not group for group in groups):
        raise refuse("a dot-separated group is empty")
    if not _LEVEL1.fullmatch(groups[-1]):
        raise refuse(
            f"the last (level-1) group {groups[-1]!r} must be a letter and two digits, "
            "such as G22 or H36"
        )
    for group in groups[:-1]:
        if not _DIGITS.fullmatch(group):
            raise refuse(f"the group {group!r} must be digits only")
