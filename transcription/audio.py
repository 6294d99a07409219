"""Load what Asterisk voicemail writes into 16-bit mono PCM at the rate a speech model needs.

Asterisk's ``format=wav49|gsm|wav`` gives three files per message:

* ``msgNNNN.wav``: RIFF, 16-bit PCM, 8000 Hz mono (lossless: read it first when it exists);
* ``msgNNNN.WAV``: WAV49, RIFF with format tag 0x31 (Microsoft GSM 6.10, 65-byte blocks);
* ``msgNNNN.gsm``: raw GSM 06.10, 33-byte frames, no header.

The RIFF header is parsed here rather than with :mod:`wave`, because ``wave`` raises ``EOFError`` on an
empty file, silently reads truncated data short, trusts a 0xFFFFFFFF size and accepts a frame rate of 0:
every one of those becomes an :class:`AudioRejectedError` with its own code instead. Samples are then
resampled explicitly to the model rate (never declared at the wrong rate, which Vosk accepts silently).
"""

from __future__ import annotations

import codecs
import shutil
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from transcription.errors import AudioRejectedError
from transcription.resample import Int16Array, resample_int16

SourceFormat = Literal["pcm_wav", "wav49", "gsm"]

WAVE_FORMAT_PCM = 0x0001
WAVE_FORMAT_GSM610 = 0x0031
WAVE_FORMAT_EXTENSIBLE = 0xFFFE

GSM_RATE = 8000
GSM_FRAME_BYTES = 33  # raw GSM 06.10: 260 bits + a 4-bit 0xD signature, 160 samples
GSM_FRAME_SAMPLES = 160
WAV49_BLOCK_BYTES = 65  # two GSM frames packed bitwise, Microsoft style
WAV49_BLOCK_SAMPLES = 320

MIN_RATE = 4000
MAX_RATE = 96000

_FORMAT_NAMES = {
    0x0002: "Microsoft ADPCM",
    0x0003: "IEEE float",
    0x0006: "A-law",
    0x0007: "mu-law",
    0x0011: "IMA ADPCM",
    0x0055: "MP3",
}


@dataclass(frozen=True, kw_only=True, slots=True)
class AudioLimits:
    """Bounds and tools for loading untrusted audio; the defaults suit 10-minute voicemails."""

    max_seconds: float = 600.0
    # 10 minutes of 48 kHz 16-bit mono is 57.6 MB; anything larger is not a voicemail.
    max_bytes: int = 64 * 1024 * 1024
    sox: str = "sox"
    sox_timeout: float = 60.0


@dataclass(frozen=True, kw_only=True, slots=True)
class PcmAudio:
    """16-bit little-endian mono PCM ready for a recogniser, with where it came from."""

    samples: bytes
    sample_rate: int
    source_rate: int
    source_format: SourceFormat

    @property
    def n_samples(self) -> int:
        """Return the number of samples."""
        return len(self.samples) // 2

    @property
    def duration(self) -> float:
        """Return the duration in seconds."""
        return self.n_samples / self.sample_rate


@dataclass(frozen=True, slots=True)
class _WavInfo:
    tag: int
    channels: int
    rate: int
    block_align: int
    bits: int
    data_offset: int
    data_size: int


def load_audio(path: Path, *, target_rate: int, limits: AudioLimits | None = None) -> PcmAudio:
    """Read an Asterisk voicemail file and return mono int16 PCM at ``target_rate`` Hz."""
    limits = limits or AudioLimits()
    try:
        size = path.stat().st_size
        # The size is checked before reading so a huge file never lands in memory.
        if size > limits.max_bytes:
            raise AudioRejectedError(
                "too_large", f"{path.name} is {size} bytes, more than the {limits.max_bytes}-byte cap"
            )
        with path.open("rb") as f:
            data = f.read(limits.max_bytes + 1)  # +1: a file that grew after stat() is still caught
    except OSError as exc:
        raise AudioRejectedError("unreadable", f"cannot read {path.name}: {exc.strerror or exc}") from exc
    return decode_audio(data, name=path.name, target_rate=target_rate, limits=limits)


