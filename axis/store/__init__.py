"""The store of the axis: SQLAlchemy stays inside this package.

Public surface: :func:`open_store` / :func:`open_configured_store`, the :class:`Store`
class and the value types of :mod:`axis.store.models`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from axis.credentials import load_or_create_key
from axis.store.models import (
    VN_TZ,
    AgencyCert,
    Committed,
    CounterRow,
    DeliveryInfo,
    DeliveryState,
    Direction,
    DocumentKind,
    DocumentRecord,
    InboxItem,
    NewDelivery,
    NewPacket,
    NewSystem,
    Refusal,
    Role,
    Scope,
    System,
    TraceEvent,
    counter_day,
    dedup_key,
    new_document_id,
)
from axis.store.store import Store, open_store, request_scope

if TYPE_CHECKING:
    from axis.config import Config

__all__ = [
    "VN_TZ",
    "AgencyCert",
    "Committed",
    "CounterRow",
    "DeliveryInfo",
    "DeliveryState",
    "Direction",
    "DocumentKind",
    "DocumentRecord",
    "InboxItem",
    "NewDelivery",
    "NewPacket",
    "NewSystem",
    "Refusal",
    "Role",
    "Scope",
    "Store",
    "System",
    "TraceEvent",
    "counter_day",
    "dedup_key",
    "new_document_id",
    "open_configured_store",
    "open_store",
    "request_scope",
]


async def open_configured_store(config: Config) -> Store:
    """Open the store a configuration names, with its security key (created if missing)
    and ``axis.name`` as the node name of audit events."""
    key = load_or_create_key(config.security.secret_key_file)
    db = config.database
    return await open_store(
        db.url,
        secret_key=key,
        node=config.axis.name,
        pool_size=db.pool_size,
        max_overflow=db.max_overflow,
        pool_timeout=db.pool_timeout,
    )
