"""CSV and XLSX exports of statements, notice boards and rankings.

* CSV is UTF-8 **with a BOM**, so Excel as installed in China opens the Chinese headers
  correctly instead of guessing GBK.
* XLSX (openpyxl) has Chinese headers, bold header and totals rows, frozen headers and
  number formats. Money is kept exact: a fen amount is written as the decimal number of
  yuan (``Decimal(fen).scaleb(-2)``, stored in the file as the text ``12.34``, never a binary
  float computed here) with the format ``#,##0.00``; totals are the database's integer sums,
  not spreadsheet formulas, so a program reading the file gets the values too.
* Times are shown in the community's time zone.

Every package that sends a CSV or XLSX builds an :class:`ExportFile` with :func:`render` and
answers it with :func:`attachment` (the API and the pages alike), documenting the route with
:data:`FILE_DOC`: one responder, so every export is neutralised and served the same way.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Sequence
from zoneinfo import ZoneInfo

from flask import Response, make_response
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

CSV_MIME = "text/csv; charset=utf-8"
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMATS = ("csv", "xlsx")
MONEY_FORMAT, INTEGER_FORMAT, TIME_FORMAT = "#,##0.00", "0", "yyyy-mm-dd hh:mm:ss"
#: the OpenAPI schema of a file body, and the documentation of a route answering CSV or XLSX
BINARY = {"type": "string", "format": "binary"}
FILE_DOC = {"responses": {"200": {"description": "the file, as an attachment", "content": {
    "text/csv": {"schema": BINARY}, XLSX_MIME: {"schema": BINARY}}}}}


@dataclass
class Sheet:
    title: str
    headers: list[str]
    rows: list[list[Any]]
    totals: list[Any] | None = None
    #: column indexes (0-based) holding fen, shown as yuan
    money: set[int] = field(default_factory=set)


@dataclass
class ExportFile:
    body: bytes
    mimetype: str
    filename: str


def attachment(export: ExportFile) -> Response:
    """The one responder of an export: the file as an attachment with its type and name."""
    response = make_response(export.body)
    response.headers["Content-Type"] = export.mimetype
    response.headers["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    return response


def yuan(fen: int) -> Decimal:
    """Exact: 1234 fen → Decimal('12.34')."""
    return Decimal(int(fen)).scaleb(-2)


def local_time(moment: datetime | str | None, tz: str) -> datetime | None:
    if moment is None:
        return None
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.astimezone(ZoneInfo(tz)).replace(tzinfo=None, microsecond=0)


def render(fmt: str, sheets: Sequence[Sheet], basename: str) -> ExportFile:
    if fmt == "xlsx":
        return ExportFile(_xlsx(sheets), XLSX_MIME, f"{basename}.xlsx")
    return ExportFile(_csv(sheets), CSV_MIME, f"{basename}.csv")


#: what a spreadsheet evaluates when a cell starts with it (OWASP, "CSV injection")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralised(value: Any) -> Any:
    """A text cell a spreadsheet would not evaluate: one starting with ``=``, ``+``, ``-``, ``@``,
    tab or carriage return (a household named ``=HYPERLINK(…)``) gets a leading ``'``. Numbers
    (negative points) stay numbers; only text is touched."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _cell_text(value: Any, money: bool) -> str:
    if isinstance(value, str):
        return neutralised(value)
    if value is None:
        return ""
    if money and isinstance(value, int):
        return str(yuan(value))
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def _csv(sheets: Sequence[Sheet]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for number, sheet in enumerate(sheets):
        if len(sheets) > 1:
            if number:
                writer.writerow([])
            writer.writerow([sheet.title])
        writer.writerow(sheet.headers)
        for row in sheet.rows + ([sheet.totals] if sheet.totals else []):
            writer.writerow([_cell_text(v, i in sheet.money) for i, v in enumerate(row)])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _xlsx_text(value: Any) -> Any:
    """A name as XLSX can hold it: the control characters the format forbids (a head name
    imported or typed with a stray one) are dropped rather than failing the whole export."""
    return neutralised(ILLEGAL_CHARACTERS_RE.sub("", value)) if isinstance(value, str) else value


def _xlsx(sheets: Sequence[Sheet]) -> bytes:
    book = Workbook()
    book.remove(book.active)
    bold = Font(bold=True)
    for sheet in sheets:
        ws = book.create_sheet(sheet.title[:31])
        ws.append(sheet.headers)
        for cell in ws[1]:
            cell.font = bold
        rows = sheet.rows + ([sheet.totals] if sheet.totals else [])
        for row in rows:
            ws.append([yuan(v) if i in sheet.money and isinstance(v, int) else _xlsx_text(v) for i, v in enumerate(row)])
        for row_cells in ws.iter_rows(min_row=2):
            for i, cell in enumerate(row_cells):
                if cell.data_type == "f":  # text that openpyxl took for a formula: stored as the text
                    cell.data_type = "s"
                if i in sheet.money:
                    cell.number_format = MONEY_FORMAT
                elif isinstance(cell.value, int):
                    cell.number_format = INTEGER_FORMAT
                elif isinstance(cell.value, datetime):
                    cell.number_format = TIME_FORMAT
        if sheet.totals:
            for cell in ws[ws.max_row]:
                cell.font = bold
        ws.freeze_panes = "A2"
        for i, header in enumerate(sheet.headers, start=1):
            width = max([len(str(header)) * 2] + [len(_cell_text(r[i - 1], False)) for r in rows if i - 1 < len(r)])
            ws.column_dimensions[get_column_letter(i)].width = min(max(width + 2, 8), 40)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# --- what each export contains ------------------------------------------------------------

STATUS_ZH = {"draft": "草稿", "confirmed": "已确认", "paid": "已支付"}
KIND_ZH = {"redemption": "兑换", "adjustment": "调整（冲正）", "double_spend": "重复兑换（离线）"}


def statement_sheets(statement: dict[str, Any], lines: Sequence[Any], community: Any) -> list[Sheet]:
    tz = community.timezone
    summary = Sheet("结算单", ["社区", "商店", "期间", "状态", "笔数", "积分", "金额（元）", "调整笔数", "调整积分",
                              "调整金额（元）"],
                    [[community.name, statement["shop_name"], statement["period"],
                      STATUS_ZH.get(statement["status"], statement["status"]), statement["count"], statement["points"],
                      statement["amount_fen"], statement["adjustment_count"], statement["adjustment_points"],
                      statement["adjustment_fen"]]], money={6, 9})
    detail = Sheet("明细", ["序号", "类型", "兑换编号", "时间", "积分", "单价（元/分）", "金额（元）"],
                   [[n, KIND_ZH.get(line.kind, line.kind), line.redemption_id, local_time(line.occurred_at, tz),
                     line.points, line.point_value_fen, line.value_fen] for n, line in enumerate(lines, start=1)],
                   totals=["合计", "", "", "", statement["points"], "", statement["amount_fen"]], money={5, 6})
    return [summary, detail]


def ranking_sheet(ranking: Sequence[dict[str, Any]], title: str = "排名") -> Sheet:
    return Sheet(title, ["名次", "户号", "户主", "网格", "积分"],
                 [[e["rank"], e["number"], e["head_name"], e.get("grid") or "", e["points"]] for e in ranking],
                 totals=["合计", "", "", "", sum(e["points"] for e in ranking)])


def notice_sheets(board: dict[str, Any], tz: str) -> list[Sheet]:
    sheets = [ranking_sheet(board["ranking"])]
    if board.get("best_families") is not None:
        sheets.append(ranking_sheet(board["best_families"], "最美家庭"))
    sheets.append(Sheet("分类", ["类别代码", "类别", "记录数", "积分"],
                        [[c["category"], c["name"], c["records"], c["points"]] for c in board["categories"]],
                        totals=["合计", "", sum(c["records"] for c in board["categories"]),
                                sum(c["points"] for c in board["categories"])]))
    sheets.append(Sheet("网格", ["网格", "户数", "积分"],
                        [[g["grid"] or "", g["households"], g["points"]] for g in board["grids"]],
                        totals=["合计", sum(g["households"] for g in board["grids"]),
                                sum(g["points"] for g in board["grids"])]))
    if board.get("open_records") is not None:
        sheets.append(Sheet("公示中", ["记录编号", "户号", "户主", "规则", "类别", "积分", "日期", "异议截止"],
                            [[r["record_id"], r["number"], r["head_name"], r["rule_code"], r["category"], r["points"],
                              r["occurred_on"], local_time(r["objection_until"], tz)]
                             for r in board["open_records"]]))
    return sheets


# --- use cases ----------------------------------------------------------------------------

def export_statement(actor: Any, statement_id: int, fmt: str) -> ExportFile:
    from pointsbank.community.models import Community
    from pointsbank.extensions import db
    from pointsbank.reports import statements

    statement = statements.statement_for(actor, statement_id)
    community = db.session.get(Community, statement.community_id)
    view = statements.statement_view(statement)
    return render(fmt, statement_sheets(view, statements.statement_lines(statement), community),
                  f"settlement-{community.code}-{statement.period}-shop{statement.shop_id}")


def export_notice(actor: Any, community_id: int, period_key: str | None, fmt: str) -> ExportFile:
    from pointsbank.community.models import Community
    from pointsbank.extensions import db
    from pointsbank.reports import notice

    from pointsbank.shelf.services.reports import most_redeemed_sheet

    board = notice.get_notice(actor, community_id, period_key)
    community = db.session.get(Community, community_id)
    sheets = notice_sheets(board, community.timezone)
    shelf = most_redeemed_sheet(community, board["period"])  # only where the community wishes it
    return render(fmt, sheets + ([shelf] if shelf else []), f"notice-{community.code}-{board['period']}")


def export_ranking(actor: Any, community_id: int, period_key: str | None, fmt: str) -> ExportFile:
    from pointsbank.community.models import Community
    from pointsbank.extensions import db
    from pointsbank.reports import rankings

    view = rankings.community_ranking(actor, community_id, period_key)
    community = db.session.get(Community, community_id)
    return render(fmt, [ranking_sheet(view["ranking"])], f"ranking-{community.code}-{view['period']}")
