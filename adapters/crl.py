"""Fetching revocation data (CRLs) over HTTP: the only network I/O trust material needs.

``signing`` takes CRLs as data; this adapter gets the bytes. Errors are mapped to
``PeerError`` at this boundary.
"""

from __future__ import annotations

import aiohttp

from axis_errors import PeerError

MAX_CRL_BYTES = 32 * 1024 * 1024


async def fetch_crl(url: str, *, timeout: float = 15.0) -> bytes:
    """GET a CRL (DER or PEM) and return its bytes, refusing more than 32 MiB."""
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session,
            session.get(url) as resp,
        ):
            if resp.status != 200:
                raise PeerError(
                    f"CRL {url} answered HTTP {resp.status}.",
                    code="crl.http-error",
                    details={"url": url, "status": resp.status},
                )
            data = await resp.content.read(MAX_CRL_BYTES + 1)
    except TimeoutError as exc:
        raise PeerError(f"CRL {url} did not answer in {timeout} s.", code="crl.timeout") from exc
    except aiohttp.ClientError as exc:
        raise PeerError(f"CRL {url} is unreachable: {exc}.", code="crl.unreachable") from exc
    if len(data) > MAX_CRL_BYTES:
        raise PeerError(f"CRL {url} is larger than {MAX_CRL_BYTES} bytes.", code="crl.too-large")
    return data


__all__ = ["fetch_crl"]
