"""The ``transcribe`` outbox handler end to end: real Vosk decoder, real model, SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from core.bootstrap import Core
from core.db.models import Event, OutboxItem, StatusChange, Ticket, Voicemail
from core.ports import RecordingLivePush, TranscribedWord, TranscriptResult
from core.services.outbox import deliver
from core.services.transcripts import transcribe_voicemail
from tests.fakes import FixedClock, RecordingTasks
from tests.integration.transcription.conftest import AUDIO, PLACEHOLDER, ScriptedTranscriber, add_voicemail, spool_copy
from tests.integration.transcription.test_vosk_engine import GOLDEN_TEXT
from transcription.adapter import UnavailableTranscriber, VoskPortTranscriber
from transcription.storage import audio_roots
from transcription.vosk_engine import VoskSettings
from transcription.worker import install, report_health

pytestmark = pytest.mark.integration


def _voicemail(core: Core, voicemail_id: int) -> Voicemail:
    """Read a voicemail fresh from the database."""
    with core.session_factory() as session:
        return session.get_one(Voicemail, voicemail_id)


def _ticket(core: Core, ticket_id: int) -> Ticket:
    """Read a ticket fresh from the database."""
    with core.session_factory() as session:
        return session.get_one(Ticket, ticket_id)


def _history(core: Core, ticket_id: int, kind: str = "transcript") -> list[StatusChange]:
    """Return a ticket's history lines of one kind."""
    with core.session_factory() as session:
        return list(
            session.scalars(
                sa.select(StatusChange)
                .where(StatusChange.ticket_id == ticket_id, StatusChange.kind == kind)
                .order_by(StatusChange.id)
            )
        )


def _events(core: Core, type_: str) -> list[Event]:
    """Return stored events of one type."""
    with core.session_factory() as session:
        return list(session.scalars(sa.select(Event).where(Event.type == type_).order_by(Event.seq)))


class FlakyTranscriber:
    """Fails like Vosk's bare ``Exception("Failed to process waveform")`` a number of times, then decodes."""

    def __init__(self, inner: VoskPortTranscriber, failures: int) -> None:
        self.inner = inner
        self.failures = failures
        self.calls = 0

    def transcribe(self, audio_path: str) -> TranscriptResult:
        """Fail the first ``failures`` calls, then delegate to the real engine."""
        self.calls += 1
        if self.calls <= self.failures:
            raise Exception("Failed to process waveform")  # noqa: TRY002  exactly what vosk raises
        return self.inner.transcribe(audio_path)


def test_transcript_is_stored_and_the_ticket_updated(
    core: Core, port: VoskPortTranscriber, audio_dir: Path, live: RecordingLivePush
) -> None:
    """Real decode: text, words with timings and confidences, mean confidence, ticket text, history, events."""
    install(core, port)
    vm = add_voicemail(core, spool_copy(core, audio_dir / "ko_8k.wav"))
    assert deliver(core.uow(), vm.outbox_id, core.handlers).state == "done"

    row = _voicemail(core, vm.voicemail_id)
    assert row.transcript_status == "done"
    assert row.transcript_text == GOLDEN_TEXT
    assert row.transcript_attempts == 1
    assert row.transcript_error is None
    words = (row.transcript_words or {})["words"]
    assert [w["word"] for w in words] == GOLDEN_TEXT.split()
    assert all(0 <= w["start"] < w["end"] <= 4.6 and 0 <= w["conf"] <= 1 for w in words)
    assert [w["start"] for w in words] == sorted(w["start"] for w in words)
    assert row.transcript_confidence == pytest.approx(sum(w["conf"] for w in words) / len(words), abs=1e-3)
    assert row.transcript_confidence is not None
    assert row.needs_human is (row.transcript_confidence < core.settings.transcription_confidence)
    assert row.transcript_redacted == GOLDEN_TEXT  # nothing personal in it
    assert (row.meta or {})["engine"] == "vosk"
    assert (row.meta or {})["rtf"] > 0

    ticket = _ticket(core, vm.ticket_id)
    assert ticket.description == GOLDEN_TEXT
    assert ticket.channel == "voicemail"
    [line] = _history(core, vm.ticket_id)
    assert "транскрибована" in (line.internal_note or "")
    [transcribed] = _events(core, "voicemail.transcribed")
    assert transcribed.payload["voicemail"]["transcript_status"] == "done"
    assert "transcript" not in transcribed.payload["voicemail"]  # the text stays out of the event log
    assert any(e["type"] == "voicemail.transcribed" for e in live.events)  # pushed after commit
    assert any(e["type"] == "ticket.updated" and e["reason"] == "transcript" for e in live.events)


