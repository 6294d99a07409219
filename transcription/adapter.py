"""The core's ``Transcriber`` port over the Vosk engine (and a stand-in when no model is configured).

The core sees only ``core.ports``: a ``TranscriptResult``, or ``AudioRejected`` (the file will never
decode: do not retry), or ``TranscriptionUnavailable`` (no usable model: a human listens). Anything else
(``DecodeFailedError``: Vosk failed on audio it had accepted) propagates, and the core retries it a
bounded number of times.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path

from core.ports import AudioRejected, TranscribedWord, TranscriptionUnavailable, TranscriptResult
from transcription.engine import Transcript
from transcription.errors import AudioRejectedError, GrammarError, ModelUnavailableError
from transcription.storage import resolve_audio
from transcription.vosk_engine import VoskSettings, VoskTranscriber

log = logging.getLogger(__name__)


def to_result(transcript: Transcript) -> TranscriptResult:
    """Convert the engine's transcript into the core's port type."""
    return TranscriptResult(
        text=transcript.text,
        words=tuple(
            TranscribedWord(word=w.text, start=w.start, end=w.end, confidence=w.confidence) for w in transcript.words
        ),
        confidence=transcript.mean_confidence if transcript.words else None,
        needs_human=transcript.needs_human,
        engine=transcript.engine,
        model=transcript.model,
        duration_s=transcript.duration,
    )


class VoskPortTranscriber:
    """``core.ports.Transcriber`` backed by Vosk; the model loads once per process, on ``load()`` or first use."""

    def __init__(
        self,
        settings: VoskSettings,
        *,
        roots: Sequence[Path] | None = None,
        grammar: Sequence[str] | None = None,
    ) -> None:
        self.settings = settings
        self._roots = tuple(roots) if roots is not None else None
        self._grammar = list(grammar) if grammar else None
        self._engine: VoskTranscriber | None = None
        self._lock = threading.Lock()
        self.state = "not loaded"  # ok|down|not loaded, with detail: what health reports
        self.detail: str | None = None

    def load(self) -> VoskTranscriber:
        """Return the engine, loading the model now if needed; raises TranscriptionUnavailable."""
        with self._lock:
            if self._engine is not None:
                return self._engine
            try:
                engine = VoskTranscriber(self.settings)
            except ModelUnavailableError as exc:
                # Not cached: the model may be installed later, and checking a missing directory is cheap.
                self.state, self.detail = "down", exc.message
                raise TranscriptionUnavailable(f"{exc.code}: {exc.message}") from exc
            self._engine = engine
            self.state, self.detail = "ok", f"vosk · {engine.model_name} · {engine.sample_rate} Hz"
            log.info("speech model %s loaded (%d Hz)", engine.model_name, engine.sample_rate)
            return engine

    def transcribe(self, audio_path: str) -> TranscriptResult:
        """Transcribe one stored voicemail file."""
        try:
            path = resolve_audio(audio_path, self._roots) if self._roots is not None else Path(audio_path)
        except AudioRejectedError as exc:
            raise AudioRejected(exc.code, exc.message) from exc
        engine = self.load()
        try:
            transcript = engine.transcribe(path, grammar=self._grammar)
        except AudioRejectedError as exc:
            raise AudioRejected(exc.code, exc.message) from exc
        except (ModelUnavailableError, GrammarError) as exc:
            raise TranscriptionUnavailable(f"{exc.code}: {exc.message}") from exc
        return to_result(transcript)


class UnavailableTranscriber:
    """The port when no speech model is configured: every voicemail is marked for a human to listen to."""

    state = "not configured"

    def __init__(self, detail: str) -> None:
        self.detail: str | None = detail

    def transcribe(self, audio_path: str) -> TranscriptResult:
        """Refuse: there is no engine."""
        raise TranscriptionUnavailable(f"model_missing: {self.detail}")
