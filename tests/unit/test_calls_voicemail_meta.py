"""Voicemail metadata (msgNNNN.txt) is parsed defensively and keyed stably."""

from pathlib import Path

import pytest

from core.services.voicemail import MAX_INFO_BYTES, message_key, parse_callerid, parse_message_info

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "voicemail"


def test_complete_message_fields() -> None:
    """A real-format file yields caller, times, msg_id and completeness."""
    info = parse_message_info((FIXTURES / "msg0000.txt").read_bytes())
    assert info.complete
    assert (info.caller_name, info.caller_number) == ("Čaršija Đurđević", "0657778889")
    assert (info.origtime, info.duration, info.msg_id) == (1793596327, 23, "1793596327-00000003")
    assert info.callerchan == "PJSIP/trunk-00000061"
    assert message_key(info) == "id:1793596327-00000003"


def test_incomplete_message_is_not_complete() -> None:
    """Without duration= the message is still being recorded."""
    info = parse_message_info((FIXTURES / "incomplete.txt").read_bytes())
    assert not info.complete
    assert (info.caller_name, info.caller_number) == (None, None)


def test_hostile_metadata_is_data() -> None:
    """Garbage lines, duplicate keys, %-interpolation and markup stay inert; first value wins."""
    info = parse_message_info((FIXTURES / "hostile.txt").read_bytes())
    assert info.caller_name == "<img src=x onerror=alert(1)>%(x)s"
    assert info.caller_number == "065 123 456"
    assert info.origtime is None
    assert info.duration == 7
    assert message_key(info).startswith("h:")


def test_key_without_msg_id_is_stable_across_folders() -> None:
    """Old Asterisk (no msg_id): the key depends on content, not on msgNNNN or the folder."""
    data = b"[message]\ncallerid=065111222\norigtime=1793596327\nduration=5\ncallerchan=PJSIP/trunk-1\n"
    assert message_key(parse_message_info(data)) == message_key(parse_message_info(data + b"flag=\n"))


def test_huge_and_binary_files_are_bounded() -> None:
    """A huge file is read only to its bound; NUL and control characters are stripped from values."""
    data = b'[message]\ncallerid="a\x00b\x1bc" <065>\nduration=3\n' + b"x=" + b"A" * (5 * MAX_INFO_BYTES)
    info = parse_message_info(data)
    assert info.caller_name == "abc"
    assert all(len(v) <= 512 for v in info.fields.values())
    cp1250 = '[message]\ncallerid="Čaršija" <065>\nduration=1\n'.encode("cp1250")
    assert parse_message_info(cp1250).caller_name == "Čaršija"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('"Petar Petrović 100%" <065123456>', ("Petar Petrović 100%", "065123456")),
        ("Petar <065123456>", ("Petar", "065123456")),
        ("065123456", (None, "065123456")),
        ("+387 65 123-456", (None, "+387 65 123-456")),
        ("Unknown", (None, None)),
        ("Opština", ("Opština", None)),
        ("", (None, None)),
        ('"" <>', (None, None)),
    ],
)
def test_parse_callerid(text: str, expected: tuple[str | None, str | None]) -> None:
    """ast_callerid_merge forms: "Name" <num>, name, number or Unknown."""
    assert parse_callerid(text) == expected
