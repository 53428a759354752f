"""Rendering for the dashboard: the Jinja environment (autoescaping everything), the
display filters, security headers, and the day chart drawn as inline SVG (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from aiohttp import web
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from axis.store import VN_TZ
from axis.store.dashboard import DayFigures

__all__ = ["SECURITY_HEADERS", "day_chart", "environment", "fmt_age", "fmt_num", "page"]

#: Sent with every dashboard answer: no framing, no sniffing, no foreign resources,
#: nothing cached (pages show live figures and CSRF tokens).
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def fmt_num(value: int | float | None) -> str:
    """1234567 -> '1.234.567' (Vietnamese grouping); None -> '–'."""
    if value is None:
        return "–"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.1f}".replace(",", " ").replace(".", ",").replace(" ", ".")
    return f"{int(value):,}".replace(",", ".")


def fmt_age(seconds: float | None) -> str:
    """A duration for people: '45 s', '12 phút', '3 giờ 5 phút', '2 ngày 4 giờ'."""
    if seconds is None:
        return "–"
    s = int(max(0.0, seconds))
    if s < 60:
        return f"{s} s"
    minutes = s // 60
    if minutes < 60:
        return f"{minutes} phút"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} giờ {minutes} phút"
    days, hours = divmod(hours, 24)
    return f"{days} ngày {hours} giờ"


def fmt_dt(value: datetime | None) -> str:
    """An instant in Vietnam's time: '2026-11-27 17:03:09'."""
    if value is None:
        return "–"
    return value.astimezone(VN_TZ).strftime("%Y-%m-%d %H:%M:%S")


def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("axis.web", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = fmt_num
    env.filters["age"] = fmt_age
    env.filters["dt"] = fmt_dt
    return env


def page(env: Environment, template: str, status: int = 200, **context: Any) -> web.Response:
    """A rendered page with the security headers."""
    text = env.get_template(template).render(**context)
    resp = web.Response(text=text, status=status, content_type="text/html", charset="utf-8")
    resp.headers.update(SECURITY_HEADERS)
    return resp


# --- the day chart ------------------------------------------------------------------------

_W, _H = 760, 240
_LEFT, _RIGHT, _TOP, _BOTTOM = 48, 12, 28, 36
_BLUE, _RED, _GREEN, _GREY = "#2f6db5", "#c0392b", "#1e8449", "#8a8f98"


def _nice_max(value: int) -> int:
    """The smallest of 1, 2, 5 x 10^k that is >= value (at least 1)."""
    value = max(1, value)
    step = 1
    while True:
        for m in (1, 2, 5):
            if m * step >= value:
                return m * step
        step *= 10


def day_chart(days: Sequence[DayFigures]) -> Markup:
    """Bars of packets received per day (refused stacked on top, red) and a line of
    deliveries acknowledged (green), as one self-contained ``<svg>`` element.

    Only numbers and dates go into the markup; presentation attributes, no CSS.
    """
    n = max(1, len(days))
    top = _nice_max(max([d.received + d.refused for d in days] + [d.acknowledged for d in days]))
    plot_w = _W - _LEFT - _RIGHT
    plot_h = _H - _TOP - _BOTTOM
    slot = plot_w / n
    bar_w = max(1.0, slot * 0.7)

    def y(v: float) -> float:
        return _TOP + plot_h - plot_h * v / top

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_W} {_H}" width="100%" '
        f'preserveAspectRatio="xMinYMin meet" role="img" aria-labelledby="chart-title">',
        '<title id="chart-title">Gói tin 30 ngày qua / packets over the last 30 days</title>',
    ]
    for frac in (0, 0.5, 1):
        v = top * frac
        yy = y(v)
        parts.append(
            f'<line x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{yy:.1f}" y2="{yy:.1f}" '
            f'stroke="#dde1e6" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{_LEFT - 6}" y="{yy + 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="{_GREY}">{escape(fmt_num(v if v % 1 else int(v)))}</text>'
        )
    points = []
    for i, d in enumerate(days):
        x = _LEFT + i * slot + (slot - bar_w) / 2
        label = d.day.strftime("%d/%m")
        tip = (
            f"{d.day.isoformat()}: nhận {d.received}, từ chối {d.refused}, "
            f"đã nhận (ack) {d.acknowledged}"
        )
        parts.append(f'<g data-day="{d.day.isoformat()}"><title>{escape(tip)}</title>')
        if d.received:
            parts.append(
                f'<rect x="{x:.1f}" y="{y(d.received):.1f}" width="{bar_w:.1f}" '
                f'height="{y(0) - y(d.received):.1f}" fill="{_BLUE}"/>'
            )
        if d.refused:
            parts.append(
                f'<rect x="{x:.1f}" y="{y(d.received + d.refused):.1f}" width="{bar_w:.1f}" '
                f'height="{y(d.received) - y(d.received + d.refused):.1f}" fill="{_RED}"/>'
            )
        parts.append("</g>")
        cx = _LEFT + i * slot + slot / 2
        points.append(f"{cx:.1f},{y(d.acknowledged):.1f}")
        if i % 5 == (n - 1) % 5:
            parts.append(
                f'<text x="{cx:.1f}" y="{_H - _BOTTOM + 16}" text-anchor="middle" '
                f'font-size="11" fill="{_GREY}">{escape(label)}</text>'
            )
    parts.append(
        f'<polyline points="{" ".join(points)}" fill="none" stroke="{_GREEN}" stroke-width="2"/>'
    )
    legend = [
        (_BLUE, "nhận / received"),
        (_RED, "từ chối / refused"),
        (_GREEN, "đã giao / acknowledged"),
    ]
    for i, (color, text) in enumerate(legend):
        lx = _LEFT + i * 190
        parts.append(f'<rect x="{lx}" y="8" width="12" height="12" fill="{color}"/>')
        parts.append(f'<text x="{lx + 18}" y="18" font-size="12" fill="#333">{text}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - built from numbers and escaped text only
