"""The voicemail API with the Flask test client: transcripts, audio, corrections, publishing, roles, audit."""

from __future__ import annotations

import io
import os
import wave
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from core.bootstrap import Core
from core.db.models import AuditEvent, Ticket, Voicemail
from core.services.outbox import deliver
from tests.integration.transcription.conftest import NewVoicemail, add_voicemail, spool_copy
from tests.integration.web.conftest import Staff, bearer
from transcription.adapter import VoskPortTranscriber
from transcription.worker import install

pytestmark = pytest.mark.integration


@pytest.fixture
def transcribed(core: Core, port: VoskPortTranscriber, audio_dir: Path) -> NewVoicemail:
    """A voicemail transcribed by the real engine (WAV49, as Asterisk's default format writes it)."""
    install(core, port)
    vm = add_voicemail(core, spool_copy(core, audio_dir / "ko_8k_wav49.WAV", "msg0000.WAV"), name="Петар Петровић")
    assert deliver(core.uow(), vm.outbox_id, core.handlers).state == "done"
    return vm


def _audits(core: Core, action: str) -> list[AuditEvent]:
    """Return the audit rows of one action."""
    with core.session_factory() as session:
        return list(session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action)))


def _set_audio_path(core: Core, voicemail_id: int, path: str) -> None:
    """Overwrite a stored audio path (as a tampered row would)."""
    with core.session_factory() as session:
        session.get_one(Voicemail, voicemail_id).audio_path = path
        session.commit()


def test_list_shows_transcripts_with_low_confidence_words_marked(
    client: FlaskClient, staff: Staff, transcribed: NewVoicemail, core: Core
) -> None:
    """GET /voicemails?status=done lists the transcript; words under the threshold carry ``low``."""
    response = client.get("/api/v1/voicemails?status=done", headers=bearer(staff.operator))
    assert response.status_code == 200
    [item] = response.get_json()["voicemails"]
    assert item["id"] == transcribed.voicemail_id
    assert item["transcript_status"] == "done"
    threshold = core.settings.transcription_confidence
    assert [w["low"] for w in item["words"]] == [w["conf"] < threshold for w in item["words"]]
    assert any(w["low"] for w in item["words"]) and not all(w["low"] for w in item["words"])
    assert client.get("/api/v1/voicemails?status=failed", headers=bearer(staff.operator)).get_json()["count"] == 0
    assert client.get("/api/v1/voicemails?status=nonsense", headers=bearer(staff.operator)).status_code == 400


def test_roles_anonymous_and_department_are_refused(
    client: FlaskClient, staff: Staff, transcribed: NewVoicemail
) -> None:
    """Anonymous gets 401, department staff 403, on every voicemail endpoint."""
    vid = transcribed.voicemail_id
    for path in ("/api/v1/voicemails", f"/api/v1/voicemails/{vid}", f"/api/v1/voicemails/{vid}/audio"):
        assert client.get(path).status_code == 401
        assert client.get(path, headers=bearer(staff.vodovod)).status_code == 403
    response = client.post(f"/api/v1/voicemails/{vid}/publish", json={}, headers=bearer(staff.komunalno))
    assert response.status_code == 403


def test_detail_gives_the_full_transcript_and_is_audited(
    client: FlaskClient, staff: Staff, transcribed: NewVoicemail, core: Core
) -> None:
    """GET /voicemails/<id> returns text, redacted text, ticket and audio URL; the read is logged."""
    response = client.get(f"/api/v1/voicemails/{transcribed.voicemail_id}", headers=bearer(staff.operator))
    assert response.status_code == 200
    data = response.get_json()
    assert data["transcript"] and data["transcript_redacted"] is not None
    assert data["ticket"]["code"] == transcribed.ticket_code
    assert data["audio_url"] == f"/api/v1/voicemails/{transcribed.voicemail_id}/audio"
    [audit] = _audits(core, "voicemail.read")
    assert (audit.object_id, audit.role) == (str(transcribed.voicemail_id), "operator")
    assert client.get("/api/v1/voicemails/999999", headers=bearer(staff.operator)).status_code == 404


def test_audio_is_served_as_pcm_wav_with_safe_headers_and_audited(
    client: FlaskClient, staff: Staff, transcribed: NewVoicemail, core: Core
) -> None:
    """WAV49 from the spool plays as 8 kHz PCM WAV, inline, nosniff, no-store; the access is in the audit log."""
    response = client.get(
        f"/api/v1/voicemails/{transcribed.voicemail_id}/audio",
        headers={**bearer(staff.operator), "User-Agent": "x\t\tInjected:  1"},
    )
    assert response.status_code == 200
    assert response.mimetype == "audio/wav"
    assert response.headers["Content-Disposition"] == f'inline; filename="voicemail-{transcribed.voicemail_id}.wav"'
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"
    with wave.open(io.BytesIO(response.get_data())) as played:
        assert (played.getframerate(), played.getnchannels(), played.getsampwidth()) == (8000, 1, 2)
        assert 4.0 < played.getnframes() / 8000 < 4.7
    [audit] = _audits(core, "voicemail.audio")
    assert audit.object_id == str(transcribed.voicemail_id)
    assert audit.user_agent == "x Injected: 1"  # control white space is folded in the log


