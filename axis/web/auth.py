"""Logging in to the dashboard: server-side sessions, CSRF protection, roles.

- **Login** with a user's password (``axis admin add-user``) or with the token of a
  system whose role is admin or auditor (``axis systems add --role admin``). A user with
  a one-time password must choose a new one before anything else.
- **Sessions** live in the database (``web_sessions``, any node serves any request).
  The browser holds a random 256-bit id in an ``HttpOnly; SameSite=Strict`` cookie
  (``Secure`` and the ``__Host-`` prefix when the axis serves TLS); the database holds
  only its SHA-256. A new id at every login (no fixation); 8 hours at most.
- **CSRF**: every state-changing request is a POST that must carry the session's
  synchronizer token (hidden form field ``csrf``) AND come from the dashboard's own
  origin (``Origin``, else ``Referer``; neither: refused). Login checks the origin.
- **Roles**: admins act (retry), auditors only look.
- Failed logins are throttled per client address and audited; so are logins, logouts
  and password changes (``web.*`` events, never a password or token).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Final
from urllib.parse import quote, urlsplit

from aiohttp import web

from axis.api.common import services
from axis.passwords import dummy_hash, hash_password, verify_password
from axis.store.users import WebSession
from axis_errors import AuthError

__all__ = [
    "SESSION",
    "LoginThrottle",
    "check_post",
    "cookie_name",
    "login_required",
    "safe_next",
    "start_session",
]

SESSION: web.RequestKey[WebSession] = web.RequestKey("web_session", WebSession)
SESSION_HASH: web.RequestKey[str] = web.RequestKey("web_session_hash", str)
SESSION_TTL: Final = timedelta(hours=8)
MIN_PASSWORD: Final = 12

PageHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def cookie_name(request: web.Request) -> str:
    return "__Host-axis_session" if services(request).config.server.tls else "axis_session"


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("ascii", "replace")).hexdigest()


def wants_json(request: web.Request) -> bool:
    """An XHR/fetch call rather than a page load: answer it with JSON, not a redirect."""
    if request.headers.get("X-Requested-With", "").lower() == "xmlhttprequest":
        return True
    accept = request.headers.get("Accept", "")
    return "application/json" in accept and "text/html" not in accept


def safe_next(value: str | None, default: str = "/") -> str:
    """A local path to go back to (never another site: no scheme, host or ``//``)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return default
    return value


def _origins(request: web.Request) -> set[str]:
    own = {f"{request.scheme}://{request.host}"}
    public = services(request).config.server.public_url
    if public:
        p = urlsplit(public)
        own.add(f"{p.scheme}://{p.netloc}")
    return own


def same_origin(request: web.Request) -> bool:
    """The request comes from a page of this dashboard (Origin, else Referer)."""
    origin = request.headers.get("Origin")
    if origin is None or origin == "null":
        referer = request.headers.get("Referer")
        if not referer:
            return False
        p = urlsplit(referer)
        origin = f"{p.scheme}://{p.netloc}"
    return origin in _origins(request)


async def current_session(request: web.Request) -> tuple[str, WebSession] | None:
    raw = request.cookies.get(cookie_name(request))
    if not raw or len(raw) > 128:
        return None
    digest = _hash(raw)
    svc = services(request)
    found = await svc.store.users.get_session(digest, svc.clock())
    return None if found is None else (digest, found)


def _unauthenticated(request: web.Request) -> web.StreamResponse:
    if wants_json(request):
        return web.json_response(
            {"error": {"code": "auth.login-required", "message": "Log in to the dashboard."}},
            status=401,
        )
    target = request.path_qs if request.method == "GET" else "/"
    raise web.HTTPSeeOther(f"/login?next={quote(target, safe='')}")


def login_required(
    role: str | None = None, *, allow_must_change: bool = False
) -> Callable[[PageHandler], PageHandler]:
    """Wrap a page: no session -> login (JSON 401 for XHR); a pending password change
    -> ``/password``; ``role="admin"`` -> auditors get 403."""

    def wrap(handler: PageHandler) -> PageHandler:
        async def guarded(request: web.Request) -> web.StreamResponse:
            found = await current_session(request)
            if found is None:
                return _unauthenticated(request)
            digest, session = found
            if session.must_change and not allow_must_change:
                raise web.HTTPSeeOther("/password")
            if role is not None and session.role != role:
                raise AuthError(
                    f"This needs the {role} role; you are {session.role}.",
                    code="auth.forbidden",
                )
            request[SESSION] = session
            request[SESSION_HASH] = digest
            return await handler(request)

        guarded.__name__ = handler.__name__
        guarded.__doc__ = handler.__doc__
        return guarded

    return wrap


def check_post(request: web.Request, form: Any) -> None:
    """Refuse a state-changing request without the session's CSRF token or from
    another origin (``AuthError`` ``auth.csrf``)."""
    session = request[SESSION]
    token = form.get("csrf") if form is not None else None
    if not same_origin(request):
        raise AuthError(
            "This request does not come from the dashboard's own pages (Origin).",
            code="auth.csrf",
        )
    if not isinstance(token, str) or not hmac.compare_digest(
        token.encode(), session.csrf_token.encode()
    ):
        raise AuthError(
            "The form's anti-forgery token is missing or stale; reload the page.",
            code="auth.csrf",
        )


async def start_session(
    request: web.Request, response: web.StreamResponse, principal: str, role: str,
    *, must_change: bool,
) -> None:  # fmt: skip
    """Create a new session and set its cookie on ``response``."""
    svc = services(request)
    session_id = secrets.token_urlsafe(32)
    now = svc.clock()
    await svc.store.users.create_session(
        _hash(session_id),
        WebSession(
            principal=principal,
            role=role,  # type: ignore[arg-type]
            csrf_token=secrets.token_urlsafe(32),
            must_change=must_change,
            created_at=now,
            expires_at=now + SESSION_TTL,
        ),
    )
    tls = svc.config.server.tls
    response.set_cookie(
        cookie_name(request),
        session_id,
        max_age=int(SESSION_TTL.total_seconds()),
        path="/",
        httponly=True,
        secure=tls,
        samesite="Strict",
    )


async def end_session(request: web.Request, response: web.StreamResponse) -> None:
    digest = request.get(SESSION_HASH)
    if digest:
        await services(request).store.users.delete_session(digest)
    response.del_cookie(cookie_name(request), path="/")


# --- credentials ---------------------------------------------------------------------------


@dataclass
class LoginThrottle:
    """At most ``limit`` failed logins per client address within ``window`` seconds."""

    limit: int = 10
    window: float = 600.0
    _failures: dict[str, deque[float]] = field(default_factory=dict)

    def _recent(self, key: str, now: float) -> deque[float]:
        q = self._failures.setdefault(key, deque())
        while q and q[0] <= now - self.window:
            q.popleft()
        return q

    def blocked(self, key: str) -> bool:
        return len(self._recent(key, time.monotonic())) >= self.limit

    def failed(self, key: str) -> None:
        self._recent(key, time.monotonic()).append(time.monotonic())
        if len(self._failures) > 10_000:  # bounded memory under a spray of addresses
            self._failures.pop(next(iter(self._failures)))

    def succeeded(self, key: str) -> None:
        self._failures.pop(key, None)


@dataclass(frozen=True, slots=True)
class Principal:
    id: str  # "user:NAME" or "system:ID"
    role: str
    must_change: bool


async def check_password(request: web.Request, name: str, password: str) -> Principal | None:
    """The user, if the password is right (as slow for unknown names as for known)."""
    store = services(request).store
    stored = await store.users.password_hash(name) if name else None
    ok = await asyncio.to_thread(verify_password, password, stored or dummy_hash())
    if not ok or stored is None:
        return None
    user = await store.users.get_user(name)
    if user is None or user.disabled:
        return None
    return Principal(f"user:{user.name}", user.role, user.must_change)


async def check_token(request: web.Request, token: str) -> Principal | None:
    """A system with the admin or auditor role, by its bearer token."""
    caller = await services(request).caller_by_token(token)
    if caller is None or caller.role not in ("admin", "auditor"):
        return None
    return Principal(f"system:{caller.system_id}", caller.role, False)


async def change_password(request: web.Request, name: str, new_password: str) -> None:
    digest = await asyncio.to_thread(hash_password, new_password)
    await services(request).store.users.set_password(
        name, digest, must_change=False, actor=f"user:{name}"
    )
