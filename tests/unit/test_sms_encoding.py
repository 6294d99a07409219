import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sms_modem import encoding as enc
from sms_modem.encoding import Coding, EncodedPart

# 300 Cyrillic characters; transliterated 303 (each љ of Краља becomes lj), still 2 GSM-7 parts.
CYRILLIC_300 = (
    "Поштовани, ваша пријава о квару расвете у улици Краља Петра I је заведена под бројем 48-2026-000123. " * 3
)[:300]
LATIN_DIACRITICS = "čćšžđČĆŠŽĐ"


def test_alphabet_has_128_codes_and_extension_chars() -> None:
    """The basic table has all 128 codes and knows the ten extension characters."""
    assert len(enc.GSM7_BASIC) == 128
    assert enc.is_gsm7("@£$¥èéùìòÇ ÆæßÉ ¡¿ ÄÖÑÜ§ äöñüà ΔΦΓΛΩΠΨΣΘΞ ^{}\\[~]|€\f")
    assert not enc.is_gsm7("\x1b")


@pytest.mark.parametrize("ch", list(LATIN_DIACRITICS) + ["ж", "Ж", "😀", "ç", "\x00", "`"])
def test_serbian_letters_and_others_are_not_gsm7(ch: str) -> None:
    """Serbian diacritics, Cyrillic, emoji, lower-case ç, NUL and backtick need UCS-2."""
    assert not enc.is_gsm7(f"abc{ch}")
    assert enc.cheapest_coding(f"abc{ch}") is Coding.UCS2


@pytest.mark.parametrize(
    ("text", "coding", "expected"),
    [
        ("", Coding.GSM7, 1),
        ("a" * 160, Coding.GSM7, 1),
        ("a" * 161, Coding.GSM7, 2),
        ("a" * 306, Coding.GSM7, 2),
        ("a" * 307, Coding.GSM7, 3),
        ("a" * 459, Coding.GSM7, 3),
        ("a" * 460, Coding.GSM7, 4),
        ("€" * 80, Coding.GSM7, 1),
        ("€" * 81, Coding.GSM7, 2),
        ("ж" * 70, Coding.UCS2, 1),
        ("ж" * 71, Coding.UCS2, 2),
        ("ж" * 134, Coding.UCS2, 2),
        ("ж" * 135, Coding.UCS2, 3),
        ("ж" * 201, Coding.UCS2, 3),
        ("ж" * 202, Coding.UCS2, 4),
        ("ж" * 268, Coding.UCS2, 4),
        ("ж" * 269, Coding.UCS2, 5),
        ("ж" * 335, Coding.UCS2, 5),
        ("ж" * 336, Coding.UCS2, 6),
        ("😀" * 35, Coding.UCS2, 1),
        ("😀" * 36, Coding.UCS2, 2),
    ],
)
def test_segment_boundaries(text: str, coding: Coding, expected: int) -> None:
    """Segment counts at the documented boundaries (160/153 septets, 70/67 UTF-16 units)."""
    assert enc.segments(text, coding) == expected


def test_one_diacritic_in_200_chars_costs_a_segment() -> None:
    """One š turns a 2-part GSM-7 text into a 3-part UCS-2 one."""
    text = "a" * 199 + "š"
    assert enc.segments("a" * 200, Coding.GSM7) == 2
    assert enc.plan(text).segments == 3


def test_extension_pair_never_split() -> None:
    """An ESC pair that would straddle the 153-septet boundary moves to the next part whole."""
    text = "a" * 152 + "€" + "b" * 10
    parts = enc.split_gsm7(text)
    assert [enc.gsm7_septets(p) for p in parts] == [152, 12]
    assert "".join(parts) == text


def test_surrogate_pair_never_split() -> None:
    """An emoji at the 67-unit boundary moves to the next part instead of being cut in half."""
    text = "a" * 66 + "😀" + "b" * 10
    parts = enc.split_ucs2(text)
    assert parts == ["a" * 66, "😀" + "b" * 10]
    assert all(enc.ucs2_units(p) <= enc.UCS2_PART for p in parts)


def test_cyrillic_reply_costs_five_transliterated_two() -> None:
    """A 300-character Cyrillic reply costs 5 segments, 2 when transliterated to plain Latin."""
    assert len(CYRILLIC_300) == 300
    native = enc.plan(CYRILLIC_300)
    assert (native.coding, native.segments, native.transliterated) == (Coding.UCS2, 5, False)
    plain = enc.plan(CYRILLIC_300, transliterate=True)
    assert (plain.coding, plain.segments, plain.transliterated) == (Coding.GSM7, 2, True)
    assert plain.text.startswith("Postovani, vasa prijava o kvaru rasvete u ulici Kralja Petra I")


def test_digraph_letters_can_push_transliteration_past_two() -> None:
    """љ/њ/ђ become lj/nj/dj, so a 300-character text full of them may need a third GSM-7 part."""
    text = ("љубљана њива ђак " * 20)[:300]
    assert enc.plan(text, transliterate=True).segments == 3


