"""The database schema (SQLAlchemy Core), portable between SQLite and PostgreSQL.

Conventions:

- Times are ``UtcDateTime``: timezone-aware UTC in Python, ``timestamptz`` on
  PostgreSQL, ISO text without offset (always UTC) on SQLite.
- Enumerations are short text columns with CHECK constraints (portable, easy to extend
  with a migration), not native enum types.
- ``counters`` has no nullable key column: an unknown agency, tier or verdict is the
  empty string there (``CounterRow`` turns it back into ``None``).
- The original packet bytes live in ``packets``, apart from ``documents``, so that list
  queries never read blobs. On SQLite they live in segment files beside the database
  (``axis.store.packetfiles``): the row then says where (``file_*``) and ``data`` is
  empty.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

SCHEMA_VERSION: Final = 2  # 2: packets.file_* (packet bytes in segment files)

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UtcDateTime(sa.types.TypeDecorator[datetime]):
    """Aware UTC datetimes in and out, whatever the database keeps."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use an aware UTC time")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # INTEGER PRIMARY KEY = rowid


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


TIERS = ("central", "province", "district", "commune")

schema_version = sa.Table(
    "schema_version",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("applied_at", UtcDateTime, nullable=False),
)

agencies = sa.Table(
    "agencies",
    metadata,
    sa.Column("code", sa.String(35), primary_key=True),
    sa.Column("name", sa.String(500), nullable=False),
    sa.Column("tier", sa.String(16), nullable=False),
    sa.Column("parent_code", sa.String(35)),
    sa.Column("status", sa.String(16), nullable=False, server_default="active"),
    sa.Column("successor_code", sa.String(35)),
    sa.Column("delivery_mode", sa.String(8), nullable=False, server_default="pull"),
    sa.Column("push_url", sa.Text),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.CheckConstraint(_in("tier", TIERS), name="tier"),
    sa.CheckConstraint(_in("status", ("active", "closed")), name="status"),
    sa.CheckConstraint(_in("delivery_mode", ("pull", "push")), name="delivery_mode"),
    sa.Index(None, "tier"),
    sa.Index(None, "parent_code"),
)