def decode_audio(data: bytes, *, name: str, target_rate: int, limits: AudioLimits | None = None) -> PcmAudio:
    """Decode voicemail bytes (``name`` tells raw ``.gsm`` apart) into int16 PCM at ``target_rate``."""
    limits = limits or AudioLimits()
    if not MIN_RATE <= target_rate <= MAX_RATE:
        raise ValueError(f"target rate {target_rate} Hz is outside {MIN_RATE}..{MAX_RATE}")
    if not data:
        raise AudioRejectedError("empty", f"{name} is empty (0 bytes)")
    if len(data) > limits.max_bytes:
        raise AudioRejectedError("too_large", f"{name} is larger than the {limits.max_bytes}-byte cap")

    fmt: SourceFormat
    if data[:4] == b"RIFF" and len(data) < 12:
        raise AudioRejectedError("truncated", f"{name}: file ends inside the RIFF header")
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        info = _parse_wav(data, name)
        if info.tag == WAVE_FORMAT_PCM:
            samples, rate, fmt = _pcm_samples(data, info, name, limits), info.rate, "pcm_wav"
        else:
            _check_duration(info.data_size // info.block_align * WAV49_BLOCK_SAMPLES / info.rate, name, limits)
            samples = _sox_decode(data, ["-t", "wav"], name, limits)
            rate, fmt = info.rate, "wav49"
    elif data[:4] in (b"RIFX", b"RF64", b"RIFF"):
        raise AudioRejectedError("unsupported_format", f"{name} is a {data[:4]!r} container, not RIFF/WAVE")
    elif name.lower().endswith(".gsm"):
        _check_raw_gsm(data, name, limits)
        samples = _sox_decode(data, ["-t", "gsm", "-r", str(GSM_RATE), "-c", "1"], name, limits)
        rate, fmt = GSM_RATE, "gsm"
    else:
        raise AudioRejectedError("not_audio", f"{name} is not audio Asterisk writes: {_sniff(data)}")

    if samples.size == 0:
        raise AudioRejectedError("empty", f"{name} holds no audio samples")
    out = resample_int16(samples, rate, target_rate)
    return PcmAudio(samples=out.astype("<i2").tobytes(), sample_rate=target_rate, source_rate=rate, source_format=fmt)


def _parse_wav(data: bytes, name: str) -> _WavInfo:
    """Walk the RIFF chunks, returning the format and where the audio data is, or refusing the file."""
    fmt: tuple[int, int, int, int, int] | None = None
    data_offset = data_size = -1
    pos = 12
    # Each step advances by at least 8 bytes, so the walk ends within len(data) / 8 steps.
    while pos + 8 <= len(data):
        chunk_id = data[pos : pos + 4]
        (size,) = struct.unpack_from("<I", data, pos + 4)
        body = pos + 8
        if chunk_id == b"fmt ":
            if size < 16:
                raise AudioRejectedError("malformed", f"{name}: fmt chunk is {size} bytes, needs 16")
            if body + 16 > len(data):
                raise AudioRejectedError("truncated", f"{name}: file ends inside the fmt chunk")
            tag, channels, rate, _byte_rate, block_align, bits = struct.unpack_from("<HHIIHH", data, body)
            if tag == WAVE_FORMAT_EXTENSIBLE and size >= 40 and body + 26 <= len(data):
                (tag,) = struct.unpack_from("<H", data, body + 24)  # first bytes of the SubFormat GUID
            fmt = (tag, channels, rate, block_align, bits)
        elif chunk_id == b"data" and data_offset < 0:
            data_offset, data_size = body, size
        pos = body + size + (size & 1)  # chunks are padded to an even length

    if fmt is None:
        raise AudioRejectedError("malformed", f"{name}: RIFF/WAVE without a fmt chunk")
    tag, channels, rate, block_align, bits = fmt
    if data_offset < 0:
        raise AudioRejectedError("no_data_chunk", f"{name}: RIFF/WAVE without a data chunk")
    if rate == 0:
        raise AudioRejectedError("zero_rate", f"{name}: header declares a sample rate of 0 Hz")
    if not MIN_RATE <= rate <= MAX_RATE:
        raise AudioRejectedError("unsupported_rate", f"{name}: {rate} Hz is outside {MIN_RATE}..{MAX_RATE}")
    if tag == WAVE_FORMAT_PCM:
        if bits != 16:
            raise AudioRejectedError("unsupported_format", f"{name}: {bits}-bit PCM, only 16-bit is read")
        if channels < 1 or block_align != 2 * channels:
            raise AudioRejectedError(
                "malformed", f"{name}: {channels} channels with block align {block_align} is inconsistent"
            )
    elif tag == WAVE_FORMAT_GSM610:
        if channels != 1 or block_align != WAV49_BLOCK_BYTES:
            raise AudioRejectedError("malformed", f"{name}: WAV49 must be mono with {WAV49_BLOCK_BYTES}-byte blocks")
        if rate != GSM_RATE:
            raise AudioRejectedError("unsupported_rate", f"{name}: GSM 6.10 at {rate} Hz, expected 8000")
    else:
        kind = _FORMAT_NAMES.get(tag, "unknown")
        raise AudioRejectedError("unsupported_format", f"{name}: WAV format tag 0x{tag:04x} ({kind})")

    available = len(data) - data_offset
    if data_size > available:
        unfinished = " (header never finalised: still being written?)" if data_size >= 0x7FFFFFFF else ""
        raise AudioRejectedError(
            "truncated",
            f"{name}: header declares {data_size} bytes of audio but the file holds {available}{unfinished}",
        )
    return _WavInfo(tag, channels, rate, block_align, bits, data_offset, data_size)


def _pcm_samples(data: bytes, info: _WavInfo, name: str, limits: AudioLimits) -> Int16Array:
    """Return the PCM data chunk as mono int16, averaging channels if there are several."""
    frames = info.data_size // info.block_align  # a trailing partial frame is dropped, not misread
    _check_duration(frames / info.rate, name, limits)
    raw = np.frombuffer(data, dtype="<i2", count=frames * info.channels, offset=info.data_offset)
    if info.channels == 1:
        return raw.astype(np.int16)
    mixed: npt.NDArray[np.float64] = raw.reshape(frames, info.channels).astype(np.float64).mean(axis=1)
    return np.clip(np.rint(mixed), -32768, 32767).astype(np.int16)


def _check_raw_gsm(data: bytes, name: str, limits: AudioLimits) -> None:
    """Refuse a ``.gsm`` file that is not whole GSM 06.10 frames, each with its 0xD signature."""
    frames = len(data) // GSM_FRAME_BYTES
    signed = np.frombuffer(data, dtype=np.uint8, count=frames * GSM_FRAME_BYTES)[::GSM_FRAME_BYTES] >> 4
    if frames == 0 or not bool(np.all(signed == 0xD)):
        raise AudioRejectedError("not_audio", f"{name} is not raw GSM 06.10: {_sniff(data)}")
    if len(data) % GSM_FRAME_BYTES:
        raise AudioRejectedError(
            "truncated", f"{name}: {len(data) % GSM_FRAME_BYTES} bytes of a partial last GSM frame"
        )
    _check_duration(frames * GSM_FRAME_SAMPLES / GSM_RATE, name, limits)


def _check_duration(seconds: float, name: str, limits: AudioLimits) -> None:
    """Refuse audio longer than the cap before spending time decoding it."""
    if seconds > limits.max_seconds:
        raise AudioRejectedError(
            "too_long", f"{name} lasts {seconds:.1f} s, more than the {limits.max_seconds:.0f} s cap"
        )


def _sox_decode(data: bytes, input_args: list[str], name: str, limits: AudioLimits) -> Int16Array:
    """Decode GSM with sox in a child process, returning int16 samples at the source rate.

    GSM 06.10 is decoded by sox (libgsm) rather than in-process: the decoder is C code fed untrusted
    bytes, and a child process bounds its time (timeout) and keeps a crash out of the worker. Data goes
    through stdin, so no file name reaches a command line; ``-D`` keeps sox from adding random dither.
    """
    sox = shutil.which(limits.sox)
    if sox is None:
        raise AudioRejectedError("decoder_unavailable", f"cannot decode {name}: '{limits.sox}' (sox) is not installed")
    args = [sox, "-D", "-V1", *input_args, "-", "-t", "raw", "-e", "signed-integer", "-b", "16", "-L", "-"]
    try:
        # An empty environment: SOX_OPTS or locale settings could otherwise change the output.
        proc = subprocess.run(  # noqa: S603  fixed argument list, no shell, data via stdin
            args, input=data, capture_output=True, timeout=limits.sox_timeout, check=False, env={}
        )
    except subprocess.TimeoutExpired as exc:
        raise AudioRejectedError("decode_failed", f"sox took over {limits.sox_timeout:.0f} s on {name}") from exc
    except OSError as exc:
        raise AudioRejectedError("decoder_unavailable", f"cannot run sox for {name}: {exc}") from exc
    if proc.returncode != 0:
        reason = proc.stderr.decode("utf-8", errors="replace").strip()[:300]
        raise AudioRejectedError("decode_failed", f"sox refused {name} (exit {proc.returncode}): {reason}")
    return np.frombuffer(proc.stdout, dtype="<i2", count=len(proc.stdout) // 2).astype(np.int16)


def _sniff(data: bytes) -> str:
    """Describe what the bytes look like, for the rejection message."""
    head = data[:16]
    if head.startswith(b"ID3") or (len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "looks like MP3"
    if head.startswith(b"OggS"):
        return "looks like Ogg"
    if head.startswith(b"fLaC"):
        return "looks like FLAC"
    if head.startswith(b"%PDF"):
        return "looks like PDF"
    try:
        # final=False: a multi-byte character cut at the 512-byte edge is not an error.
        codecs.getincrementaldecoder("utf-8")().decode(data[:512], final=False)
    except UnicodeDecodeError:
        return f"unrecognised bytes {head[:8].hex()}"
    return "looks like text"
