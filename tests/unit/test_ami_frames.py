"""Unit tests for the pure AMI frame parser (telephony.frames)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from telephony.frames import (
    AmiBanner,
    AmiFrame,
    FrameEncodeError,
    FrameParser,
    FrameTooLarge,
    encode_frame,
    parse_stream,
)

NEWCHANNEL = (
    b"Event: Newchannel\r\nPrivilege: call,all\r\nChannel: PJSIP/trunk-0000001a\r\n"
    b"CallerIDNum: 0651234567\r\nCallerIDName: Petar\r\nUniqueid: 1700000000.1\r\n"
    b"Linkedid: 1700000000.1\r\n\r\n"
)
HANGUP = b"Event: Hangup\r\nChannel: PJSIP/trunk-0000001a\r\nUniqueid: 1700000000.1\r\nCause: 16\r\n\r\n"
STREAM = (
    b"Asterisk Call Manager/9.0.0\r\n"
    + NEWCHANNEL
    # duplicate Event header (D1), first wins
    + b"Event: UserEvent\r\nEvent: Hangup\r\nUserEvent: x\r\n\r\n"
    # LF-only terminator and lines (D9)
    + b"Event: Newstate\nChannelState: 5\n\n"
    # \r\n\n terminator (Asterisk #761)
    + b"Event: CoreShowChannel\r\nChannel: PJSIP/201-00000001\r\n\n"
    # garbage line without a colon inside a frame
    + b"Event: VarSet\r\nthis line has no colon\r\nValue: 1\r\n\r\n"
    # cp1250 caller name (D8)
    + b"Event: NewCallerid\r\nCallerIDName: \xc8ar\x9aija\r\n\r\n"
    + HANGUP
)


def _frames(items: list[AmiFrame | AmiBanner]) -> list[AmiFrame]:
    return [item for item in items if isinstance(item, AmiFrame)]


def test_banner_is_reported_with_version() -> None:
    """The greeting line becomes an AmiBanner carrying the protocol version."""
    items = parse_stream(b"Asterisk Call Manager/11.0.0\r\n")
    assert items == [AmiBanner("11.0.0")]


def test_plain_frame_keeps_order_and_case_insensitive_get() -> None:
    """Headers keep stream order and ``get`` ignores case."""
    (frame,) = _frames(parse_stream(NEWCHANNEL))
    assert frame.event == "Newchannel"
    assert frame.get("calleridnum") == "0651234567"
    assert frame.get("LINKEDID") == "1700000000.1"
    assert [k for k, _ in frame.headers][:3] == ["Event", "Privilege", "Channel"]
    assert "uniqueid" in frame
    assert frame.get("missing", "dflt") == "dflt"


def test_duplicate_event_header_first_wins_and_rest_kept() -> None:
    """A duplicate ``Event:`` (D1) keeps the first as the name and the second as data."""
    frame = _frames(parse_stream(b"Event: UserEvent\r\nEvent: Hangup\r\n\r\n"))[0]
    assert frame.event == "UserEvent"
    assert frame.get_all("Event") == ["UserEvent", "Hangup"]


def test_whole_mixed_stream_yields_every_frame() -> None:
    r"""LF-only, ``\r\n\n``, garbage and cp1250 frames all parse, none merges into another."""
    items = parse_stream(STREAM)
    assert items[0] == AmiBanner("9.0.0")
    events = [f.event for f in _frames(items)]
    assert events == ["Newchannel", "UserEvent", "Newstate", "CoreShowChannel", "VarSet", "NewCallerid", "Hangup"]
    varset = _frames(items)[4]
    assert varset.extra_lines == ("this line has no colon",)
    assert varset.get("Value") == "1"
    for frame in _frames(items):
        assert all(not key.startswith(("\n", "\r")) for key, _ in frame.headers)


def test_cp1250_name_keeps_every_letter() -> None:
    """A cp1250 frame decodes by fallback, so Čaršija stays Čaršija (D8)."""
    (frame,) = _frames(parse_stream(b"Event: NewCallerid\r\nCallerIDName: \xc8ar\x9aija\r\n\r\n"))
    assert frame.get("CallerIDName") == "Čaršija"
    assert frame.encoding == "cp1250"


def test_utf8_frame_stays_utf8_next_to_cp1250_frame() -> None:
    """Decoding is per frame: a cp1250 frame does not change how the next UTF-8 frame decodes."""
    data = "Event: A\r\nName: \xc8\r\n\r\n".encode("latin-1") + "Event: B\r\nName: Đurđa\r\n\r\n".encode()
    first, second = _frames(parse_stream(data))
    assert first.get("Name") == "Č"
    assert second.get("Name") == "Đurđa"
    assert second.encoding == "utf-8"


def test_control_characters_are_data_and_cannot_inject_frames() -> None:
    """A lone CR, NUL, ESC or BEL inside a value stays in the value; only LF ends lines."""
    hostile = b"Event: Newchannel\r\nCallerIDName: a\rEvent: Hangup\x00\x1b[31m\x07\r\nUniqueid: 1\r\n\r\n"
    (frame,) = _frames(parse_stream(hostile))
    assert frame.event == "Newchannel"
    assert frame.get("CallerIDName") == "a\rEvent: Hangup\x00\x1b[31m\x07"
    assert frame.get("Uniqueid") == "1"


def test_one_megabyte_without_terminator_raises_frame_too_large() -> None:
    """A frame that never ends hits the cap and raises instead of growing the buffer (D10)."""
    parser = FrameParser(max_frame_bytes=64 * 1024)
    assert parser.feed(b"Event: Newchannel\r\n") == []
    chunk = b"X" * 4096
    for _ in range(15):
        parser.feed(chunk)  # 60 KiB: still under the cap
    with pytest.raises(FrameTooLarge):
        parser.feed(chunk)
    assert parser.buffered == 0


def test_frames_completed_before_the_overflow_are_kept() -> None:
    """Frames finished earlier in the same chunk ride on the exception, so none is lost."""
    parser = FrameParser(max_frame_bytes=1024)
    with pytest.raises(FrameTooLarge) as caught:
        parser.feed(b"Event: A\r\n\r\nEvent: B\r\n\r\nEvent: C\r\nX: " + b"y" * 2048)
    assert [f.event for f in caught.value.completed if isinstance(f, AmiFrame)] == ["A", "B"]


def test_many_lines_without_blank_line_also_hit_the_cap() -> None:
    """The cap counts complete lines of an unfinished frame, not only the partial line."""
    parser = FrameParser(max_frame_bytes=10_000)
    with pytest.raises(FrameTooLarge):
        parser.feed(b"Key: value\r\n" * 2_000)


def test_ten_kilobyte_caller_name_fits_under_the_default_cap() -> None:
    """A 10 KB caller name is a legitimate (if hostile) frame, passed through verbatim."""
    name = "<img src=x onerror=alert(1)>" + "A" * 10_240
    (frame,) = _frames(parse_stream(b"Event: Newchannel\r\nCallerIDName: " + name.encode() + b"\r\n\r\n"))
    assert frame.get("CallerIDName") == name


def test_blank_lines_between_frames_are_ignored() -> None:
    """Extra empty lines never produce empty frames."""
    assert _frames(parse_stream(b"\r\n\r\n\nEvent: A\r\n\r\n\r\n\r\n")) == [AmiFrame((("Event", "A"),))]


def test_value_whitespace_and_colons_preserved() -> None:
    """Only the single space after ``:`` is removed; later colons belong to the value."""
    (frame,) = _frames(parse_stream(b"Event: X\r\nData: a: b  \r\nEmpty:\r\n\r\n"))
    assert frame.get("Data") == "a: b  "
    assert frame.get("Empty") == ""
    assert "Empty" in frame


def test_encode_frame_round_trips() -> None:
    """encode_frame output parses back to the same headers."""
    headers = (("Action", "Originate"), ("Variable", "A=1"), ("Variable", "B=Čaršija"))
    (frame,) = _frames(parse_stream(encode_frame(headers)))
    assert frame.headers == headers


@pytest.mark.parametrize(
    ("key", "value"),
    [("Action", "Ping\r\nAction: Originate"), ("Bad\nKey", "x"), ("Colon:Key", "x"), ("", "x"), ("K", "a\rb")],
)
def test_encode_frame_refuses_injection(key: str, value: str) -> None:
    """CR/LF in values and malformed keys are refused before they reach the socket."""
    with pytest.raises(FrameEncodeError):
        encode_frame([(key, value)])


def test_every_single_byte_split_yields_same_frames() -> None:
    """Feeding the stream one byte at a time gives exactly the frames of one big feed."""
    parser = FrameParser()
    items: list[AmiFrame | AmiBanner] = []
    for index in range(len(STREAM)):
        items.extend(parser.feed(STREAM[index : index + 1]))
    assert items == parse_stream(STREAM)


@settings(max_examples=300, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=40))
def test_any_chunking_yields_same_frames(cuts: list[int]) -> None:
    """Property: parsing is invariant under re-chunking of the byte stream."""
    bounds = [0, *sorted(cuts), len(STREAM)]
    parser = FrameParser()
    items: list[AmiFrame | AmiBanner] = []
    for start, end in zip(bounds, bounds[1:], strict=False):
        items.extend(parser.feed(STREAM[start:end]))
    assert items == parse_stream(STREAM)


_header_text = st.text(alphabet=st.characters(exclude_characters="\r\n", exclude_categories=["Cs"]), max_size=30)
_header_key = st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,15}", fullmatch=True)


@settings(max_examples=200, deadline=None)
@given(
    frames=st.lists(st.lists(st.tuples(_header_key, _header_text), min_size=1, max_size=6), max_size=6),
    data=st.data(),
)
def test_encoded_frames_survive_any_chunking(frames: list[list[tuple[str, str]]], data: st.DataObject) -> None:
    """Property: whatever we encode parses back identically, however the bytes are chunked."""
    stream = b"".join(encode_frame(f) for f in frames)
    cuts = data.draw(st.lists(st.integers(min_value=0, max_value=len(stream)), max_size=20))
    bounds = [0, *sorted(cuts), len(stream)]
    parser = FrameParser()
    parsed: list[AmiFrame | AmiBanner] = []
    for start, end in zip(bounds, bounds[1:], strict=False):
        parsed.extend(parser.feed(stream[start:end]))
    expected = [tuple((k.strip(), v) for k, v in f) for f in frames]
    assert [f.headers for f in _frames(parsed)] == expected
