"""Department staff in the browser: their own tickets only, status with notes and a photo, costs, clusters."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
import sqlalchemy as sa
from PIL import Image

from core.db.models import Attachment, AuditEvent, Citizen, CostEntry, OutboxItem, StatusChange, Ticket
from core.messages import Channel, ReceiveReport
from core.services.intake import receive
from tests.e2e.conftest import Browsing, Site, shot, temp_dir

pytestmark = pytest.mark.e2e


def _report(site: Site, text: str, phone: str, category: str) -> str:
    """Record an SMS report in a category; return its code."""
    cmd = ReceiveReport(channel=Channel.SMS, text=text, phone=phone, category=category)
    return receive(site.core.uow(), cmd, site.core.intake_policy).ticket_code


def test_department_cannot_open_another_organisations_ticket(site: Site, browsing: Browsing) -> None:
    """Water company staff get 403 for a communal company's ticket, in the API and in the console."""
    theirs = _report(site, "Смеће није одвезено већ двије седмице", "065 700 701", "smece")
    ours = _report(site, "Цури вода из шахта", "065 700 702", "voda")
    page = browsing.login(site.user("department", organisation="vodovod"))
    assert page.request.get(f"{site.url}/api/v1/tickets/{theirs}").status == 403
    assert page.request.get(f"{site.url}/console/api/tickets/{theirs}").status == 403
    assert page.request.get(f"{site.url}/console/api/tickets/{ours}").status == 200
    page.wait_for_selector(f"#dept-tickets tr[data-ticket='{ours}']")
    assert theirs not in page.inner_text("#dept-tickets")
    page.evaluate(f"window.S48.openTicket({theirs!r})")
    page.wait_for_selector("#toast[data-kind='error']")
    assert "није у надлежности" in page.inner_text("#toast")
    assert page.is_hidden("#ticket")


def _photo_with_exif() -> bytes:
    """Return a small JPEG that carries EXIF (camera model), which must not survive."""
    image = Image.new("RGB", (64, 48), (30, 120, 200))
    exif = Image.Exif()
    exif[0x0110] = "Citizen Phone X"
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def test_department_resolves_cluster_with_public_note_photo_and_costs(site: Site, browsing: Browsing) -> None:
    """Three reports of one water cut are linked; resolving the primary answers each citizen in their script."""
    primary = _report(site, "Нема воде у Шипрагама", "065 800 801", "voda")
    second = _report(site, "Nema vode u Šipragama od jutros", "065 800 802", "voda")
    third = _report(site, "Ни код нас у Шипрагама нема воде", "065 800 803", "voda")
    with site.core.session_factory() as db:
        db.execute(sa.update(Citizen).where(Citizen.phone_e164 == "+38765800802").values(script="sr-Latn"))
        db.commit()
    page = browsing.login(site.user("department", organisation="vodovod"))
    for member in (second, third):
        page.evaluate(f"window.S48.openTicket({member!r})")
        page.wait_for_selector(f"#ticket[data-code='{member}']:not([hidden])")
        page.fill("#cluster-primary", primary)
        page.click("#cluster-form button[type=submit]")
        page.wait_for_selector("#ticket-cluster .reporters")
    page.evaluate(f"window.S48.openTicket({primary!r})")
    page.wait_for_selector(f"#ticket[data-code='{primary}']:not([hidden])")
    page.wait_for_selector("#ticket-cluster .reporters:has-text('3')")
    assert "3 грађана је пријавило овај проблем" in page.inner_text("#ticket-cluster")
    # Costs: hours, materials, amount.
    page.fill("#cost-hours", "3,5")
    page.fill("#cost-materials", "спојница DN100")
    page.fill("#cost-amount", "84.20")
    page.click("#cost-form button[type=submit]")
    page.wait_for_selector("#cost-list .total")
    assert "84.20" in page.inner_text("#cost-list")
    # Resolution without a public note is refused before it leaves the browser.
    page.select_option("#status-select", "resolved")
    page.click("#status-form button[type=submit]")
    page.wait_for_selector("#status-result:has-text('јавна напомена')")
    page.fill("#status-public", "Квар на цјевоводу је отклоњен, вода је поново пуштена.")
    page.fill("#status-internal", "Замијењена спојница, екипа 2.")
    upload = temp_dir() / "kvar.jpg"
    upload.write_bytes(_photo_with_exif())
    page.set_input_files("#status-photo", str(upload))
    page.click("#status-form button[type=submit]")
    page.wait_for_selector("#ticket-status[data-status='resolved']")
    page.wait_for_selector("#ticket-photos img")
    shot(page, "department-resolved")
    with site.core.session_factory() as db:
        tickets = {t.code: t for t in db.scalars(sa.select(Ticket).where(Ticket.code.in_((primary, second, third))))}
        assert {t.status for t in tickets.values()} == {"resolved"}
        notes = db.scalars(
            sa.select(StatusChange.public_note).where(
                StatusChange.ticket_id.in_([t.id for t in tickets.values()]), StatusChange.to_status == "resolved"
            )
        ).all()
        assert len(notes) == 3 and all(n and n.startswith("Квар на цјевоводу") for n in notes)
        notices = db.scalars(sa.select(OutboxItem).where(OutboxItem.kind == "notify_citizen")).all()
        answers = {n.payload["address"]: n.payload["body"] for n in notices if "1 (" in n.payload["body"]}
        assert {"+38765800801", "+38765800802", "+38765800803"} <= set(answers)
        assert "Kvar na cjevovodu" in answers["+38765800802"]  # that citizen writes Latin
        assert "Квар на цјевоводу" in answers["+38765800801"]
        attachment = db.scalar(sa.select(Attachment).where(Attachment.ticket_id == tickets[primary].id))
        assert attachment is not None
        with Image.open(attachment.storage_path) as stored:
            assert not stored.getexif()
        assert db.scalar(sa.select(CostEntry.amount).where(CostEntry.ticket_id == tickets[primary].id)) == Decimal(
            "84.20"
        )
        audited = set(db.scalars(sa.select(AuditEvent.action).where(AuditEvent.object_id == primary)))
        assert {"ticket.view", "ticket.status", "ticket.cost"} <= audited


def test_supervisor_sees_calls_on_time_rates_and_audit(site: Site, browsing: Browsing) -> None:
    """The supervisor's overview counts today's calls and shows the audit log of PII reads."""
    call = site.pbx.script("065900901", "Зоран")
    site.pbx.ring(call, "399")
    site.pbx.miss(call)
    code = _report(site, "Поплављен подрум након кише", "065 900 902", "kanalizacija")
    page = browsing.login(site.user("supervisor"))
    page.evaluate(f"window.S48.openTicket({code!r})")
    page.wait_for_selector(f"#ticket[data-code='{code}']:not([hidden])")
    page.keyboard.press("Escape")
    tabs = page.eval_on_selector_all("[role=tab]", "els => els.map(e => e.dataset.tab)")
    overview = tabs.index("overview") + 1
    page.keyboard.press(f"Alt+{overview}")
    page.wait_for_selector("[data-stat='total']:not(:text('–'))")
    assert int(page.inner_text("[data-stat='missed']")) >= 1
    assert page.inner_text("#on-time tbody")  # per organisation (a rate only from 5 decided tickets)
    shot(page, "supervisor")
    page.keyboard.press(f"Alt+{overview + 1}")
    page.wait_for_selector(f"#audit-list tbody tr:has-text('{code}')")
    shot(page, "audit")
