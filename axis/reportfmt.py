"""Report output: the same figures as tables with Vietnamese headings, written as a
terminal table, CSV (UTF-8 with BOM, for spreadsheet tools) or Excel (openpyxl,
write-only: rows are streamed, not held twice in memory).

:func:`exchange_sheets` and :func:`signature_sheets` turn engine results into
:class:`Sheet` values (pure); :func:`write_csv`, :func:`write_xlsx`, :func:`render_text`
write them, calling ``advance(n)`` as rows go out (the CLI shows a progress bar).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Final

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from axis.report import ExchangeLine
from axis.reporting import ExchangeResult
from axis.reporttree import TreeNode, depths, flatten
from axis.sigreport import SIG_VERDICTS, SignatureLine, SignatureReport

__all__ = [
    "EXCHANGE_HEADINGS",
    "SIGNATURE_HEADINGS",
    "Sheet",
    "exchange_sheets",
    "render_text",
    "signature_sheets",
    "write_csv",
    "write_xlsx",
]

Cell = str | int | float | None
Advance = Callable[[int], None]

TIER_VI: Final = {
    "central": "Trung ương",
    "province": "Tỉnh",
    "district": "Huyện",
    "commune": "Xã",
    "*": "Mọi cấp",
}
VERDICT_VI: Final = {
    "valid": "Ký số hợp lệ",
    "invalid": "Không hợp lệ",
    "untrusted": "Không tin cậy",
    "revoked": "Bị thu hồi",
    "expired": "Hết hạn",
    "not-yet-valid": "Chưa có hiệu lực",
    "weak-algorithm": "Thuật toán yếu",
    "legacy-unverifiable": "Chữ ký cũ không kiểm tra được",
    "unsigned": "Không ký số",
}
EXCHANGE_HEADINGS: Final = (
    "Mã định danh / Nhóm",
    "Tên cơ quan",
    "Cấp",
    "Gửi",
    "Gửi nội tỉnh",
    "Gửi liên thông quốc gia",
    "Nhận",
    "Đã xác nhận",
    "Từ chối",
    "Tổng (gửi + nhận)",
    "Gửi có ký số hợp lệ",
    "Tỷ lệ ký số hợp lệ",
)
SIGNATURE_HEADINGS: Final = (
    "Nhóm",
    "Tổng số",
    *(VERDICT_VI[v] for v in SIG_VERDICTS),
    "Tỷ lệ ký số hợp lệ",
)
SIGNER_HEADINGS: Final = (
    "SHA-256 chứng thư số",
    "Chủ thể",
    "Tổ chức cấp",
    "Số văn bản",
    "Hợp lệ",
)
ISSUER_HEADINGS: Final = ("Tổ chức cấp chứng thư số", "Số văn bản", "Hợp lệ")


@dataclass
class Sheet:
    """One table: a title (the Excel sheet's name), headings, rows; ``percent`` names
    the columns holding shares (0..1), shown as percentages."""

    title: str
    headings: Sequence[str]
    rows: list[list[Cell]] = field(default_factory=list)
    percent: frozenset[int] = frozenset()


def _exchange_row(
    key: str, name: str | None, tier: str | None, line: ExchangeLine, split: tuple[int, int]
) -> list[Cell]:
    return [
        key,
        name,
        TIER_VI.get(tier or "", tier),
        line.sent,
        split[0],
        split[1],
        line.received,
        line.acknowledged,
        line.refused,
        line.total,
        line.validly_signed,
        line.signed_share,
    ]


def exchange_sheets(result: ExchangeResult) -> list[Sheet]:
    """The exchange report as one sheet (tree: indented names, figures of each subtree)."""
    sheet = Sheet("Trao đổi văn bản", EXCHANGE_HEADINGS, percent=frozenset({11}))
    by = result.query.by
    if result.tree is not None:
        for depth, node in depths(result.tree):
            line = node.rollup
            split = _rollup_split(node, result)
            sheet.rows.append(
                _exchange_row(node.code, "  " * depth + node.name, node.tier, line, split)
            )
    else:
        for line in result.lines:
            agency = result.agencies.get(line.key) if by == "agency" else None
            label = TIER_VI.get(line.key, line.key) if by == "tier" else line.key
            sheet.rows.append(
                _exchange_row(
                    label,
                    agency.name if agency else None,
                    agency.tier if agency else None,
                    line,
                    result.split.get(line.key, (0, 0)),
                )
            )
    total_split = (
        sum(i for i, _ in result.split.values()),
        sum(n for _, n in result.split.values()),
    )
    sheet.rows.append(_exchange_row("TỔNG CỘNG", None, None, result.total, total_split))
    return [sheet]


def _rollup_split(node: TreeNode, result: ExchangeResult) -> tuple[int, int]:
    codes = [n.code for n in flatten([node])]
    return (
        sum(result.split.get(c, (0, 0))[0] for c in codes),
        sum(result.split.get(c, (0, 0))[1] for c in codes),
    )


def _sig_row(label: str, line: SignatureLine) -> list[Cell]:
    return [label, line.total, *(line.by_verdict.get(v, 0) for v in SIG_VERDICTS), line.share]


def signature_sheets(
    report: SignatureReport, *, names: dict[str, str] | None = None
) -> list[Sheet]:
    """The signature report: by group, trend by month, certificates, issuing CAs."""
    share_col = frozenset({len(SIGNATURE_HEADINGS) - 1})
    main = Sheet("Ký số", SIGNATURE_HEADINGS, percent=share_col)
    for line in report.lines:
        label = line.key
        if report.by == "tier":
            label = TIER_VI.get(line.key, line.key)
        elif names and line.key in names:
            label = f"{line.key} {names[line.key]}"
        main.rows.append(_sig_row(label, line))
    main.rows.append(_sig_row("TỔNG CỘNG", report.total))
    trend = Sheet("Theo tháng", SIGNATURE_HEADINGS, percent=share_col)
    trend.rows.extend(_sig_row(line.key, line) for line in report.trend)
    signers = Sheet("Chứng thư số", SIGNER_HEADINGS)
    signers.rows.extend([s.key, s.subject, s.issuer, s.total, s.valid] for s in report.signers)
    issuers = Sheet("Tổ chức cấp", ISSUER_HEADINGS)
    issuers.rows.extend([i.key, i.total, i.valid] for i in report.issuers)
    return [main, trend, signers, issuers]


# --------------------------------------------------------------------- writers


def _text(value: Cell, percent: bool) -> str:
    if value is None:
        return "—" if percent else ""
    if percent and isinstance(value, float):
        return f"{value * 100:.1f} %"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def render_text(sheets: Sequence[Sheet], advance: Advance | None = None) -> str:
    """Plain-text tables for the terminal."""
    out: list[str] = []
    for sheet in sheets:
        cells = [[_text(v, i in sheet.percent) for i, v in enumerate(row)] for row in sheet.rows]
        keep = [i for i in range(len(sheet.headings)) if any(row[i] for row in cells) or i < 1]
        numeric = {
            i
            for i in keep
            if i in sheet.percent
            or all(isinstance(row[i], int | float) for row in sheet.rows if row[i] is not None)
        }
        head = [sheet.headings[i] for i in keep]
        body = [[row[i] for i in keep] for row in cells]
        widths = [max(len(r[j]) for r in [head, *body]) for j in range(len(keep))]
        out.append(f"== {sheet.title} ==")
        for n, row in enumerate([head, *body]):
            parts = [
                c.rjust(w) if n and keep[j] in numeric else c.ljust(w)
                for j, (c, w) in enumerate(zip(row, widths, strict=True))
            ]
            out.append("  ".join(parts).rstrip())
            if n == 0:
                out.append("  ".join("-" * w for w in widths))
        if advance is not None:
            advance(len(sheet.rows))
        out.append("")
    return "\n".join(out)


def write_csv(sheet: Sheet, fh: IO[str], advance: Advance | None = None) -> None:
    """One sheet as CSV; open ``fh`` with ``encoding="utf-8-sig"`` (BOM) and
    ``newline=""``. Shares are written as numbers 0..1."""
    writer = csv.writer(fh)
    writer.writerow(sheet.headings)
    for i, row in enumerate(sheet.rows, 1):
        writer.writerow(["" if v is None else v for v in row])
        if advance is not None and i % 1000 == 0:
            advance(1000)
    if advance is not None:
        advance(len(sheet.rows) % 1000)


def write_xlsx(sheets: Sequence[Sheet], path: Path, advance: Advance | None = None) -> None:
    """An Excel workbook, one worksheet per sheet, written in write-only mode (rows are
    streamed to the file): bold headings, shares as percentages, frozen header row."""
    wb = Workbook(write_only=True)
    for sheet in sheets:
        ws = wb.create_sheet(title=sheet.title[:31])
        ws.freeze_panes = "A2"
        for i, heading in enumerate(sheet.headings):
            ws.column_dimensions[_column(i)].width = max(12, min(48, len(heading) + 4))
        header = []
        for heading in sheet.headings:
            cell = WriteOnlyCell(ws, value=heading)
            cell.font = Font(bold=True)
            header.append(cell)
        ws.append(header)
        for n, row in enumerate(sheet.rows, 1):
            cells: list[Any] = []
            for i, value in enumerate(row):
                if i in sheet.percent and value is not None:
                    cell = WriteOnlyCell(ws, value=value)
                    cell.number_format = "0.0%"
                    cells.append(cell)
                else:
                    cells.append(value)
            ws.append(cells)
            if advance is not None and n % 1000 == 0:
                advance(1000)
        if advance is not None:
            advance(len(sheet.rows) % 1000)
    wb.save(path)


def _column(index: int) -> str:
    name = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        name = chr(65 + rem) + name
    return name
