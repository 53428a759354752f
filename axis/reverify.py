"""``axis audit reverify``: verify stored original bytes again and list every packet
whose verdict would change.

What is re-run: :func:`signing.verify.verify_packet` on the bytes exactly as received,
with the configured policy and TODAY's trust material (anchors, intermediates, CRLs as
the configuration names them now), at the instant the packet was received
(``at="received"``, the default: a certificate revoked later with a revocation time
back-dated before that instant turns ``valid`` into ``revoked``) or at ``now``.

What was kept with the verdict at intake: the verdict, its reasons, the signer's
certificate (SHA-256, subject, issuer) and the algorithm; not the CRLs of the day.
Re-verification therefore answers "what would we say today about the signature as of
its time", which is what a back-dated revocation or a newly distrusted CA changes.

The walk reads the packets in batches of short read transactions (the daemon keeps
writing), verifies outside any transaction on worker threads, and saves a cursor after
each batch in ``job_cursors``: an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from axis.app import load_trust, parse_limits, policy_from_config
from axis.config import Config
from axis.store import Store
from axis.store.audit import StoredPacket, load_cursor, packets_between, save_cursor
from axis_errors import AxisError
from signing.certpath import PathCache
from signing.policy import SignaturePolicy
from signing.trust import RevocationData, TrustStore
from signing.verify import verify_packet

__all__ = ["Change", "ReverifyResult", "reverify"]

At = Literal["received", "now"]


@dataclass(frozen=True)
class Change:
    """A packet whose verdict would change."""

    document_id: str
    sender_code: str
    received_at: str
    old: str
    new: str
    reasons: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "document_id": self.document_id,
            "sender_code": self.sender_code,
            "received_at": self.received_at,
            "old": self.old,
            "new": self.new,
            "reasons": list(self.reasons),
        }


@dataclass
class ReverifyResult:
    checked: int = 0
    changes: list[Change] = field(default_factory=list)
    done: bool = False
    resumed: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "checked": self.checked,
            "changed": len(self.changes),
            "done": self.done,
            "resumed": self.resumed,
            "changes": [c.to_json() for c in self.changes],
        }


@dataclass(frozen=True)
class _Material:
    policy: SignaturePolicy
    trust: TrustStore
    revocation: RevocationData


def _check(
    packet: StoredPacket, m: _Material, at: datetime, cache: PathCache, limits: Any
) -> Change | None:
    try:
        verdict = verify_packet(
            packet.data,
            policy=m.policy,
            trust=m.trust,
            revocation=m.revocation,
            at=at,
            limits=limits,
            cache=cache,
        )
        new, reasons = verdict.outcome.value, verdict.reasons
    except AxisError as exc:  # bytes that no longer parse
        new, reasons = "invalid", (exc.message,)
    if new == packet.verdict:
        return None
    return Change(
        packet.document_id,
        packet.sender_code,
        packet.received_at.isoformat(),
        packet.verdict,
        new,
        tuple(reasons),
    )


async def reverify(
    store: Store,
    config: Config,
    *,
    since: datetime | None,
    until: datetime | None,
    at: At = "received",
    job: str,
    batch: int = 200,
    max_batches: int | None = None,
    restart: bool = False,
    progress: Callable[[int], None] | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> ReverifyResult:
    """Re-verify the packets received in [since, until). ``job`` names the cursor
    (resumed unless ``restart``); ``max_batches`` stops early (the cursor stays)."""
    trust, revocation = await load_trust(config)
    material = _Material(policy_from_config(config), trust, revocation)
    limits = parse_limits(config)
    cache = PathCache()
    state = None if restart else await load_cursor(store, job)
    result = ReverifyResult(resumed=state is not None)
    after: tuple[datetime, str] | None = None
    if state is not None:
        result.checked = int(state.get("checked", 0))
        result.changes = [
            Change(**{**c, "reasons": tuple(c["reasons"])}) for c in state.get("changes", [])
        ]
        if state.get("done"):
            result.done = True
            return result
        if state.get("after"):
            after = (datetime.fromisoformat(state["after"][0]), state["after"][1])
    loop = asyncio.get_running_loop()
    done_batches = 0
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="axis-reverify") as pool:
        while max_batches is None or done_batches < max_batches:
            packets = await packets_between(
                store, since=since, until=until, after=after, limit=batch
            )
            if not packets:
                result.done = True
                break
            instant = now()
            found = await asyncio.gather(
                *(
                    loop.run_in_executor(
                        pool,
                        _check,
                        p,
                        material,
                        p.received_at if at == "received" else instant,
                        cache,
                        limits,
                    )
                    for p in packets
                )
            )
            result.changes.extend(c for c in found if c is not None)
            result.checked += len(packets)
            after = (packets[-1].received_at, packets[-1].document_id)
            done_batches += 1
            await save_cursor(store, job, _state(result, after))
            if progress is not None:
                progress(len(packets))
            if len(packets) < batch:
                result.done = True
                break
    await save_cursor(store, job, _state(result, after))
    if result.done:
        await store.record_event(
            "audit.reverified",
            actor="cli",
            detail={"job": job, "checked": result.checked, "changed": len(result.changes)},
        )
    return result


def _state(result: ReverifyResult, after: tuple[datetime, str] | None) -> dict[str, Any]:
    return {
        "checked": result.checked,
        "done": result.done,
        "after": None if after is None else [after[0].isoformat(), after[1]],
        "changes": [c.to_json() for c in result.changes],
    }
