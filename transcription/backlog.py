"""(Re)transcribe a range of voicemails by hand: after installing a model, after a failure, or with a new one.

Runs in the calling process (not through Celery), one voicemail at a time, with a progress bar and a
summary. Without ``force`` it takes the voicemails that have no transcript yet (pending, failed,
unavailable); ``force`` also redoes finished and rejected ones. An operator's correction is never
overwritten: the machine transcript is stored beside it, and the ticket text is replaced only while it
is still the system's own.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from tqdm import tqdm

from core.bootstrap import Core
from core.config import Settings
from core.db.models import Voicemail
from core.ports import Transcriber
from core.services.transcripts import (
    STATUSES,
    TranscribeOutcome,
    TranscriptionRetry,
    reset_for_retranscription,
    transcribe_voicemail,
)

log = logging.getLogger(__name__)

MAX_BATCH = 100_000


@dataclass
class BacklogSummary:
    """What a backlog run did: counts by outcome, audio and engine time, wall time."""

    selected: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    audio_s: float = 0.0
    engine_s: float = 0.0
    wall_s: float = 0.0

    @property
    def real_time_factor(self) -> float | None:
        """Return engine seconds per second of audio (lower is faster), or None without audio."""
        return self.engine_s / self.audio_s if self.audio_s > 0 else None

    def add(self, outcome: TranscribeOutcome) -> None:
        """Count one outcome."""
        self.counts[outcome.status] += 1
        if outcome.status == "done" and outcome.duration_s:
            self.audio_s += outcome.duration_s
            self.engine_s += outcome.elapsed_s

    def render(self) -> str:
        """Return the summary as lines for the terminal (Serbian labels, English keys)."""
        rtf = self.real_time_factor
        parts = [f"{k}: {self.counts.get(k, 0)}" for k in ("done", "failed", "unavailable", "rejected", "skipped")]
        return "\n".join(
            [
                f"Говорне поруке / voicemails: {self.selected}",
                "  " + ", ".join(parts),
                f"  звук / audio: {self.audio_s:.1f} s, транскрипција / engine: {self.engine_s:.1f} s, "
                f"укупно / wall: {self.wall_s:.1f} s",
                f"  real-time factor: {rtf:.3f}" if rtf is not None else "  real-time factor: —",
            ]
        )


def select_ids(
    core: Core, *, since: datetime | None, until: datetime | None, ids: Sequence[int] | None, force: bool
) -> list[int]:
    """Return the voicemails to process, oldest first."""
    query = sa.select(Voicemail.id).order_by(Voicemail.received_at, Voicemail.id).limit(MAX_BATCH)
    if since is not None:
        query = query.where(Voicemail.received_at >= since)
    if until is not None:
        query = query.where(Voicemail.received_at < until)
    if ids:
        query = query.where(Voicemail.id.in_(list(ids)))
    statuses = list(STATUSES) if force else ["pending", "failed", "unavailable"]
    query = query.where(Voicemail.transcript_status.in_(statuses))
    with core.session_factory() as session:
        return list(session.scalars(query))


def retranscribe(
    settings: Settings,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    ids: Sequence[int] | None = None,
    force: bool = False,
    progress: bool = True,
    core: Core | None = None,
    transcriber: Transcriber | None = None,
) -> BacklogSummary:
    """Transcribe the selected voicemails now, with a progress bar; return the summary."""
    if core is None:
        from sistem48.runtime import build_core
        from sistem48.worker import live_for

        core = build_core(settings, live=live_for(settings))
    if transcriber is None:
        from transcription.worker import build_transcriber

        transcriber = build_transcriber(settings)
    started = time.perf_counter()
    selected = select_ids(core, since=since, until=until, ids=ids, force=force)
    summary = BacklogSummary(selected=len(selected))
    with tqdm(total=len(selected), unit="vm", disable=not progress, desc="transcribe") as bar:
        for voicemail_id in selected:
            summary.add(_one(core, transcriber, voicemail_id, force=force))
            bar.update(1)
            bar.set_postfix({k: v for k, v in summary.counts.items()}, refresh=False)
    summary.wall_s = time.perf_counter() - started
    return summary


def _one(core: Core, transcriber: Transcriber, voicemail_id: int, *, force: bool) -> TranscribeOutcome:
    """Reset and transcribe one voicemail; an error is counted, never fatal to the run."""
    try:
        with core.session_factory() as session:
            if not reset_for_retranscription(session, voicemail_id, force=force):
                return TranscribeOutcome(voicemail_id=voicemail_id, status="skipped")
            outcome = transcribe_voicemail(
                session,
                voicemail_id,
                transcriber,
                core.clock.now(),
                threshold=core.settings.transcription_confidence,
                max_attempts=1,  # by hand: one try each; a failure stays visible and can be re-run
                live=core.live,
                tasks=core.tasks,
                clock=core.clock.now,
            )
            session.commit()
            return outcome
    except TranscriptionRetry:  # pragma: no cover - max_attempts=1 finishes as "failed" instead
        return TranscribeOutcome(voicemail_id=voicemail_id, status="failed")
    except Exception:  # noqa: BLE001  one bad voicemail must not stop the backlog
        log.exception("voicemail %s could not be processed", voicemail_id)
        return TranscribeOutcome(voicemail_id=voicemail_id, status="failed")
