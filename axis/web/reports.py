"""The dashboard's "Báo cáo / Reports" page: the third face of the report engine.

``GET /reports`` (auditors and admins) shows, for the slice chosen in its form (from,
to, by agency|tier|month|tree, scope internal|national|all, recipient tier):

- the exchange report (:func:`axis.reporting.exchange`): sent, of which internal and
  national, received, acknowledged, refused, total; a tree when ``by=tree``;
- the signature report (:func:`axis.reporting.signatures`): verdict counts and the
  share validly signed (bar chart), the same for each recipient tier ("gửi bộ, ngành /
  sent to ministries" is the ``central`` line), the monthly trend (chart), the signing
  certificates and the issuing CAs.

``GET /reports/download?report=exchange|signatures&format=csv|xlsx&...`` returns the
same figures as a file, written by :mod:`axis.reportfmt` (as ``axis report`` does).

The page reads through the same engine as ``GET /api/v1/reports/*`` and the CLI, so
one slice gives the same numbers on every face (tests/test_dashboard_reports.py).
"""

from __future__ import annotations

import asyncio
import io
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Final, cast
from urllib.parse import urlencode

from aiohttp import web

from axis.api.common import services
from axis.reportfmt import (
    TIER_VI,
    VERDICT_VI,
    Sheet,
    exchange_sheets,
    signature_sheets,
    write_csv,
    write_xlsx,
)
from axis.reporting import (
    RECIPIENT_TIERS,
    ExchangeQuery,
    SignatureQuery,
    exchange,
    signatures,
)
from axis.reporttree import depths
from axis.sigreport import SigBy
from axis.web.auth import SESSION, login_required
from axis.web.charts import trend_chart, verdict_bars
from axis.web.pages import _render, html_errors
from axis.web.render import SECURITY_HEADERS
from axis_errors import AuthError, InputError

__all__ = ["ReportForm", "add_report_routes"]

PAGE_BY: Final = ("agency", "tier", "month", "tree")
SCOPES: Final = ("all", "internal", "national")
#: how the page names a recipient tier ("sent to ministries" is ``central``)
RECIPIENT_VI: Final = {
    "*": "mọi nơi nhận / any recipient",
    "central": "gửi bộ, ngành / sent to ministries",
    "province": "gửi cấp tỉnh / sent to provincial bodies",
    "district": "gửi cấp huyện / sent to districts",
    "commune": "gửi cấp xã / sent to communes",
}


def _day(name: str, raw: str | None) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise InputError(
            f"The field {name!r} must be a date (YYYY-MM-DD), not {raw[:40]!r}.",
            code="input.bad-param",
            details={"param": name},
        ) from None


def _choice(name: str, raw: str | None, allowed: tuple[str, ...]) -> str:
    value = raw or allowed[0]
    if value not in allowed:
        raise InputError(
            f"The field {name!r} must be one of {', '.join(allowed)}.",
            code="input.bad-param",
            details={"param": name},
        )
    return value


@dataclass(frozen=True)
class ReportForm:
    """The page's form, checked; the engine's queries follow from it."""

    day_from: date | None = None
    day_to: date | None = None
    by: str = "agency"
    scope: str = "all"
    recipient_tier: str = "*"

    @classmethod
    def parse(cls, query: Any) -> ReportForm:
        form = cls(
            day_from=_day("from", query.get("from")),
            day_to=_day("to", query.get("to")),
            by=_choice("by", query.get("by"), PAGE_BY),
            scope=_choice("scope", query.get("scope"), SCOPES),
            recipient_tier=_choice("recipient_tier", query.get("recipient_tier"), RECIPIENT_TIERS),
        )
        if form.day_from and form.day_to and form.day_from > form.day_to:
            raise InputError(
                "The report's 'from' day is after its 'to' day.", code="input.bad-param"
            )
        return form

    def params(self) -> dict[str, str]:
        out = {"by": self.by, "scope": self.scope, "recipient_tier": self.recipient_tier}
        if self.day_from:
            out["from"] = self.day_from.isoformat()
        if self.day_to:
            out["to"] = self.day_to.isoformat()
        return out

    def exchange_query(self) -> ExchangeQuery:
        return ExchangeQuery(
            day_from=self.day_from,
            day_to=self.day_to,
            by=cast(Any, self.by),
            scope=cast(Any, self.scope),
        )

    def signature_query(
        self, recipient_tier: str | None = None, by: str | None = None
    ) -> SignatureQuery:
        # the signature counters have no tree: by tree shows the senders one by one
        sig_by = by or ("agency" if self.by == "tree" else self.by)
        return SignatureQuery(
            day_from=self.day_from,
            day_to=self.day_to,
            by=cast(SigBy, sig_by),
            recipient_tier=recipient_tier or self.recipient_tier,
        )


