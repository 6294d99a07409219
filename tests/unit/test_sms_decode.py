import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from core.messages import Channel
from sms_modem.decode import (
    GAP,
    DeliveryState,
    InboundSms,
    MultipartAssembler,
    SmsDataError,
    decode_report,
    decode_sms,
)

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "sms" / "gammu_dicts.json"
T0 = datetime(2026, 3, 14, 9, 26, 53, tzinfo=UTC)
HOSTILE = ["x;touch PWNED", "$(id)", "../../x", "7" * 200, "a\x00b", "+381\u202e6", ""]


def _revive(value: Any) -> Any:
    """Turn the fixture's JSON markers back into the datetimes and bytes python-gammu returns."""
    if isinstance(value, dict):
        if "$datetime" in value:
            return datetime.fromisoformat(value["$datetime"])
        if "$bytes" in value:
            return bytes.fromhex(value["$bytes"])
        return {k: _revive(v) for k, v in value.items()}
    return value


@pytest.fixture(scope="module")
def recorded() -> list[dict[str, Any]]:
    """GetNextSMS dicts recorded from the dummy driver (python-gammu 3.5.1)."""
    return [_revive(m) for m in json.loads(FIXTURE.read_text(encoding="utf-8"))["messages"]]


def sms(text: str = "voda", *, sender: str = "+38765123456", part: int | None = None, total: int | None = None,
        ref: int | None = 7, location: int | None = None, when: datetime = T0) -> InboundSms:  # fmt: skip
    """Build an inbound part directly, as decode_sms would."""
    concat = part is not None
    return InboundSms(
        sender=sender,
        text=text,
        smsc_time=when,
        location=location,
        ref=ref if concat else None,
        part=part,
        total=total if concat else None,
    )


def five_parts(sender: str = "+38765123456", ref: int = 7) -> list[InboundSms]:
    """Build the five parts of one concatenated message, at locations 1..5."""
    return [sms(f"dio{n} ", sender=sender, part=n, total=5, ref=ref, location=n) for n in range(1, 6)]


# -- decode_sms ---------------------------------------------------------------------------------


def test_decode_single_recorded(recorded: list[dict[str, Any]]) -> None:
    """A recorded single SMS decodes with sender, text, UTC time and location."""
    msg = decode_sms(recorded[0])
    assert msg.sender == "+38765123456"
    assert msg.text == "Kontejner u ulici Kralja Petra nije ispražnjen već 5 dana."
    assert msg.smsc_time == T0
    assert msg.smsc_time is not None
    assert msg.smsc_time.utcoffset() == timedelta(0)
    assert (msg.location, msg.ref, msg.part, msg.total, msg.flash, msg.binary) == (
        10001,
        None,
        None,
        None,
        False,
        False,
    )
    assert msg.smsc == "+38765000000"


def test_decode_concatenated_recorded(recorded: list[dict[str, Any]]) -> None:
    """Recorded parts carry the UDH reference, part number and total."""
    one, two = decode_sms(recorded[1]), decode_sms(recorded[2])
    assert (one.ref, one.part, one.total) == (201, 1, 2)
    assert (two.ref, two.part, two.total) == (201, 2, 2)
    assert one.udh == bytes.fromhex("050003c90201")
    joined = MultipartAssembler().collect([two, one], T0)
    assert len(joined) == 1
    assert joined[0].text.endswith("Хвала! 🙏")
    assert joined[0].text.startswith("Поштовани, у улици Краља Петра I")


def test_decode_flash_hostile_recorded(recorded: list[dict[str, Any]]) -> None:
    """A class 0 SMS is flash; a shell-looking sender and text stay plain data."""
    msg = decode_sms(recorded[3])
    assert msg.flash
    assert (msg.sender, msg.text) == ("x;touch PWNED", "$(id) `reboot`")


def test_decode_binary_recorded(recorded: list[dict[str, Any]]) -> None:
    """An 8-bit SMS is binary: no text, the user data kept as bytes."""
    msg = decode_sms(recorded[4])
    assert (msg.binary, msg.text, msg.data, msg.message_class) == (True, "", b"\x00\x01\xffabc", 1)
    assert msg.sender == "../../x"


def test_decode_status_report_recorded(recorded: list[dict[str, Any]]) -> None:
    """A status report decodes to a delivered report for message reference 77."""
    with pytest.raises(SmsDataError):
        decode_sms(recorded[5])
    report = decode_report(recorded[5])
    assert (report.recipient, report.reference, report.state) == ("+38765123456", 77, DeliveryState.DELIVERED)


