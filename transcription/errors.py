"""Typed errors of the transcription pipeline: a stable machine ``code`` plus a human message."""

from __future__ import annotations

from typing import Literal

AudioRejectCode = Literal[
    "unreadable",
    "empty",
    "not_audio",
    "malformed",
    "no_data_chunk",
    "truncated",
    "zero_rate",
    "unsupported_rate",
    "unsupported_format",
    "too_large",
    "too_long",
    "decoder_unavailable",
    "decode_failed",
    "no_audio",
    "forbidden_path",
]
"""Why an audio file was refused; stored beside the ticket so operators see a reason, not a traceback."""

ModelErrorCode = Literal["model_missing", "model_invalid"]
GrammarErrorCode = Literal["grammar_unsupported", "grammar_empty"]


class TranscriptionError(Exception):
    """Base of every expected transcription failure; ``code`` is stable, ``message`` is for people."""

    code: str

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class AudioRejectedError(TranscriptionError):
    """The audio file cannot be turned into PCM; retrying will not help."""

    code: AudioRejectCode

    def __init__(self, code: AudioRejectCode, message: str) -> None:
        super().__init__(code, message)
        self.code = code


class ModelUnavailableError(TranscriptionError):
    """No usable speech model: the ticket must say "transcription unavailable" and go to a human."""

    code: ModelErrorCode

    def __init__(self, code: ModelErrorCode, message: str) -> None:
        super().__init__(code, message)
        self.code = code


class ModelMissingError(ModelUnavailableError):
    """The configured model directory (or a file Kaldi needs in it) does not exist."""

    def __init__(self, message: str) -> None:
        super().__init__("model_missing", message)


class ModelLoadError(ModelUnavailableError):
    """The model directory exists but the engine refused to load it."""

    def __init__(self, message: str) -> None:
        super().__init__("model_invalid", message)


class GrammarError(TranscriptionError):
    """A grammar cannot be used with this model (no lookahead graph, or no word of it is known)."""

    code: GrammarErrorCode

    def __init__(self, code: GrammarErrorCode, message: str) -> None:
        super().__init__(code, message)
        self.code = code


class DecodeFailedError(TranscriptionError):
    """The engine failed on audio it had accepted; the job may be retried, the ticket is kept."""

    def __init__(self, message: str) -> None:
        super().__init__("decode_failed", message)