@pytest.mark.parametrize(
    ("source", "plain"),
    [
        ("čćšžđ ČĆŠŽĐ", "ccszdj CCSZDJ"),
        ("Đurđević", "Djurdjevic"),
        ("ĐURĐEVIĆ", "DJURDJEVIC"),
        ("Љубинка Џамић, улица Ђуре Ђаковића", "Ljubinka Dzamic, ulica Djure Djakovica"),
        ("„Ulica“ – kraj…", '"Ulica" - kraj...'),
        ("café Müller à", "café Müller à"),
        ("voda 😀", "voda 😀"),
    ],
)
def test_to_plain_latin(source: str, plain: str) -> None:
    """Transliteration drops diacritics and Cyrillic, keeps GSM-7 letters and emoji."""
    assert enc.to_plain_latin(source) == plain


def test_plan_keeps_diacritics_when_transliteration_saves_nothing() -> None:
    """A short text stays faithful: transliterating would not save an SMS."""
    chosen = enc.plan("Hvala, primljeno. Šaljemo ekipu.", transliterate=True)
    assert (chosen.text, chosen.coding, chosen.transliterated) == (
        "Hvala, primljeno. Šaljemo ekipu.",
        Coding.UCS2,
        False,
    )


def test_plan_with_emoji_keeps_original() -> None:
    """Transliteration cannot make an emoji GSM-7, so the original text is kept."""
    text = "Пријава примљена 👍" * 3
    assert enc.plan(text, transliterate=True) == enc.plan(text)


def test_gsm7_packing_known_vector() -> None:
    """'hellohello' packs to the textbook octets E8329BFD4697D9EC37 (3GPP TS 23.038 example)."""
    part = enc.encode_gsm7("hellohello")
    assert part == EncodedPart(data=bytes.fromhex("E8329BFD4697D9EC37"), length=10)
    assert enc.decode_gsm7(part) == "hellohello"


def test_gsm7_seven_septets_keep_their_count() -> None:
    """Seven septets fill seven octets; the septet count stops a phantom '@' at the end."""
    part = enc.encode_gsm7("1234567")
    assert len(part.data) == 7
    assert enc.decode_gsm7(part) == "1234567"


def test_gsm7_extension_round_trip_and_escape() -> None:
    """Extension characters encode as ESC + code and decode back."""
    part = enc.encode_gsm7("€[x]")
    assert enc.unpack_septets(part.data, part.length) == [0x1B, 0x65, 0x1B, 0x3C, 0x78, 0x1B, 0x3E]
    assert enc.decode_gsm7(part) == "€[x]"


def test_gsm7_rejects_foreign_characters() -> None:
    """Encoding a non-GSM character as GSM-7 is an error, never a silent '?'."""
    with pytest.raises(ValueError, match="not in the GSM 03.38"):
        enc.encode_gsm7("š")


def test_unpack_rejects_short_data() -> None:
    """Asking for more septets than the octets hold is an error."""
    with pytest.raises(ValueError, match="cannot hold"):
        enc.unpack_septets(b"\x00", 2)


def test_ucs2_parts_rejoin_split_surrogates() -> None:
    """Surrogate halves that arrive in separate parts are re-paired; a lone one becomes U+FFFD."""
    halves = "😀".encode("utf-16-be")
    parts = [EncodedPart(data=b"\x00a" + halves[:2], length=4), EncodedPart(data=halves[2:], length=2)]
    assert enc.decode(parts, Coding.UCS2) == "a😀"
    assert enc.join_utf16("x\ud83d") == "x\ufffd"


texts = st.text(
    alphabet=st.one_of(
        st.sampled_from(enc.GSM7_BASIC.replace("\x00", "") + "".join(enc.GSM7_EXTENSION)),
        st.sampled_from("čćšžđČĆŠŽĐабвгдђежзијклљмнњопрстћуфхцчџшЉЊЏЂ"),
        st.characters(codec="utf-8", exclude_categories=["Cs"]),
    ),
    max_size=700,
)


@settings(max_examples=200, deadline=None)
@given(text=texts, transliterate=st.booleans())
def test_round_trip_through_encode_decode(text: str, transliterate: bool) -> None:
    """Any text survives plan → split → pack → unpack → join, within the per-part limits."""
    chosen = enc.plan(text, transliterate=transliterate)
    encoded = enc.encode(chosen.text, chosen.coding)
    assert len(encoded) == chosen.segments
    assert enc.decode(encoded, chosen.coding) == chosen.text
    limit = {Coding.GSM7: enc.GSM7_PART, Coding.UCS2: enc.UCS2_PART * 2}[chosen.coding]
    if chosen.segments > 1:
        assert all(p.length <= limit for p in encoded)
    if not transliterate or not chosen.transliterated:
        assert chosen.text == text