@pytest.mark.parametrize(
    ("status", "state"),
    [
        (0x00, "delivered"),
        (0x02, "delivered"),
        (0x20, "pending"),
        (0x41, "failed"),
        (0x5F, "failed"),
        (0x60, "pending"),
    ],
)
def test_delivery_states(recorded: list[dict[str, Any]], status: int, state: str) -> None:
    """TP-Status ranges map to delivered, pending and failed."""
    report = decode_report({**recorded[5], "DeliveryStatus": status})
    assert report.state == DeliveryState(state)


def test_decode_rejects_submit(recorded: list[dict[str, Any]]) -> None:
    """An outbox (Submit) entry is not an inbound SMS."""
    with pytest.raises(SmsDataError, match="Submit"):
        decode_sms({**recorded[0], "Type": "Submit"})
    with pytest.raises(SmsDataError, match="Deliver"):
        decode_report(recorded[0])


def test_naive_and_offset_times_become_utc(recorded: list[dict[str, Any]]) -> None:
    """A naive datetime (python-gammu 3.2) is UTC; an offset datetime is converted to UTC."""
    naive = decode_sms({**recorded[0], "DateTime": datetime(2026, 3, 14, 9, 26, 53)})  # noqa: DTZ001  what 3.2 returns
    assert naive.smsc_time == T0
    cet = decode_sms(
        {**recorded[0], "DateTime": datetime(2026, 3, 14, 10, 26, 53, tzinfo=timezone(timedelta(hours=1)))}
    )
    assert cet.smsc_time == T0
    assert cet.smsc_time is not None
    assert cet.smsc_time.tzinfo is UTC
    assert decode_sms({**recorded[0], "DateTime": None}).smsc_time is None


@pytest.mark.parametrize(("part", "total"), [(0, 3), (4, 3), (-1, 3), (1, 0)])
def test_impossible_part_numbers_are_data(recorded: list[dict[str, Any]], part: int, total: int) -> None:
    """Part 0, part > total or total 0 make a standalone SMS with the header noted, never a crash."""
    udh = {**recorded[1]["UDH"], "PartNumber": part, "AllParts": total}
    msg = decode_sms({**recorded[1], "UDH": udh})
    assert (msg.ref, msg.part, msg.total) == (None, None, None)
    assert msg.udh_error is not None
    assert f"part {part} of {total}" in msg.udh_error
    [joined] = MultipartAssembler().collect([msg], T0)
    assert joined.complete
    assert joined.to_report().attrs["sms_udh_error"] == msg.udh_error


def test_sixteen_bit_reference(recorded: list[dict[str, Any]]) -> None:
    """A 16-bit concatenation reference is used when present."""
    udh = {"Type": "ConcatenatedMessages16bit", "ID8bit": -1, "ID16bit": 4660, "PartNumber": 2, "AllParts": 3}
    msg = decode_sms({**recorded[1], "UDH": udh})
    assert (msg.ref, msg.part, msg.total) == (4660, 2, 3)


@pytest.mark.parametrize("sender", HOSTILE)
def test_hostile_senders_are_only_data(recorded: list[dict[str, Any]], sender: str) -> None:
    """Shell metacharacters, paths, 200 characters, NUL and bidi overrides are kept as data, keyed and escaped."""
    msg = decode_sms({**recorded[0], "Number": sender})
    assert msg.sender == sender
    [joined] = MultipartAssembler().collect([msg], T0)
    report = joined.to_report()
    assert report.source_key is not None
    assert report.source_key.startswith("sms:")
    assert len(report.source_key) == 4 + 64
    assert report.phone is not None
    assert "\x00" not in report.phone
    assert "\u202e" not in report.phone
    assert report.raw is not None
    assert report.raw.isascii()
    assert json.loads(report.raw)["parts"][0]["sender"] == sender


def test_nul_and_lone_surrogate_in_text(recorded: list[dict[str, Any]]) -> None:
    """NUL is stripped from the report text but kept (escaped) in raw; a lone surrogate becomes U+FFFD."""
    msg = decode_sms({**recorded[0], "Text": "a\x00b\ud83d"})
    [joined] = MultipartAssembler().collect([msg], T0)
    report = joined.to_report()
    assert report.text == "ab\ufffd"
    assert report.raw is not None
    assert "\\u0000" in report.raw


# -- source keys ----------------------------------------------------------------------------------


