import numpy as np
import numpy.typing as npt
import pytest

from transcription.resample import resample_int16


def _tone(freq: float, rate: int, seconds: float, amplitude: float = 10000.0) -> npt.NDArray[np.int16]:
    """Return a sine tone as int16."""
    t = np.arange(int(rate * seconds)) / rate
    return np.rint(amplitude * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def _peak_frequency(x: npt.NDArray[np.int16], rate: int) -> float:
    """Return the frequency of the strongest FFT bin."""
    spectrum = np.abs(np.fft.rfft(x.astype(np.float64) * np.hanning(x.size)))
    return float(np.argmax(spectrum) * rate / x.size)


@pytest.mark.parametrize(("source", "target"), [(8000, 16000), (16000, 8000), (8000, 44100), (48000, 16000)])
def test_tone_keeps_frequency_amplitude_and_duration(source: int, target: int) -> None:
    """A 1 kHz tone keeps its pitch, level and duration across rates."""
    x = _tone(1000.0, source, 1.0)
    y = resample_int16(x, source, target)
    assert y.dtype == np.int16
    assert y.size == -(-x.size * target // source)
    assert _peak_frequency(y, target) == pytest.approx(1000.0, abs=2.0)
    expected = _tone(1000.0, target, 1.0)[: y.size].astype(np.int32)
    middle = slice(y.size // 10, -y.size // 10)  # edges see the filter's start-up transient
    assert np.max(np.abs(y[middle].astype(np.int32) - expected[middle])) <= 30


def test_upsample_then_downsample_round_trips() -> None:
    """8 kHz -> 16 kHz -> 8 kHz gives back the original band-limited samples."""
    x = _tone(440.0, 8000, 0.5)
    back = resample_int16(resample_int16(x, 8000, 16000), 16000, 8000)
    assert np.max(np.abs(back[200:-200].astype(np.int32) - x[200:-200])) <= 2


def test_downsampling_removes_content_above_the_new_nyquist() -> None:
    """A 6 kHz tone cannot alias into 8 kHz audio."""
    y = resample_int16(_tone(6000.0, 16000, 1.0), 16000, 8000)
    assert np.max(np.abs(y[200:-200])) < 40


def test_same_rate_is_an_exact_copy() -> None:
    """Equal rates return the samples unchanged (and not the same buffer)."""
    x = _tone(300.0, 8000, 0.1)
    y = resample_int16(x, 8000, 8000)
    assert np.array_equal(x, y)
    assert y is not x


def test_result_is_deterministic_and_clipped() -> None:
    """The same input always gives the same bytes, and full-scale input stays in int16 range."""
    x = np.where(np.arange(4000) % 50 < 25, 32767, -32768).astype(np.int16)  # square wave rings
    first = resample_int16(x, 8000, 16000)
    assert first.tobytes() == resample_int16(x, 8000, 16000).tobytes()
    assert first.max() <= 32767
    assert first.min() >= -32768


def test_empty_input_gives_empty_output() -> None:
    """No samples in, no samples out."""
    assert resample_int16(np.zeros(0, np.int16), 8000, 16000).size == 0


@pytest.mark.parametrize(("source", "target"), [(0, 16000), (8000, 0), (-8000, 16000)])
def test_non_positive_rates_are_refused(source: int, target: int) -> None:
    """A rate of zero or less is a programming error."""
    with pytest.raises(ValueError, match="positive"):
        resample_int16(np.zeros(10, np.int16), source, target)