def _require_viewer(request: web.Request) -> None:
    role = request[SESSION].role
    if role not in ("auditor", "admin"):
        raise AuthError(
            f"Reports need the auditor or admin role; you are {role}.", code="auth.forbidden"
        )


@login_required()
async def reports_page(request: web.Request) -> web.StreamResponse:
    _require_viewer(request)
    store = services(request).store
    form = ReportForm.parse(request.query)
    result = await exchange(store, form.exchange_query())
    report = await signatures(store, form.signature_query())
    by_tier = [
        (tier, (await signatures(store, form.signature_query(tier, by="all"))).total)
        for tier in RECIPIENT_TIERS
    ]
    names = {code: a.name for code, a in result.agencies.items()}
    tree_rows = depths(result.tree) if result.tree is not None else None
    params = form.params()
    downloads = {
        (kind, fmt): "/reports/download?" + urlencode(params | {"report": kind, "format": fmt})
        for kind in ("exchange", "signatures")
        for fmt in ("csv", "xlsx")
    }
    internal = sum(i for i, _ in result.split.values())
    national = sum(n for _, n in result.split.values())
    return _render(
        request,
        "reports.html",
        form=form,
        by_choices=PAGE_BY,
        scopes=SCOPES,
        recipient_tiers=RECIPIENT_TIERS,
        recipient_vi=RECIPIENT_VI,
        tier_vi=TIER_VI,
        verdict_vi=VERDICT_VI,
        ex=result,
        ex_split_total=(internal, national),
        tree_rows=tree_rows,
        names=names,
        sig=report,
        by_tier=by_tier,
        verdict_chart=verdict_bars(
            report.total.by_verdict, labels={k: f"{v} / {k}" for k, v in VERDICT_VI.items()}
        ),
        trend=trend_chart(report.trend),
        downloads=downloads,
    )


def _xlsx_bytes(sheets: list[Sheet]) -> bytes:
    with tempfile.TemporaryDirectory(prefix="axis-report-") as tmp:
        path = Path(tmp) / "report.xlsx"
        write_xlsx(sheets, path)
        return path.read_bytes()


def _csv_bytes(sheet: Sheet) -> bytes:
    buf = io.StringIO()
    write_csv(sheet, buf)
    return ("\ufeff" + buf.getvalue()).encode("utf-8")  # BOM: spreadsheets read UTF-8


XLSX: Final = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@login_required()
async def reports_download(request: web.Request) -> web.StreamResponse:
    _require_viewer(request)
    store = services(request).store
    form = ReportForm.parse(request.query)
    kind = _choice("report", request.query.get("report"), ("exchange", "signatures"))
    fmt = _choice("format", request.query.get("format"), ("csv", "xlsx"))
    if kind == "exchange":
        sheets = exchange_sheets(await exchange(store, form.exchange_query()))
    else:
        q = form.signature_query()
        names = {a.code: a.name for a in await store.list_agencies()} if q.by == "agency" else {}
        sheets = signature_sheets(await signatures(store, q), names=names)
    span = "-".join(d.isoformat() if d else "all" for d in (form.day_from, form.day_to))
    filename = f"axis-{kind}-{span}.{fmt}"
    if fmt == "csv":
        body, content_type = _csv_bytes(sheets[0]), "text/csv"
    else:
        body, content_type = await asyncio.to_thread(_xlsx_bytes, sheets), XLSX
    resp = web.Response(body=body, content_type=content_type)
    if fmt == "csv":
        resp.charset = "utf-8"
    resp.headers.update(SECURITY_HEADERS)
    resp.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return resp


def add_report_routes(app: web.Application) -> None:
    app.router.add_get("/reports", html_errors(reports_page))
    app.router.add_get("/reports/download", html_errors(reports_download))
