import struct
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from transcription.audio import AudioLimits, decode_audio
from transcription.errors import AudioRejectCode, AudioRejectedError

# sox must never be reached from these unit tests; a missing binary turns a GSM path into a refusal.
NO_SOX = AudioLimits(sox="/nonexistent/sox")


def wav(
    samples: bytes = b"\x00\x00" * 800,
    *,
    tag: int = 1,
    channels: int = 1,
    rate: int = 8000,
    bits: int = 16,
    block_align: int | None = None,
    data_size: int | None = None,
    with_fmt: bool = True,
    with_data: bool = True,
) -> bytes:
    """Build a RIFF/WAVE file with the given header fields (sizes may lie on purpose)."""
    align = block_align if block_align is not None else channels * bits // 8
    chunks = b""
    if with_fmt:
        fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * align, align, bits)
        chunks += b"fmt " + struct.pack("<I", len(fmt)) + fmt
    if with_data:
        size = len(samples) if data_size is None else data_size
        chunks += b"data" + struct.pack("<I", size) + samples
    else:
        chunks += b"LIST" + struct.pack("<I", 4) + b"INFO"
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks


def pcm(values: list[int] | np.ndarray) -> bytes:
    """Return little-endian int16 bytes."""
    return np.asarray(values, dtype="<i2").tobytes()


def test_pcm_8k_is_resampled_to_the_model_rate() -> None:
    """8 kHz PCM becomes 16 kHz PCM of the same duration, remembering its source."""
    tone = np.rint(8000 * np.sin(2 * np.pi * 500 * np.arange(8000) / 8000)).astype(np.int16)
    audio = decode_audio(wav(pcm(tone)), name="msg0000.wav", target_rate=16000)
    assert audio.sample_rate == 16000
    assert audio.source_rate == 8000
    assert audio.source_format == "pcm_wav"
    assert audio.n_samples == 16000
    assert audio.duration == pytest.approx(1.0)


def test_pcm_at_the_model_rate_is_passed_through_unchanged() -> None:
    """No resampling happens when the file is already at the target rate."""
    samples = pcm(list(range(-500, 500)))
    audio = decode_audio(wav(samples, rate=16000), name="a.wav", target_rate=16000)
    assert audio.samples == samples


def test_stereo_is_averaged_to_mono() -> None:
    """Two channels become their mean."""
    frames = pcm([100, 300, -100, -300, 32767, 32767])
    audio = decode_audio(wav(frames, channels=2, rate=8000), name="s.wav", target_rate=8000)
    assert np.frombuffer(audio.samples, "<i2").tolist() == [200, -200, 32767]


def test_trailing_chunks_and_odd_partial_frames_are_tolerated() -> None:
    """A LIST chunk after the data and an odd trailing byte do not break reading."""
    body = wav(pcm([1, 2, 3]) + b"\x07", data_size=7)
    data = body + b"\x00" + b"LIST" + struct.pack("<I", 4) + b"INFO"
    audio = decode_audio(data, name="t.wav", target_rate=8000)
    assert np.frombuffer(audio.samples, "<i2").tolist() == [1, 2, 3]


MP3 = b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x64" + bytes(400)
TEXT = "Ово није звук, ово је текст.\n".encode() * 20

HOSTILE: list[tuple[str, bytes, str, AudioRejectCode]] = [
    ("zero bytes", b"", "msg0000.wav", "empty"),
    ("just RIFF", b"RIFF", "msg0000.wav", "truncated"),
    ("header, no samples", wav(b""), "msg0000.wav", "empty"),
    ("no data chunk", wav(with_data=False), "msg0000.wav", "no_data_chunk"),
    ("no fmt chunk", wav(with_fmt=False), "msg0000.wav", "malformed"),
    ("short fmt chunk", b"RIFF\x14\x00\x00\x00WAVEfmt \x04\x00\x00\x00\x01\x00\x01\x00", "a.wav", "malformed"),
    ("file ends in fmt", b"RIFF\x14\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00", "a.wav", "truncated"),
    ("truncated data", wav(pcm([1] * 50), data_size=16000), "msg0000.wav", "truncated"),
    ("size never finalised", wav(pcm([1] * 50), data_size=0xFFFFFFFF), "msg0000.wav", "truncated"),
    ("zero frame rate", wav(rate=0), "msg0000.wav", "zero_rate"),
    ("absurd frame rate", wav(rate=1_000_000), "msg0000.wav", "unsupported_rate"),
    ("8-bit PCM", wav(bits=8), "msg0000.wav", "unsupported_format"),
    ("IEEE float", wav(tag=3, bits=32), "msg0000.wav", "unsupported_format"),
    ("MP3 in WAV", wav(tag=0x55), "msg0000.wav", "unsupported_format"),
    ("bad block align", wav(block_align=3), "msg0000.wav", "malformed"),
    ("stereo WAV49", wav(tag=0x31, channels=2, block_align=65), "msg0000.WAV", "malformed"),
    ("WAV49 at 16 kHz", wav(tag=0x31, rate=16000, block_align=65), "msg0000.WAV", "unsupported_rate"),
    ("AVI", b"RIFF\x10\x00\x00\x00AVI LIST\x00\x00\x00\x00", "msg0000.wav", "unsupported_format"),
    ("MP3 renamed .wav", MP3, "msg0000.wav", "not_audio"),
    ("MP3 renamed .gsm", MP3, "msg0000.gsm", "not_audio"),
    ("text renamed .wav", TEXT, "msg0000.wav", "not_audio"),
    ("text renamed .gsm", TEXT, "msg0000.gsm", "not_audio"),
    ("gsm with a partial frame", (b"\xd0" + bytes(32)) * 3 + b"\xd0\x01", "msg0000.gsm", "truncated"),
    ("gsm without sox", (b"\xd0" + bytes(32)) * 3, "msg0000.gsm", "decoder_unavailable"),
    ("WAV49 without sox", wav(bytes(65), tag=0x31, block_align=65), "msg0000.WAV", "decoder_unavailable"),
]


