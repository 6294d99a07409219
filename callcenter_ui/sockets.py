"""Socket.IO namespace ``/operator``: authenticated, origin-checked live events for staff.

Two ways events reach browsers. With ``S48_SOCKETIO_QUEUE_URL`` (production), every process emits
through the Redis message queue right after its commit. Without it (the embedded default), the web
process tails the ``event`` table by ``seq`` and emits what is new. Either way each event carries its
``seq``, and a reconnecting client resyncs from ``/api/v1/events?after=`` (Flask-SocketIO has no
connection-state recovery).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import engineio.json
import orjson
import socketio
import sqlalchemy as sa
from flask import Flask, current_app
from flask_socketio import SocketIO, join_room

from callcenter_ui.auth import current_user
from core.bootstrap import Core
from core.db.models import Event, Organisation
from core.db.uow import event_dict
from core.jsontext import to_json

log = logging.getLogger(__name__)

NAMESPACE = "/operator"
RELAY_INTERVAL = 0.1
PUSH_TIMEOUT = 2.0  # seconds a daemon's push to Redis may take before it is given up


def rooms_for(event: Mapping[str, Any]) -> list[str]:
    """Return the rooms an event goes to: its audience, plus the ticket's organisation for staff there."""
    rooms = [str(event.get("audience") or "operators")]
    ticket = event.get("ticket")
    if isinstance(ticket, Mapping) and ticket.get("organisation"):
        rooms.append(f"org:{ticket['organisation']}")
    return rooms


def allowed_origins(core: Core) -> list[str]:
    """Return the origins a browser may connect from (never '*': ASVS 4.4.2)."""
    port = core.settings.http_port
    return sorted({core.settings.public_base_url.rstrip("/"), f"http://127.0.0.1:{port}", f"http://localhost:{port}"})


class WireJson:
    """The JSON of the web node's Redis queue: orjson, falling back to python-engineio's own.

    Every event a web node delivers is parsed from the queue and written again into its packet. The
    json module escapes every letter beyond ASCII (Čaršija's "Č", each letter of a Cyrillic status or
    name) as six characters, so a pop of Serbian text grew threefold on the wire and in the browser's
    parser; orjson writes UTF-8 and parses several times faster. Text orjson refuses to parse (a lone
    surrogate, escaped by the json module on the way in) goes to python-engineio's parser, which also
    refuses integers of more than 100 digits. An integer beyond 64 bits comes back as a double, as a
    browser's ``JSON.parse`` reads every number (events hold none: ids are 64-bit).
    """

    @staticmethod
    def dumps(value: Any, *_args: Any, **_kwargs: Any) -> str:
        """Return ``value`` as compact JSON text (``core.jsontext.to_json``); bytes raise TypeError."""
        return to_json(value)

    @staticmethod
    def loads(text: str | bytes, *_args: Any, **_kwargs: Any) -> Any:
        """Parse JSON text."""
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            return engineio.json.loads(text)


class JsonFirstPacket(socketio.packet.Packet):  # type: ignore[misc]  # python-socketio is untyped
    """A Socket.IO packet that learns whether its data holds bytes by encoding it as JSON.

    python-socketio walks every emitted structure in Python looking for bytes (binary attachments)
    before encoding it as JSON anyway; for a screen pop (a few kilobytes of nested history) the walk
    cost more than the encoding, twenty times over when twenty phones ring. Here the JSON is made
    first (by ``WireJson``, letters as UTF-8) and kept: bytes make it fail, and only then does the
    library's binary path take over.

    The class's ``json`` is also what python-socketio parses browsers' packets with, and what its
    queue manager takes as its own when the server starts (``BaseManager.set_server``).
    """

    json = WireJson

    def __init__(
        self,
        packet_type: int = socketio.packet.EVENT,
        data: Any = None,
        namespace: str | None = None,
        id: int | None = None,  # noqa: A002  the library's keyword
        binary: bool | None = None,
        encoded_packet: Any = None,
    ) -> None:
        self._json: str | None = None
        if binary is None and encoded_packet is None and data is not None:
            try:
                self._json = self.json.dumps(data)
            except TypeError:
                pass  # bytes inside: the base class finds them and sends attachments
            else:
                binary = False
        super().__init__(packet_type, data, namespace, id, binary, encoded_packet)

    def encode(self) -> Any:
        """Encode as the base class does, with the JSON made at construction."""
        if self._json is None:
            return super().encode()
        # The base class's header (type, namespace, ack id) for the same packet without its data.
        head = socketio.packet.Packet(self.packet_type, None, self.namespace, self.id, binary=False).encode()
        return head + self._json


def init_socketio(app: Flask, core: Core) -> SocketIO:
    """Attach Socket.IO to the app with the /operator namespace."""
    url = core.settings.socketio_queue_url
    queue: dict[str, Any] = {"message_queue": url}
    if url and url.startswith(("redis://", "rediss://")):  # others (Kombu, ZeroMQ): Flask-SocketIO's own
        queue = {"client_manager": _listening_manager(url)}
    socketio = SocketIO(
        app,
        async_mode="threading",
        serializer=JsonFirstPacket,
        cors_allowed_origins=allowed_origins(core),
        manage_session=False,
        **queue,
    )

    @socketio.on("connect", namespace=NAMESPACE)  # type: ignore[untyped-decorator]
    def connect(auth: object = None) -> bool:
        user = current_user()
        if user is None:
            return False  # refuse: no session, no events
        if user.role in ("operator", "supervisor", "admin"):
            join_room("operators")
        if user.extension:
            join_room(f"ext:{user.extension}")
        if user.organisation_id is not None:
            with get_core_from(current_app).session_factory() as db:
                org = db.get(Organisation, user.organisation_id)
                if org is not None:
                    join_room(f"org:{org.code}")
        join_room(f"user:{user.id}")
        return True

    app.extensions["s48_socketio"] = socketio
    return socketio


