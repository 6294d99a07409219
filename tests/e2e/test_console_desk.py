"""Operator work queues in the browser: voicemail with transcript and audio, walk-in, search, language."""

from __future__ import annotations

import itertools

import pytest
import sqlalchemy as sa

from core.db.models import AuditEvent, Ticket, User, Voicemail
from telephony.demo import write_tone_wav
from tests.e2e.conftest import CODE, Browsing, Site, shot

pytestmark = pytest.mark.e2e
_keys = itertools.count(1)


def add_voicemail(site: Site, text: str, *, low: set[str] | frozenset[str] = frozenset()) -> int:
    """Store a transcribed voicemail with a real WAV under var/ (words in ``low`` get a low confidence)."""
    n = next(_keys)
    folder = site.core.settings.var_dir / "voicemail-e2e"
    folder.mkdir(parents=True, exist_ok=True)
    audio = folder / f"msg{n:04d}.wav"
    write_tone_wav(audio, seconds=1.0)
    words = [{"word": w, "conf": 0.3 if w in low else 0.95, "start": i * 0.4, "end": i * 0.4 + 0.3}
             for i, w in enumerate(text.split(" "))]  # fmt: skip
    with site.core.session_factory() as db:
        vm = Voicemail(
            mailbox="4800@sistem48",
            msg_key=f"e2e-{n}",
            audio_path=str(audio),
            duration_s=1,
            received_at=site.core.clock.now(),
            transcript_status="done",
            transcript_text=text,
            transcript_words={"engine": "vosk", "model": "e2e", "words": words},
            transcript_confidence=0.8,
            needs_human=bool(low),
            meta={"caller_number": "+38765123123", "caller_name": "Говорна порука"},
        )
        db.add(vm)
        db.commit()
        return vm.id


def test_voicemail_transcript_marks_low_confidence_words_and_plays(site: Site, browsing: Browsing) -> None:
    """The voicemail queue shows the transcript with hard-to-hear words marked, and an audio player that loads."""
    voicemail_id = add_voicemail(site, "нема воде у улици Светог Саве од јутрос", low={"Светог", "Саве"})
    page = browsing.login(site.user("operator", extension="351"))
    page.keyboard.press("Alt+2")
    page.click(f"[data-voicemail='{voicemail_id}'] button")
    page.wait_for_selector(f"#voicemail-detail[data-voicemail='{voicemail_id}'] audio")
    marked = page.eval_on_selector_all("#voicemail-detail mark.low", "els => els.map(e => e.textContent)")
    assert marked == ["Светог", "Саве"]
    assert page.inner_text("#voicemail-detail .transcript") == "нема воде у улици Светог Саве од јутрос"
    # The player's source is served (and the play is audited as a PII read).
    src = page.get_attribute("#voicemail-detail audio", "src")
    assert src == f"/api/v1/voicemails/{voicemail_id}/audio"
    duration = page.evaluate("""() => new Promise(done => { const a = document.querySelector('#voicemail-detail audio');
        a.addEventListener('loadedmetadata', () => done(a.duration)); a.addEventListener('error', () => done(-1)); a.load(); })""")
    assert duration > 0.5
    shot(page, "voicemail")
    with site.core.session_factory() as db:
        actions = set(db.scalars(sa.select(AuditEvent.action).where(AuditEvent.object_id == str(voicemail_id))))
    assert {"voicemail.read", "voicemail.audio"} <= actions


def test_walk_in_form_suggests_and_saves(site: Site, browsing: Browsing) -> None:
    """The walk-in form suggests the category while typing and saves a walk-in ticket."""
    page = browsing.login(site.user("operator", extension="352"))
    page.keyboard.press("Alt+6")
    page.fill("#walkin-name", "Стојан Стојановић")
    page.fill("#walkin-phone", "065 321 321")
    page.click("#walkin-description")
    page.keyboard.type("Пас луталица код пијаце уједа пролазнике")
    page.wait_for_selector("#walkin-suggestion:has-text('пси')")
    assert page.input_value("#walkin-category") == "psi"
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("#walkin-result[data-code]")
    code = page.get_attribute("#walkin-result", "data-code")
    assert code is not None and CODE.fullmatch(code)
    shot(page, "walk-in")
    with site.core.session_factory() as db:
        ticket = db.scalar(sa.select(Ticket).where(Ticket.code == code))
        assert ticket is not None and ticket.channel == "walk-in" and ticket.category is not None
        assert ticket.category.code == "psi"


def test_language_switch_is_remembered_and_search_crosses_scripts(site: Site, browsing: Browsing) -> None:
    """Cyrillic by default; the switch changes to Latin or English and is remembered per user."""
    username = site.user("operator", extension="353")
    page = browsing.login(username)
    assert page.get_attribute("html", "lang") == "sr-Cyrl"
    assert page.text_content("#tab-calls") is not None and "Позиви" in (page.text_content("#tab-calls") or "")
    page.click("#lang-sr-Latn")
    page.wait_for_selector("html[lang='sr-Latn']")
    page.wait_for_selector("body[data-ready='1']")
    assert "Pozivi" in (page.text_content("#tab-calls") or "")
    assert "Propušteni pozivi" in page.inner_text("#panel-calls h2")
    shot(page, "latin")
    page.reload()
    assert page.get_attribute("html", "lang") == "sr-Latn"
    with site.core.session_factory() as db:
        assert db.scalar(sa.select(User.language).where(User.username == username)) == "sr-Latn"
    # Search in Latin finds a ticket written in Cyrillic.
    from core.messages import Channel, ReceiveReport
    from core.services.intake import receive

    code = receive(
        site.core.uow(), ReceiveReport(channel=Channel.WALK_IN, text="Ударна рупа у улици Цара Душана"),
        site.core.intake_policy,
    ).ticket_code  # fmt: skip
    page.keyboard.press("/")
    page.keyboard.type("ulici cara dusana")
    page.keyboard.press("Enter")
    page.wait_for_selector(f"#search-results tr[data-ticket='{code}']")
    page.click("#lang-en")
    page.wait_for_selector("html[lang='en']")
    page.wait_for_selector("body[data-ready='1']")
    assert "Missed calls and callbacks" in page.inner_text("#panel-calls h2")
    site.set_language(username, "sr-Cyrl")
