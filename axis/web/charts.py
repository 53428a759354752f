"""The report page's charts as inline SVG, drawn on the server (pure; no JavaScript).

- :func:`verdict_bars` — one horizontal bar per signature verdict, its length the share
  of the slice's packets;
- :func:`trend_chart` — packets per month, validly signed (green) and the rest (amber)
  stacked, with the share validly signed as a line on a 0–100 % scale.

Only numbers, dates and escaped text go into the markup; presentation attributes, no
CSS (the dashboard's Content-Security-Policy forbids inline styles).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from markupsafe import Markup, escape

from axis.sigreport import SIG_VERDICTS, SignatureLine
from axis.web.render import fmt_num

__all__ = ["VERDICT_COLORS", "trend_chart", "verdict_bars"]

VERDICT_COLORS: Final = {
    "valid": "#1e8449",
    "invalid": "#c0392b",
    "untrusted": "#b9770e",
    "revoked": "#922b21",
    "expired": "#af601a",
    "not-yet-valid": "#ca6f1e",
    "weak-algorithm": "#7d3c98",
    "legacy-unverifiable": "#5d6d7e",
    "unsigned": "#8a8f98",
}
_GREY, _LINE, _GREEN, _AMBER, _BLUE = "#8a8f98", "#dde1e6", "#1e8449", "#e0a458", "#2f6db5"


def _svg_open(width: int, height: int, title_id: str, title: str) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" preserveAspectRatio="xMinYMin meet" role="img" '
        f'aria-labelledby="{title_id}">',
        f'<title id="{title_id}">{escape(title)}</title>',
    ]


def _pct(value: float) -> str:
    return f"{value * 100:.1f} %"


def verdict_bars(
    by_verdict: Mapping[str, int], *, labels: Mapping[str, str] | None = None
) -> Markup:
    """Horizontal bars: each verdict's share of the packets (all verdicts listed, in
    report order, so that a zero is visible too). Each bar group carries
    ``data-verdict``/``data-count``."""
    total = sum(by_verdict.values())
    verdicts = [v for v in SIG_VERDICTS] + sorted(v for v in by_verdict if v not in SIG_VERDICTS)
    label_w, bar_w, row_h, top = 330, 380, 24, 8
    width = label_w + bar_w + 110
    height = top * 2 + row_h * len(verdicts)
    parts = _svg_open(width, height, "verdict-chart-title", "Tỷ lệ theo kết quả / verdict shares")
    for i, verdict in enumerate(verdicts):
        n = by_verdict.get(verdict, 0)
        share = n / total if total else 0.0
        y = top + i * row_h
        name = (labels or {}).get(verdict, verdict)
        color = VERDICT_COLORS.get(verdict, _BLUE)
        parts.append(
            f'<g data-verdict="{escape(verdict)}" data-count="{n}">'
            f"<title>{escape(f'{name}: {n} ({_pct(share)})')}</title>"
            f'<text x="{label_w - 8}" y="{y + 16}" text-anchor="end" font-size="12" '
            f'fill="#333">{escape(name)}</text>'
            f'<rect x="{label_w}" y="{y + 4}" width="{bar_w}" height="{row_h - 8}" '
            f'fill="#eef1f5"/>'
        )
        if n:
            parts.append(
                f'<rect x="{label_w}" y="{y + 4}" width="{max(1.0, bar_w * share):.1f}" '
                f'height="{row_h - 8}" fill="{color}"/>'
            )
        parts.append(
            f'<text x="{label_w + bar_w + 8}" y="{y + 16}" font-size="12" fill="#333">'
            f"{escape(_pct(share))} ({escape(fmt_num(n))})</text></g>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - numbers and escaped text only


def _nice_max(value: int) -> int:
    value = max(1, value)
    step = 1
    while True:
        for m in (1, 2, 5):
            if m * step >= value:
                return m * step
        step *= 10


def trend_chart(trend: Sequence[SignatureLine]) -> Markup:
    """Packets per month: validly signed and the rest stacked, the share validly signed
    as a line (right-hand scale 0–100 %). Each month's group carries ``data-month``,
    ``data-total`` and ``data-valid``."""
    width, height = 760, 260
    left, right, top_m, bottom = 56, 56, 32, 36
    plot_w, plot_h = width - left - right, height - top_m - bottom
    n = max(1, len(trend))
    top = _nice_max(max([line.total for line in trend] or [0]))
    slot = plot_w / n
    bar = max(2.0, min(60.0, slot * 0.6))

    def y(v: float) -> float:
        return top_m + plot_h - plot_h * v / top

    def y_share(s: float) -> float:
        return top_m + plot_h - plot_h * s

    parts = _svg_open(width, height, "trend-chart-title", "Theo tháng / trend by month")
    for frac in (0.0, 0.5, 1.0):
        yy = y(top * frac)
        value = top * frac
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{yy:.1f}" y2="{yy:.1f}" '
            f'stroke="{_LINE}" stroke-width="1"/>'
            f'<text x="{left - 6}" y="{yy + 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="{_GREY}">{escape(fmt_num(value if value % 1 else int(value)))}</text>'
            f'<text x="{width - right + 6}" y="{yy + 4:.1f}" font-size="11" '
            f'fill="{_BLUE}">{int(frac * 100)} %</text>'
        )
    points: list[str] = []
    for i, line in enumerate(trend):
        cx = left + i * slot + slot / 2
        x = cx - bar / 2
        other = line.total - line.valid
        tip = f"{line.key}: {line.valid} / {line.total}" + (
            f" ({_pct(line.share)})" if line.share is not None else ""
        )
        parts.append(
            f'<g data-month="{escape(line.key)}" data-total="{line.total}" '
            f'data-valid="{line.valid}"><title>{escape(tip)}</title>'
        )
        if line.valid:
            parts.append(
                f'<rect x="{x:.1f}" y="{y(line.valid):.1f}" width="{bar:.1f}" '
                f'height="{y(0) - y(line.valid):.1f}" fill="{_GREEN}"/>'
            )
        if other:
            parts.append(
                f'<rect x="{x:.1f}" y="{y(line.total):.1f}" width="{bar:.1f}" '
                f'height="{y(line.valid) - y(line.total):.1f}" fill="{_AMBER}"/>'
            )
        parts.append("</g>")
        if line.share is not None:
            points.append(f"{cx:.1f},{y_share(line.share):.1f}")
            parts.append(
                f'<circle cx="{cx:.1f}" cy="{y_share(line.share):.1f}" r="3" fill="{_BLUE}"/>'
            )
        if n <= 12 or i % max(1, n // 12) == 0:
            parts.append(
                f'<text x="{cx:.1f}" y="{height - bottom + 16}" text-anchor="middle" '
                f'font-size="11" fill="{_GREY}">{escape(line.key)}</text>'
            )
    if len(points) > 1:
        parts.append(
            f'<polyline points="{" ".join(points)}" fill="none" stroke="{_BLUE}" stroke-width="2"/>'
        )
    legend = [
        (_GREEN, "ký số hợp lệ / validly signed"),
        (_AMBER, "còn lại / other"),
        (_BLUE, "tỷ lệ hợp lệ / share valid"),
    ]
    for i, (color, text) in enumerate(legend):
        lx = left + i * 220
        parts.append(
            f'<rect x="{lx}" y="8" width="12" height="12" fill="{color}"/>'
            f'<text x="{lx + 18}" y="18" font-size="12" fill="#333">{escape(text)}</text>'
        )
    if not trend:
        parts.append(
            f'<text x="{left + plot_w / 2:.1f}" y="{top_m + plot_h / 2:.1f}" '
            f'text-anchor="middle" font-size="13" fill="{_GREY}">'
            "Chưa có gói tin / no packets</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - numbers and escaped text only
