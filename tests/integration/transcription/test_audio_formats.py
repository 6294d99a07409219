from pathlib import Path

import numpy as np
import pytest

from transcription.audio import AudioLimits, load_audio
from transcription.errors import AudioRejectCode, AudioRejectedError

pytestmark = pytest.mark.integration  # decodes GSM with the real sox binary


def _samples(path: Path, rate: int = 8000) -> np.ndarray:
    """Load a fixture as int16 samples at ``rate``."""
    return np.frombuffer(load_audio(path, target_rate=rate).samples, "<i2")


def test_wav49_and_raw_gsm_decode_to_the_same_speech_as_pcm(audio_dir: Path) -> None:
    """GSM is lossy, but both GSM files carry the PCM fixture's speech, sample-aligned."""
    reference = _samples(audio_dir / "ko_8k.wav").astype(np.float64)
    wav49 = _samples(audio_dir / "ko_8k_wav49.WAV")
    raw = _samples(audio_dir / "ko_8k.gsm")
    # Whole GSM frames: at most one 320-sample WAV49 block more than the PCM.
    assert 0 <= wav49.size - reference.size < 320
    assert 0 <= raw.size - reference.size < 160
    n = reference.size
    assert np.corrcoef(reference, wav49[:n].astype(np.float64))[0, 1] > 0.9
    assert np.array_equal(wav49[: raw.size], raw[: wav49.size])  # same codec, same frames


def test_formats_report_their_source(audio_dir: Path) -> None:
    """Each loaded file says which Asterisk format and rate it came from."""
    seen = {
        name: load_audio(audio_dir / name, target_rate=16000)
        for name in ["ko_8k.wav", "ko_16k.wav", "ko_8k_wav49.WAV", "ko_8k.gsm"]
    }
    assert {n: (a.source_format, a.source_rate) for n, a in seen.items()} == {
        "ko_8k.wav": ("pcm_wav", 8000),
        "ko_16k.wav": ("pcm_wav", 16000),
        "ko_8k_wav49.WAV": ("wav49", 8000),
        "ko_8k.gsm": ("gsm", 8000),
    }
    assert all(a.sample_rate == 16000 for a in seen.values())


def test_truncated_wav49_is_refused(audio_dir: Path, tmp_path: Path) -> None:
    """A WAV49 file cut short (header still claims the full size) is refused as truncated."""
    cut = tmp_path / "msg0000.WAV"
    cut.write_bytes((audio_dir / "ko_8k_wav49.WAV").read_bytes()[:2000])
    with pytest.raises(AudioRejectedError) as info:
        load_audio(cut, target_rate=16000)
    assert info.value.code == "truncated"


def test_wav49_with_garbage_frames_still_decodes(audio_dir: Path, tmp_path: Path) -> None:
    """GSM has no checksum: random frames inside a valid WAV49 header decode to noise of the right length."""
    data = bytearray((audio_dir / "ko_8k_wav49.WAV").read_bytes())
    data[60:] = np.random.default_rng(5).integers(0, 256, len(data) - 60, dtype=np.uint8).tobytes()
    bad = tmp_path / "msg0001.WAV"
    bad.write_bytes(bytes(data))
    audio = load_audio(bad, target_rate=16000)
    assert audio.duration == pytest.approx(4.48, abs=0.01)


def test_missing_sox_is_a_clear_refusal(audio_dir: Path) -> None:
    """Without sox, GSM files are refused as 'decoder_unavailable' instead of failing obscurely."""
    with pytest.raises(AudioRejectedError) as info:
        load_audio(audio_dir / "ko_8k.gsm", target_rate=16000, limits=AudioLimits(sox="/nonexistent/sox"))
    assert info.value.code == "decoder_unavailable"


@pytest.mark.parametrize(
    ("content", "code"),
    [(b"", "empty"), (b"RIFF", "truncated"), (b"hello\n" * 100, "not_audio")],
    ids=["zero bytes", "just RIFF", "text"],
)
def test_hostile_files_on_disk_are_refused(tmp_path: Path, content: bytes, code: AudioRejectCode) -> None:
    """Bad files read from disk are refused with their reason."""
    path = tmp_path / "msg0002.wav"
    path.write_bytes(content)
    with pytest.raises(AudioRejectedError) as info:
        load_audio(path, target_rate=16000)
    assert info.value.code == code


def test_oversized_file_is_refused_before_reading(tmp_path: Path) -> None:
    """The byte cap is checked from the file size, so a huge file is never read into memory."""
    path = tmp_path / "huge.wav"
    with path.open("wb") as f:
        f.truncate(2_000_000)  # sparse: costs no disk
    with pytest.raises(AudioRejectedError) as info:
        load_audio(path, target_rate=16000, limits=AudioLimits(max_bytes=1_000_000))
    assert info.value.code == "too_large"


def test_unreadable_path_is_refused(tmp_path: Path) -> None:
    """A path that is missing is refused, not raised as a bare OSError."""
    with pytest.raises(AudioRejectedError) as info:
        load_audio(tmp_path / "gone.wav", target_rate=16000)
    assert info.value.code == "unreadable"