agency_certs = sa.Table(
    "agency_certs",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column(
        "agency_code",
        sa.String(35),
        sa.ForeignKey("agencies.code", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("sha256", sa.String(64), nullable=False, unique=True),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("not_after", UtcDateTime, nullable=False),
    sa.Column("pem", sa.Text, nullable=False),
    sa.Column("added_at", UtcDateTime, nullable=False),
    sa.Index(None, "agency_code"),
)

systems = sa.Table(
    "systems",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("secret_enc", sa.LargeBinary, nullable=False),
    sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
    sa.Column("client_cert_sha256", sa.String(64), unique=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.CheckConstraint(_in("role", ("agency", "auditor", "admin")), name="role"),
)

system_agencies = sa.Table(
    "system_agencies",
    metadata,
    sa.Column(
        "system_id",
        sa.String(64),
        sa.ForeignKey("systems.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("pattern", sa.String(35), primary_key=True),
)

documents = sa.Table(
    "documents",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("sender_code", sa.String(35), nullable=False),
    sa.Column("system_id", sa.String(64)),
    sa.Column("edxml_document_id", sa.Text, nullable=False),
    sa.Column("business_type", sa.String(16)),
    sa.Column("status_code", sa.String(16)),
    sa.Column("response_for", sa.Text),
    sa.Column("response_for_organ", sa.String(35)),
    sa.Column("related_document_id", sa.String(32)),
    sa.Column("subject", sa.Text),
    sa.Column("code_number", sa.Text),
    sa.Column("code_notation", sa.Text),
    sa.Column("dedup_key", sa.Text, nullable=False, unique=True),
    sa.Column("received_at", UtcDateTime, nullable=False),
    sa.Column("verdict", sa.String(32), nullable=False),
    sa.Column("verdict_reasons", sa.Text, nullable=False, server_default="[]"),
    sa.Column("signer_sha256", sa.String(64)),
    sa.Column("signer_subject", sa.Text),
    sa.Column("signer_organ_id", sa.String(35)),
    sa.Column("issuer", sa.Text),
    sa.Column("algorithm", sa.Text),
    sa.Column("packet_sha256", sa.String(64), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("answer", sa.Text, nullable=False),
    sa.Column("request_id", sa.String(64)),  # the HTTP request that brought it (logs)
    sa.CheckConstraint(_in("kind", ("document", "status")), name="kind"),
    sa.Index(None, "sender_code", "received_at"),
    sa.Index(None, "received_at", "id"),  # time-ordered walks (axis audit reverify)
    sa.Index(None, "edxml_document_id"),
    sa.Index(None, "related_document_id"),
)

packets = sa.Table(
    "packets",
    metadata,
    sa.Column(
        "document_id",
        sa.String(32),
        sa.ForeignKey("documents.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("data", sa.LargeBinary, nullable=False),  # empty when file_segment is set
    # where the bytes are when they are in a segment file (SQLite: axis.store.packetfiles)
    sa.Column("file_segment", sa.Integer),
    sa.Column("file_offset", sa.BigInteger),
    sa.Column("file_length", sa.BigInteger),
)

#: what version 1 databases lack, added by ``ALTER TABLE`` when one is opened
PACKET_FILE_COLUMNS: Final = (
    ("file_segment", "INTEGER"),
    ("file_offset", "BIGINT"),
    ("file_length", "BIGINT"),
)

DELIVERY_STATES = ("pending", "fetched", "acked", "failed", "dead")

deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column(
        "document_id",
        sa.String(32),
        sa.ForeignKey("documents.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("recipient_code", sa.String(35), nullable=False),
    sa.Column("target_code", sa.String(35), nullable=False),
    sa.Column("target_tier", sa.String(16)),
    sa.Column("route", sa.String(16), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", UtcDateTime),
    sa.Column("lease_until", UtcDateTime),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("fetched_at", UtcDateTime),
    sa.Column("acked_at", UtcDateTime),
    sa.Column("remote_id", sa.Text),
    # when an admin last requeued it (a dead letter): its retry round starts again then
    sa.Column("requeued_at", UtcDateTime),
    sa.CheckConstraint(_in("route", ("local", "national")), name="route"),
    sa.CheckConstraint(_in("state", DELIVERY_STATES), name="state"),
    sa.Index("ix_deliveries_inbox", "target_code", "state", "id"),
    sa.Index("ix_deliveries_due", "route", "state", "next_attempt_at"),
    sa.Index(None, "document_id"),
    # open deliveries per destination (queue figures, dashboard, metrics) read from the
    # index alone: a million acknowledged rows are never visited
    sa.Index("ix_deliveries_open", "state", "route", "target_code", "created_at", "lease_until"),
    # a destination's whole history in id order (dashboard "all states", admin listing)
    sa.Index("ix_deliveries_route_id", "route", "id"),
    sa.Index("ix_deliveries_route_state_id", "route", "state", "id"),
    sa.Index("ix_deliveries_target_id", "target_code", "id"),
)

# --- push delivery and the delivery engine (axis.store.deliveries) ---------------------

delivery_attempts = sa.Table(
    "delivery_attempts",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column(
        "delivery_id",
        BigId,
        sa.ForeignKey("deliveries.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("attempt", sa.Integer, nullable=False),  # 1, 2, ... over the delivery's life
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("destination", sa.String(300), nullable=False),
    sa.Column("ok", sa.Boolean, nullable=False),
    sa.Column("error_code", sa.String(64)),
    sa.Column("error", sa.Text),
    sa.Column("duration_ms", sa.Integer),
    sa.Column("remote_id", sa.Text),
    sa.Index(None, "delivery_id", "attempt"),
    sa.Index(None, "destination", "at"),
)

push_secrets = sa.Table(
    "push_secrets",
    metadata,
    sa.Column(
        "agency_code",
        sa.String(35),
        sa.ForeignKey("agencies.code", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("secret_enc", sa.LargeBinary, nullable=False),  # SecretBox, context push:CODE
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

destinations = sa.Table(
    "destinations",
    metadata,
    sa.Column("destination", sa.String(300), primary_key=True),
    sa.Column("state", sa.String(16), nullable=False, server_default="closed"),
    sa.Column("failures", sa.Integer, nullable=False, server_default="0"),
    sa.Column("failing_since", UtcDateTime),
    sa.Column("opened_at", UtcDateTime),
    sa.Column("last_error", sa.Text),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.CheckConstraint(_in("state", ("closed", "open", "half-open")), name="state"),
)

counters = sa.Table(
    "counters",
    metadata,
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("agency_code", sa.String(35), primary_key=True),
    sa.Column("tier", sa.String(16), primary_key=True),
    sa.Column("direction", sa.String(16), primary_key=True),
    sa.Column("verdict", sa.String(32), primary_key=True),
    sa.Column("scope", sa.String(16), primary_key=True),
    sa.Column("count", sa.BigInteger, nullable=False),
    sa.CheckConstraint(
        _in("direction", ("sent", "received", "acknowledged", "refused")), name="direction"
    ),
    sa.CheckConstraint(_in("scope", ("internal", "national")), name="scope"),
    sa.Index(None, "agency_code", "day"),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("node", sa.String(200)),
    sa.Column("document_id", sa.String(32)),
    sa.Column("agency_code", sa.String(35)),
    sa.Column("actor", sa.String(64)),
    sa.Column("detail", sa.Text, nullable=False, server_default="{}"),
    sa.Column("prev_hash", sa.String(64)),
    sa.Column("hash", sa.String(64)),
    sa.Column("packet_sha256", sa.String(64)),  # the packet it concerns (axis.auditchain)
    sa.Index(None, "document_id"),
    sa.Index(None, "kind", "at"),
)

# --- the audit trail (axis.store.audit, axis.auditchain) -----------------------------------

signed_heads = sa.Table(
    "signed_heads",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.BigInteger, nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("cert_sha256", sa.String(64), nullable=False),
    sa.Column("algorithm", sa.String(32), nullable=False),
    sa.Column("signature", sa.Text, nullable=False),  # hex
    sa.Index(None, "event_id"),
)

# Signature report counters (axis.store.sigcounts): one row per (day UTC+7, sender,
# recipient tier, verdict, signer); recipient_tier "*" counts each packet once.
signature_counters = sa.Table(
    "signature_counters",
    metadata,
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("agency_code", sa.String(35), primary_key=True),
    sa.Column("sender_tier", sa.String(16), primary_key=True),
    sa.Column("recipient_tier", sa.String(16), primary_key=True),
    sa.Column("kind", sa.String(16), primary_key=True),
    sa.Column("verdict", sa.String(32), primary_key=True),
    sa.Column("signer_sha256", sa.String(64), primary_key=True),
    sa.Column("count", sa.BigInteger, nullable=False),
)

# The same counters rolled up by month (``month`` = its first day), kept in the same
# transaction: a report over whole months reads these, the partial edges the days.
signature_counters_month = sa.Table(
    "signature_counters_month",
    metadata,
    sa.Column("month", sa.Date, primary_key=True),
    sa.Column("agency_code", sa.String(35), primary_key=True),
    sa.Column("sender_tier", sa.String(16), primary_key=True),
    sa.Column("recipient_tier", sa.String(16), primary_key=True),
    sa.Column("kind", sa.String(16), primary_key=True),
    sa.Column("verdict", sa.String(32), primary_key=True),
    sa.Column("signer_sha256", sa.String(64), primary_key=True),
    sa.Column("count", sa.BigInteger, nullable=False),
)

signers = sa.Table(
    "signers",
    metadata,
    sa.Column("sha256", sa.String(64), primary_key=True),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("issuer", sa.Text),
    sa.Column("organ_id", sa.String(35)),
)

# Resumable jobs (``axis audit reverify``): a named cursor and its JSON state.
job_cursors = sa.Table(
    "job_cursors",
    metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("state", sa.Text, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

# --- the admin dashboard (axis.store.users) ---------------------------------------------

USER_ROLES = ("admin", "auditor")

users = sa.Table(
    "users",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("password_hash", sa.Text, nullable=False),  # scrypt, parameters inline
    sa.Column("must_change", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.CheckConstraint(_in("role", USER_ROLES), name="role"),
)

web_sessions = sa.Table(
    "web_sessions",
    metadata,
    sa.Column("id_sha256", sa.String(64), primary_key=True),  # the cookie is never stored
    sa.Column("principal", sa.String(80), nullable=False),  # "user:NAME" or "system:ID"
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    sa.Column("must_change", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
    sa.Index(None, "expires_at"),
)

# --- the national axis link and reorganizations (axis.store.national) -------------------

node_state = sa.Table(
    "node_state",
    metadata,
    sa.Column("key", sa.String(100), primary_key=True),  # e.g. "national.poll"
    sa.Column("value", sa.Text, nullable=False),  # JSON
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

agency_closures = sa.Table(
    "agency_closures",
    metadata,
    sa.Column("code", sa.String(35), primary_key=True),
    sa.Column("successor_code", sa.String(35)),
    sa.Column("closed_on", sa.Date, nullable=False),
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("recorded_at", UtcDateTime, nullable=False),
    sa.CheckConstraint(_in("source", ("sync", "reorganize")), name="source"),
)

# --- signed PDF attachments (axis.pades; written by axis.store.attachments) --------------

# One verdict per PDF file of an accepted document (a ZIP's members included), in the
# packet's transaction; ``verdict`` in signing.policy.Outcome's vocabulary.
attachment_verdicts = sa.Table(
    "attachment_verdicts",
    metadata,
    sa.Column(
        "document_id",
        sa.String(32),
        sa.ForeignKey("documents.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("seq", sa.Integer, primary_key=True),
    sa.Column("content_id", sa.Text, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("verdict", sa.String(32), nullable=False),
    sa.Column("signatures", sa.Integer, nullable=False),
    sa.Column("signer_subject", sa.Text),
    sa.Column("signer_sha256", sa.String(64)),
    sa.Column("issuer", sa.Text),
    sa.Column("reasons", sa.Text, nullable=False),  # JSON list
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
)

# Documents per (day, sender, sender tier, RECIPIENT tier, envelope verdict, attachment
# summary): "signed in the envelope, in an attachment, in both, in neither" from the
# counters. ``attachments`` is axis.pades.attachment_summary ("none": no PDF).
attachment_counters = sa.Table(
    "attachment_counters",
    metadata,
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("agency_code", sa.String(35), primary_key=True),
    sa.Column("sender_tier", sa.String(16), primary_key=True),
    sa.Column("recipient_tier", sa.String(16), primary_key=True),
    sa.Column("envelope", sa.String(32), primary_key=True),
    sa.Column("attachments", sa.String(32), primary_key=True),
    sa.Column("count", sa.BigInteger, nullable=False),
)

attachment_counters_month = sa.Table(
    "attachment_counters_month",
    metadata,
    sa.Column("month", sa.Date, primary_key=True),
    sa.Column("agency_code", sa.String(35), primary_key=True),
    sa.Column("sender_tier", sa.String(16), primary_key=True),
    sa.Column("recipient_tier", sa.String(16), primary_key=True),
    sa.Column("envelope", sa.String(32), primary_key=True),
    sa.Column("attachments", sa.String(32), primary_key=True),
    sa.Column("count", sa.BigInteger, nullable=False),
)
