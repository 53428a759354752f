"""Sending alerts to people: an HTTP webhook and e-mail through an SMTP server.

Plain values in (JSON-able alert dicts); nothing here decides what is an alert
(:mod:`axis.alerts` does). A failed send is reported in the result, never raised: the
caller logs it and tries again with the next alert.

Webhook: ``POST`` of ``{"source", "fired": [...], "resolved": [...]}`` as JSON; with a
secret, the header ``X-Axis-Signature: sha256=<hex HMAC-SHA256 of the body>`` lets the
receiver check it came from the axis. E-mail: one plain-text UTF-8 message per batch,
sent with :mod:`smtplib` in a thread (optional STARTTLS and login).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import smtplib
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

import aiohttp

__all__ = ["AlertSender", "SmtpTarget", "WebhookTarget", "render_email", "sign_body"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WebhookTarget:
    url: str
    secret: str | None = field(default=None, repr=False)
    timeout: float = 10.0


@dataclass(frozen=True, slots=True)
class SmtpTarget:
    host: str
    port: int
    sender: str
    recipients: tuple[str, ...]
    starttls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 15.0


def sign_body(secret: str, body: bytes) -> str:
    """The value of ``X-Axis-Signature`` for ``body``."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def render_email(
    source: str, fired: Sequence[Mapping[str, Any]], resolved: Sequence[str], sender: str,
    recipients: Sequence[str],
) -> EmailMessage:  # fmt: skip
    """One message listing the new alerts and the resolved ones."""
    msg = EmailMessage()
    first = fired[0]["summary"] if fired else f"{len(resolved)} alert(s) resolved"
    more = f" (+{len(fired) - 1})" if len(fired) > 1 else ""
    msg["Subject"] = f"[{source}] {first}{more}"
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain="axis.local")
    lines = [f"Cảnh báo từ / alerts from {source}", ""]
    for alert in fired:
        lines.append(f"[{alert['severity'].upper()}] {alert['summary']}")
        lines.append(f"    key: {alert['key']}   since: {alert.get('since') or '-'}")
    if resolved:
        lines += ["", "Đã hết / resolved:"]
        lines += [f"    {key}" for key in resolved]
    msg.set_content("\n".join(lines) + "\n", charset="utf-8")
    return msg


def _send_smtp(target: SmtpTarget, msg: EmailMessage) -> None:
    with smtplib.SMTP(target.host, target.port, timeout=target.timeout) as smtp:
        if target.starttls:
            smtp.starttls(context=ssl.create_default_context())
        if target.username and target.password:
            smtp.login(target.username, target.password)
        smtp.send_message(msg)


class AlertSender:
    """Delivers alert batches to a webhook and/or by e-mail. Closes only what it opened."""

    def __init__(
        self,
        source: str,
        *,
        webhook: WebhookTarget | None = None,
        smtp: SmtpTarget | None = None,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self.source = source
        self.webhook = webhook
        self.smtp = smtp
        self._session = session
        self._own_session = session is None

    async def close(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def notify(
        self, fired: Sequence[Mapping[str, Any]], resolved: Sequence[str] = ()
    ) -> list[str]:
        """Send one batch everywhere configured; returns the errors (empty: all sent)."""
        if not fired and not resolved:
            return []
        errors: list[str] = []
        if self.webhook is not None:
            error = await self._post(self.webhook, fired, resolved)
            if error:
                errors.append(error)
        if self.smtp is not None and self.smtp.recipients:
            msg = render_email(self.source, fired, resolved, self.smtp.sender, self.smtp.recipients)
            try:
                await asyncio.to_thread(_send_smtp, self.smtp, msg)
            except (OSError, smtplib.SMTPException) as exc:
                errors.append(f"alert e-mail via {self.smtp.host}:{self.smtp.port} failed: {exc}")
        for error in errors:
            log.warning("%s", error)
        return errors

    async def _post(
        self, target: WebhookTarget, fired: Sequence[Mapping[str, Any]], resolved: Sequence[str]
    ) -> str | None:
        body = json.dumps(
            {"source": self.source, "fired": list(fired), "resolved": list(resolved)},
            ensure_ascii=False,
        ).encode("utf-8")
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if target.secret:
            headers["X-Axis-Signature"] = sign_body(target.secret, body)
        if self._session is None:
            self._session = aiohttp.ClientSession()
        try:
            async with self._session.post(
                target.url,
                data=body,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=target.timeout),
                allow_redirects=False,
            ) as resp:
                if 200 <= resp.status < 300:
                    return None
                return f"alert webhook answered HTTP {resp.status}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            return f"alert webhook unreachable: {type(exc).__name__}"
