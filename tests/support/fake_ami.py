"""A real asyncio TCP loopback AMI server for tests, replaying ``.ami`` transcripts.

Transcript format (``tests/fixtures/ami/*.ami``, UTF-8 text, LF or CRLF line ends):

* ``Key: Value`` lines form a frame; one or more blank lines separate frames. On the wire every
  line is sent with CRLF and every frame ends with an empty CRLF line, as Asterisk does.
* Lines starting with ``#`` are comments, except these directives (each on its own line, which
  also ends the frame before it):

  - ``# sleep 0.05``          pause the replay for that many seconds;
  - ``# encoding cp1250``     encode the following frames with that codec (default utf-8);
  - ``# restart 11.0.0``      Asterisk restarts: close every session, forget live channels and
    greet later connections with ``Asterisk Call Manager/11.0.0``.

* ``{{Name}}`` in a value is replaced from the substitutions given to :meth:`FakeAmi.play` (the
  server fills ``{{ActionID}}``/``{{ChannelId}}``/``{{Channel}}`` itself when it replays a
  transcript in reply to an Originate).

The server greets with a banner, checks ``Login`` (``Authentication failed`` then close, like
Asterisk), answers ``Ping``, ``CoreShowChannels``, ``QueueStatus``, ``Originate`` and ``Logoff``,
and tracks live channels and queue callers from what it replays, so a resync after a reconnect
sees what a real Asterisk would. It logs every action it receives (``actions``) so tests can
assert, e.g., that an Originate was seen exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from telephony.frames import AmiBanner, AmiFrame, FrameParser, encode_frame

logger = logging.getLogger(__name__)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "ami"


@dataclass(frozen=True)
class Frame:
    """One transcript frame and the codec it is sent in."""

    headers: tuple[tuple[str, str], ...]
    encoding: str = "utf-8"


@dataclass(frozen=True)
class Sleep:
    """A pause in the replay."""

    seconds: float


@dataclass(frozen=True)
class Restart:
    """Asterisk restarts: sessions closed, channels forgotten, a new banner version."""

    version: str


Step = Frame | Sleep | Restart


def parse_transcript(text: str) -> list[Step]:
    """Parse transcript text into replay steps (format in the module docstring)."""
    steps: list[Step] = []
    encoding = "utf-8"
    current: list[tuple[str, str]] = []

    def flush() -> None:
        if current:
            steps.append(Frame(tuple(current), encoding))
            current.clear()

    for raw_line in text.splitlines():
        line = raw_line.rstrip("\r")
        if not line.strip():
            flush()
            continue
        if line.startswith("#"):
            flush()
            words = line[1:].split()
            if words[:1] == ["sleep"]:
                steps.append(Sleep(float(words[1])))
            elif words[:1] == ["encoding"]:
                encoding = words[1]
            elif words[:1] == ["restart"]:
                steps.append(Restart(words[1]))
            continue
        key, sep, value = line.partition(":")
        if not sep:
            raise ValueError(f"transcript line without ':': {line!r}")
        current.append((key.strip(), value[1:] if value.startswith(" ") else value))
    flush()
    return steps


def load_transcript(name: str) -> list[Step]:
    """Load ``tests/fixtures/ami/<name>`` (``.ami`` added when missing)."""
    path = FIXTURES / (name if name.endswith(".ami") else f"{name}.ami")
    return parse_transcript(path.read_text(encoding="utf-8"))


def transcript_frames(name: str, substitutions: Mapping[str, str] | None = None) -> list[AmiFrame]:
    """Return the frames of a transcript as the client would parse them (for translator tests)."""
    frames = []
    for step in load_transcript(name):
        if isinstance(step, Frame):
            frames.append(AmiFrame(_substitute(step.headers, substitutions or {})))
    return frames


def _substitute(headers: Iterable[tuple[str, str]], values: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    out = []
    for key, value in headers:
        for name, replacement in values.items():
            value = value.replace("{{" + name + "}}", replacement)
        out.append((key, value))
    return tuple(out)


def frame_bytes(headers: Iterable[tuple[str, str]], encoding: str = "utf-8") -> bytes:
    """Encode one frame with CRLF line ends (hostile raw bytes go through ``broadcast``)."""
    return encode_frame(headers, encoding=encoding)


@dataclass
class Session:
    """One client connection."""

    writer: asyncio.StreamWriter
    authenticated: bool = False
    username: str = ""


@dataclass
class FakeAmi:
    """Loopback AMI server (``await start()``, then ``port``); see the module docstring."""

    username: str = "sistem48"
    secret: str = "s3cret"
    version: str = "9.0.0"
    mute_pings: bool = False
    originate_transcript: str | None = "originate_ok"
    originate_delay: float = 0.05
    hold_originate: bool = False
    host: str = "127.0.0.1"
    port: int = 0
    actions: list[AmiFrame] = field(default_factory=list)
    login_attempts: int = 0
    logins: int = 0
    sessions: list[Session] = field(default_factory=list)
    live_channels: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    queue_callers: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    _server: asyncio.Server | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _login_event: asyncio.Event = field(default_factory=asyncio.Event)
    _action_event: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> int:
        """Listen on 127.0.0.1 (port 0 = a free port) and return the port."""
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        """Close every session and the listener."""
        await self.drop_sessions()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def drop_sessions(self) -> None:
        """Close every client connection (the listener stays up)."""
        sessions, self.sessions = self.sessions, []
        for session in sessions:
            session.writer.close()
        for session in sessions:
            with contextlib.suppress(ConnectionError, OSError):
                await session.writer.wait_closed()

    def count_actions(self, name: str) -> int:
        """How many actions named ``name`` the server received."""
        return sum(1 for frame in self.actions if frame.get("Action").casefold() == name.casefold())

    async def wait_for_action(self, name: str, count: int = 1) -> None:
        """Wait until ``count`` actions named ``name`` arrived (bound with asyncio.timeout)."""
        while self.count_actions(name) < count:
            self._action_event.clear()
            await self._action_event.wait()

    async def wait_for_logins(self, count: int) -> None:
        """Wait until ``count`` successful logins happened in total (bound with asyncio.timeout)."""
        while self.logins < count:
            self._login_event.clear()
            await self._login_event.wait()

    # -- replay -------------------------------------------------------------------------------

    async def play(self, name_or_steps: str | list[Step], substitutions: Mapping[str, str] | None = None) -> None:
        """Replay a transcript (by fixture name or as parsed steps) to every logged-in session."""
        steps = load_transcript(name_or_steps) if isinstance(name_or_steps, str) else name_or_steps
        for step in steps:
            if isinstance(step, Sleep):
                await asyncio.sleep(step.seconds)
            elif isinstance(step, Restart):
                await self.restart(step.version)
            else:
                headers = _substitute(step.headers, substitutions or {})
                await self.send_frame(headers, step.encoding)

    async def send_frame(self, headers: Iterable[tuple[str, str]], encoding: str = "utf-8") -> None:
        """Track and broadcast one event frame."""
        headers = tuple(headers)
        self._track(AmiFrame(headers))
        await self.broadcast(frame_bytes(headers, encoding))

    async def broadcast(self, data: bytes) -> None:
        """Write raw bytes to every logged-in session (events go only to authenticated ones)."""
        for session in list(self.sessions):
            if session.authenticated and not session.writer.is_closing():
                session.writer.write(data)
                with contextlib.suppress(ConnectionError, OSError):
                    await session.writer.drain()

    async def restart(self, version: str) -> None:
        """Simulate an Asterisk restart: drop sessions, forget channels, change the banner."""
        await self.drop_sessions()
        self.live_channels.clear()
        self.queue_callers.clear()
        self.version = version

    def _track(self, frame: AmiFrame) -> None:
        uniqueid = frame.get("Uniqueid")
        if frame.is_event("Newchannel") and uniqueid:
            self.live_channels[uniqueid] = list(frame.headers)
        elif frame.is_event("Newstate") and uniqueid in self.live_channels:
            state = dict(self.live_channels[uniqueid])
            state["ChannelState"] = frame.get("ChannelState")
            state["ChannelStateDesc"] = frame.get("ChannelStateDesc")
            self.live_channels[uniqueid] = list(state.items())
        elif frame.is_event("Hangup"):
            self.live_channels.pop(uniqueid, None)
            self.queue_callers.pop(uniqueid, None)
        elif frame.is_event("QueueCallerJoin"):
            self.queue_callers[uniqueid] = list(frame.headers)
        elif frame.is_event("QueueCallerLeave") or frame.is_event("QueueCallerAbandon"):
            self.queue_callers.pop(uniqueid, None)

    # -- protocol -----------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = Session(writer)
        self.sessions.append(session)
        parser = FrameParser()
        try:
            writer.write(f"Asterisk Call Manager/{self.version}\r\n".encode())
            await writer.drain()
            while not writer.is_closing():
                data = await reader.read(65536)
                if not data:
                    break
                for item in parser.feed(data):
                    if isinstance(item, AmiBanner):
                        continue
                    self.actions.append(item)
                    self._action_event.set()
                    await self._answer(session, item)
        except (ConnectionError, OSError):
            pass
        finally:
            if session in self.sessions:
                self.sessions.remove(session)
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

    async def _reply(self, session: Session, headers: list[tuple[str, str]]) -> None:
        session.writer.write(frame_bytes(headers))
        await session.writer.drain()

    async def _answer(self, session: Session, action: AmiFrame) -> None:
        name = action.get("Action").casefold()
        action_id = action.action_id
        ids = [("ActionID", action_id)] if action_id else []
        if name == "login":
            await self._login(session, action, ids)
        elif not session.authenticated:
            await self._reply(session, [("Response", "Error"), *ids, ("Message", "Permission denied")])
        elif name == "ping":
            if not self.mute_pings:
                await self._reply(session, [("Response", "Success"), *ids, ("Ping", "Pong"), ("Timestamp", "0")])
        elif name == "coreshowchannels":
            await self._list(session, ids, "Channels will follow", "CoreShowChannel", self._channel_items())
        elif name == "queuestatus":
            await self._list(session, ids, "Queue status will follow", "QueueEntry", self._queue_items())
        elif name == "originate":
            await self._originate(session, action, ids)
        elif name == "logoff":
            await self._reply(session, [("Response", "Goodbye"), *ids, ("Message", "Thanks for all the fish.")])
            session.writer.close()
        else:
            await self._reply(session, [("Response", "Error"), *ids, ("Message", "Invalid/unknown command")])

    async def _login(self, session: Session, action: AmiFrame, ids: list[tuple[str, str]]) -> None:
        self.login_attempts += 1
        if action.get("Username") == self.username and action.get("Secret") == self.secret:
            session.authenticated = True
            session.username = self.username
            self.logins += 1
            self._login_event.set()
            await self._reply(session, [("Response", "Success"), *ids, ("Message", "Authentication accepted")])
            return
        # Asterisk answers the failure and then closes the session.
        await self._reply(session, [("Response", "Error"), *ids, ("Message", "Authentication failed")])
        session.writer.close()

    def _channel_items(self) -> list[list[tuple[str, str]]]:
        items = []
        for headers in self.live_channels.values():
            fields = [(k, v) for k, v in headers if k.casefold() not in ("event", "privilege")]
            items.append([*fields, ("Application", "Dial"), ("BridgeId", ""), ("Duration", "00:00:05")])
        return items

    def _queue_items(self) -> list[list[tuple[str, str]]]:
        items = []
        for headers in self.queue_callers.values():
            fields = [(k, v) for k, v in headers if k.casefold() not in ("event", "privilege", "count")]
            items.append([*fields, ("Wait", "3")])
        return items

    async def _list(
        self,
        session: Session,
        ids: list[tuple[str, str]],
        message: str,
        item_event: str,
        items: list[list[tuple[str, str]]],
    ) -> None:
        await self._reply(session, [("Response", "Success"), *ids, ("EventList", "start"), ("Message", message)])
        for fields in items:
            await self._reply(session, [("Event", item_event), *ids, *fields])
        complete = item_event.replace("CoreShowChannel", "CoreShowChannels").replace("QueueEntry", "QueueStatus")
        await self._reply(
            session,
            [("Event", f"{complete}Complete"), *ids, ("EventList", "Complete"), ("ListItems", str(len(items)))],
        )

    async def _originate(self, session: Session, action: AmiFrame, ids: list[tuple[str, str]]) -> None:
        await self._reply(session, [("Response", "Success"), *ids, ("Message", "Originate successfully queued")])
        if self.hold_originate or self.originate_transcript is None:
            return
        values = {
            "ActionID": action.action_id,
            "ChannelId": action.get("ChannelId"),
            "Channel": action.get("Channel"),
            "Exten": action.get("Exten"),
            "Context": action.get("Context"),
        }
        transcript = self.originate_transcript

        async def later() -> None:
            await asyncio.sleep(self.originate_delay)
            await self.play(transcript, values)

        task = asyncio.ensure_future(later())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
