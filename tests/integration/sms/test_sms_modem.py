from datetime import datetime, timedelta
from pathlib import Path

import gammu
import pytest

from sms_modem.decode import JoinedSms, MultipartAssembler
from sms_modem.encoding import Coding
from sms_modem.modem import (
    GammuModem,
    InvalidRecipient,
    ModemConfigError,
    ModemStatus,
    ModemUnavailable,
)

from .dummy_modem import T0, DummyModem

pytestmark = pytest.mark.integration

CITIZEN = "+38765123456"
CYRILLIC_LONG = (
    "Поштовани, у улици Краља Петра I већ недељу дана не ради јавна расвета. Пре три дана сам звао "
    "и речено ми је да ће екипа доћи, али нико није дошао. Деца се враћају из школе по мраку и "
    "бојим се да се не деси несрећа. Молим вас да пошаљете екипу што пре. Хвала! 🙏 Срдачан поздрав, Марко Ђурић."
)
# Transliterated it grows to 303 characters (Краља → Kralja): still 2 GSM-7 parts.
REPLY_300 = (
    "Поштовани, ваша пријава о квару расвете у улици Краља Петра I је заведена под бројем 48-2026-000123. " * 3
)[:300]


def poll(modem: GammuModem, asm: MultipartAssembler, when: datetime = T0) -> list[JoinedSms]:
    """One daemon poll without the database: read the SIM, collect what is ready."""
    return asm.collect(modem.read_all().messages, when)


def test_single_gsm7(dummy: DummyModem, modem: GammuModem) -> None:
    """A plain SMS is read back with sender, text, SMSC time and its location."""
    [loc] = dummy.put(dummy.encode("Kontejner pun, Ulica 7"), CITIZEN)
    inbox = modem.read_all()
    [sms] = inbox.messages
    assert (sms.sender, sms.text, sms.smsc_time, sms.location) == (CITIZEN, "Kontejner pun, Ulica 7", T0, loc)
    assert inbox.reports == ()


def test_cyrillic_ucs2_with_emoji_five_parts(dummy: DummyModem, modem: GammuModem) -> None:
    """A 5-part UCS-2 message with Cyrillic and an emoji joins back exactly, as gammu.LinkSMS would."""
    parts = dummy.inject(CITIZEN, CYRILLIC_LONG)
    assert len(parts) == 5
    inbox = modem.read_all()
    assert len(inbox.messages) == 5
    [msg] = MultipartAssembler().collect(inbox.messages, T0)
    assert msg.complete
    assert msg.text == CYRILLIC_LONG
    assert msg.total == 5
    assert len(msg.locations) == 5
    # Cross-check our join against Gammu's own linking of the same memory.
    sm = gammu.StateMachine()
    sm.ReadConfig(Filename=str(dummy.gammurc))
    sm.Init()
    raw = [sm.GetNextSMS(Start=True, Folder=0)]
    while True:
        try:
            raw.append(sm.GetNextSMS(Location=raw[-1][0]["Location"], Folder=0))
        except gammu.ERR_EMPTY:
            break
    sm.Terminate()
    [linked] = gammu.LinkSMS(raw)
    decoded = gammu.DecodeSMS(linked)
    assert "".join(e["Buffer"] for e in decoded["Entries"]) == msg.text


def test_latin_diacritics_and_extension_chars(dummy: DummyModem, modem: GammuModem) -> None:
    """Serbian Latin diacritics (UCS-2) and GSM-7 extension characters read back exactly."""
    dummy.inject(CITIZEN, "Šta je sa čišćenjem? Đubre ž ć")
    dummy.inject("+38765999999", "Cijena 5€ [hitno] {x} ~|^\\")
    texts = sorted(m.text for m in modem.read_all().messages)
    assert texts == ["Cijena 5€ [hitno] {x} ~|^\\", "Šta je sa čišćenjem? Đubre ž ć"]


def test_missing_part_then_late_part(dummy: DummyModem, modem: GammuModem) -> None:
    """Part 3 of 5 missing: the rest waits, is flushed marked after the timeout, and part 3 joins later."""
    asm = MultipartAssembler(timeout=timedelta(minutes=10))
    parts = dummy.inject(CITIZEN, CYRILLIC_LONG, skip=[3])
    assert poll(modem, asm, T0) == []
    [first] = poll(modem, asm, T0 + timedelta(minutes=10))
    assert (first.complete, first.missing, len(first.locations)) == (False, (3,), 4)
    modem.delete(first.locations)  # the daemon deletes after the commit
    dummy.put([parts[2]], CITIZEN)
    [late] = poll(modem, asm, T0 + timedelta(minutes=30))
    assert late.late_for == first.source_key
    assert late.text == parts[2]["Text"]
    assert first.text + late.text != CYRILLIC_LONG  # order is the core's job: it has sms_parts
    assert late.to_report().attrs["sms_parts"] == "3"


