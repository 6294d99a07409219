"""Voicemail transcripts: transcribe once, store words and confidences, update the draft ticket.

``transcribe_voicemail`` is the outbox handler of kind ``transcribe``. Speech recognition takes seconds
to minutes, and SQLite takes its write lock at BEGIN IMMEDIATE, so the handler never decodes inside a
transaction: it reads what it needs and counts the attempt, commits, transcribes, then writes in a new
transaction that the outbox's ``deliver()`` commits. The attempt is counted *before* decoding, so a
recording that kills the worker (a decoder crash) still uses up its bounded retries.

A voicemail is never lost because transcription failed: the ticket already exists (intake created it
with a placeholder text), and every outcome leaves a clear ``transcript_status`` on the voicemail and a
line in the ticket's history. Statuses: pending → done | failed | unavailable | rejected.

Only ``transcript_redacted`` (see ``core.redact``) may ever reach a public page, and only when an
operator has set ``publish_transcript``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so
from typing_extensions import override

from core.db.models import Call, Category, Citizen, Event, OutboxItem, StatusChange, Ticket, User, Voicemail
from core.db.uow import EVENT_LOCK_KEY, UnitOfWork, event_dict
from core.domain.tickets import Status, compute_deadlines
from core.ports import (
    AudioRejected,
    LivePush,
    NullLivePush,
    TaskQueue,
    Transcriber,
    TranscriptionUnavailable,
    TranscriptResult,
)
from core.redact import redact
from core.services import classify, intake
from core.services.notices import notify_citizen, notify_organisation
from core.services.outbox import Handler
from core.services.views import ticket_summary
from core.text import strip_invisible, words

log = logging.getLogger(__name__)

STATUSES = ("pending", "done", "failed", "unavailable", "rejected")
FINAL = frozenset({"done", "failed", "unavailable", "rejected"})
MAX_ATTEMPTS = 3
MAX_TEXT = 20_000  # a 10-minute voicemail is ~1 500 words; more is not speech
MAX_WORDS = 5_000
MAX_ERROR = 1_000
MAX_DESCRIPTION = 8_000  # as intake

NOTES = {
    "done": "Говорна порука је аутоматски транскрибована (поузданост {confidence}).",
    "done_review": "Говорна порука је аутоматски транскрибована (поузданост {confidence}); потребна провјера: преслушајте поруку.",
    "empty": "Аутоматска транскрипција није препознала говор; преслушајте поруку.",
    "unavailable": "Транскрипција није доступна ({reason}); преслушајте поруку.",
    "rejected": "Снимак се не може транскрибовати ({reason}); преслушајте поруку.",
    "failed": "Транскрипција није успјела ни након {attempts} покушаја ({reason}); преслушајте поруку.",
    "corrected": "Оператор је исправио транскрипт говорне поруке.",
    "kept_description": "Опис пријаве је већ мијењан, па није замијењен транскриптом.",
}


class TranscriptionRetry(RuntimeError):
    """A transient failure (the engine failed on audio it accepted): the outbox retries with backoff."""


class VoicemailNotFound(LookupError):
    """No voicemail with that id."""


@dataclass(frozen=True, kw_only=True)
class TranscribeOutcome:
    """What one call of ``transcribe_voicemail`` did (the backlog CLI sums these)."""

    voicemail_id: int
    status: str  # done|failed|unavailable|rejected, or skipped|missing|retry
    duration_s: float | None = None  # seconds of audio
    elapsed_s: float = 0.0  # seconds spent in the engine


class _FrozenClock:
    """The handler's ``now`` as a Clock, so the unit-of-work helpers stamp the same moment."""

    def __init__(self, now: datetime) -> None:
        self._now = now

    def now(self) -> datetime:
        """Return the fixed moment."""
        return self._now


