"""JsonFirstPacket and WireJson (callcenter_ui/sockets.py): python-socketio's packets, in UTF-8 and faster."""

from __future__ import annotations

import json
from typing import Any

import pytest
from socketio import packet

from callcenter_ui.sockets import JsonFirstPacket, WireJson

POP = {
    "seq": 7,
    "type": "call.ringing",
    "history": {"citizen": {"name": "<img src=x onerror=alert(1)> Čaršija"}, "open_tickets": [{"id": 1}] * 3},
    "empty": [],
    "none": None,
}


@pytest.mark.parametrize(
    ("namespace", "ident", "data"),
    [
        ("/operator", None, ["call.ringing", POP]),
        ("/", None, ["ticket.updated", {"n": 1}]),
        (None, 12, ["call.ringing", POP]),
        ("/operator", 3, ["x"]),
    ],
)
def test_json_data_encodes_as_the_library_does(namespace: str | None, ident: int | None, data: list[Any]) -> None:
    """Same header for events with a namespace, an ack id or neither, the same JSON, and it decodes back.

    The one difference from the library's text: letters beyond ASCII travel as UTF-8, not as escapes.
    """
    for kind in (packet.EVENT, packet.ACK):
        ours = JsonFirstPacket(kind, data=data, namespace=namespace, id=ident).encode()
        theirs = packet.Packet(kind, data=data, namespace=namespace, id=ident).encode()
        head = theirs[: theirs.index("[")]
        assert ours.startswith(head)
        assert json.loads(ours[len(head) :]) == json.loads(theirs[len(head) :]) == data
    ours = JsonFirstPacket(packet.EVENT, data=data, namespace=namespace, id=ident).encode()
    decoded = JsonFirstPacket(encoded_packet=ours)
    assert decoded.data == data
    assert decoded.namespace == (namespace if namespace not in (None, "/") else None)


def test_serbian_letters_travel_as_utf8_not_escapes() -> None:
    """A Cyrillic pop is a third of the size the json module's escapes made it; ASCII-only text is unchanged."""
    data = ["call.ringing", {"name": "Грађанин Петровић", "place": "Čaršija"}]
    ours = JsonFirstPacket(packet.EVENT, data=data, namespace="/operator").encode()
    theirs = packet.Packet(packet.EVENT, data=data, namespace="/operator").encode()
    assert "Грађанин Петровић" in ours
    assert "Čaršija" in ours
    assert "\\u" in theirs
    assert len(ours) < len(theirs) / 2
    ascii_only = ["ticket.updated", {"code": "48-2026-000001", "n": [1, 2.5, None, True]}]
    assert (
        JsonFirstPacket(packet.EVENT, data=ascii_only, namespace="/operator").encode()
        == packet.Packet(packet.EVENT, data=ascii_only, namespace="/operator").encode()
    )


def test_wire_json_takes_what_the_json_module_takes() -> None:
    """Lone surrogates (escaped on the way in) and big integers: orjson refuses them, the fallbacks do not."""
    hostile = {"name": "Čaršija \udcc8", "id": 2**70}
    text = WireJson.dumps(hostile)
    assert WireJson.loads(text) == hostile
    assert WireJson.loads('{"id": 1180591620717411303424}') == {"id": 2.0**70}  # a double, as in a browser
    assert WireJson.loads(text.encode()) == hostile
    assert WireJson.loads('{"a":"Грађанин"}'.encode()) == {"a": "Грађанин"}
    with pytest.raises(TypeError):
        WireJson.dumps({"audio": b"RIFF"})
    with pytest.raises(ValueError, match="too large"):  # python-engineio's guard against slow int parsing
        WireJson.loads("[" + "9" * 400 + "]")
    with pytest.raises(json.JSONDecodeError):
        WireJson.loads('{"a": ')


def test_bytes_still_travel_as_attachments() -> None:
    """Data holding bytes is not JSON: the library's binary event, attachments and all."""
    data = ["file", {"name": "a.wav", "body": b"RIFF\x00\x01"}]
    ours = JsonFirstPacket(packet.EVENT, data=data, namespace="/operator")
    theirs = packet.Packet(packet.EVENT, data=data, namespace="/operator")
    assert ours.packet_type == packet.BINARY_EVENT
    assert ours.encode() == theirs.encode()
