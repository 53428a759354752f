"""The one exception root of the project, with stable machine-readable codes.

Every refusal Axis gives carries a ``code`` (stable, dotted, lowercase: part of the
API contract, never reworded) and a ``message`` (one human sentence, may change).
Subtrees are drawn by *blame*, so that callers of any layer can tell whose fault a
failure is without parsing text::

    AxisError                      code "axis.error"
    ├── InputError                 the caller's input is wrong (HTTP 400/413/422)
    │   ├── XmlError               not well-formed / forbidden XML constructs / limits
    │   ├── SchemaError            well-formed but not a valid edXML packet
    │   └── PacketError            valid shape, invalid content (dates, codes, routing)
    ├── AuthError                  who the caller is, or what it may do (HTTP 401/403)
    ├── SignatureError             signing or verification could not be carried out
    ├── PeerError                  a system we do not own misbehaved (HTTP 502/504)
    ├── StoreError                 our database failed (HTTP 503)
    ├── ConfigError                our configuration or trust material is wrong
    ├── WorkerError                one of our worker processes failed (HTTP 503)
    └── NotFoundError              the thing asked for does not exist (HTTP 404)

A *verdict* about a signature (invalid, untrusted, revoked...) is not an exception:
``signing.verify`` returns it as data. ``SignatureError`` is for being unable to
produce a signature or a verdict at all (bad key file, unsupported algorithm asked for).

This module sits below every package (``signing``, ``edxml``, ``schemas``, ``certs``,
``adapters``, ``axis``) and imports nothing of theirs; ``axis.errors`` re-exports it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

__all__ = [
    "AuthError",
    "AxisError",
    "ConfigError",
    "InputError",
    "NotFoundError",
    "PacketError",
    "PeerError",
    "SchemaError",
    "SignatureError",
    "StoreError",
    "WorkerError",
    "XmlError",
]


class AxisError(Exception):
    """Root of every error Axis raises on purpose.

    ``code`` defaults to the class's ``default_code``; a raise site may give a more
    precise stable code (``XmlError("...", code="xml.dtd-forbidden")``). ``details``
    holds structured fields (element names, limits, agency codes) that APIs may expose;
    it must never hold secrets.
    """

    default_code: ClassVar[str] = "axis.error"
    http_status: ClassVar[int] = 500

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.details: dict[str, Any] = dict(details or {})

    def to_dict(self) -> dict[str, Any]:
        """The public shape of the error: ``{"code", "message"[, "details"]}``."""
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            out["details"] = self.details
        return out

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}"


class InputError(AxisError):
    default_code = "input.invalid"
    http_status = 400


class XmlError(InputError):
    default_code = "xml.malformed"


class SchemaError(InputError):
    default_code = "schema.invalid"
    http_status = 422


class PacketError(InputError):
    default_code = "packet.invalid"
    http_status = 422


class AuthError(AxisError):
    default_code = "auth.denied"
    http_status = 403


class SignatureError(AxisError):
    default_code = "signature.error"
    http_status = 400


class PeerError(AxisError):
    default_code = "peer.error"
    http_status = 502


class StoreError(AxisError):
    default_code = "store.error"
    http_status = 503


class ConfigError(AxisError):
    default_code = "config.invalid"
    http_status = 500


class WorkerError(AxisError):
    """A worker process of ours (packet analysis) died or could not answer; the
    request had no effect and may be sent again."""

    default_code = "internal.worker-failed"
    http_status = 503


class NotFoundError(AxisError):
    default_code = "not-found"
    http_status = 404