class HandlerUnit(UnitOfWork):
    """The outbox handler's open transaction seen as a unit of work, so intake's helpers can be reused.

    ``emit`` and ``add_outbox`` queue as usual; ``stage()`` stores the events as rows in this transaction
    and arranges for them to be pushed, and the outbox items published, once the session commits
    (``deliver()`` commits after the handler). A rollback disarms both: nothing leaves for a write that
    did not happen.
    """

    def __init__(
        self, session: so.Session, now: datetime, *, live: LivePush | None = None, tasks: TaskQueue | None = None
    ) -> None:
        super().__init__(lambda: session, clock=_FrozenClock(now), live=live or NullLivePush(), tasks=tasks)
        self.session = session
        self._queued_events: list[tuple[str, str, dict[str, Any]]] = []
        self._queued_outbox: list[OutboxItem] = []

    @override
    def emit(self, type_: str, data: dict[str, Any], *, audience: str = "operators") -> None:
        """Queue a live event for this transaction."""
        self._queued_events.append((type_, audience, data))

    @override
    def add_outbox(
        self, kind: str, payload: dict[str, Any], *, dedup_key: str | None = None, delay_s: float = 0
    ) -> OutboxItem:
        """Write a side effect to the outbox in this transaction."""
        item = super().add_outbox(kind, payload, dedup_key=dedup_key, delay_s=delay_s)
        self._queued_outbox.append(item)
        return item

    @override
    def commit(self) -> list[dict[str, Any]]:
        """Refuse: the handler's caller owns the transaction (use ``stage``)."""
        raise RuntimeError("a handler unit is committed by its caller; call stage()")

    def stage(self) -> list[dict[str, Any]]:
        """Insert the queued events now and release events and outbox items after the next commit."""
        session = self.session
        rows: list[Event] = []
        if self._queued_events:
            if session.get_bind().dialect.name == "postgresql":
                # The same lock as UnitOfWork.commit: commit order must equal seq order (contracts §4).
                session.execute(sa.select(sa.func.pg_advisory_xact_lock(EVENT_LOCK_KEY)))
            at = self.clock.now()
            rows = [Event(type=t, at=at, audience=a, payload=d) for t, a, d in self._queued_events]
            session.add_all(rows)
        session.flush()
        events = [event_dict(row) for row in rows]
        published = [(item.id, item.kind) for item in self._queued_outbox]
        self._queued_events, self._queued_outbox = [], []
        if events or published:
            _release_after_commit(session, events, published, self._live, self._tasks)
        return events


def _release_after_commit(
    session: so.Session,
    events: list[dict[str, Any]],
    published: list[tuple[int, str]],
    live: LivePush,
    tasks: TaskQueue | None,
) -> None:
    """Push events and publish outbox items once the session commits; forget them on rollback."""
    armed = [True]

    def on_commit(_session: so.Session) -> None:
        if not armed[0]:
            return
        armed[0] = False
        for event in events:
            try:
                live.emit(event)
            except Exception:  # noqa: BLE001  clients resync by seq; the commit stands
                log.warning("live push failed for event %s", event["seq"])
        if tasks is None:
            return
        for outbox_id, kind in published:
            try:
                tasks.enqueue(outbox_id, kind)
            except Exception:  # noqa: BLE001  broker down: the sweeper re-drives the item
                log.warning("broker unavailable; outbox item %s waits for the sweeper", outbox_id)

    def on_rollback(_session: so.Session) -> None:
        armed[0] = False

    sa.event.listen(session, "after_commit", on_commit)
    sa.event.listen(session, "after_rollback", on_rollback)


# --- the handler ---------------------------------------------------------------------------------


def transcription_handler(
    transcriber: Transcriber,
    *,
    threshold: float,
    max_attempts: int = MAX_ATTEMPTS,
    live: LivePush | None = None,
    tasks: TaskQueue | None = None,
    clock: Callable[[], datetime] | None = None,
) -> Handler:
    """Build the outbox handler for kind ``transcribe`` (payload ``{"voicemail_id": id}``)."""

    def handle(session: so.Session, item: OutboxItem, now: datetime) -> None:
        raw = item.payload.get("voicemail_id")
        if not isinstance(raw, int) or isinstance(raw, bool):
            raise TypeError(f"transcribe item {item.id} has no integer voicemail_id")
        transcribe_voicemail(
            session,
            raw,
            transcriber,
            now,
            threshold=threshold,
            max_attempts=max_attempts,
            live=live,
            tasks=tasks,
            clock=clock,
        )

    return handle