def _listening_manager(url: str) -> socketio.RedisManager:
    """Return the web node's Redis queue manager as Flask-SocketIO would make it, but speaking RESP2.

    redis-py 8 speaks RESP3 by default, and its RESP3 parser turns every pub/sub message into a
    string for a debug log that is off (``str(response)`` before the level is checked): for a screen
    pop of a few kilobytes, about half of the listener thread's time. The server then hands it
    ``JsonFirstPacket.json`` (``WireJson``) to parse the queue's messages with.
    """
    # The channel Flask-SocketIO listens on, and the one RedisLivePush publishes to.
    return socketio.RedisManager(url, channel="flask-socketio", redis_options={"protocol": 2})


def get_core_from(app: Flask) -> Core:
    """Return the core of the app."""
    from callcenter_ui import get_core

    return get_core(app)


class SocketIOLivePush:
    """LivePush adapter for the web process: emits committed events to their rooms."""

    def __init__(self, socketio: SocketIO) -> None:
        self._socketio = socketio

    def emit(self, event: Mapping[str, Any]) -> None:
        """Emit one event to its rooms on /operator."""
        for room in rooms_for(event):
            self._socketio.emit(str(event["type"]), dict(event), namespace=NAMESPACE, to=room)

    def emit_many(self, events: Sequence[Mapping[str, Any]]) -> None:
        """Emit the events of one commit, in order."""
        for event in events:
            self.emit(event)


class _BatchingRedisManager(socketio.RedisManager):  # type: ignore[misc]  # python-socketio is untyped
    """python-socketio's write-only Redis manager, able to send several emits in one pipeline."""

    def __init__(self, url: str, channel: str) -> None:
        # Bounded: a push that hangs on a dead Redis would hold every later commit's push behind it
        # (core.db.uow keeps one process's pushes in seq order); this one fails instead, and
        # clients resync by seq.
        timeouts = {"socket_timeout": PUSH_TIMEOUT, "socket_connect_timeout": PUSH_TIMEOUT}
        super().__init__(url, channel=channel, write_only=True, redis_options=timeouts)
        # A daemon pushes from several executor threads; one batch at a time keeps each batch whole
        # and the batches in commit order (and the manager's one Redis connection to one user).
        self._lock = threading.Lock()

    def emit_all(self, emits: Sequence[tuple[str, dict[str, Any], str]]) -> None:
        """Publish (event name, data, room) emits in order with one round trip to Redis.

        Twenty pops from one group commit would otherwise cost twenty synchronous PUBLISH round trips
        on the path of the last operator's pop. The messages are the ones ``PubSubManager.emit``
        publishes, built here without its walk of each payload for bytes: events are JSON (they were
        just stored as such), so none is binary. On failure the messages go one by one through the
        manager's own reconnecting publish.
        """
        with self._lock:
            held = [
                to_json(
                    {
                        "method": "emit",
                        "event": name,
                        "data": [data],
                        "binary": False,
                        "namespace": NAMESPACE,
                        "room": room,
                        "skip_sid": None,
                        "callback": None,
                        "host_id": self.host_id,
                    }
                )
                for name, data, room in emits
            ]
            try:
                if not getattr(self, "connected", False):  # set by the manager once it has connected
                    self._redis_connect()
                pipe = self.redis.pipeline(transaction=False)
                for message in held:
                    pipe.publish(self.channel, message)
                pipe.execute()
            except Exception:  # noqa: BLE001  Redis restarted: reconnect through the per-message path
                log.warning("Redis pipeline failed; publishing %d events one by one", len(held))
                self.connected = False
                for message in held:
                    super()._publish(self.json.loads(message))


class RedisLivePush:
    """LivePush adapter for workers and daemons: emits through the Socket.IO Redis queue, write-only."""

    def __init__(self, url: str) -> None:
        # Flask-SocketIO listens on the "flask-socketio" channel; python-socketio's default is "socketio",
        # and a mismatch silently drops every event.
        self._manager = _BatchingRedisManager(url, channel="flask-socketio")

    def emit(self, event: Mapping[str, Any]) -> None:
        """Publish one event for the web nodes to deliver."""
        self.emit_many([event])

    def emit_many(self, events: Sequence[Mapping[str, Any]]) -> None:
        """Publish the events of one commit, in order, in one round trip to Redis."""
        self._manager.emit_all([(str(e["type"]), dict(e), room) for e in events for room in rooms_for(e)])


def start_table_relay(socketio: SocketIO, core: Core) -> None:
    """Tail the event table and emit new rows (embedded mode: no message queue between processes)."""
    push = SocketIOLivePush(socketio)

    def relay() -> None:
        with core.session_factory() as db:
            last = db.scalar(sa.select(sa.func.max(Event.seq))) or 0
        while True:
            try:
                with core.session_factory() as db:
                    rows = db.scalars(sa.select(Event).where(Event.seq > last).order_by(Event.seq).limit(500)).all()
                    events = [event_dict(r) for r in rows]
                for event in events:
                    push.emit(event)
                    last = int(event["seq"])
            except Exception:  # noqa: BLE001  the relay must outlive a database restart
                log.warning("event relay: database unavailable, retrying")
                socketio.sleep(2)
            socketio.sleep(RELAY_INTERVAL)

    socketio.start_background_task(relay)
