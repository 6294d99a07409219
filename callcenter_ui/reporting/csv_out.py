"""CSV for the finance office's Excel, as people in BiH open it.

Decision: Excel with a Bosnian, Serbian or Croatian regional setting uses ``;`` as the list separator
and ``,`` as the decimal mark, and opens a ``.csv`` by double click in the ANSI code page unless the
file starts with a UTF-8 byte-order mark. So: UTF-8 with BOM, ``;`` between cells, CRLF line ends,
decimal comma, no thousands separator (it would turn 1.234 into a date or a text), dates as ISO
``YYYY-MM-DD`` (unambiguous for every locale).

CSV injection (OWASP): a text cell starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return is
read by spreadsheets as a formula, so it is prefixed with ``'``. Numbers we format ourselves are
numbers and are never prefixed (a negative variance stays a number).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from decimal import Decimal

from callcenter_ui.reporting.tabular import Cell, Sheet

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"


def guard(text: str) -> str:
    """Neutralise a text cell that a spreadsheet would run as a formula."""
    return "'" + text if text.startswith(FORMULA_START) else text


def cell_text(value: Cell) -> str:
    """Render one cell: numbers with a decimal comma, text guarded against formulas."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return format(value, "f").replace(".", ",")
    if isinstance(value, float):
        return repr(round(value, 6)).replace(".", ",") if value != int(value) else str(int(value))
    return guard(value)


def write_csv(sheets: Iterable[Sheet], *, titles: bool = True) -> bytes:
    """Write sheets one after another (a title line, the header, the rows, a blank line)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    for sheet in sheets:
        if titles:
            writer.writerow([cell_text(sheet.name)])
        writer.writerow([cell_text(c) for c in sheet.header])
        for row in sheet.rows:
            writer.writerow([cell_text(c) for c in row])
        writer.writerow([])
    return (BOM + buffer.getvalue()).encode("utf-8")
