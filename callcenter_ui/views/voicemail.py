"""Voicemail API for operators: transcripts (low-confidence words marked), audio, corrections, publishing.

Audio is served by voicemail id → database → a file that must lie under the configured spool or var
directory (never a path from the request), decoded and re-encoded as 8 kHz PCM WAV (the WAV49/GSM
files Asterisk writes do not play in browsers), with ``Content-Disposition`` and ``nosniff``. Reading
the full transcript and playing the audio are PII reads: each one is written to the audit log.
Supervisors and admins must give a purpose to play a recording (ASVS; contracts §5 role table).
"""

from __future__ import annotations

import io
import logging
import wave
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from callcenter_ui import error, get_core
from callcenter_ui.auth import current_user, require
from core.db.models import AuditEvent, User, Voicemail
from core.services.transcripts import (
    MAX_TEXT,
    STATUSES,
    VoicemailNotFound,
    correct_transcript,
    list_voicemails,
    set_published,
    voicemail_detail,
    voicemail_summary,
)
from transcription.audio import load_audio
from transcription.errors import AudioRejectedError
from transcription.storage import audio_roots, resolve_audio

log = logging.getLogger(__name__)

bp = Blueprint("voicemail", __name__, url_prefix="/api/v1/voicemails")

ROLES = ("operator", "supervisor", "admin")
PURPOSE_REQUIRED = ("supervisor", "admin")
PLAYBACK_RATE = 8000  # telephone audio: every Asterisk voicemail format is 8 kHz
MAX_PURPOSE = 300


def _me() -> User:
    """Return the authenticated user (views are wrapped by ``require``)."""
    user = current_user()
    if user is None:  # pragma: no cover - require() answered 401 already
        raise PermissionError
    return user


def _one_line(value: str | None, limit: int) -> str | None:
    """Bound a header value for the audit log and strip CR/LF (log injection)."""
    if not value:
        return None
    return " ".join(value.split())[:limit] or None


def _audit(action: str, voicemail_id: int, *, reason: str | None = None, fields: dict[str, Any] | None = None) -> None:
    """Append one audit row (who, what, when, from where) and commit it before the data leaves."""
    core = get_core(current_app)
    user = _me()
    with core.session_factory() as db:
        db.add(
            AuditEvent(
                at=core.clock.now(),
                actor_id=user.id,
                role=user.role,
                action=action,
                object_type="voicemail",
                object_id=str(voicemail_id),
                fields_changed=fields,
                ip=_one_line(request.remote_addr, 64),
                user_agent=_one_line(request.headers.get("User-Agent"), 300),
                reason=_one_line(reason, MAX_PURPOSE),
            )
        )
        db.commit()


def _threshold() -> float:
    """Return the confidence under which a word is marked for checking."""
    return get_core(current_app).settings.transcription_confidence


def _not_found(voicemail_id: int) -> tuple[Response, int]:
    """Answer 404 for an unknown voicemail."""
    return error("not_found", f"Нема говорне поруке {voicemail_id}.", 404)


@bp.get("")
@require(*ROLES)
def voicemails() -> tuple[Response, int]:
    """List voicemails newest first: ``status`` (comma list), ``needs_human`` (1/0), ``limit``, ``offset``."""
    args = request.args
    statuses = [s for s in (args.get("status") or "").split(",") if s]
    unknown = sorted(set(statuses) - set(STATUSES))
    if unknown:
        return error("bad_request", f"status: {', '.join(STATUSES)}", 400, fields=["status"])
    flag = args.get("needs_human")
    needs_human = None if flag in (None, "") else flag in ("1", "true", "yes")
    try:
        limit, offset = int(args.get("limit", 50)), int(args.get("offset", 0))
    except ValueError:
        limit, offset = 50, 0
    core = get_core(current_app)
    with core.session_factory() as db:
        rows = list_voicemails(db, statuses=statuses or None, needs_human=needs_human, limit=limit, offset=offset)
        items = [voicemail_summary(vm, _threshold()) for vm in rows]
    return jsonify({"voicemails": items, "count": len(items), "threshold": _threshold()}), 200


