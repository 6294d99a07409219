"""The backlog: (re)transcribe a range of voicemails by hand, with a summary."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from core.bootstrap import Core
from core.db.models import Ticket, Voicemail
from core.services.outbox import deliver
from tests.fakes import FixedClock
from tests.integration.transcription.conftest import add_voicemail, spool_copy
from tests.integration.transcription.test_vosk_engine import GOLDEN_TEXT
from transcription.adapter import UnavailableTranscriber, VoskPortTranscriber
from transcription.backlog import retranscribe
from transcription.worker import install

pytestmark = pytest.mark.integration


def _status(core: Core, voicemail_id: int) -> str:
    """Return a voicemail's transcript status."""
    with core.session_factory() as session:
        return session.get_one(Voicemail, voicemail_id).transcript_status


def test_backlog_transcribes_what_the_worker_could_not(
    core: Core, port: VoskPortTranscriber, audio_dir: Path, clock: FixedClock, tmp_path: Path
) -> None:
    """Voicemails left "unavailable" (no model then) are transcribed once the model exists; done ones are skipped."""
    install(core, UnavailableTranscriber("no model yet"))
    first = add_voicemail(core, spool_copy(core, audio_dir / "ko_8k.wav"))
    clock.advance(hours=2)
    second = add_voicemail(core, spool_copy(core, audio_dir / "ko_8k_wav49.WAV"))
    bad_source = tmp_path / "bad.wav"
    bad_source.write_bytes(b"not audio at all")
    rejected = add_voicemail(core, spool_copy(core, bad_source))
    for vm in (first, second):
        deliver(core.uow(), vm.outbox_id, core.handlers)
    install(core, port)  # the bad file is refused by the real engine, whatever the model
    deliver(core.uow(), rejected.outbox_id, core.handlers)
    assert [_status(core, v.voicemail_id) for v in (first, second, rejected)] == ["unavailable"] * 2 + ["rejected"]

    summary = retranscribe(core.settings, core=core, transcriber=port, progress=False)
    assert summary.selected == 2  # rejected files are not retried without --force
    assert summary.counts["done"] == 2
    assert summary.real_time_factor is not None and 0 < summary.real_time_factor < 5
    assert "done: 2" in summary.render()
    assert [_status(core, v.voicemail_id) for v in (first, second)] == ["done", "done"]
    with core.session_factory() as session:
        assert session.get_one(Ticket, first.ticket_id).description == GOLDEN_TEXT

    again = retranscribe(core.settings, core=core, transcriber=port, progress=False)
    assert again.selected == 0


def test_force_redoes_a_range_and_keeps_corrections(
    core: Core, port: VoskPortTranscriber, audio_dir: Path, clock: FixedClock
) -> None:
    """``force`` with a time range redoes finished voicemails; an operator's ticket text is not overwritten."""
    install(core, port)
    old = add_voicemail(core, spool_copy(core, audio_dir / "ko_8k.wav"))
    start = clock.advance(days=1)
    new = add_voicemail(core, spool_copy(core, audio_dir / "ko_16k.wav"))
    for vm in (old, new):
        deliver(core.uow(), vm.outbox_id, core.handlers)
    with core.session_factory() as session:
        session.get_one(Ticket, new.ticket_id).description = "Оператор је ово прекуцао."
        session.commit()

    summary = retranscribe(core.settings, since=start - timedelta(minutes=1), force=True, core=core,
                           transcriber=port, progress=False)  # fmt: skip
    assert (summary.selected, summary.counts["done"]) == (1, 1)
    with core.session_factory() as session:
        row = session.get_one(Voicemail, new.voicemail_id)
        assert (row.transcript_status, row.transcript_attempts) == ("done", 1)
        assert session.get_one(Ticket, new.ticket_id).description == "Оператор је ово прекуцао."
    by_id = retranscribe(core.settings, ids=[old.voicemail_id], force=True, core=core, transcriber=port, progress=False)
    assert by_id.selected == 1
