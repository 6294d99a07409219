import gammu
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sms_modem import encoding as enc
from sms_modem.encoding import Coding

pytestmark = pytest.mark.integration

GSM_CHARS = enc.GSM7_BASIC.replace("\x00", "") + "".join(enc.GSM7_EXTENSION)
SERBIAN = "čćšžđČĆŠŽĐабвгдђежзијклљмнњопрстћуфхцчџшЉЊЏЂ"


def gammu_parts(text: str, *, auto: bool = True, unicode: bool = False) -> list[dict[str, object]]:
    """Split a text with Gammu, in auto coding (smsd TransmitFormat=auto) or a forced one."""
    entry = "ConcatenatedAutoTextLong" if auto else "ConcatenatedTextLong"
    info = {"Class": -1, "Unicode": unicode, "Entries": [{"ID": entry, "Buffer": text}]}
    parts: list[dict[str, object]] = gammu.EncodeSMS(info)
    return parts


def user_data(text: str, coding: Coding) -> bytes:
    """Return Gammu's single-part SUBMIT PDU for ``text`` (the user data is its tail)."""
    [part] = gammu_parts(text, auto=False, unicode=coding is Coding.UCS2)
    pdu: bytes = gammu.EncodePDU({**part, "Number": "+38765123456", "SMSC": {"Number": "+38765000000"}})
    return pdu


@settings(max_examples=150, deadline=None)
@given(
    text=st.text(
        alphabet=st.one_of(st.sampled_from(GSM_CHARS), st.sampled_from(SERBIAN), st.sampled_from("😀🙏€")),
        max_size=500,
    )
)
def test_coding_and_segments_agree_with_gammu(text: str) -> None:
    """Our coding choice and segment count equal Gammu's auto mode (what smsd would send)."""
    chosen = enc.plan(text)
    parts = gammu_parts(text)
    coding = Coding.GSM7 if parts[0]["Coding"] == "Default_No_Compression" else Coding.UCS2
    assert (chosen.coding, chosen.segments) == (coding, len(parts))


@settings(max_examples=100, deadline=None)
@given(text=st.text(alphabet=st.one_of(st.sampled_from(GSM_CHARS), st.sampled_from(SERBIAN)), max_size=500))
def test_split_points_agree_with_gammu(text: str) -> None:
    """Without emoji, each part holds exactly the characters Gammu puts in it."""
    chosen = enc.plan(text)
    parts = gammu_parts(text, auto=False, unicode=chosen.coding is Coding.UCS2)
    assert enc.split(text, chosen.coding) == [p["Text"] for p in parts]


@pytest.mark.parametrize(
    ("text", "coding"),
    [
        ("hellohello", Coding.GSM7),
        ("1234567", Coding.GSM7),
        ("Cijena 5€ [hitno] {x} ~|^\\", Coding.GSM7),
        ("@£$¥èéùìòÇ ΔΦΓΛΩ ÄÖÑÜ§¿äöñüà", Coding.GSM7),
        ("Поштовани, пријава примљена 🙏", Coding.UCS2),
        ("Šta je sa čišćenjem?", Coding.UCS2),
    ],
)
def test_packing_matches_gammu_pdu(text: str, coding: Coding) -> None:
    """Our GSM-7 packing and UCS-2 encoding are byte-identical to the user data in Gammu's PDU."""
    ours = enc.encode(text, coding)
    assert len(ours) == 1
    pdu = user_data(text, coding)
    # TP-UDL is the octet before the user data: septets for GSM-7, octets for UCS-2.
    assert pdu.endswith(bytes([ours[0].length]) + ours[0].data)
    decoded = gammu.DecodePDU(pdu)  # the PDU starts with the SMSC address
    # libGammu sizes its text buffer by septets, so each ESC pair leaves a trailing NUL.
    assert decoded["Text"].rstrip("\x00") == text