def transcribe_voicemail(
    session: so.Session,
    voicemail_id: int,
    transcriber: Transcriber,
    now: datetime,
    *,
    threshold: float,
    max_attempts: int = MAX_ATTEMPTS,
    live: LivePush | None = None,
    tasks: TaskQueue | None = None,
    clock: Callable[[], datetime] | None = None,
) -> TranscribeOutcome:
    """Transcribe one voicemail once and update its ticket; the caller commits the final write.

    Idempotent: a voicemail whose status is not ``pending`` is left alone. Raises
    ``TranscriptionRetry`` on a transient engine failure while attempts remain (its state committed).
    """
    vm = session.get(Voicemail, voicemail_id, populate_existing=True)
    if vm is None:
        log.warning("transcribe: voicemail %s does not exist", voicemail_id)
        return TranscribeOutcome(voicemail_id=voicemail_id, status="missing")
    if vm.transcript_status != "pending":
        return TranscribeOutcome(voicemail_id=voicemail_id, status="skipped")
    if vm.transcript_attempts >= max_attempts:
        # Earlier attempts never finished (the worker died mid-decode): give up instead of looping.
        reason = vm.transcript_error or "the worker stopped during transcription"
        return _finish(session, voicemail_id, "failed", None, reason, now, threshold, live, tasks)
    vm.transcript_attempts += 1
    attempt = vm.transcript_attempts
    vm.meta = {**(vm.meta or {}), "last_attempt_at": now.isoformat()}
    audio_path = vm.audio_path
    session.commit()  # end the transaction: no lock is held while the engine works

    if not audio_path:
        return _finish(session, voicemail_id, "rejected", None, "no_audio: the voicemail has no audio file", now,
                       threshold, live, tasks)  # fmt: skip
    started = time.perf_counter()
    try:
        result = transcriber.transcribe(audio_path)
    except AudioRejected as exc:
        return _finish(session, voicemail_id, "rejected", None, f"{exc.code}: {exc}", now, threshold, live, tasks)
    except TranscriptionUnavailable as exc:
        return _finish(session, voicemail_id, "unavailable", None, str(exc) or "no speech model", now, threshold,
                       live, tasks)  # fmt: skip
    except Exception as exc:  # noqa: BLE001  any engine fault: bounded retries, then "failed"
        reason = f"{type(exc).__name__}: {exc}"[:MAX_ERROR]
        if attempt >= max_attempts:
            return _finish(session, voicemail_id, "failed", None, reason, now, threshold, live, tasks)
        _note_error(session, voicemail_id, reason)
        raise TranscriptionRetry(f"voicemail {voicemail_id} attempt {attempt}/{max_attempts}: {reason}") from exc
    elapsed = time.perf_counter() - started
    finished = clock() if clock else now
    return _finish(session, voicemail_id, "done", result, None, finished, threshold, live, tasks, elapsed=elapsed)


def _note_error(session: so.Session, voicemail_id: int, reason: str) -> None:
    """Keep the last error of a failed attempt (the status stays pending for the retry)."""
    session.execute(
        sa.update(Voicemail)
        .where(Voicemail.id == voicemail_id, Voicemail.transcript_status == "pending")
        .values(transcript_error=reason)
        .execution_options(synchronize_session=False)
    )
    session.commit()