@pytest.mark.parametrize(("data", "name", "code"), [h[1:] for h in HOSTILE], ids=[h[0] for h in HOSTILE])
def test_hostile_input_is_refused_with_its_reason(data: bytes, name: str, code: AudioRejectCode) -> None:
    """Each kind of bad file is refused with its own code and a message naming the file."""
    with pytest.raises(AudioRejectedError) as info:
        decode_audio(data, name=name, target_rate=16000, limits=NO_SOX)
    assert info.value.code == code
    assert name in info.value.message


def test_unfinished_header_says_so() -> None:
    """A 0xFFFFFFFF data size is reported as a file still being written."""
    with pytest.raises(AudioRejectedError, match="never finalised"):
        decode_audio(wav(pcm([1] * 50), data_size=0xFFFFFFFF), name="m.wav", target_rate=16000)


def test_mp3_is_recognised_in_the_message() -> None:
    """The refusal says what the bytes look like."""
    with pytest.raises(AudioRejectedError, match="MP3"):
        decode_audio(MP3, name="msg0001.wav", target_rate=16000)


@pytest.mark.parametrize(
    ("make", "name", "limits", "code"),
    [
        (lambda: wav(bytes(2 * 8000 * 601)), "m.wav", AudioLimits(), "too_long"),  # 601 s at 8 kHz
        (lambda: wav(bytes(2 * 8000 * 3)), "m.wav", AudioLimits(max_seconds=2.0), "too_long"),
        (lambda: (b"\xd0" + bytes(32)) * 200, "m.gsm", AudioLimits(max_seconds=2.0, sox="/x"), "too_long"),
        (lambda: wav(bytes(4000)), "m.wav", AudioLimits(max_bytes=1000), "too_large"),
    ],
    ids=["over 10 minutes", "over a custom cap", "raw gsm over the cap", "over the byte cap"],
)
def test_oversized_audio_is_refused_before_decoding(
    make: Callable[[], bytes], name: str, limits: AudioLimits, code: AudioRejectCode
) -> None:
    """Duration and size caps hold for every format (sox is never reached)."""
    with pytest.raises(AudioRejectedError) as info:
        decode_audio(make(), name=name, target_rate=16000, limits=limits)
    assert info.value.code == code


def test_target_rate_out_of_range_is_a_programming_error() -> None:
    """The engine, not the file, chose an impossible rate."""
    with pytest.raises(ValueError, match="target rate"):
        decode_audio(wav(), name="a.wav", target_rate=0)


@settings(max_examples=300, deadline=None)
@given(body=st.binary(max_size=200), riff=st.booleans(), name=st.sampled_from(["m.wav", "m.WAV", "m.gsm", "m"]))
def test_arbitrary_bytes_never_escape_as_other_errors(body: bytes, riff: bool, name: str) -> None:
    """Whatever the bytes, decoding either succeeds or raises AudioRejectedError."""
    data = b"RIFF\xff\xff\xff\xffWAVE" + body if riff else body
    refusal: AudioRejectedError | None = None
    try:
        audio = decode_audio(data, name=name, target_rate=16000, limits=NO_SOX)
    except AudioRejectedError as exc:
        refusal = exc
    if refusal is None:
        assert audio.sample_rate == 16000
    else:
        assert refusal.message
