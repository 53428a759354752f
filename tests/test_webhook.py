"""The push request's signature and how answers are read (adapters.webhook)."""

from __future__ import annotations

import hashlib
import hmac

from hypothesis import given
from hypothesis import strategies as st

from adapters.webhook import failure_of_status, sign, verify_signature

secrets_ = st.text(min_size=1, max_size=64)
bodies = st.binary(max_size=2048)
ids = st.integers(1, 2**62)
NOW = 1_767_225_600


def headers(secret: str, ts: int, delivery_id: int, body: bytes) -> dict[str, str]:
    return {
        "X-Axis-Timestamp": str(ts),
        "X-Axis-Delivery-Id": str(delivery_id),
        "X-Axis-Signature": sign(secret, ts, delivery_id, body),
    }


@given(secrets_, ids, bodies, st.integers(-300, 300))
def test_a_signed_request_verifies(secret: str, did: int, body: bytes, skew: int) -> None:
    assert verify_signature(secret, headers(secret, NOW + skew, did, body), body, now=NOW)


@given(secrets_, ids, bodies, st.binary(min_size=1, max_size=8))
def test_any_change_breaks_the_signature(secret: str, did: int, body: bytes, extra: bytes) -> None:
    h = headers(secret, NOW, did, body)
    assert not verify_signature(secret, h, body + extra, now=NOW)  # another body
    assert not verify_signature(secret + "x", h, body, now=NOW)  # another key
    moved = h | {"X-Axis-Delivery-Id": str(did + 1)}  # replayed under another delivery
    assert not verify_signature(secret, moved, body, now=NOW)
    later = h | {"X-Axis-Timestamp": str(NOW + 1)}
    assert not verify_signature(secret, later, body, now=NOW)


def test_stale_or_incomplete_requests_are_refused() -> None:
    h = headers("k" * 32, NOW - 301, 7, b"<x/>")
    assert not verify_signature("k" * 32, h, b"<x/>", now=NOW)
    assert not verify_signature("k" * 32, {}, b"<x/>", now=NOW)
    assert not verify_signature("k" * 32, h | {"X-Axis-Timestamp": "soon"}, b"<x/>", now=NOW)


def test_known_vector() -> None:
    body_hash = hashlib.sha256(b"<x/>").hexdigest()
    expected = hmac.new(b"secret", f"1700000000.42.{body_hash}".encode(), "sha256").hexdigest()
    assert sign("secret", 1700000000, 42, b"<x/>") == "sha256=" + expected


def test_how_answers_are_read() -> None:
    assert failure_of_status(200).ok and failure_of_status(204).ok
    for status in (500, 502, 503, 408, 425, 429, 401, 403, 404, 301):
        r = failure_of_status(status)
        assert not r.ok and r.retryable and r.code == f"push.http-{status}"
    for status in (400, 405, 409, 410, 413, 415, 422):
        r = failure_of_status(status, "Unprocessable")
        assert not r.ok and not r.retryable and "refuses this packet" in (r.message or "")
