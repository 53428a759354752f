"""Dashboard users and their server-side web sessions.

Users (``users``) log in to the admin dashboard with a password (stored as a scrypt hash
made by :mod:`axis.passwords`; this module never sees a password). Sessions
(``web_sessions``) are keyed by the SHA-256 of the random session id the browser holds,
so a copy of the database does not hand out live sessions.

Reached through ``Store.users`` (a :class:`UserStore` bound to the store).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Literal

import sqlalchemy as sa

from axis.store import schema as t
from axis_errors import InputError, NotFoundError

if TYPE_CHECKING:
    from axis.store.store import Store

__all__ = ["User", "UserRole", "UserStore", "WebSession", "validate_user_name"]

UserRole = Literal["admin", "auditor"]
_NAME_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")


def validate_user_name(name: str) -> str:
    """A user name: 1-64 letters, digits, ``.``, ``_``, ``@`` or ``-`` (not first)."""
    if _NAME_RE.fullmatch(name) is None:
        raise InputError(
            f"User name {name!r} must be 1-64 letters, digits, '.', '_', '@' or '-'.",
            code="users.bad-name",
            details={"name": name},
        )
    return name


@dataclass(frozen=True, slots=True)
class User:
    name: str
    role: UserRole
    must_change: bool
    created_at: datetime
    disabled: bool


@dataclass(frozen=True, slots=True)
class WebSession:
    """A logged-in browser. ``principal`` is ``user:NAME`` or ``system:ID``."""

    principal: str
    role: UserRole
    csrf_token: str
    must_change: bool
    created_at: datetime
    expires_at: datetime


class UserStore:
    """Users and sessions in the axis's database (a view over a :class:`Store`)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    # --- users -----------------------------------------------------------------------

    @staticmethod
    def _user(m: Any) -> User:
        return User(
            name=m["name"],
            role=m["role"],
            must_change=bool(m["must_change"]),
            created_at=m["created_at"],
            disabled=bool(m["disabled"]),
        )

    async def add_user(
        self, name: str, role: UserRole, password_hash: str, *, actor: str | None = None
    ) -> User:
        """Create a user whose password must be changed at first login.

        ``users.exists`` if the name is taken; ``users.bad-role`` for another role.
        """
        name = validate_user_name(name)
        if role not in t.USER_ROLES:
            raise InputError(f"Role must be admin or auditor, not {role!r}.", code="users.bad-role")
        now = self._store._now()
        s = self._store
        async with s._write() as conn:
            taken = (
                await conn.execute(sa.select(t.users.c.name).where(t.users.c.name == name))
            ).first()
            if taken is not None:
                raise InputError(
                    f"User {name!r} exists already.", code="users.exists", details={"name": name}
                )
            await conn.execute(
                t.users.insert(),
                {
                    "name": name,
                    "role": role,
                    "password_hash": password_hash,
                    "must_change": True,
                    "created_at": now,
                    "disabled": False,
                },
            )
            await conn.execute(
                t.events.insert(),
                s._event_row("user.added", now, actor=actor, detail={"user": name, "role": role}),
            )
        return User(name, role, True, now, False)

    async def get_user(self, name: str) -> User | None:
        async with self._store._read() as conn:
            row = (await conn.execute(sa.select(t.users).where(t.users.c.name == name))).first()
        return None if row is None else self._user(row._mapping)

    async def password_hash(self, name: str) -> str | None:
        """The stored hash of an enabled user (None if unknown or disabled)."""
        u = t.users.c
        async with self._store._read() as conn:
            value = (
                await conn.execute(
                    sa.select(u.password_hash).where(u.name == name, u.disabled == sa.false())
                )
            ).scalar()
        return None if value is None else str(value)

    async def list_users(self) -> list[User]:
        async with self._store._read() as conn:
            rows = (await conn.execute(sa.select(t.users).order_by(t.users.c.name))).all()
        return [self._user(r._mapping) for r in rows]

    async def set_password(
        self,
        name: str,
        password_hash: str,
        *,
        must_change: bool,
        actor: str | None = None,
    ) -> None:
        """Replace a user's password; ends every session of that user."""
        s = self._store
        now = s._now()
        async with s._write() as conn:
            result = await conn.execute(
                t.users.update()
                .where(t.users.c.name == name)
                .values(password_hash=password_hash, must_change=must_change)
            )
            if result.rowcount == 0:
                raise NotFoundError(
                    f"User {name!r} does not exist.", code="users.not-found", details={"name": name}
                )
            await conn.execute(
                t.web_sessions.delete().where(t.web_sessions.c.principal == f"user:{name}")
            )
            await conn.execute(
                t.events.insert(),
                s._event_row(
                    "user.password-reset" if must_change else "user.password-changed",
                    now,
                    actor=actor or f"user:{name}",
                    detail={"user": name},
                ),
            )

    # --- sessions --------------------------------------------------------------------

    async def create_session(self, id_sha256: str, session: WebSession) -> None:
        async with self._store._write() as conn:
            await conn.execute(
                t.web_sessions.delete().where(t.web_sessions.c.expires_at < session.created_at)
            )
            await conn.execute(
                t.web_sessions.insert(),
                {
                    "id_sha256": id_sha256,
                    "principal": session.principal,
                    "role": session.role,
                    "csrf_token": session.csrf_token,
                    "must_change": session.must_change,
                    "created_at": session.created_at,
                    "expires_at": session.expires_at,
                },
            )

    async def get_session(self, id_sha256: str, now: datetime) -> WebSession | None:
        """The live session with this id hash (None if unknown or expired)."""
        w = t.web_sessions.c
        async with self._store._read() as conn:
            row = (
                await conn.execute(
                    sa.select(t.web_sessions).where(w.id_sha256 == id_sha256, w.expires_at > now)
                )
            ).first()
        if row is None:
            return None
        m = row._mapping
        return WebSession(
            principal=m["principal"],
            role=m["role"],
            csrf_token=m["csrf_token"],
            must_change=bool(m["must_change"]),
            created_at=m["created_at"],
            expires_at=m["expires_at"],
        )

    async def delete_session(self, id_sha256: str) -> None:
        async with self._store._write() as conn:
            await conn.execute(
                t.web_sessions.delete().where(t.web_sessions.c.id_sha256 == id_sha256)
            )