def _lock_voicemail(session: so.Session, voicemail_id: int) -> Voicemail | None:
    """Re-read the voicemail in the write transaction (row-locked on PostgreSQL)."""
    return session.execute(
        sa.select(Voicemail)
        .where(Voicemail.id == voicemail_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()


def _finish(
    session: so.Session,
    voicemail_id: int,
    status: str,
    result: TranscriptResult | None,
    error: str | None,
    now: datetime,
    threshold: float,
    live: LivePush | None,
    tasks: TaskQueue | None,
    *,
    elapsed: float = 0.0,
) -> TranscribeOutcome:
    """Write the outcome once (the first finisher wins), update the ticket and stage the events."""
    vm = _lock_voicemail(session, voicemail_id)
    if vm is None or vm.transcript_status != "pending":
        return TranscribeOutcome(voicemail_id=voicemail_id, status="skipped")
    unit = HandlerUnit(session, now, live=live, tasks=tasks)
    vm.transcript_status = status
    vm.transcript_error = error[:MAX_ERROR] if error else None
    meta = {**(vm.meta or {}), "finished_at": now.isoformat()}
    duration = result.duration_s if result else None
    if result is not None:
        _store_result(session, vm, result, threshold)
        meta.update(engine=result.engine, model=result.model, elapsed_s=round(elapsed, 3))
        if duration:
            meta["rtf"] = round(elapsed / duration, 4)
    else:
        vm.needs_human = True  # no usable transcript: a person must listen
    vm.meta = meta
    ticket = session.get(Ticket, vm.ticket_id) if vm.ticket_id else None
    if ticket is not None:
        _update_ticket(unit, vm, ticket, now)
    unit.emit("voicemail.transcribed", {"voicemail": voicemail_summary(vm, threshold, with_text=False)})
    if ticket is not None:
        unit.emit("ticket.updated", {"ticket": ticket_summary(ticket), "reason": "transcript"})
    unit.stage()
    log.info("voicemail %s transcript %s%s", voicemail_id, status, f" ({error})" if error else "")
    return TranscribeOutcome(voicemail_id=voicemail_id, status=status, duration_s=duration, elapsed_s=elapsed)


def _store_result(session: so.Session, vm: Voicemail, result: TranscriptResult, threshold: float) -> None:
    """Store text, words with timings and confidences, the mean confidence and the redacted text."""
    text = " ".join(strip_invisible(result.text).split())[:MAX_TEXT]
    stored = [
        {"word": strip_invisible(w.word)[:100], "start": round(w.start, 3), "end": round(w.end, 3),
         "conf": round(min(1.0, max(0.0, w.confidence)), 4)}
        for w in result.words[:MAX_WORDS]
    ]  # fmt: skip
    confidence = result.confidence
    vm.transcript_text = text
    vm.transcript_words = {
        "words": stored,
        "engine": result.engine,
        "model": result.model,
        "duration_s": result.duration_s,
        "threshold": threshold,
    }
    vm.transcript_confidence = confidence
    vm.needs_human = bool(result.needs_human or not text or confidence is None or confidence < threshold)
    vm.transcript_redacted = redact(text, names=known_names(session, vm))


def known_names(session: so.Session, vm: Voicemail) -> list[str | None]:
    """Return the names we know for this voicemail's caller: citizen record, caller ID of call and file."""
    names: list[str | None] = [(vm.meta or {}).get("caller_name")]
    if vm.call_id is not None:
        call = session.get(Call, vm.call_id)
        names.append(call.caller_name if call else None)
    if vm.ticket_id is not None:
        citizen = session.scalar(
            sa.select(Citizen).join(Ticket, Ticket.citizen_id == Citizen.id).where(Ticket.id == vm.ticket_id)
        )
        names.append(citizen.name if citizen else None)
    return [n for n in names if isinstance(n, str) and n.strip()]


# --- the draft ticket ----------------------------------------------------------------------------


def _auto_texts(vm: Voicemail) -> set[str]:
    """Return the descriptions the system itself wrote, which it may replace (never an operator's edit)."""
    meta = vm.meta or {}
    return {str(t) for t in (meta.get("draft_description"), meta.get("machine_description")) if t}


def _update_ticket(unit: HandlerUnit, vm: Voicemail, ticket: Ticket, now: datetime) -> None:
    """Put the transcript on the draft ticket, classify and route it if it has no category yet."""
    session = unit.session
    meta = dict(vm.meta or {})
    meta.setdefault("draft_description", ticket.description)
    vm.meta = meta
    text = vm.transcript_text or ""
    notes: list[str] = []
    if vm.transcript_status == "done" and text:
        if ticket.description in _auto_texts(vm):
            ticket.description = text[:MAX_DESCRIPTION]
            vm.meta = {**meta, "machine_description": ticket.description}
        else:
            notes.append(NOTES["kept_description"])
        confidence = f"{round((vm.transcript_confidence or 0) * 100)} %"
        notes.insert(0, NOTES["done_review" if vm.needs_human else "done"].format(confidence=confidence))
        route_ticket(unit, ticket, text, now)
    elif vm.transcript_status == "done":
        notes.append(NOTES["empty"])  # the placeholder stays: nothing better to show
    else:
        reason = (vm.transcript_error or "").split(":", 1)[0] or "?"
        key = vm.transcript_status
        notes.append(NOTES[key].format(reason=reason, attempts=vm.transcript_attempts))
    ticket.search_text = classify.search_key(ticket.description, ticket.place)
    ticket.updated_at = now
    session.add(
        StatusChange(
            ticket_id=ticket.id, at=now, kind="transcript", actor_label="system", internal_note=" ".join(notes)
        )
    )


def route_ticket(uow: UnitOfWork, ticket: Ticket, text: str, now: datetime) -> bool:
    """Classify and route a ticket that has no category yet, as intake does; return True if routed.

    A ticket that an operator has already categorised, assigned or moved on is left as it is.
    """
    session = uow.session
    if not ticket.place:
        place = classify.find_place(session, text)
        if place is not None:
            ticket.place, ticket.place_id = place.name_cyrl, place.id
    if any(w.startswith("hitn") for w in words(text)):
        ticket.priority = "high"
    if ticket.category_id is not None or ticket.organisation_id is not None or ticket.status != Status.NEW.value:
        return False
    suggestion = classify.suggest_category(session, text)
    if suggestion.category_id is None:
        return False
    category = session.get_one(Category, suggestion.category_id)
    organisation = category.organisation
    ticket.category_id = category.id
    ticket.resolve_due = compute_deadlines(ticket.created_at, category.resolve_hours).resolve_due
    if ticket.priority != "high":
        ticket.priority = category.priority
    if organisation is None:
        session.flush()
        session.refresh(ticket)
        return True
    status = intake.route_status(organisation)
    ticket.organisation_id = organisation.id
    ticket.status = status.value
    if status is Status.REFERRED and ticket.answered_at is None:
        ticket.answered_at = now  # "not our competence" is an answer too (as at intake)
    session.add(intake.routing_entry(ticket.id, organisation, status, now))
    session.flush()
    session.refresh(ticket)  # load the category and organisation relationships for the notices
    if status is Status.REFERRED:
        notify_citizen(uow, ticket, "referred", channel_hint=ticket.channel)
    notify_organisation(uow, ticket, organisation, "org_new")
    return True


# --- operators: corrections, publishing, read models ---------------------------------------------


def correct_transcript(
    uow: UnitOfWork, voicemail_id: int, text: str, user: User, *, threshold: float
) -> dict[str, Any]:
    """Keep an operator's corrected text beside the machine transcript, redact it, update the ticket."""
    cleaned = " ".join(strip_invisible(text).split())[:MAX_TEXT]
    if not cleaned:
        raise ValueError("empty correction")
    with uow:
        session = uow.session
        vm = _lock_voicemail(session, voicemail_id)
        if vm is None:
            raise VoicemailNotFound(voicemail_id)
        now = uow.clock.now()
        previous = vm.corrected_text
        vm.corrected_text = cleaned
        vm.corrected_by = user.id
        vm.corrected_at = now
        vm.transcript_redacted = redact(cleaned, names=known_names(session, vm))
        ticket = session.get(Ticket, vm.ticket_id) if vm.ticket_id else None
        if ticket is not None:
            meta = dict(vm.meta or {})
            meta.setdefault("draft_description", ticket.description)
            auto = _auto_texts(vm) | {meta["draft_description"]} | ({previous} if previous else set())
            if ticket.description in auto:
                ticket.description = cleaned[:MAX_DESCRIPTION]
                meta["machine_description"] = ticket.description
            vm.meta = meta
            route_ticket(uow, ticket, cleaned, now)
            ticket.search_text = classify.search_key(ticket.description, ticket.place)
            ticket.updated_at = now
            session.add(
                StatusChange(
                    ticket_id=ticket.id,
                    at=now,
                    kind="transcript",
                    actor_id=user.id,
                    actor_label=user.username,
                    internal_note=NOTES["corrected"],
                )
            )
            uow.emit("ticket.updated", {"ticket": ticket_summary(ticket), "reason": "transcript_corrected"})
        uow.emit("voicemail.updated", {"voicemail": voicemail_summary(vm, threshold, with_text=False)})
        detail = voicemail_detail(session, vm, threshold)
        uow.commit()
        return detail


def set_published(uow: UnitOfWork, voicemail_id: int, publish: bool | None, *, threshold: float) -> dict[str, Any]:
    """Set (or, with None, toggle) whether the redacted transcript may appear on public pages."""
    with uow:
        vm = _lock_voicemail(uow.session, voicemail_id)
        if vm is None:
            raise VoicemailNotFound(voicemail_id)
        target = (not vm.publish_transcript) if publish is None else publish
        if target and not vm.transcript_redacted:
            raise ValueError("nothing to publish: no redacted transcript")
        vm.publish_transcript = target
        uow.emit("voicemail.updated", {"voicemail": voicemail_summary(vm, threshold, with_text=False)})
        summary = voicemail_summary(vm, threshold, with_text=False)
        uow.commit()
        return summary


def public_transcript(vm: Voicemail) -> str | None:
    """Return the only transcript text a public page may show: the redacted one, if published."""
    return vm.transcript_redacted if vm.publish_transcript and vm.transcript_redacted else None


def reset_for_retranscription(session: so.Session, voicemail_id: int, *, force: bool) -> bool:
    """Put a voicemail back to ``pending`` for the backlog; done/rejected ones only with ``force``."""
    allowed = list(STATUSES) if force else ["pending", "failed", "unavailable"]
    changed = session.execute(
        sa.update(Voicemail)
        .where(Voicemail.id == voicemail_id, Voicemail.transcript_status.in_(allowed))
        .values(transcript_status="pending", transcript_attempts=0, transcript_error=None)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return bool(changed.rowcount)  # type: ignore[attr-defined]


def _words_view(vm: Voicemail, threshold: float) -> list[dict[str, Any]]:
    """Return the stored words with ``low`` set on those an operator should check."""
    stored = (vm.transcript_words or {}).get("words") or []
    out: list[dict[str, Any]] = []
    for w in stored if isinstance(stored, list) else []:
        if isinstance(w, dict):
            conf = float(w.get("conf") or 0.0)
            out.append({"word": str(w.get("word", "")), "start": w.get("start"), "end": w.get("end"),
                        "conf": conf, "low": conf < threshold})  # fmt: skip
    return out


def voicemail_summary(vm: Voicemail, threshold: float, *, with_text: bool = True) -> dict[str, Any]:
    """Return the list form of a voicemail (the transcript text only when ``with_text``)."""
    data: dict[str, Any] = {
        "id": vm.id,
        "mailbox": vm.mailbox,
        "ticket_id": vm.ticket_id,
        "call_id": vm.call_id,
        "duration_s": vm.duration_s,
        "received_at": vm.received_at.isoformat(),
        "transcript_status": vm.transcript_status,
        "transcript_error": vm.transcript_error,
        "transcript_confidence": vm.transcript_confidence,
        "transcript_attempts": vm.transcript_attempts,
        "needs_human": vm.needs_human,
        "publish_transcript": vm.publish_transcript,
        "corrected": vm.corrected_text is not None,
        "has_audio": bool(vm.audio_path),
    }
    if with_text:
        data["transcript"] = vm.transcript_text
        data["corrected_text"] = vm.corrected_text
        data["words"] = _words_view(vm, threshold)
    return data


def voicemail_detail(session: so.Session, vm: Voicemail, threshold: float) -> dict[str, Any]:
    """Return the full staff view: machine and corrected transcripts, redacted text, words, ticket."""
    data = voicemail_summary(vm, threshold)
    meta = vm.meta or {}
    ticket = session.get(Ticket, vm.ticket_id) if vm.ticket_id else None
    corrector = session.get(User, vm.corrected_by) if vm.corrected_by else None
    data.update(
        {
            "transcript_redacted": vm.transcript_redacted,
            "engine": (vm.transcript_words or {}).get("engine"),
            "model": (vm.transcript_words or {}).get("model"),
            "threshold": threshold,
            "corrected_by": corrector.username if corrector else None,
            "corrected_at": vm.corrected_at.isoformat() if vm.corrected_at else None,
            "caller": {"name": meta.get("caller_name"), "number": meta.get("caller_number")},
            "ticket": ticket_summary(ticket) if ticket else None,
        }
    )
    return data


def list_voicemails(
    session: so.Session, *, statuses: list[str] | None, needs_human: bool | None, limit: int, offset: int
) -> list[Voicemail]:
    """List voicemails newest first, by transcript status and review flag."""
    query = sa.select(Voicemail).order_by(Voicemail.received_at.desc(), Voicemail.id.desc())
    if statuses:
        query = query.where(Voicemail.transcript_status.in_(statuses))
    if needs_human is not None:
        query = query.where(Voicemail.needs_human.is_(needs_human))
    return list(session.scalars(query.limit(max(1, min(limit, 200))).offset(max(0, offset))))