def test_redelivery_is_a_no_op(core: Core, port: VoskPortTranscriber, audio_dir: Path) -> None:
    """A second copy of the job (redelivery, re-drive, a duplicate item) changes nothing."""
    install(core, port)
    vm = add_voicemail(core, spool_copy(core, audio_dir / "ko_8k.wav"))
    deliver(core.uow(), vm.outbox_id, core.handlers)
    assert deliver(core.uow(), vm.outbox_id, core.handlers).state == "skipped"
    with core.uow() as uow:  # a stray duplicate item for the same voicemail
        dup = uow.add_outbox("transcribe", {"voicemail_id": vm.voicemail_id})
        uow.commit()
    assert deliver(core.uow(), dup.id, core.handlers).state == "done"
    with core.session_factory() as session:
        assert transcribe_voicemail(session, vm.voicemail_id, port, core.clock.now(), threshold=0.6).status == "skipped"
    assert _voicemail(core, vm.voicemail_id).transcript_attempts == 1
    assert len(_history(core, vm.ticket_id)) == 1
    assert len(_events(core, "voicemail.transcribed")) == 1


def test_transient_failures_are_retried_then_succeed(
    core: Core, port: VoskPortTranscriber, audio_dir: Path, clock: FixedClock
) -> None:
    """A decoder failure leaves the status pending with the error; the outbox retries; the next try decodes."""
    flaky = FlakyTranscriber(port, failures=1)
    install(core, flaky)
    vm = add_voicemail(core, spool_copy(core, audio_dir / "ko_8k.wav"))
    assert deliver(core.uow(), vm.outbox_id, core.handlers).state == "retry"
    row = _voicemail(core, vm.voicemail_id)
    assert (row.transcript_status, row.transcript_attempts) == ("pending", 1)
    assert "Failed to process waveform" in (row.transcript_error or "")
    clock.advance(minutes=5)
    assert deliver(core.uow(), vm.outbox_id, core.handlers).state == "done"
    row = _voicemail(core, vm.voicemail_id)
    assert (row.transcript_status, row.transcript_attempts, row.transcript_error) == ("done", 2, None)


def test_retries_are_bounded_then_failed_with_the_reason(
    core: Core, port: VoskPortTranscriber, audio_dir: Path, clock: FixedClock
) -> None:
    """Three failures give status ``failed`` with the reason, the ticket kept and flagged for a human."""
    flaky = FlakyTranscriber(port, failures=99)
    install(core, flaky)
    vm = add_voicemail(core, spool_copy(core, audio_dir / "ko_8k.wav"))
    states = []
    for _ in range(4):
        states.append(deliver(core.uow(), vm.outbox_id, core.handlers).state)
        clock.advance(hours=1)
    assert states == ["retry", "retry", "done", "skipped"]
    assert flaky.calls == 3
    row = _voicemail(core, vm.voicemail_id)
    assert (row.transcript_status, row.transcript_attempts, row.needs_human) == ("failed", 3, True)
    assert "Failed to process waveform" in (row.transcript_error or "")
    assert _ticket(core, vm.ticket_id).description == PLACEHOLDER
    [line] = _history(core, vm.ticket_id)
    assert "3 покушаја" in (line.internal_note or "")


def test_a_worker_killed_mid_decode_still_uses_up_its_attempts(core: Core, port: VoskPortTranscriber) -> None:
    """Attempts are counted before decoding: after the last one died, the next delivery gives up."""
    install(core, port)
    vm = add_voicemail(core, "/nonexistent.wav")
    with core.session_factory() as session:
        session.get_one(Voicemail, vm.voicemail_id).transcript_attempts = 3
        session.commit()
    assert deliver(core.uow(), vm.outbox_id, core.handlers).state == "done"
    row = _voicemail(core, vm.voicemail_id)
    assert (row.transcript_status, row.transcript_attempts, row.needs_human) == ("failed", 3, True)