@bp.get("/<int:voicemail_id>")
@require(*ROLES)
def voicemail(voicemail_id: int) -> tuple[Response, int]:
    """Return one voicemail with the full transcript (a PII read: audited)."""
    core = get_core(current_app)
    with core.session_factory() as db:
        vm = db.get(Voicemail, voicemail_id)
        if vm is None:
            return _not_found(voicemail_id)
        detail = voicemail_detail(db, vm, _threshold())
    _audit("voicemail.read", voicemail_id)
    detail["audio_url"] = f"{bp.url_prefix}/{voicemail_id}/audio" if detail["has_audio"] else None
    return jsonify(detail), 200


@bp.get("/<int:voicemail_id>/audio")
@require(*ROLES)
def audio(voicemail_id: int) -> Response | tuple[Response, int]:
    """Play a voicemail: the stored file, checked to be under the spool, as 8 kHz PCM WAV (audited)."""
    user = _me()
    purpose = request.args.get("purpose", "").strip() or None
    if user.role in PURPOSE_REQUIRED and not purpose:
        return error("purpose_required", "Наведите сврху преслушавања снимка (purpose).", 400, fields=["purpose"])
    core = get_core(current_app)
    with core.session_factory() as db:
        vm = db.get(Voicemail, voicemail_id)
        if vm is None:
            return _not_found(voicemail_id)
        stored = vm.audio_path
    try:
        path = resolve_audio(stored, audio_roots(core.settings))
    except AudioRejectedError as exc:
        if exc.code == "forbidden_path":
            log.warning("voicemail %s: stored audio path refused (outside the spool)", voicemail_id)
            return error("forbidden_path", "Снимак није у дозвољеном директоријуму.", 403)
        return error("no_audio", "Снимак ове поруке није доступан.", 404, reason=exc.code)
    try:
        pcm = load_audio(path, target_rate=PLAYBACK_RATE)
    except AudioRejectedError as exc:
        return error("audio_rejected", "Снимак је оштећен или није звучни запис.", 422, reason=exc.code)
    _audit("voicemail.audio", voicemail_id, reason=purpose)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(pcm.sample_rate)
        out.writeframes(pcm.samples)
    response = Response(buffer.getvalue(), mimetype="audio/wav")
    response.headers["Content-Disposition"] = f'inline; filename="voicemail-{voicemail_id}.wav"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-store"
    return response


def _json_object() -> dict[str, Any] | None:
    """Return the JSON object body, or None."""
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else None


@bp.post("/<int:voicemail_id>/correction")
@require(*ROLES)
def correction(voicemail_id: int) -> tuple[Response, int]:
    """Keep an operator's corrected text beside the machine transcript (redacted again, audited)."""
    body = _json_object()
    text = body.get("text") if body else None
    if not isinstance(text, str) or not text.strip():
        return error("bad_request", 'Очекује се {"text": "…"} са исправљеним текстом.', 400, fields=["text"])
    if len(text) > MAX_TEXT:
        return error("too_large", f"Текст је дужи од {MAX_TEXT} знакова.", 413)
    core = get_core(current_app)
    try:
        detail = correct_transcript(core.uow(), voicemail_id, text, _me(), threshold=_threshold())
    except VoicemailNotFound:
        return _not_found(voicemail_id)
    except ValueError:
        return error("bad_request", "Исправљени текст је празан.", 400, fields=["text"])
    _audit("voicemail.correct", voicemail_id, fields={"corrected_text": True})
    return jsonify(detail), 200


@bp.post("/<int:voicemail_id>/publish")
@require(*ROLES)
def publish(voicemail_id: int) -> tuple[Response, int]:
    """Allow (or withdraw) the redacted transcript on public pages: ``{"publish": true|false}``, none toggles."""
    body = _json_object() or {}
    wanted = body.get("publish")
    if wanted is not None and not isinstance(wanted, bool):
        return error("bad_request", 'Очекује се {"publish": true|false}.', 400, fields=["publish"])
    core = get_core(current_app)
    try:
        summary = set_published(core.uow(), voicemail_id, wanted, threshold=_threshold())
    except VoicemailNotFound:
        return _not_found(voicemail_id)
    except ValueError:
        return error("no_transcript", "Нема транскрипта за објаву.", 409)
    _audit("voicemail.publish", voicemail_id, fields={"publish_transcript": summary["publish_transcript"]})
    return jsonify(summary), 200
