"""A minimal OpenDocument spreadsheet writer (no dependency): one table per sheet, typed cells.

The package layout follows ODF 1.2 part 3: ``mimetype`` first and stored uncompressed, then the
manifest, then ``content.xml``. Numbers are ``office:value-type="float"`` so LibreOffice and Excel
sum them; text goes through XML escaping, and characters XML 1.0 forbids are dropped. Formula
injection does not apply: a cell's text is never a formula unless ``table:formula`` is written.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterable
from decimal import Decimal
from xml.sax.saxutils import escape, quoteattr

from callcenter_ui.reporting.tabular import Cell, Sheet

MIMETYPE = "application/vnd.oasis.opendocument.spreadsheet"
_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_FIXED_TIME = (2000, 1, 1, 0, 0, 0)  # zip entry times fixed: the same report gives the same bytes

MANIFEST = f"""<?xml version="1.0" encoding="UTF-8"?>
<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">
 <manifest:file-entry manifest:full-path="/" manifest:version="1.2" manifest:media-type="{MIMETYPE}"/>
 <manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>
</manifest:manifest>
"""

HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"
 xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"
 xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">
<office:body><office:spreadsheet>
"""
TAIL = "</office:spreadsheet></office:body></office:document-content>\n"


def _text(value: str) -> str:
    """Escape text for XML content."""
    return escape(_XML_FORBIDDEN.sub("", value))


def _cell(value: Cell) -> str:
    """Render one table cell."""
    if value is None:
        return "<table:table-cell/>"
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        number = format(value, "f") if isinstance(value, Decimal) else repr(value)
        return f'<table:table-cell office:value-type="float" office:value="{number}"><text:p>{number}</text:p></table:table-cell>'
    return f'<table:table-cell office:value-type="string"><text:p>{_text(str(value))}</text:p></table:table-cell>'


def _sheet_name(name: str, used: set[str]) -> str:
    """Return a unique sheet name without the characters spreadsheets refuse in names."""
    base = re.sub(r"[\[\]*?:/\\']", " ", _XML_FORBIDDEN.sub("", name)).strip()[:31] or "Sheet"
    candidate, n = base, 2
    while candidate in used:
        candidate = f"{base[:28]} {n}"
        n += 1
    used.add(candidate)
    return candidate


def write_ods(sheets: Iterable[Sheet]) -> bytes:
    """Write sheets as an .ods document."""
    parts = [HEAD]
    used: set[str] = set()
    for sheet in sheets:
        parts.append(f"<table:table table:name={quoteattr(_sheet_name(sheet.name, used))}>")
        for row in [sheet.header, *sheet.rows]:
            parts.append("<table:table-row>" + "".join(_cell(c) for c in row) + "</table:table-row>")
        parts.append("</table:table>")
    parts.append(TAIL)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr(zipfile.ZipInfo("mimetype", _FIXED_TIME), MIMETYPE, compress_type=zipfile.ZIP_STORED)
        zf.writestr(zipfile.ZipInfo("META-INF/manifest.xml", _FIXED_TIME), MANIFEST, compress_type=zipfile.ZIP_DEFLATED)
        zf.writestr(zipfile.ZipInfo("content.xml", _FIXED_TIME), "".join(parts), compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()