def test_no_transaction_is_held_while_decoding(core: Core, audio_dir: Path) -> None:
    """While the engine works, another writer can commit (SQLite's write lock is free)."""
    seen: list[str] = []

    class Probe:
        """Writes from another session in the middle of 'decoding'."""

        def transcribe(self, audio_path: str) -> TranscriptResult:
            with core.session_factory() as other:
                other.get_one(Voicemail, vm.voicemail_id).mailbox = "4801@sistem48"
                other.commit()  # would block (and time out) if the handler still held the lock
            seen.append(audio_path)
            return TranscriptResult(text="", words=(), confidence=None, needs_human=True, engine="x", model="y")

    install(core, Probe())
    vm = add_voicemail(core, spool_copy(core, audio_dir / "ko_8k.wav"))
    assert deliver(core.uow(), vm.outbox_id, core.handlers).state == "done"
    assert len(seen) == 1
    row = _voicemail(core, vm.voicemail_id)
    assert (row.mailbox, row.transcript_status, row.needs_human) == ("4801@sistem48", "done", True)
    assert _ticket(core, vm.ticket_id).description == PLACEHOLDER  # empty transcript keeps the placeholder


def test_missing_model_leaves_the_ticket_marked_unavailable(core: Core, audio_dir: Path, tmp_path: Path) -> None:
    """No model directory: status ``unavailable``, a human flag, the ticket there with its placeholder."""
    missing = VoskPortTranscriber(VoskSettings(model_path=tmp_path / "no-model"), roots=audio_roots(core.settings))
    install(core, missing)
    vm = add_voicemail(core, spool_copy(core, audio_dir / "ko_8k.wav"))
    assert deliver(core.uow(), vm.outbox_id, core.handlers).state == "done"
    row = _voicemail(core, vm.voicemail_id)
    assert (row.transcript_status, row.needs_human) == ("unavailable", True)
    assert (row.transcript_error or "").startswith("model_missing")
    ticket = _ticket(core, vm.ticket_id)
    assert (ticket.description, ticket.channel) == (PLACEHOLDER, "voicemail")
    [line] = _history(core, vm.ticket_id)
    assert "Транскрипција није доступна" in (line.internal_note or "")
    assert missing.state == "down"
    assert report_health(core.uow(), missing) == "down"


def test_unconfigured_engine_reports_not_configured(core: Core, audio_dir: Path) -> None:
    """Without any model the stand-in marks voicemails unavailable and health says "not configured"."""
    none = UnavailableTranscriber("S48_VOSK_MODEL није постављен")
    install(core, none)
    vm = add_voicemail(core, spool_copy(core, audio_dir / "ko_8k.wav"))
    deliver(core.uow(), vm.outbox_id, core.handlers)
    assert _voicemail(core, vm.voicemail_id).transcript_status == "unavailable"
    assert report_health(core.uow(), none) == "not configured"
    [status] = _events(core, "link.status")
    assert status.payload["component"] == "transcription"


@pytest.mark.parametrize(
    ("content", "name", "code"),
    [
        (b"", "msg0001.wav", "empty"),
        (b"ID3\x04\x00" + bytes(200), "msg0002.wav", "not_audio"),
        ((AUDIO / "ko_8k.wav").read_bytes()[:1000], "msg0003.wav", "truncated"),
        (
            b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00" + bytes(12) + b"data" + bytes(4),
            "msg5.wav",
            "zero_rate",
        ),
        (b"<script>alert(1)</script>", "msg0004.gsm", "not_audio"),
    ],
)
def test_hostile_files_are_rejected_with_a_reason(
    core: Core, port: VoskPortTranscriber, tmp_path: Path, content: bytes, name: str, code: str
) -> None:
    """Empty, non-audio and truncated files: status ``rejected`` with the code, no retry, ticket kept."""
    install(core, port)
    source = tmp_path / name
    source.write_bytes(content)
    vm = add_voicemail(core, spool_copy(core, source))
    assert deliver(core.uow(), vm.outbox_id, core.handlers).state == "done"
    row = _voicemail(core, vm.voicemail_id)
    assert (row.transcript_status, row.transcript_attempts, row.needs_human) == ("rejected", 1, True)
    assert (row.transcript_error or "").startswith(f"{code}:")
    assert _ticket(core, vm.ticket_id).description == PLACEHOLDER


