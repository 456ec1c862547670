"""Reading spreadsheets as Chinese offices save them: CSV (UTF-8 with or without BOM, or
GB18030) and XLSX, with English or Chinese headers in any order.

``read_table(data, filename, COLUMNS, required)`` gives one :class:`Row` per non-blank line,
numbered as a spreadsheet numbers them (the header is line 1), with the cells keyed by the
canonical column name. XLSX is read in openpyxl's read-only mode (streamed, not loaded whole)
and its date cells come back as dates. Blank lines are skipped; unknown columns are ignored.
"""

from __future__ import annotations

import csv
import functools
import io
import re
import warnings
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Iterator

from pointsbank.rules.errors import ImportColumnsMissing, ImportUnreadable

RECORD_COLUMNS = {"household_number": ("户号",), "rule_code": ("规则代码", "规则"), "occurred_on": ("日期",),
                  "quantity": ("数量",), "resident": ("居民",), "note": ("备注",)}
HOUSEHOLD_COLUMNS = {"number": ("户号",), "head_name": ("户主",), "grid": ("网格",), "address": ("地址",),
                     "members": ("成员",), "phone": ("电话", "手机")}
_DATE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?")


@dataclass(frozen=True)
class Row:
    line: int
    cells: dict[str, Any]


def _canonical(header: Any, columns: dict[str, tuple[str, ...]]) -> str | None:
    text = str(header if header is not None else "").replace("\ufeff", "").strip()
    key = re.sub(r"[\s\-]+", "_", text.lower())
    for name, aliases in columns.items():
        if key == name or text in aliases:
            return name
    return None


def _csv_rows(data: bytes) -> Iterator[list[Any]]:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise ImportUnreadable(problem="the text is neither UTF-8 nor GB18030")
    if "\x00" in text:
        raise ImportUnreadable(problem="the file holds binary data")
    first = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first and "," not in first else ","
    try:
        yield from csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    except csv.Error as error:
        raise ImportUnreadable(problem=str(error)) from None


def _xlsx_rows(data: bytes) -> Iterator[tuple[Any, ...]]:
    import openpyxl

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # openpyxl warns about styles it does not need
            workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as error:
        raise ImportUnreadable(problem=f"not a valid XLSX workbook ({error})") from None
    try:
        sheet = workbook.worksheets[0]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield from sheet.iter_rows(values_only=True)
    finally:
        workbook.close()


def _is_xlsx(data: bytes, filename: str | None) -> bool:
    return data[:4] == b"PK\x03\x04" or (filename or "").lower().endswith((".xlsx", ".xlsm"))


def read_table(data: bytes, filename: str | None, columns: dict[str, tuple[str, ...]],
               required: tuple[str, ...]) -> list[Row]:
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise ImportUnreadable(problem="old .xls workbooks are not read; save it as .xlsx or CSV")
    lines = _xlsx_rows(data) if _is_xlsx(data, filename) else _csv_rows(data)
    header: list[str | None] | None = None
    named_at: list[tuple[int, str]] = []
    rows = []
    for number, cells in enumerate(lines, start=1):
        if header is None:
            if _blank_line(cells):
                continue
            header = [_canonical(cell, columns) for cell in cells]
            named = [name for name in header if name]
            twice = sorted({name for name in named if named.count(name) > 1})
            if twice:
                raise ImportUnreadable(problem=f"the column(s) {', '.join(twice)} appear twice")
            missing = [name for name in required if name not in named]
            if missing:
                raise ImportColumnsMissing(columns=", ".join(missing), details={"missing": missing})
            named_at = [(i, name) for i, name in enumerate(header) if name]
            continue
        if _blank_line(cells):
            continue
        width = len(cells)
        rows.append(Row(number, {name: cells[i] for i, name in named_at if i < width}))
    if header is None:
        raise ImportColumnsMissing(columns=", ".join(required), details={"missing": list(required)})
    return rows


def _blank(cell: Any) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())


def _blank_line(cells: Any) -> bool:
    """Every cell blank; for text cells (all of a CSV line) one strip of them joined."""
    try:
        return not "".join(cells).strip()
    except TypeError:  # XLSX: numbers, dates, None
        return all(_blank(cell) for cell in cells)


# --- cell values ---------------------------------------------------------------------------

def text(cell: Any) -> str | None:
    """A cell as trimmed text (numbers without a spurious ``.0``); None when blank."""
    if type(cell) is str:  # every CSV cell: one strip
        return cell.strip() or None
    if _blank(cell):
        return None
    if isinstance(cell, float) and cell.is_integer():
        cell = int(cell)
    return str(cell).strip()


def day(cell: Any) -> date | None:
    """``2026-04-03``, ``2026/4/3``, ``2026年4月3日`` or an Excel date; None when not a date."""
    if isinstance(cell, datetime):
        return cell.date()
    if isinstance(cell, date):
        return cell
    return _day_text(cell.strip()) if isinstance(cell, str) else None


@functools.lru_cache(maxsize=4096)
def _day_text(text: str) -> date | None:
    """Cached: an import's rows share a few hundred dates."""
    match = _DATE.fullmatch(text)
    if match is None:
        return None
    try:
        return date(*(int(part) for part in match.groups()))
    except ValueError:
        return None


def whole_number(cell: Any) -> int | None:
    """A positive whole number from ``3``, ``"3"`` or an Excel ``3.0``; None otherwise."""
    if isinstance(cell, bool):
        return None
    if isinstance(cell, float):
        cell = int(cell) if cell.is_integer() else None
    elif isinstance(cell, str):  # 1 to 9 decimal digits (what ``\d`` matches), blanks around
        digits = cell.strip()
        cell = int(digits) if 0 < len(digits) <= 9 and digits.isdecimal() else None
    return cell if isinstance(cell, int) and 0 < cell <= 1_000_000 else None
