"""CSV for Excel in BiH and the minimal ODS writer."""

from __future__ import annotations

import io
import zipfile
from decimal import Decimal
from xml.etree import ElementTree

import pytest

from callcenter_ui.reporting.csv_out import cell_text, guard, write_csv
from callcenter_ui.reporting.labels import fmt_number, label
from callcenter_ui.reporting.ods import write_ods
from callcenter_ui.reporting.tabular import Sheet


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1+2", "@SUM(A1)", "\tx", "\rx", '=HYPERLINK("http://x")'])
def test_formula_cells_are_prefixed(text: str) -> None:
    """A text cell a spreadsheet would evaluate starts with an apostrophe."""
    assert guard(text) == "'" + text


def test_plain_text_and_numbers_are_left_alone() -> None:
    """Ordinary text is unchanged; numbers use a decimal comma and negative numbers stay numbers."""
    assert guard("Водовод") == "Водовод"
    assert cell_text(Decimal("-1234.50")) == "-1234,50"
    assert cell_text(12) == "12"
    assert cell_text(57.2) == "57,2"
    assert cell_text(None) == ""


def test_csv_is_utf8_bom_semicolon_crlf() -> None:
    """The file opens correctly by double click in Excel with a BiH regional setting."""
    body = write_csv([Sheet("Лист", ["а", "б"], [["x;y", Decimal("1.50")], ["=cmd", 3]])])
    assert body.startswith(b"\xef\xbb\xbf")
    text = body.decode("utf-8-sig")
    assert text.split("\r\n")[:4] == ["Лист", "а;б", '"x;y";1,50', "'=cmd;3"]


def test_ods_is_well_formed_and_typed() -> None:
    """content.xml parses, numbers are floats, forbidden XML characters are dropped, names are unique."""
    body = write_ods([Sheet("Сажетак", ["a"], [["<b>&\x00"], [Decimal("2.50")]]), Sheet("Сажетак", ["b"], [[7]])])
    archive = zipfile.ZipFile(io.BytesIO(body))
    assert archive.namelist()[0] == "mimetype"
    root = ElementTree.fromstring(archive.read("content.xml"))  # noqa: S314  our own output, not untrusted input
    ns = {
        "table": "urn:oasis:names:tc:opendocument:xmlns:table:1.0",
        "office": "urn:oasis:names:tc:opendocument:xmlns:office:1.0",
    }
    names = [t.get(f"{{{ns['table']}}}name") for t in root.iter(f"{{{ns['table']}}}table")]
    assert names == ["Сажетак", "Сажетак 2"]
    values = [c.get(f"{{{ns['office']}}}value") for c in root.iter(f"{{{ns['table']}}}table-cell")]
    assert "2.50" in values
    assert b"<b>" not in archive.read("content.xml")


def test_labels_in_both_scripts_and_local_number_format() -> None:
    """Latin labels are derived from Cyrillic; numbers read 1.234,5."""
    assert label("received", "cyrl") == "Примљено захтјева"
    assert label("received", "latn") == "Primljeno zahtjeva"
    assert fmt_number(1234.5) == "1.234,5"
    assert fmt_number(None) == "—"
