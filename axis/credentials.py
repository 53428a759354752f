"""Credentials of the systems that call Axis.

A *system* (an agency's office software, an auditor's tool, an admin console) has:

- a ``systemid`` and an HMAC ``secret`` for the VXP-compatible API. The protocol needs
  the secret itself to check an HMAC, so it is stored *encrypted* (AES-256-GCM under
  the deployment's security key, the system id as associated data) rather than hashed;
- a bearer ``token`` for the native API, stored as its SHA-256 only (tokens are 256-bit
  random values, so an unsalted hash is enough and allows lookup by hash);
- optionally the SHA-256 of a client certificate (mTLS).

Nothing here logs or prints a secret. The security key is a 32-byte file, created with
mode 0600 when missing (:func:`load_or_create_key`).
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from axis.directory import code_matches, normalize_code
from axis_errors import ConfigError, InputError, StoreError

__all__ = [
    "KEY_BYTES",
    "TOKEN_PREFIX",
    "SecretBox",
    "default_system_id",
    "hash_token",
    "load_or_create_key",
    "may_act_for",
    "new_secret",
    "new_token",
    "validate_system_id",
]

KEY_BYTES: Final = 32
TOKEN_PREFIX: Final = "axis_"  # noqa: S105 (a prefix, not a secret)
_NONCE_BYTES: Final = 12
_SYSTEM_ID_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def new_secret() -> str:
    """A fresh HMAC secret for the VXP-compatible API (256 random bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def new_token() -> str:
    """A fresh bearer token for the native API: ``axis_`` + 256 random bits."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """What the store keeps of a bearer token: lowercase hex SHA-256 of its UTF-8 bytes."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def validate_system_id(system_id: str) -> str:
    """Check a systemid: 1-64 of letters, digits, ``.``, ``_``, ``-`` (starting alnum)."""
    if _SYSTEM_ID_RE.fullmatch(system_id) is None:
        raise InputError(
            f"System id {system_id!r} must be 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit.",
            code="systems.bad-id",
            details={"systemid": system_id},
        )
    return system_id


def default_system_id(agency_code: str) -> str:
    """The systemid ``axis systems add`` proposes for an agency: ``sys.<code in lower case>``."""
    return "sys." + normalize_code(agency_code).lower()


def may_act_for(system_patterns: Iterable[str], code: str) -> bool:
    """True when one of the system's agency patterns (exact code or glob) matches ``code``."""
    return any(code_matches(p, code) for p in system_patterns)


def load_or_create_key(path: Path) -> bytes:
    """Read the 32-byte security key, creating it (mode 0600, parents too) if missing.

    Creation uses ``O_CREAT | O_EXCL`` so that two processes starting at once do not
    overwrite each other's key: the loser reads the winner's.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        key = os.urandom(KEY_BYTES)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            data = path.read_bytes()
        else:
            with os.fdopen(fd, "wb") as fh:
                fh.write(key)
                fh.flush()
                os.fsync(fh.fileno())
            return key
    except OSError as exc:
        raise ConfigError(
            f"Cannot read the security key file {path}: {exc.strerror}.",
            code="config.secret-key-unreadable",
            details={"path": str(path)},
        ) from None
    if len(data) != KEY_BYTES:
        raise ConfigError(
            f"The security key file {path} must hold exactly {KEY_BYTES} bytes.",
            code="config.secret-key-invalid",
            details={"path": str(path)},
        )
    return data


class SecretBox:
    """AES-256-GCM encryption of stored secrets; the system id is the associated data,
    so a ciphertext moved to another system's row does not decrypt."""

    __slots__ = ("_aead",)

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ConfigError(
                f"The security key must be {KEY_BYTES} bytes.", code="config.secret-key-invalid"
            )
        self._aead = AESGCM(key)

    def __repr__(self) -> str:
        return "SecretBox(<key hidden>)"

    def seal(self, plaintext: str, *, context: str) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext.encode("utf-8"), context.encode())

    def open(self, sealed: bytes, *, context: str) -> str:
        nonce, body = sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:]
        try:
            return self._aead.decrypt(nonce, body, context.encode()).decode("utf-8")
        except (InvalidTag, ValueError):
            raise StoreError(
                f"The stored secret of system {context} does not decrypt with this "
                "deployment's security key.",
                code="store.secret-undecryptable",
                details={"systemid": context},
            ) from None