def test_source_key_is_stable_and_discriminating() -> None:
    """The key repeats for the same SMS and changes with sender, time, text or part."""
    base = sms(part=1, total=2)
    assert base.source_key == sms(part=1, total=2).source_key
    assert base.source_key == sms(part=1, total=2, location=99).source_key
    others = [
        sms(part=1, total=2, sender="+38765123457"),
        sms(part=1, total=2, when=T0 + timedelta(seconds=1)),
        sms("vodA", part=1, total=2),
        sms(part=2, total=2),
        sms(part=1, total=2, ref=8),
        sms(),
    ]
    assert len({base.source_key, *(o.source_key for o in others)}) == 1 + len(others)


def test_source_key_cannot_be_forged_by_separators() -> None:
    """A sender containing separator-looking text cannot collide with another sender+text."""
    assert sms("b", sender="a|").source_key != sms("|b", sender="a").source_key


# -- assembler ------------------------------------------------------------------------------------


def test_single_sms_ready_at_once() -> None:
    """A plain SMS is handed out immediately, complete, keyed by its own source key."""
    one = sms(location=3)
    [msg] = MultipartAssembler().collect([one], T0)
    assert (msg.complete, msg.text, msg.locations, msg.source_key) == (True, "voda", (3,), one.source_key)
    report = msg.to_report()
    assert (report.channel, report.text, report.phone, report.received_at) == (
        Channel.SMS,
        "voda",
        "+38765123456",
        T0,
    )


def test_five_parts_joined_in_order() -> None:
    """Five parts in any order become one complete message in part order."""
    parts = five_parts()
    [msg] = MultipartAssembler().collect(list(reversed(parts)), T0)
    assert msg.complete
    assert msg.text == "dio1 dio2 dio3 dio4 dio5 "
    assert sorted(msg.locations) == [1, 2, 3, 4, 5]
    assert msg.to_report().attrs == {"sms_ref": "7", "sms_total": "5", "sms_parts": "1,2,3,4,5"}


def test_missing_part_waits_then_flushes_marked() -> None:
    """Parts missing wait for the timeout, then the rest is handed out marked incomplete."""
    asm = MultipartAssembler(timeout=timedelta(minutes=10))
    present = [p for p in five_parts() if p.part != 3]
    assert asm.collect(present, T0) == []
    assert asm.collect(present, T0 + timedelta(minutes=9)) == []
    [msg] = asm.collect(present, T0 + timedelta(minutes=10))
    assert (msg.complete, msg.missing, msg.locations) == (False, (3,), (1, 2, 4, 5))
    assert msg.text_with_gaps == f"dio1 dio2 {GAP}dio4 dio5 "
    report = msg.to_report()
    assert report.text == f"dio1 dio2 {GAP}dio4 dio5 "
    assert report.attrs["sms_missing"] == "3"


def test_late_part_joins_its_message() -> None:
    """A part arriving after the flush is handed out alone, pointing at the incomplete message."""
    asm = MultipartAssembler(timeout=timedelta(minutes=10))
    parts = five_parts()
    present = [p for p in parts if p.part != 3]
    asm.collect(present, T0)
    [flushed] = asm.collect(present, T0 + timedelta(minutes=11))
    # The daemon committed and deleted parts 1, 2, 4, 5; part 3 shows up an hour later.
    [late] = asm.collect([parts[2]], T0 + timedelta(hours=1))
    assert (late.late_for, late.text, late.locations) == (flushed.source_key, "dio3 ", (3,))
    assert late.source_key != flushed.source_key
    assert late.to_report().attrs["sms_late_for"] == flushed.source_key
    assert late.to_report().text == "dio3 "


def test_late_part_not_committed_is_handed_out_again_under_its_own_key() -> None:
    """A late part whose commit failed comes back as the same late message, not as the old one."""
    asm = MultipartAssembler(timeout=timedelta(minutes=1))
    parts = five_parts()
    asm.collect(parts[:4], T0)
    [flushed] = asm.collect(parts[:4], T0 + timedelta(minutes=2))
    [late] = asm.collect([parts[4]], T0 + timedelta(minutes=3))
    [again] = asm.collect([parts[4]], T0 + timedelta(minutes=4))
    assert again == late
    assert again.late_for == flushed.source_key


def test_flushed_message_not_deleted_is_handed_out_again_unchanged() -> None:
    """If the commit of an incomplete message failed, the next poll returns it with the same key."""
    asm = MultipartAssembler(timeout=timedelta(minutes=1))
    present = five_parts()[:3]
    asm.collect(present, T0)
    [first] = asm.collect(present, T0 + timedelta(minutes=2))
    [second] = asm.collect(present, T0 + timedelta(minutes=3))
    assert second.source_key == first.source_key
    assert second.late_for is None