def test_supervisors_must_give_a_purpose(
    client: FlaskClient, staff: Staff, transcribed: NewVoicemail, core: Core
) -> None:
    """A supervisor plays a recording only with a stated purpose, which is logged as the reason."""
    url = f"/api/v1/voicemails/{transcribed.voicemail_id}/audio"
    refused = client.get(url, headers=bearer(staff.supervisor))
    assert refused.status_code == 400
    assert refused.get_json()["error"]["code"] == "purpose_required"
    assert client.get(f"{url}?purpose=жалба грађанина", headers=bearer(staff.supervisor)).status_code == 200
    [audit] = _audits(core, "voicemail.audio")
    assert (audit.role, audit.reason) == ("supervisor", "жалба грађанина")


def test_audio_only_for_a_known_id_and_never_outside_the_spool(
    client: FlaskClient, staff: Staff, transcribed: NewVoicemail, core: Core, audio_dir: Path, tmp_path: Path
) -> None:
    """Unknown ids are 404; traversal, absolute paths elsewhere and symlinks out of the spool are 403."""
    h = bearer(staff.operator)
    vid = transcribed.voicemail_id
    assert client.get("/api/v1/voicemails/424242/audio", headers=h).status_code == 404
    assert client.get("/api/v1/voicemails/..%2f..%2fetc%2fpasswd/audio", headers=h).status_code == 404
    var = core.settings.var_dir
    outside = tmp_path / "secret.wav"
    outside.write_bytes((audio_dir / "ko_8k.wav").read_bytes())
    link = var / "spool" / "link.wav"
    os.symlink(outside, link)
    hostile = [
        f"{var}/spool/../../secret.wav",
        str(outside),
        str(audio_dir / "ko_8k.wav"),
        str(link),
        "spool/voicemail/default/4800/INBOX/msg0000.WAV",
        "/etc/passwd",
    ]
    if core.engine.dialect.name == "sqlite":  # PostgreSQL text cannot even hold a NUL
        hostile.append(f"{var}/spool/x.wav\x00.txt")
    for stored in hostile:
        _set_audio_path(core, vid, stored)
        response = client.get(f"/api/v1/voicemails/{vid}/audio", headers=h)
        assert response.status_code == 403, stored
        assert response.get_json()["error"]["code"] == "forbidden_path"
    _set_audio_path(core, vid, f"{var}/spool/gone.wav")
    assert client.get(f"/api/v1/voicemails/{vid}/audio", headers=h).status_code == 404
    broken = var / "spool" / "broken.wav"
    broken.write_bytes(b"RIFF....WAVEjunk")
    _set_audio_path(core, vid, str(broken))
    assert client.get(f"/api/v1/voicemails/{vid}/audio", headers=h).status_code == 422
    assert _audits(core, "voicemail.audio") == []  # nothing was played


def test_correction_is_kept_beside_the_machine_transcript(
    client: FlaskClient, staff: Staff, transcribed: NewVoicemail, core: Core
) -> None:
    """The operator's text is stored with who/when, redacted again, and becomes the ticket text."""
    url = f"/api/v1/voicemails/{transcribed.voicemail_id}/correction"
    text = "Зовем се Петар Петровић, нема воде у Баштини већ два дана, зовите 065/123-456."
    response = client.post(url, json={"text": text}, headers=bearer(staff.operator))
    assert response.status_code == 200, response.get_data(as_text=True)
    data = response.get_json()
    assert data["corrected_text"] == text
    assert data["transcript"]  # the machine transcript is kept as it was
    assert data["corrected_by"] == "operater"
    assert data["corrected_at"] is not None
    redacted = data["transcript_redacted"]
    assert "Петровић" not in redacted and "065" not in redacted and "Баштини" in redacted
    with core.session_factory() as session:
        ticket = session.get_one(Ticket, transcribed.ticket_id)
        assert ticket.description == text
        assert ticket.category is not None and ticket.category.code == "voda"  # routed by the corrected text
    assert len(_audits(core, "voicemail.correct")) == 1
    assert client.post(url, json={"text": "  "}, headers=bearer(staff.operator)).status_code == 400
    assert client.post(url, json={"text": 5}, headers=bearer(staff.operator)).status_code == 400
    missing = client.post("/api/v1/voicemails/999999/correction", json={"text": "x"}, headers=bearer(staff.operator))
    assert missing.status_code == 404


def test_publish_toggles_and_needs_a_transcript(
    client: FlaskClient, staff: Staff, transcribed: NewVoicemail, core: Core
) -> None:
    """POST /publish sets or toggles publish_transcript; a voicemail without a transcript cannot be published."""
    url = f"/api/v1/voicemails/{transcribed.voicemail_id}/publish"
    h = bearer(staff.operator)
    assert client.post(url, json={"publish": True}, headers=h).get_json()["publish_transcript"] is True
    assert client.post(url, json={}, headers=h).get_json()["publish_transcript"] is False
    assert client.post(url, json={"publish": "yes"}, headers=h).status_code == 400
    bare = add_voicemail(core, None)
    response = client.post(f"/api/v1/voicemails/{bare.voicemail_id}/publish", json={"publish": True}, headers=h)
    assert response.status_code == 409
    assert len(_audits(core, "voicemail.publish")) == 2


def test_session_writes_need_csrf(client: FlaskClient, transcribed: NewVoicemail) -> None:
    """Without a bearer token, a write without a CSRF token is refused."""
    response = client.post(f"/api/v1/voicemails/{transcribed.voicemail_id}/publish", json={"publish": True})
    assert response.status_code == 400
