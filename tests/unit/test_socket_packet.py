"""JsonFirstPacket (callcenter_ui/sockets.py) encodes exactly as python-socketio's own packet does."""

from __future__ import annotations

from typing import Any

import pytest
from socketio import packet

from callcenter_ui.sockets import JsonFirstPacket

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
    """Same text for events with a namespace, an ack id or neither; and it decodes back to the data."""
    for kind in (packet.EVENT, packet.ACK):
        ours = JsonFirstPacket(kind, data=data, namespace=namespace, id=ident).encode()
        assert ours == packet.Packet(kind, data=data, namespace=namespace, id=ident).encode()
    ours = JsonFirstPacket(packet.EVENT, data=data, namespace=namespace, id=ident).encode()
    decoded = JsonFirstPacket(encoded_packet=ours)
    assert decoded.data == data
    assert decoded.namespace == (namespace if namespace not in (None, "/") else None)


def test_bytes_still_travel_as_attachments() -> None:
    """Data holding bytes is not JSON: the library's binary event, attachments and all."""
    data = ["file", {"name": "a.wav", "body": b"RIFF\x00\x01"}]
    ours = JsonFirstPacket(packet.EVENT, data=data, namespace="/operator")
    theirs = packet.Packet(packet.EVENT, data=data, namespace="/operator")
    assert ours.packet_type == packet.BINARY_EVENT
    assert ours.encode() == theirs.encode()