def test_duplicate_message_recognised(dummy: DummyModem, modem: GammuModem) -> None:
    """The same SMS stored twice (a network re-delivery) is one message with both locations to delete."""
    dummy.inject(CITIZEN, "Nema vode u Ulici 5")
    dummy.inject(CITIZEN, "Nema vode u Ulici 5")
    [msg] = poll(modem, MultipartAssembler())
    assert len(msg.locations) == 2
    modem.delete(msg.locations)
    assert modem.read_all().messages == ()


def test_duplicate_part_recognised(dummy: DummyModem, modem: GammuModem) -> None:
    """One part of a multipart message stored twice joins once."""
    parts = dummy.inject(CITIZEN, CYRILLIC_LONG)
    dummy.put([parts[1]], CITIZEN)
    [msg] = poll(modem, MultipartAssembler())
    assert msg.text == CYRILLIC_LONG
    assert len(msg.duplicates) == 1
    assert len(msg.locations) == 6


def test_flash_sms(dummy: DummyModem, modem: GammuModem) -> None:
    """A class 0 SMS is read and marked flash."""
    dummy.inject(CITIZEN, "Hitno!", flash=True)
    [msg] = poll(modem, MultipartAssembler())
    assert msg.flash
    assert msg.to_report().attrs["sms_flash"] == "1"


def test_binary_sms(dummy: DummyModem, modem: GammuModem) -> None:
    """An 8-bit data SMS is read as binary data, not text."""
    dummy.inject_binary(CITIZEN, b"\x00\x01\xff\x7fdata")
    [sms] = modem.read_all().messages
    assert (sms.binary, sms.data, sms.text) == (True, b"\x00\x01\xff\x7fdata", "")


@pytest.mark.parametrize("sender", ["x;touch PWNED", "$(id)", "../../x", "`reboot`", "Opstina48"])
def test_hostile_sender_is_data(dummy: DummyModem, modem: GammuModem, tmp_path: Path, sender: str) -> None:
    """Shell and path syntax in the sender is read back verbatim and runs nothing."""
    dummy.inject(sender, "test")
    [msg] = poll(modem, MultipartAssembler())
    assert msg.sender == sender
    assert not (tmp_path / "PWNED").exists()
    assert not Path("PWNED").exists()
    with pytest.raises(InvalidRecipient):
        modem.send(sender, "odgovor")
    assert dummy.sends() == []


def test_long_sender_is_data(dummy: DummyModem, modem: GammuModem) -> None:
    """A 200-character sender is accepted by whatever Gammu keeps of it, and keyed safely."""
    dummy.inject("7" * 200, "test")
    [msg] = poll(modem, MultipartAssembler())
    # libGammu 1.45.1 keeps 100 characters and, from the dummy's file, appends bytes past its buffer.
    assert msg.sender.startswith("7" * 100)
    report = msg.to_report()
    assert report.source_key is not None
    assert report.phone is not None
    assert "\x00" not in report.phone


def test_message_stays_until_deleted(dummy: DummyModem, modem: GammuModem) -> None:
    """Nothing leaves the SIM by reading: an undeleted message is read again on the next poll."""
    dummy.inject(CITIZEN, "Prvo")
    dummy.inject(CITIZEN, CYRILLIC_LONG, when=T0 + timedelta(seconds=5))
    first = poll(modem, MultipartAssembler())
    again = poll(modem, MultipartAssembler())
    assert sorted(m.source_key for m in first) == sorted(m.source_key for m in again)
    # "Commit" only the single SMS; the 5-part message stays for the next poll.
    committed = next(m for m in first if m.text == "Prvo")
    modem.delete(committed.locations)
    [left] = poll(modem, MultipartAssembler())
    assert left.text == CYRILLIC_LONG
    modem.delete(left.locations)
    modem.delete(left.locations)  # a retried delete after a crash is harmless
    assert modem.read_all().messages == ()
    assert dummy.files() == []


def test_outbox_entries_are_not_inbound(dummy: DummyModem, modem: GammuModem) -> None:
    """A Submit stored in an outbox folder is skipped, not mistaken for a citizen's SMS."""
    part = dummy.encode("draft")[0]
    dummy.put([{**part}], CITIZEN, folder=2)
    # put() stores as Deliver; rewrite it as the Submit a phone keeps in its outbox.
    [name] = dummy.files(2)
    path = dummy.folder(2) / name
    path.write_bytes(path.read_bytes().replace(b"PDU = Deliver", b"PDU = Submit"))
    inbox = modem.read_all()
    assert (inbox.messages, inbox.skipped) == ((), 1)