def test_restart_rebuilds_same_keys() -> None:
    """A fresh assembler (daemon restart) keys the same SIM content the same way."""
    present = five_parts()[:3]
    keys = []
    for _ in range(2):
        asm = MultipartAssembler(timeout=timedelta(minutes=1))
        asm.collect(present, T0)
        [msg] = asm.collect(present, T0 + timedelta(minutes=2))
        keys.append(msg.source_key)
    assert keys[0] == keys[1]
    [complete] = MultipartAssembler().collect(five_parts(), T0)
    [again] = MultipartAssembler().collect(five_parts(), T0 + timedelta(days=1))
    assert complete.source_key == again.source_key


def test_duplicate_part_recognised_and_deleted_too() -> None:
    """The same part stored twice joins once; its extra copy's location is deleted with it."""
    parts = five_parts()
    copy = sms("dio2 ", part=2, total=5, location=9)
    [msg] = MultipartAssembler().collect([*parts, copy], T0)
    assert msg.text == "dio1 dio2 dio3 dio4 dio5 "
    assert msg.duplicates == (copy,)
    assert sorted(msg.locations) == [1, 2, 3, 4, 5, 9]
    assert msg.to_report().attrs["sms_duplicates"] == "1"


def test_duplicate_single_sms_is_one_message() -> None:
    """Two identical single SMS (same sender, time, text) are one message with two locations."""
    [msg] = MultipartAssembler().collect([sms(location=1), sms(location=2)], T0)
    assert msg.locations == (1, 2)


def test_same_text_different_time_is_two_messages() -> None:
    """The same words sent twice at different times are two messages."""
    out = MultipartAssembler().collect([sms(location=1), sms(location=2, when=T0 + timedelta(minutes=1))], T0)
    assert len(out) == 2


def test_conflicting_part_is_kept_as_its_own_message() -> None:
    """Same part number, different text (reference reused): nothing is dropped."""
    parts = five_parts()
    other = sms("drugo", part=2, total=5, location=9)
    out = MultipartAssembler().collect([*parts, other], T0)
    assert sorted(m.text for m in out) == ["dio1 dio2 dio3 dio4 dio5 ", "drugo"]
    assert sorted(loc for m in out for loc in m.locations) == [1, 2, 3, 4, 5, 9]


def test_recycled_reference_after_flush_starts_a_new_message() -> None:
    """A new message reusing a flushed reference is not mistaken for late parts of the old one."""
    asm = MultipartAssembler(timeout=timedelta(minutes=1))
    old = five_parts()[:2]
    asm.collect(old, T0)
    [flushed] = asm.collect(old, T0 + timedelta(minutes=2))
    new = [sms(f"novo{n} ", part=n, total=5, location=10 + n) for n in range(1, 6)]
    [msg] = asm.collect(new, T0 + timedelta(minutes=3))
    assert (msg.complete, msg.late_for, msg.text) == (True, None, "novo1 novo2 novo3 novo4 novo5 ")
    assert msg.source_key != flushed.source_key


def test_groups_are_per_sender() -> None:
    """Two senders using the same reference are two messages."""
    out = MultipartAssembler().collect([*five_parts("+1111"), *five_parts("+2222")], T0)
    assert sorted(m.sender for m in out) == ["+1111", "+2222"]
    assert all(m.complete for m in out)


def test_waiting_group_forgotten_when_gone() -> None:
    """A waiting group that vanished from the SIM restarts its timeout if it reappears."""
    asm = MultipartAssembler(timeout=timedelta(minutes=10))
    present = five_parts()[:2]
    asm.collect(present, T0)
    asm.collect([], T0 + timedelta(minutes=5))
    assert asm.collect(present, T0 + timedelta(minutes=11)) == []


def test_flash_and_binary_flags_reach_the_report() -> None:
    """Flash and binary messages are marked in the report attributes."""
    flash = InboundSms(sender="+381", text="x", smsc_time=T0, message_class=0)
    binary = InboundSms(sender="+382", text="", smsc_time=T0, binary=True, data=b"\x01\x02")
    out = {m.sender: m for m in MultipartAssembler().collect([flash, binary], T0)}
    assert out["+381"].to_report().attrs == {"sms_flash": "1"}
    assert out["+382"].to_report().attrs == {"sms_binary": "1"}
    assert out["+382"].data == b"\x01\x02"
    assert out["+382"].source_key != InboundSms(sender="+382", text="", smsc_time=T0).source_key
