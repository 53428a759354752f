"""Logging setup: plain text or JSON lines, with the log context on every record.

``configure_logging(config.log)`` installs one handler on the root logger. Every record
gets the fields bound with :func:`axis.observe.log_context` (the request id first), so
one ``grep`` on a request id shows a packet's way through intake, delivery and the
adapter. Secrets are never logged (the callers' duty); the JSON formatter also drops
any extra field whose name looks like a secret.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, Final, TextIO

from axis.config import LogConfig
from axis.observe import current_log_context

__all__ = ["ContextFilter", "JsonFormatter", "TextFormatter", "configure_logging"]

_STANDARD: Final = frozenset(
    logging.LogRecord("", 0, "", 0, "", (), None).__dict__.keys() | {"message", "asctime"}
)
_SECRET_WORDS: Final = ("secret", "password", "token", "authorization", "cookie")


class ContextFilter(logging.Filter):
    """Copies the current log context onto each record as ``record.context``."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.context = dict(current_log_context())
        return True


def _context(record: logging.LogRecord) -> dict[str, str]:
    ctx = getattr(record, "context", None)
    return dict(ctx) if isinstance(ctx, dict) else dict(current_log_context())


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ts, level, logger, msg, the context, extras, exc."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        out.update(_context(record))
        for key, value in record.__dict__.items():
            if key in _STANDARD or key == "context" or key in out:
                continue
            if any(word in key.lower() for word in _SECRET_WORDS):
                continue
            out[key] = value if isinstance(value, str | int | float | bool | None) else str(value)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """``time level logger message [key=value ...]``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        ctx = _context(record)
        if ctx:
            text += " [" + " ".join(f"{k}={v}" for k, v in ctx.items()) + "]"
        return text


def configure_logging(
    config: LogConfig, *, level: str | None = None, stream: TextIO | None = None
) -> logging.Handler:
    """Replace the root logger's handlers with one in the configured format.

    ``level`` (e.g. from ``axis serve --log-level``) overrides ``config.level``.
    Returns the handler (tests remove it again).
    """
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if config.format == "json" else TextFormatter())
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel((level or config.level).upper())
    # Neither format shows where a record was made nor its thread or process: do not
    # collect them (the logging HOWTO's "Optimization"; ~5 of ~20 us a record, and the
    # daemon logs a line for every packet).
    logging._srcfile = None  # no caller lookup
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    return handler
