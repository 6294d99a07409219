"""Privacy: tickets full of personal data, and every public byte searched for it, in both scripts."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import unquote

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from core.bootstrap import Core
from core.db.models import InboundItem, Ticket, User, Voicemail
from core.messages import Channel
from core.text import fold, to_latin
from tests.integration.public.conftest import move, report

NAME = "Драгана Петровић"
OTHER_NAME = "Милош Јовановић"
EMAIL = "dragana.petrovic@example.ba"
PHONES = ("066/987-654", "+387 66 987 654", "00387 66 987654")
JMBG = "0101990175001"
ADDRESS = "Улица Светог Саве 12"
SECRET_TEXT = "ТАЈНИОПИС"
DESCRIPTION = (
    f"Зовем се {NAME}, ЈМБГ {JMBG}, живим у {ADDRESS}, телефон {PHONES[0]}, е-пошта {EMAIL}. "
    f"Комшија {OTHER_NAME} каже да нема воде. {SECRET_TEXT}"
)
FOLDED_WORDS = ("dragan", "petrovic", "milos", "jovanovic", "example.ba", "tajniopis", "jmbg")


def _digits_pattern(digits: str) -> re.Pattern[str]:
    """Match a digit sequence written with any separators (spaces, slashes, dots, dashes)."""
    return re.compile(r"\D{0,3}".join(re.escape(d) for d in digits))


DIGIT_PATTERNS = [_digits_pattern("66987654"), _digits_pattern(JMBG), _digits_pattern("1990175")]


def _seed(core: Core, user: User, partner_token: str, client: FlaskClient) -> list[str]:
    """Create tickets on several channels full of personal data; return their codes."""
    codes = [
        report(core, DESCRIPTION, channel=Channel.PHONE, category="voda", phone=PHONES[0], name=NAME, place=ADDRESS),
        report(core, DESCRIPTION, channel=Channel.SMS, phone=PHONES[1]),
        report(core, DESCRIPTION, channel=Channel.EMAIL, email=EMAIL, name=NAME, category="rasvjeta"),
        report(core, DESCRIPTION, channel=Channel.VOICEMAIL, phone=PHONES[2], category="smece", place=ADDRESS),
        report(core, DESCRIPTION, channel=Channel.WALK_IN, name=OTHER_NAME, place=f"{ADDRESS}, Котор Варош"),
    ]
    # A careless public note: the operator pasted the citizen's name (declined), number and address.
    move(core, user, codes[0], "in_progress", core.clock.now(),
         public=f"Звали смо госпођу Петровић (Драгану) на {PHONES[1]}, екипа иде у Светог Саве 12.",
         internal=f"Интерно: {DESCRIPTION}")  # fmt: skip
    move(core, user, codes[2], "resolved", core.clock.now(), public="Замијењена сијалица.", internal=NAME)
    with core.session_factory() as db:
        ticket = db.scalar(sa.select(Ticket).where(Ticket.code == codes[3]))
        assert ticket is not None
        db.add(
            Voicemail(
                mailbox="1000", msg_key="privacy-1", ticket_id=ticket.id, received_at=core.clock.now(),
                transcript_text=DESCRIPTION, publish_transcript=True,
                # A redaction that missed the name and number: the public page must still not show them.
                transcript_redacted=f"Зовем се {NAME}, број {PHONES[2]}. Нема воде.",
            )
        )  # fmt: skip
        db.commit()
    res = client.post(
        "/open311/v2/requests.json",
        data={
            "api_key": partner_token, "service_code": "putevi", "address_string": ADDRESS, "description": DESCRIPTION,
            "email": EMAIL, "phone": PHONES[1], "first_name": "Драгана", "last_name": "Петровић", "lat": "44.62", "long": "17.37",
        },
    )  # fmt: skip
    assert res.status_code == 200
    codes.append(json.loads(res.data)[0]["service_request_id"])
    return codes


def _leaks(body: str) -> list[str]:
    """Return every piece of personal data found in a body (raw, unescaped, folded, both scripts)."""
    variants = {body, html.unescape(body), unquote(body)}
    found: list[str] = []
    for text in variants:
        for candidate in (text, to_latin(text)):
            for secret in (NAME, OTHER_NAME, EMAIL, ADDRESS, SECRET_TEXT, *PHONES, JMBG):
                if secret.casefold() in candidate.casefold() or to_latin(secret).casefold() in candidate.casefold():
                    found.append(secret)
        folded = fold(text)
        found += [w for w in FOLDED_WORDS if w in folded]
        found += [p.pattern for p in DIGIT_PATTERNS if p.search(text)]
        if re.search(r"save\W{0,3}12", folded):
            found.append("house number")
    return sorted(set(found))


def test_no_personal_data_anywhere(
    core: Core, client: FlaskClient, supervisor: User, partner_token: str, tmp_path: Path
) -> None:
    """No public page, PDF, radio script, feed or Open311 answer carries any personal data."""
    codes = _seed(core, supervisor, partner_token, client)
    with core.session_factory() as db:
        token = db.scalar(sa.select(InboundItem.source_key).where(InboundItem.channel == "open311"))
    assert token is not None
    paths = ["/", "/portal", "/portal?status=received", "/trazi?kod=48-2026-999999", "/t/48-2026-999999", "/feed.atom",
             "/sedmica", "/open311/v2/services.json", "/open311/v2/services.xml", "/open311/v2/services/voda.json",
             "/open311/v2/requests.json", "/open311/v2/requests.xml", "/open311/v2/discovery.json",
             f"/open311/v2/tokens/{token.removeprefix('open311:')}.json",
             f"/open311/v2/tokens/{token.removeprefix('open311:')}.xml",
             f"/open311/v2/requests.json?service_request_id={','.join(codes)}"]  # fmt: skip
    for code in codes:
        paths += [f"/t/{code}", f"/open311/v2/requests/{code}.json", f"/open311/v2/requests/{code}.xml"]
    week_label = client.get("/sedmica/2026-W45.pdf").status_code and "2026-W45"
    bodies: dict[str, bytes] = {}
    for path in paths:
        for pismo in ("cir", "lat", "en"):
            sep = "&" if "?" in path else "?"
            res = client.get(f"{path}{sep}pismo={pismo}")
            assert res.status_code in (200, 303, 404), path
            bodies[f"{path} [{pismo}]"] = res.data + str(res.headers).encode()
    for pismo in ("cir", "lat", "en"):
        bodies[f"radio [{pismo}]"] = client.get(f"/sedmica/{week_label}/radio.txt?pismo={pismo}").data
        pdf = client.get(f"/sedmica/{week_label}.pdf?pismo={pismo}").data
        bodies[f"pdf raw [{pismo}]"] = pdf
        if shutil.which("pdftotext"):
            target = tmp_path / f"week-{pismo}.pdf"
            target.write_bytes(pdf)
            text = subprocess.run(["pdftotext", str(target), "-"], capture_output=True, check=True).stdout
            assert "Систем 48".encode() in text or b"Sistem 48" in text
            bodies[f"pdf text [{pismo}]"] = text
    leaks = {where: found for where, body in bodies.items() if (found := _leaks(body.decode("utf-8", "replace")))}
    assert leaks == {}
    # The pages did show what is public: the careless note survives without its personal parts.
    page = client.get(f"/t/{codes[0]}?pismo=cir").get_data(as_text=True)
    assert "Звали смо госпођу" in page and "екипа иде у" in page
    assert "Улица Светог Саве" in page  # a street is public; the house number is not
    assert "Нема воде." in client.get(f"/t/{codes[3]}").get_data(as_text=True)


def test_seeded_data_really_is_there(core: Core, client: FlaskClient, supervisor: User, partner_token: str) -> None:
    """A negative control: the personal data exists in the database, so the search above means something."""
    _seed(core, supervisor, partner_token, client)
    with core.session_factory() as db:
        descriptions = db.scalars(sa.select(Ticket.description)).all()
    assert any(_leaks(d) for d in descriptions)
    assert "house number" in _leaks(ADDRESS) and _digits_pattern("66987654").search(PHONES[1])


@pytest.mark.parametrize("phone", PHONES)
def test_phone_spellings_are_caught(phone: str) -> None:
    """The leak detector itself finds every phone spelling (so a pass is not a blind spot)."""
    assert _leaks(f"<p>{phone}</p>")
