r"""Bounded, incremental AMI frame parser and encoder (pure: no I/O, no panoramisk).

An AMI stream is a banner line ``Asterisk Call Manager/x.y.z`` followed by frames of ``Key: Value``
lines, each frame ended by an empty line. Real servers and broken middleboxes deviate (telephony.md
D1, D8-D10), so this parser:

* splits lines on LF only and strips one trailing CR, so CRLF, LF-only and ``\r\n\n`` all end a
  frame, while a lone CR or any other control character stays inside the value as data;
* keeps every header in order, duplicates included (``get`` answers with the first one);
* keeps lines without ``:`` as ``extra_lines`` instead of dropping or failing on them;
* decodes each frame on its own: UTF-8 first, then the fallback code page (cp1250), so one
  mis-encoded caller name neither loses letters nor spoils the following frames;
* bounds the bytes buffered for one unfinished frame and raises :class:`FrameTooLarge` beyond it;
  the connection must then be aborted, since the stream position is lost.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

BANNER_PREFIX = "Asterisk Call Manager/"
DEFAULT_MAX_FRAME_BYTES = 256 * 1024
DEFAULT_FALLBACK_ENCODING = "cp1250"

_BANNER_PREFIX_BYTES = BANNER_PREFIX.encode("ascii")


class FrameTooLarge(Exception):
    """One frame (or line) grew beyond the parser's byte limit without a terminator.

    ``completed`` holds the frames that the same ``feed`` call finished before the overflow, so a
    caller that aborts the connection still delivers everything that arrived intact.
    """

    def __init__(self, message: str, completed: list[AmiFrame | AmiBanner] | None = None) -> None:
        super().__init__(message)
        self.completed: list[AmiFrame | AmiBanner] = completed or []


class FrameEncodeError(ValueError):
    """An outgoing header would break AMI framing (CR/LF in a key or value, ``:`` in a key)."""


@dataclass(frozen=True)
class AmiBanner:
    """The greeting line a server sends first: ``Asterisk Call Manager/<version>``."""

    version: str


@dataclass(frozen=True)
class AmiFrame:
    """One AMI message: ordered headers (duplicates kept), plus any lines that had no ``:``."""

    headers: tuple[tuple[str, str], ...]
    extra_lines: tuple[str, ...] = ()
    encoding: str = "utf-8"
    _index: dict[str, int] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        # First occurrence wins (duplicate ``Event:``/``ActionID:`` must not change the meaning).
        index: dict[str, int] = {}
        for position, (key, _value) in enumerate(self.headers):
            index.setdefault(key.casefold(), position)
        object.__setattr__(self, "_index", index)

    @classmethod
    def of(cls, *pairs: tuple[str, str], **headers: str) -> AmiFrame:
        """Build a frame from pairs and keyword headers (tests and the fake server use this)."""
        return cls(tuple(pairs) + tuple(headers.items()))

    def get(self, key: str, default: str = "") -> str:
        """Return the first value of ``key`` (case-insensitive), or ``default``."""
        position = self._index.get(key.casefold())
        return default if position is None else self.headers[position][1]

    def get_all(self, key: str) -> list[str]:
        """Return every value of ``key`` in stream order (repeated headers such as ChanVariable)."""
        wanted = key.casefold()
        return [value for name, value in self.headers if name.casefold() == wanted]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.casefold() in self._index

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self.headers)

    @property
    def event(self) -> str:
        """The event name (first ``Event:`` header), or ``""`` for responses."""
        return self.get("Event")

    @property
    def response(self) -> str:
        """The response status (``Success``, ``Error``...), or ``""`` for events."""
        return self.get("Response")

    @property
    def action_id(self) -> str:
        """The ``ActionID`` that correlates this frame with an action we sent, or ``""``."""
        return self.get("ActionID")

    def is_event(self, name: str) -> bool:
        """Tell whether this frame is the event ``name`` (case-insensitive)."""
        return self.event.casefold() == name.casefold()


def decode_frame_bytes(raw: bytes, fallback_encoding: str = DEFAULT_FALLBACK_ENCODING) -> tuple[str, str]:
    """Decode one frame: strict UTF-8, else the fallback code page; return (text, encoding used)."""
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        # cp1250 leaves five bytes undefined; replace those rather than dropping the whole frame.
        return raw.decode(fallback_encoding, errors="replace"), fallback_encoding


def _split_header(line: str) -> tuple[str, str] | None:
    key, sep, value = line.partition(":")
    key = key.strip()
    if not sep or not key:
        return None
    # AMI writes "Key: Value"; drop exactly that one space so values keep their own whitespace.
    if value.startswith(" "):
        value = value[1:]
    return key, value


class FrameParser:
    """Incremental AMI parser: ``feed(bytes)`` returns the frames (and banners) completed so far.

    The result never depends on how the stream was chunked. Memory is bounded by
    ``max_frame_bytes`` for the unfinished frame plus the current chunk.
    """

    def __init__(
        self,
        *,
        max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
        fallback_encoding: str = DEFAULT_FALLBACK_ENCODING,
    ) -> None:
        self.max_frame_bytes = max_frame_bytes
        self.fallback_encoding = fallback_encoding
        self._partial = bytearray()  # bytes of the current line, not yet ended by LF
        self._lines: list[bytes] = []  # complete lines of the current frame
        self._frame_bytes = 0
        self.banner: AmiBanner | None = None

    @property
    def buffered(self) -> int:
        """Bytes held for the unfinished frame (for tests of the bound)."""
        return self._frame_bytes + len(self._partial)

    def feed(self, data: bytes) -> list[AmiFrame | AmiBanner]:
        """Consume ``data`` and return every frame or banner it completed, in stream order."""
        out: list[AmiFrame | AmiBanner] = []
        start = 0
        end = len(data)
        while start < end:
            newline = data.find(b"\n", start)
            if newline < 0:
                self._partial += data[start:]
                self._check_bound(out)
                break
            if self._partial:
                self._partial += data[start:newline]
                line = bytes(self._partial)
                self._partial.clear()
            else:
                line = data[start:newline]
            start = newline + 1
            self._take_line(line, out)
            self._check_bound(out)
        return out

    def _check_bound(self, completed: list[AmiFrame | AmiBanner]) -> None:
        if self.buffered > self.max_frame_bytes:
            size = self.buffered
            # Drop what we hold so a caller that ignores the error cannot grow us further.
            self._partial.clear()
            self._lines.clear()
            self._frame_bytes = 0
            raise FrameTooLarge(f"AMI frame exceeds {self.max_frame_bytes} bytes ({size} buffered)", completed)

    def _take_line(self, line: bytes, out: list[AmiFrame | AmiBanner]) -> None:
        if line.endswith(b"\r"):
            line = line[:-1]
        if not line:
            if self._lines:
                out.append(self._build_frame())
            return
        if not self._lines and line.startswith(_BANNER_PREFIX_BYTES):
            # A banner is a single line outside any frame (new session, or Asterisk restarted).
            version = line[len(_BANNER_PREFIX_BYTES) :].decode("ascii", errors="replace").strip()
            self.banner = AmiBanner(version)
            out.append(self.banner)
            return
        self._lines.append(line)
        self._frame_bytes += len(line) + 1

    def _build_frame(self) -> AmiFrame:
        raw = b"\n".join(self._lines)
        self._lines.clear()
        self._frame_bytes = 0
        text, encoding = decode_frame_bytes(raw, self.fallback_encoding)
        headers: list[tuple[str, str]] = []
        extra: list[str] = []
        for line in text.split("\n"):
            pair = _split_header(line)
            if pair is None:
                extra.append(line)
            else:
                headers.append(pair)
        return AmiFrame(tuple(headers), tuple(extra), encoding)

    def reset(self) -> None:
        """Forget any partial frame (a new connection starts a new stream)."""
        self._partial.clear()
        self._lines.clear()
        self._frame_bytes = 0
        self.banner = None


def parse_stream(
    data: bytes,
    *,
    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
    fallback_encoding: str = DEFAULT_FALLBACK_ENCODING,
) -> list[AmiFrame | AmiBanner]:
    """Parse a complete byte string in one go (convenience for tests and tools)."""
    parser = FrameParser(max_frame_bytes=max_frame_bytes, fallback_encoding=fallback_encoding)
    return parser.feed(data)


def encode_frame(headers: Iterable[tuple[str, str]], *, encoding: str = "utf-8", eol: bytes = b"\r\n") -> bytes:
    """Serialise headers as one AMI frame, refusing anything that could inject lines or frames."""
    lines: list[bytes] = []
    for key, value in headers:
        if not key or any(ch in key for ch in "\r\n:") or key != key.strip():
            raise FrameEncodeError(f"invalid AMI header name {key!r}")
        if "\r" in value or "\n" in value:
            raise FrameEncodeError(f"CR/LF in the value of AMI header {key!r}")
        lines.append(f"{key}: {value}".encode(encoding))
    if not lines:
        raise FrameEncodeError("an AMI frame needs at least one header")
    return eol.join(lines) + eol + eol
