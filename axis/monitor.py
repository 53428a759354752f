"""The alert job: gather facts, evaluate the rules, notify once per condition.

Runs in the daemon every ``alerts.interval`` seconds when a webhook or e-mail recipients
are configured (:meth:`AlertMonitor.context` is an aiohttp cleanup context). The rules
are :mod:`axis.alerts` (pure); the sending is :mod:`adapters.alerting`. The state of
which alerts have fired lives in memory: a restarted daemon notifies a still-standing
condition once more. Each notification is audited (``alert.fired``, ``alert.resolved``).

If every configured channel fails, the state does not advance and the same alerts are
tried again at the next tick (nothing is silently dropped).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import TYPE_CHECKING

from aiohttp import web

from adapters.alerting import AlertSender, SmtpTarget, WebhookTarget
from axis import alerts
from axis.config import AlertsConfig
from axis.sources import Sources
from axis_errors import AxisError

if TYPE_CHECKING:
    from axis.app import Services

__all__ = ["AlertMonitor", "sender_from_config", "thresholds_from_config"]

log = logging.getLogger("axis.alerts")


def thresholds_from_config(config: AlertsConfig) -> alerts.Thresholds:
    return alerts.Thresholds(
        destination_failing=timedelta(minutes=config.destination_failing_minutes),
        inbox_waiting=timedelta(minutes=config.inbox_waiting_minutes),
        cert_expiry=timedelta(days=config.cert_expiry_days),
    )


def sender_from_config(source: str, config: AlertsConfig) -> AlertSender:
    webhook = (
        WebhookTarget(config.webhook_url, config.webhook_secret) if config.webhook_url else None
    )
    smtp = None
    if config.smtp_host and config.email_to:
        smtp = SmtpTarget(
            host=config.smtp_host,
            port=config.smtp_port,
            sender=config.email_from,
            recipients=tuple(config.email_to),
            starttls=config.smtp_starttls,
            username=config.smtp_username,
            password=config.smtp_password,
        )
    return AlertSender(source, webhook=webhook, smtp=smtp)


class AlertMonitor:
    """Evaluates the alert rules of one daemon and notifies new and resolved alerts."""

    def __init__(self, services: Services, sources: Sources) -> None:
        config = services.config.alerts
        self.services = services
        self.sources = sources
        self.thresholds = thresholds_from_config(config)
        self.sender = sender_from_config(services.config.axis.name, config)
        self.channels = int(self.sender.webhook is not None) + int(self.sender.smtp is not None)
        self.state = alerts.AlertState()
        self.active: list[alerts.Alert] = []  # what the dashboard shows
        self.interval = config.interval
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def tick(self) -> alerts.Transition:
        """One evaluation: returns what fired and what resolved (and notifies them)."""
        now = self.services.clock()
        facts = await self.sources.facts(now, self.thresholds)
        current = alerts.evaluate(facts, self.thresholds)
        step = alerts.transition(self.state, current)
        self.active[:] = current
        if not step.fired and not step.resolved:
            self.state = step.state
            return step
        errors: list[str] = []
        if self.channels:
            errors = await self.sender.notify(
                [a.to_dict() for a in step.fired], list(step.resolved)
            )
        if self.channels and len(errors) >= self.channels:
            log.warning("alerts not delivered (will retry): %s", "; ".join(errors))
            return step
        self.state = step.state
        store = self.services.store
        for alert in step.fired:
            log.warning("alert: %s", alert.summary)
            await store.record_event(
                "alert.fired", actor="alerts", detail={"key": alert.key, "kind": alert.kind}
            )
        for key in step.resolved:
            log.info("alert resolved: %s", key)
            await store.record_event("alert.resolved", actor="alerts", detail={"key": key})
        return step

    async def run(self) -> None:
        while True:
            try:
                await self.tick()
            except AxisError as exc:
                log.warning("alert evaluation failed: [%s] %s", exc.code, exc.message)
            except Exception:
                log.exception("alert evaluation failed")
            await asyncio.sleep(self.interval)

    async def context(self, app: web.Application) -> AsyncIterator[None]:
        """aiohttp cleanup context: the loop runs while the app serves (if configured)."""
        if self.channels:
            self._task = asyncio.create_task(self.run(), name="alerts")
        try:
            yield
        finally:
            task, self._task = self._task, None
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await self.sender.close()
