"""Password hashing for dashboard users: scrypt from the standard library.

scrypt is memory-hard (RFC 7914) and needs no extra dependency. A hash carries its
parameters, so they can be raised later without breaking stored hashes::

    scrypt$<log2 N>$<r>$<p>$<salt, base64>$<key, base64>

Hashing costs ~50 ms and 32 MiB: call it off the event loop (``asyncio.to_thread``).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets
from typing import Final

__all__ = ["dummy_hash", "hash_password", "new_password", "verify_password"]

LOG2_N: Final = 15
R: Final = 8
P: Final = 1
KEY_BYTES: Final = 32
SALT_BYTES: Final = 16
_MAXMEM: Final = 256 * 1024 * 1024


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _scrypt(password: str, salt: bytes, log2_n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"),
        salt=salt,
        n=1 << log2_n,
        r=r,
        p=p,
        maxmem=_MAXMEM,
        dklen=KEY_BYTES,
    )


def hash_password(password: str) -> str:
    """A new salted scrypt hash of ``password`` (the stored form)."""
    salt = secrets.token_bytes(SALT_BYTES)
    key = _scrypt(password, salt, LOG2_N, R, P)
    return f"scrypt${LOG2_N}${R}${P}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored`` (constant-time; False for a bad hash)."""
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        return False
    try:
        log2_n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt = base64.b64decode(parts[4], validate=True)
        key = base64.b64decode(parts[5], validate=True)
    except ValueError:
        return False
    if not (10 <= log2_n <= 20 and 1 <= r <= 32 and 1 <= p <= 4):
        return False
    return hmac.compare_digest(_scrypt(password, salt, log2_n, r, p), key)


@functools.cache
def dummy_hash() -> str:
    """A hash to verify against when the user does not exist, so that an unknown name
    costs as long as a wrong password."""
    return hash_password(secrets.token_urlsafe(16))


def new_password() -> str:
    """A one-time password for a new user: 20 URL-safe characters (120 bits)."""
    return secrets.token_urlsafe(15)