def test_audio_outside_the_spool_is_refused(core: Core, port: VoskPortTranscriber, audio_dir: Path) -> None:
    """A stored path outside var/ and the spool (or with ..) is never opened."""
    install(core, port)
    for stored in (str(audio_dir / "ko_8k.wav"), f"{core.settings.var_dir}/../../etc/passwd"):
        vm = add_voicemail(core, stored)
        deliver(core.uow(), vm.outbox_id, core.handlers)
        row = _voicemail(core, vm.voicemail_id)
        assert row.transcript_status == "rejected"
        assert (row.transcript_error or "").startswith("forbidden_path")


def _serbian(text: str, conf: float = 0.9) -> ScriptedTranscriber:
    """Return a scripted engine that 'heard' Serbian text (no Vosk model for Serbian exists)."""
    words = tuple(
        TranscribedWord(word=w, start=i * 0.5, end=i * 0.5 + 0.4, confidence=conf) for i, w in enumerate(text.split())
    )
    return ScriptedTranscriber(
        TranscriptResult(text=text, words=words, confidence=conf, needs_human=False, engine="test", model="sr")
    )


def test_transcript_classifies_routes_and_redacts(
    core: Core, audio_dir: Path, tasks: RecordingTasks, live: RecordingLivePush
) -> None:
    """The transcript routes a draft ticket by the keyword rules; the redacted copy has no phone or name."""
    engine = _serbian("зовем се Петар Петровић нема воде у Бориц Доњи мој број је нула шест пет један два три четири")
    install(core, engine)
    vm = add_voicemail(core, spool_copy(core, audio_dir / "ko_8k.wav"), name="Петар Петровић")
    deliver(core.uow(), vm.outbox_id, core.handlers)
    ticket = _ticket(core, vm.ticket_id)
    assert ticket.category is not None and ticket.category.code == "voda"
    assert ticket.organisation is not None and ticket.organisation.code == "vodovod"
    assert ticket.status == "assigned"
    assert (ticket.resolve_due - ticket.created_at).total_seconds() == ticket.category.resolve_hours * 3600
    assert [h.to_status for h in _history(core, vm.ticket_id, "status")] == ["new", "assigned"]
    with core.session_factory() as session:
        org_notice = session.scalar(sa.select(OutboxItem).where(OutboxItem.kind == "notify_org"))
    assert org_notice is not None and (org_notice.id, "notify_org") in tasks.enqueued
    row = _voicemail(core, vm.voicemail_id)
    redacted = row.transcript_redacted or ""
    assert "Петровић" not in redacted and "Петар" not in redacted
    assert "шест пет један" not in redacted and "[телефон]" in redacted
    assert "воде" in redacted
    assert row.publish_transcript is False
    assert [e["ticket"]["organisation"] for e in live.events if e["type"] == "ticket.updated"] == ["vodovod"]


def test_an_operators_text_is_never_overwritten(core: Core, audio_dir: Path) -> None:
    """A ticket description changed before the transcript arrived is kept; the transcript is noted beside it."""
    install(core, _serbian("пукла цијев"))
    vm = add_voicemail(core, spool_copy(core, audio_dir / "ko_8k.wav"))
    with core.session_factory() as session:
        ticket = session.get_one(Ticket, vm.ticket_id)
        session.get_one(Voicemail, vm.voicemail_id).meta = {"draft_description": ticket.description}
        ticket.description = "Оператор: цијев пукла код школе"
        session.commit()
    deliver(core.uow(), vm.outbox_id, core.handlers)
    assert _ticket(core, vm.ticket_id).description == "Оператор: цијев пукла код школе"
    assert "није замијењен" in (_history(core, vm.ticket_id)[0].internal_note or "")