def test_send_cyrillic_costs_five_transliterated_two(dummy: DummyModem, modem: GammuModem) -> None:
    """A 300-character Cyrillic reply goes out as 5 UCS-2 parts, or 2 GSM-7 parts when transliterated."""
    native = modem.send(CITIZEN, REPLY_300)
    plain = modem.send(CITIZEN, REPLY_300, transliterate=True)
    flash = modem.send("+38766000000", "Voda je ponovo dostupna.", flash=True, report=False)
    modem.close()  # flush Gammu's log
    assert (native.plan.coding, len(native.references)) == (Coding.UCS2, 5)
    assert (plain.plan.coding, len(plain.references)) == (Coding.GSM7, 2)
    assert len(flash.references) == 1
    sends = dummy.sends()
    assert len(sends) == 8
    assert all('Recipient number "+38765123456"' in s for s in sends[:7])
    assert [s.count("Unicode SMS, length") for s in sends[:5]] == [1] * 5
    assert "Unicode SMS, length 67" in sends[0]
    assert "Unicode SMS, length 32" in sends[4]
    assert all("7 bit SMS, length" in s for s in sends[5:8])
    # Gammu logs octets and septets including the 7-septet UDH: 153 + 150 text septets.
    assert "7 bit SMS, length 140, 160" in sends[5]
    assert "7 bit SMS, length 138, 157" in sends[6]
    assert "SMS class 0" in sends[7]


def test_sim_memory_status(dummy: DummyModem, modem: GammuModem) -> None:
    """Memory status counts what is stored; signal and network come from the modem."""
    dummy.inject(CITIZEN, "jedan")
    dummy.inject(CITIZEN, CYRILLIC_LONG)
    status = modem.status()
    assert (status.sim_used, status.phone_used) == (1 + 5, 0)
    assert status.sim_size > 0
    assert status.signal_percent is not None
    assert status.registered
    assert not status.sim_almost_full
    assert modem.identify()["model"] == "Dummy"


@pytest.mark.parametrize(
    ("used", "size", "almost_full"), [(15, 20, False), (16, 20, True), (20, 20, True), (0, 0, False)]
)
def test_sim_almost_full_threshold(used: int, size: int, almost_full: bool) -> None:
    """A SIM at 80 % or more is almost full (a Huawei E220 holds 20 SMS)."""
    status = ModemStatus(
        signal_percent=50,
        network_state="HomeNetwork",
        network_name="x",
        network_code="220 05",
        sim_used=used,
        sim_size=size,
        phone_used=0,
        phone_size=0,
    )
    assert status.sim_almost_full is almost_full


def test_modem_vanishes_and_comes_back(dummy: DummyModem, modem: GammuModem) -> None:
    """Unplugged: every call raises ModemUnavailable, nothing is lost; plugged back: reads resume."""
    dummy.inject(CITIZEN, "Prije nestanka")
    assert len(modem.read_all().messages) == 1
    dummy.unplug()
    for call in (modem.read_all, modem.status, lambda: modem.send(CITIZEN, "x"), lambda: modem.delete([10001])):
        with pytest.raises(ModemUnavailable):
            call()
        assert not modem.connected
    dummy.plug_back()
    dummy.inject(CITIZEN, "Poslije povratka", when=T0 + timedelta(minutes=1))
    texts = sorted(m.text for m in modem.read_all().messages)
    assert texts == ["Poslije povratka", "Prije nestanka"]
    assert modem.connected


def _write_rc(path: Path, body: str) -> None:
    """Write a gammurc."""
    path.write_text(body, encoding="utf-8")


@pytest.mark.parametrize(
    ("gammurc", "expected"),
    [
        (None, ModemConfigError),
        ("[gammu]\nmodel = dummy\nconnection = none\ndevice = {missing}\n", ModemUnavailable),
        ("[gammu]\nmodel = \nconnection = at\ndevice = /dev/ttyS48-does-not-exist\n", ModemUnavailable),
        ("[gammu]\nmodel = dummy\nconnection = carrier-pigeon\ndevice = {device}\n", ModemConfigError),
    ],
)
def test_connect_errors_then_recovery(dummy: DummyModem, tmp_path: Path, gammurc: str | None, expected: type) -> None:
    """Each broken setup raises our own exception; fixing the gammurc lets the same adapter work."""
    rc = tmp_path / "broken.rc"
    if gammurc is not None:
        _write_rc(rc, gammurc.format(missing=tmp_path / "nope", device=dummy.device))
    modem = GammuModem(rc)
    with pytest.raises(expected):
        modem.read_all()
    assert not modem.connected
    _write_rc(rc, dummy.gammurc.read_text(encoding="utf-8"))
    dummy.inject(CITIZEN, "radi")
    try:
        assert [m.text for m in modem.read_all().messages] == ["radi"]
    finally:
        modem.close()
