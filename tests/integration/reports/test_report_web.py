"""The report endpoints: who may see what, every format in both scripts, PDFs that render, safe CSV."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from PIL import Image

from core.bootstrap import Core
from core.db.models import AuditEvent
from tests.integration.reports.conftest import Staff
from tests.integration.reports.seeding import Seeded
from tests.integration.web.conftest import bearer

pytestmark = pytest.mark.usefixtures("seeded")
YEAR_QUERY = "organisation=vodovod&from=2025-01-01&to=2025-12-31"


def pdf_pages_have_ink(pdf: bytes, tmp: Path) -> list[float]:
    """Render every page with pdftoppm and return each page's share of non-white pixels."""
    if shutil.which("pdftoppm") is None:
        pytest.fail("pdftoppm missing: apt-get install -y poppler-utils")
    (tmp / "pack.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(tmp / "pack.pdf"), str(tmp / "page")], check=True, timeout=60)
    shares = []
    for page in sorted(tmp.glob("page-*.png")):
        with Image.open(page) as img:
            grey = img.convert("L")
            hist = grey.histogram()
            shares.append(1 - sum(hist[250:]) / (grey.width * grey.height))
    return shares


@pytest.mark.parametrize("script", ["cyrl", "latn"])
def test_pack_pdf_renders_non_empty_pages(client: FlaskClient, staff: Staff, tmp_path: Path, script: str) -> None:
    """A supervisor's yearly PDF for JP Vodovod has several pages, each with visible content."""
    response = client.get(f"/reports/pack.pdf?{YEAR_QUERY}&script={script}", headers=bearer(staff.supervisor))
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF")
    assert response.headers["Cache-Control"] == "no-store"
    shares = pdf_pages_have_ink(response.data, tmp_path)
    assert len(shares) >= 5
    assert all(share > 0.005 for share in shares), shares


@pytest.mark.parametrize(("script", "word"), [("cyrl", "Примљено захтјева"), ("latn", "Primljeno zahtjeva")])
def test_pack_csv_in_both_scripts_is_excel_ready_and_injection_safe(
    client: FlaskClient, staff: Staff, seeded: Seeded, script: str, word: str
) -> None:
    """CSV: UTF-8 BOM, semicolons, decimal comma, labels in the chosen script, formulas neutralised."""
    response = client.get(f"/reports/pack.csv?{YEAR_QUERY}&script={script}", headers=bearer(staff.supervisor))
    assert response.status_code == 200
    assert response.data.startswith(b"\xef\xbb\xbf")
    text = response.data.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert [word, str(seeded.tickets["vodovod"])] in [r[:2] for r in rows]
    cells = [c for r in rows for c in r]
    assert not any(c.startswith(("=", "+", "-", "@")) for c in cells), [c for c in cells if c[:1] in "=+-@"]
    assert any(c.startswith("'=HYPERLINK") or c.startswith("'@SUM") or c.startswith("'+1") for c in cells)
    assert any("," in c and c.replace(",", "").isdigit() for c in cells)  # a decimal comma number
    other = "Примљено" if script == "latn" else "Primljeno"
    assert other not in text


def test_pack_ods_is_a_valid_spreadsheet(client: FlaskClient, staff: Staff) -> None:
    """ODS: mimetype stored first, content.xml with one table per section and numeric cells."""
    response = client.get(f"/reports/pack.ods?{YEAR_QUERY}&script=latn", headers=bearer(staff.supervisor))
    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    first = archive.infolist()[0]
    assert (first.filename, first.compress_type) == ("mimetype", zipfile.ZIP_STORED)
    assert archive.read("mimetype") == b"application/vnd.oasis.opendocument.spreadsheet"
    content = archive.read("content.xml").decode("utf-8")
    assert content.count("<table:table ") >= 9
    assert 'office:value-type="float"' in content
    assert "Primljeno zahtjeva" in content


def test_roles_on_the_endpoints(client: FlaskClient, staff: Staff) -> None:
    """Anonymous 401, operator 403, department own organisation only, supervisor everything."""
    assert client.get(f"/reports/pack.csv?{YEAR_QUERY}").status_code == 401
    assert client.get(f"/reports/pack.csv?{YEAR_QUERY}", headers=bearer(staff.operator)).status_code == 403
    assert client.get(f"/reports/pack.csv?{YEAR_QUERY}", headers=bearer(staff.vodovod)).status_code == 200
    other = YEAR_QUERY.replace("vodovod", "komunalno")
    assert client.get(f"/reports/pack.csv?{other}", headers=bearer(staff.vodovod)).status_code == 403
    assert client.get(f"/reports/pack.csv?{other}", headers=bearer(staff.komunalno)).status_code == 200
    assert (
        client.get("/reports/pack.csv?from=2025-01-01&to=2025-01-31", headers=bearer(staff.vodovod)).status_code == 200
    )
    assert client.get(f"/reports/pack.csv?{other}", headers=bearer(staff.supervisor)).status_code == 200
    for path in ("/reports/planning.csv?year=2025", "/reports/comparison?from=2025-01-01&to=2025-03-31"):
        assert client.get(path).status_code == 401
        assert client.get(path, headers=bearer(staff.operator)).status_code == 403
        assert client.get(path, headers=bearer(staff.vodovod)).status_code == 403
        assert client.get(path, headers=bearer(staff.supervisor)).status_code == 200
    assert client.get("/reports", headers=bearer(staff.operator)).status_code == 403
    assert client.get("/reports").status_code == 302


def test_bad_parameters_are_refused(client: FlaskClient, staff: Staff) -> None:
    """Unknown formats, organisations and dates give clean errors, not stack traces."""
    auth = bearer(staff.supervisor)
    assert client.get(f"/reports/pack.exe?{YEAR_QUERY}", headers=auth).status_code == 404
    assert client.get("/reports/pack.csv?organisation=nope", headers=auth).status_code == 404
    assert client.get("/reports/pack.csv?organisation=vodovod&from=yesterday", headers=auth).status_code == 400
    assert (
        client.get("/reports/pack.csv?organisation=vodovod&from=2025-02-01&to=2025-01-01", headers=auth).status_code
        == 400
    )
    assert client.get("/reports/planning.csv?year=abc", headers=auth).status_code == 400


def test_supervisor_page_shows_pack_and_top_recurring_places(client: FlaskClient, staff: Staff, core: Core) -> None:
    """The console page shows the pack's figures, the top recurring place first, escaped, in Latin on request."""
    response = client.get(f"/reports?{YEAR_QUERY}&script=latn", headers=bearer(staff.supervisor))
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Primljeno zahtjeva" in page
    assert "Mjesta gdje se problemi ponavljaju" in page
    hot = page.split('class="hotspots"')[1]
    assert "Baština" in hot.split("</tr>")[1]  # the seeded hot place leads the list
    assert "<script" not in page
    cyr = client.get(f"/reports?{YEAR_QUERY}", headers=bearer(staff.supervisor)).get_data(as_text=True)
    assert "Примљено захтјева" in cyr
    dept = client.get("/reports?organisation=komunalno", headers=bearer(staff.vodovod))
    assert dept.status_code == 403


def test_comparison_csv_and_html(client: FlaskClient, staff: Staff) -> None:
    """The comparison is a page and a CSV with one row per organisation and month."""
    auth = bearer(staff.supervisor)
    page = client.get("/reports/comparison?from=2025-01-01&to=2025-12-31&script=latn", headers=auth)
    assert page.status_code == 200
    assert "Poređenje organizacija" in page.get_data(as_text=True)
    data = client.get("/reports/comparison.csv?from=2025-01-01&to=2025-12-31", headers=auth)
    assert data.status_code == 200
    rows = list(csv.reader(io.StringIO(data.data.decode("utf-8-sig")), delimiter=";"))
    assert sum(1 for r in rows if len(r) > 1 and r[1].startswith("2025-")) % 12 == 0


def test_exports_are_audited(client: FlaskClient, staff: Staff, core: Core) -> None:
    """Every download leaves an audit line with who, what and the period."""
    client.get(f"/reports/pack.csv?{YEAR_QUERY}", headers=bearer(staff.supervisor))
    client.get("/reports/planning.csv?year=2025", headers=bearer(staff.supervisor))
    with core.session_factory() as session:
        rows = session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == "report.export").order_by(AuditEvent.id)
        ).all()
    assert [r.object_id for r in rows] == ["pack", "planning"]
    assert rows[0].fields_changed == {
        "organisation": "vodovod",
        "from": "2025-01-01",
        "to": "2025-12-31",
        "format": "csv",
    }
