"""Demo PBX: a real loopback AMI server that plays realistic Serbian calls, plus its replay engine.

``sistem48 up --demo`` runs ``python -m telephony.demo --port P --spool DIR`` next to the telephony
daemon (pointed at it with ``S48_AMI_HOST=127.0.0.1``, ``S48_AMI_PORT=P``, ``S48_AMI_USERNAME=sistem48``,
``S48_AMI_SECRET=demo``, ``S48_VOICEMAIL_SPOOL=DIR``), so the console shows live calls without hardware:
queue ringall to 201 and 202 (answered, missed, abandoned), a direct call, and after-hours voicemail
with a generated WAV and ``msgNNNN.txt`` in the demo spool. The same server replays ``.ami``
transcripts in the test suite (``tests/support/fake_ami.py``).

Transcript format (UTF-8 text, LF or CRLF line ends):

* ``Key: Value`` lines form a frame; one or more blank lines separate frames. On the wire every
  line is sent with CRLF and every frame ends with an empty CRLF line, as Asterisk does.
* Lines starting with ``#`` are comments, except these directives (each on its own line, which
  also ends the frame before it):

  - ``# sleep 0.05``          pause the replay for that many seconds;
  - ``# encoding cp1250``     encode the following frames with that codec (default utf-8);
  - ``# restart 11.0.0``      Asterisk restarts: close every session, forget live channels and
    greet later connections with ``Asterisk Call Manager/11.0.0``.

* ``{{Name}}`` in a value is replaced from the substitutions given to :meth:`AmiServer.play` (the
  server fills ``{{ActionID}}``/``{{ChannelId}}``/``{{Channel}}`` itself when it replays a
  transcript in reply to an Originate).

The server greets with a banner, checks ``Login`` (``Authentication failed`` then close, like
Asterisk), answers ``Ping``, ``CoreShowChannels``, ``QueueStatus``, ``Originate`` and ``Logoff``,
and tracks live channels and queue callers from what it replays, so a resync after a reconnect
sees what a real Asterisk would. It logs every action it receives (``actions``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import logging
import math
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import wave
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from telephony.frames import AmiBanner, AmiFrame, FrameParser, encode_frame

logger = logging.getLogger(__name__)


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


def substitute(headers: Iterable[tuple[str, str]], values: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """Replace ``{{Name}}`` placeholders in header values."""
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
class AmiServer:
    """Loopback AMI server (``await start()``, then ``port``); see the module docstring."""

    username: str = "sistem48"
    secret: str = "s3cret"  # noqa: S105  a loopback test/demo server, not a credential
    version: str = "9.0.0"
    mute_pings: bool = False
    originate_transcript: str | list[Step] | None = "originate_ok"
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

    def load(self, name: str) -> list[Step]:
        """Return the steps of a named transcript (built-in ones here; tests add fixture files)."""
        if name in BUILTIN_TRANSCRIPTS:
            return parse_transcript(BUILTIN_TRANSCRIPTS[name])
        raise LookupError(f"unknown AMI transcript {name!r}")

    async def play(self, name_or_steps: str | list[Step], substitutions: Mapping[str, str] | None = None) -> None:
        """Replay a transcript (by fixture name or as parsed steps) to every logged-in session."""
        steps = self.load(name_or_steps) if isinstance(name_or_steps, str) else name_or_steps
        for step in steps:
            if isinstance(step, Sleep):
                await asyncio.sleep(step.seconds)
            elif isinstance(step, Restart):
                await self.restart(step.version)
            else:
                headers = substitute(step.headers, substitutions or {})
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


# -- the demo: realistic Serbian calls ----------------------------------------------------------

BUILTIN_TRANSCRIPTS = {
    # Reply to a click-to-call: the operator's phone rings and is answered (Reason 4).
    "originate_ok": """
Event: OriginateResponse
Privilege: call,all
ActionID: {{ActionID}}
Response: Success
Channel: {{Channel}}
Context: {{Context}}
Exten: {{Exten}}
Application:
Data:
Reason: 4
Uniqueid: {{ChannelId}}
CallerIDNum: {{Exten}}
CallerIDName: Sistem 48
""",
}

DEMO_USERNAME = "sistem48"
DEMO_SECRET = "demo"  # noqa: S105  the demo PBX is loopback-only and public by design
DEMO_MAILBOX = ("4800", "sistem48")
TRUNK = "sistem48-trunk"
DID = "051785266"
QUEUE = "operateri"
# (CallerIDNum as the network sends it, CallerIDName) — names are display-only and spoofable.
CALLERS = (
    ("065123456", "Петар Петровић"),
    ("066987654", "Јелена Јовановић"),
    ("051785111", "Mesna zajednica Maslovare"),
    ("065435411", "Милан Ђурић"),
    ("+38765222333", "Драгана Савић"),
    ("064555777", "Živko Čaršija"),
    ("anonymous", ""),
    ("065700800", "Сњежана Тешић"),
)
VOICEMAIL_TEXT = (
    "Добар дан, зовем из Шипрага. Од јутрос нема воде у улици Вука Караџића. Мој број је нула шездесет пет, "
    "један два три, четири пет шест. Хвала."
)


def _channel_headers(
    channel: str,
    uniqueid: str,
    linkedid: str,
    *,
    num: str,
    name: str,
    state: tuple[str, str],
    context: str,
    exten: str,
    connected: tuple[str, str] = ("<unknown>", "<unknown>"),
    prefix: str = "",
) -> list[tuple[str, str]]:
    """Return the standard channel fields of an AMI event (``prefix`` = "Dest" for the other leg)."""
    return [
        (f"{prefix}Channel", channel),
        (f"{prefix}ChannelState", state[0]),
        (f"{prefix}ChannelStateDesc", state[1]),
        (f"{prefix}CallerIDNum", num),
        (f"{prefix}CallerIDName", name or "<unknown>"),
        (f"{prefix}ConnectedLineNum", connected[0]),
        (f"{prefix}ConnectedLineName", connected[1]),
        (f"{prefix}Language", "sr"),
        (f"{prefix}AccountCode", ""),
        (f"{prefix}Context", context),
        (f"{prefix}Exten", exten),
        (f"{prefix}Priority", "1"),
        (f"{prefix}Uniqueid", uniqueid),
        (f"{prefix}Linkedid", linkedid),
    ]


DOWN, RING, RINGING, UP = ("0", "Down"), ("4", "Ring"), ("5", "Ringing"), ("6", "Up")


@dataclass
class _Leg:
    channel: str
    uniqueid: str
    num: str
    name: str
    context: str
    exten: str
    state: tuple[str, str] = DOWN


@dataclass
class CallScript:
    """Builds the AMI frames of one inbound call, step by step, in Asterisk's order (telephony.md §4)."""

    server: AmiServer
    caller_num: str
    caller_name: str
    base: str
    context: str = "sistem48-ulaz"
    _seq: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    legs: dict[str, _Leg] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.caller = _Leg(
            f"PJSIP/{TRUNK}-{random.getrandbits(32):08x}",
            f"{self.base}.{next(self._seq)}",
            self.caller_num,
            self.caller_name,
            self.context,
            DID,
        )

    @property
    def linkedid(self) -> str:
        """The call's key: the caller leg's Uniqueid."""
        return self.caller.uniqueid

    def _fields(self, leg: _Leg, prefix: str = "") -> list[tuple[str, str]]:
        connected = (self.caller_num, self.caller_name) if leg is not self.caller else ("<unknown>", "<unknown>")
        return _channel_headers(
            leg.channel, leg.uniqueid, self.linkedid, num=leg.num, name=leg.name, state=leg.state,
            context=leg.context, exten=leg.exten, connected=connected, prefix=prefix,
        )  # fmt: skip

    async def event(self, name: str, leg: _Leg, *extra: tuple[str, str], dest: _Leg | None = None) -> None:
        """Send one event about ``leg`` (and ``dest`` for Dial/Agent events)."""
        headers = [("Event", name), ("Privilege", "call,all"), *self._fields(leg)]
        if dest is not None:
            headers += self._fields(dest, "Dest")
        await self.server.send_frame([*headers, *extra])

    async def state(self, leg: _Leg, state: tuple[str, str]) -> None:
        """Change a leg's channel state (Newstate)."""
        leg.state = state
        await self.event("Newstate", leg)

    async def arrive(self) -> None:
        """Bring the citizen's call in on the trunk and answer it in the dialplan."""
        await self.event("Newchannel", self.caller)
        await self.state(self.caller, RING)
        await self.state(self.caller, UP)

    async def join_queue(self) -> None:
        """Put the caller into the operator queue."""
        await self.event("QueueCallerJoin", self.caller, ("Queue", QUEUE), ("Position", "1"), ("Count", "1"))

    async def ring(self, extension: str, *, queue: bool) -> _Leg:
        """Ring one operator's phone (AgentCalled for queue members, then DialBegin)."""
        leg = _Leg(
            f"PJSIP/{extension}-{random.getrandbits(32):08x}",
            f"{self.base}.{next(self._seq)}",
            extension,
            f"Оператер {extension}",
            "sistem48-operateri",
            extension,
        )
        self.legs[extension] = leg
        await self.event("Newchannel", leg)
        if queue:
            await self.event("AgentCalled", self.caller, ("Queue", QUEUE), ("MemberName", extension),
                             ("Interface", f"PJSIP/{extension}"), dest=leg)  # fmt: skip
        await self.event("DialBegin", self.caller, ("DialString", extension), dest=leg)
        await self.state(leg, RINGING)
        return leg

    async def answer(self, extension: str, *, queue: bool) -> None:
        """One phone answers; in a ringall the others get DialEnd CANCEL and Hangup cause 26."""
        leg = self.legs[extension]
        await self.state(leg, UP)
        await self.event("DialEnd", self.caller, ("DialStatus", "ANSWER"), dest=leg)
        for other_ext, other in self.legs.items():
            if other_ext != extension and other.state == RINGING:
                await self.event("DialEnd", self.caller, ("DialStatus", "CANCEL"), dest=other)
                await self.hangup(other, "26", "Answered elsewhere")
        if queue:
            await self.event("QueueCallerLeave", self.caller, ("Queue", QUEUE), ("Position", "1"), ("Count", "0"))
            await self.event("AgentConnect", self.caller, ("Queue", QUEUE), ("MemberName", extension),
                             ("HoldTime", "4"), ("RingTime", "4"), dest=leg)  # fmt: skip
        for channel in (self.caller, leg):
            await self.event("BridgeEnter", channel, ("BridgeUniqueid", f"b-{self.base}"), ("BridgeType", "basic"))

    async def no_answer(self, *, queue: bool) -> None:
        """Every ringing phone times out."""
        for leg in list(self.legs.values()):
            if leg.state != RINGING:
                continue
            if queue:
                await self.event("AgentRingNoAnswer", self.caller, ("Queue", QUEUE),
                                 ("MemberName", leg.exten), ("RingTime", "20"), dest=leg)  # fmt: skip
            await self.event("DialEnd", self.caller, ("DialStatus", "NOANSWER"), dest=leg)
            await self.hangup(leg, "19", "No answer")

    async def abandon(self) -> None:
        """Let the caller give up while the phones ring."""
        await self.event("QueueCallerAbandon", self.caller, ("Queue", QUEUE), ("Position", "1"),
                         ("OriginalPosition", "1"), ("HoldTime", "12"))  # fmt: skip
        for leg in list(self.legs.values()):
            if leg.state == RINGING:
                await self.event("DialEnd", self.caller, ("DialStatus", "CANCEL"), dest=leg)
                await self.hangup(leg, "16", "Normal Clearing")
        await self.hangup(self.caller, "16", "Normal Clearing")

    async def hangup(self, leg: _Leg, cause: str, text: str) -> None:
        """Hang up one leg."""
        await self.event("Hangup", leg, ("Cause", cause), ("Cause-txt", text))
        leg.state = ("", "")

    async def finish(self, extension: str | None, *, queue: bool) -> None:
        """End the conversation: queue bookkeeping, then both legs hang up."""
        if extension is not None:
            leg = self.legs[extension]
            if queue:
                await self.event("AgentComplete", self.caller, ("Queue", QUEUE), ("MemberName", extension),
                                 ("HoldTime", "4"), ("TalkTime", "35"), ("Reason", "caller"), dest=leg)  # fmt: skip
            await self.hangup(self.caller, "16", "Normal Clearing")
            await self.hangup(leg, "16", "Normal Clearing")
        else:
            await self.hangup(self.caller, "16", "Normal Clearing")


def write_tone_wav(path: Path, seconds: float = 3.0, rate: int = 8000) -> None:
    """Write a short, quiet 8 kHz mono tone (the demo's stand-in for a recorded message)."""
    frames = bytearray()
    for n in range(int(seconds * rate)):
        envelope = min(1.0, n / 800, (seconds * rate - n) / 800)
        frames += struct.pack("<h", int(3000 * envelope * math.sin(2 * math.pi * 440 * n / rate)))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(bytes(frames))


def write_message_audio(path: Path, text: str) -> None:
    """Speak ``text`` with espeak-ng when installed (Serbian voice), else write a tone."""
    espeak = shutil.which("espeak-ng")
    if espeak is not None:
        try:
            subprocess.run(  # noqa: S603  fixed argv, our own text
                [espeak, "-v", "sr", "-s", "150", "-w", str(path), text],
                check=True,
                timeout=30,
                capture_output=True,
            )
        except (OSError, subprocess.SubprocessError):
            logger.info("espeak-ng failed; writing a tone instead")
        else:
            return
    write_tone_wav(path)


def _wav_seconds(path: Path) -> int:
    with wave.open(str(path), "rb") as audio:
        return max(1, round(audio.getnframes() / max(1, audio.getframerate())))


def write_voicemail(spool: Path, *, caller_num: str, caller_name: str, callerchan: str, text: str) -> Path:
    """Leave one message in ``<spool>/sistem48/4800/INBOX`` like app_voicemail: audio first, then the .txt.

    The metadata is written to a temporary file and renamed, with ``duration=`` last, so a reader
    never sees a complete-looking message without its audio.
    """
    box, context = DEMO_MAILBOX
    inbox = spool / context / box / "INBOX"
    inbox.mkdir(parents=True, exist_ok=True)
    used = {p.stem for p in inbox.glob("msg*.txt")}
    stem = next(f"msg{n:04d}" for n in itertools.count() if f"msg{n:04d}" not in used)
    audio = inbox / f"{stem}.wav"
    write_message_audio(audio, text)
    origtime = int(time.time())
    info = (
        ";\n; Message Information file\n;\n[message]\n"
        f"origmailbox={box}\ncontext=sistem48-zatvoreno\nmacrocontext=\nexten=s\nrdnis=unknown\npriority=2\n"
        f'callerchan={callerchan}\ncallerid="{caller_name}" <{caller_num}>\n'
        f"origdate={time.strftime('%a %b %e %r UTC %Y', time.gmtime(origtime))}\norigtime={origtime}\n"
        f"category=\nmsg_id={origtime}-{random.getrandbits(24):08d}\nflag=\nduration={_wav_seconds(audio)}\n"
    )
    fd, tmp = tempfile.mkstemp(dir=inbox.parent, prefix=".demo-", suffix=".txt")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(info)
    os.replace(tmp, inbox / f"{stem}.txt")
    return inbox / f"{stem}.txt"


@dataclass
class DemoPbx:
    """Plays one realistic scenario after another on an :class:`AmiServer`."""

    server: AmiServer
    spool: Path
    pace: float = 1.0  # multiply every pause (0.01 in tests)
    operators: tuple[str, ...] = ("201", "202")
    rng: random.Random = field(default_factory=random.Random)
    _calls: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def pause(self, seconds: float) -> None:
        """Sleep ``seconds`` scaled by ``pace``."""
        await asyncio.sleep(seconds * self.pace)

    def _script(self, context: str = "sistem48-ulaz") -> CallScript:
        num, name = self.rng.choice(CALLERS)
        base = f"{int(time.time())}{next(self._calls):03d}"
        return CallScript(self.server, num, name, base, context=context)

    async def answered_queue_call(self) -> str:
        """Queue ringall to every operator; one answers, the others' pops close."""
        call = self._script()
        await call.arrive()
        await call.join_queue()
        for ext in self.operators:
            await call.ring(ext, queue=True)
        await self.pause(6)
        winner = self.rng.choice(self.operators)
        await call.answer(winner, queue=True)
        await self.pause(25)
        await call.finish(winner, queue=True)
        return call.linkedid

    async def missed_queue_call(self) -> str:
        """Nobody answers in time; the caller hangs up: a missed call for the 07:00 callback list."""
        call = self._script()
        await call.arrive()
        await call.join_queue()
        for ext in self.operators:
            await call.ring(ext, queue=True)
        await self.pause(20)
        await call.no_answer(queue=True)
        await call.event("QueueCallerLeave", call.caller, ("Queue", QUEUE), ("Position", "1"), ("Count", "0"))
        await call.finish(None, queue=True)
        return call.linkedid

    async def abandoned_queue_call(self) -> str:
        """Play a queue call the caller gives up on while the phones ring."""
        call = self._script()
        await call.arrive()
        await call.join_queue()
        for ext in self.operators:
            await call.ring(ext, queue=True)
        await self.pause(8)
        await call.abandon()
        return call.linkedid

    async def direct_call(self) -> str:
        """Play a call dialled straight to one operator (no queue)."""
        call = self._script(context="sistem48-operateri")
        ext = self.rng.choice(self.operators)
        await call.arrive()
        await call.ring(ext, queue=False)
        await self.pause(4)
        await call.answer(ext, queue=False)
        await self.pause(15)
        await call.finish(ext, queue=False)
        return call.linkedid

    async def after_hours_voicemail(self) -> str:
        """After hours: greeting, a message into 4800@sistem48, MessageWaiting with the caller's channel."""
        call = self._script(context="sistem48-zatvoreno")
        await call.arrive()
        await self.pause(8)
        count = await asyncio.to_thread(self._leave_message, call.caller_num, call.caller_name, call.caller.channel)
        box, context = DEMO_MAILBOX
        await call.event("MessageWaiting", call.caller, ("Mailbox", f"{box}@{context}"), ("Waiting", "1"),
                         ("New", str(count)), ("Old", "0"))  # fmt: skip
        await call.hangup(call.caller, "16", "Normal Clearing")
        return call.linkedid

    def _leave_message(self, num: str, name: str, channel: str) -> int:
        write_voicemail(self.spool, caller_num=num, caller_name=name, callerchan=channel, text=VOICEMAIL_TEXT)
        box, context = DEMO_MAILBOX
        return len(list((self.spool / context / box / "INBOX").glob("msg*.txt")))

    async def run(self, stop: asyncio.Event) -> None:
        """Play scenarios with pauses until ``stop`` is set; a failing scenario is logged, not fatal."""
        scenarios = (
            self.answered_queue_call,
            self.missed_queue_call,
            self.answered_queue_call,
            self.abandoned_queue_call,
            self.direct_call,
            self.after_hours_voicemail,
        )
        for scenario in itertools.cycle(scenarios):
            if stop.is_set():
                return
            while not any(s.authenticated for s in self.server.sessions):
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(1):
                        await stop.wait()
                if stop.is_set():
                    return
            try:
                linkedid = await scenario()
                logger.info("demo PBX: %s (%s)", scenario.__name__, linkedid)
            except Exception:  # noqa: BLE001  the demo keeps playing
                logger.exception("demo scenario %s failed", scenario.__name__)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.rng.uniform(10, 25) * self.pace):
                    await stop.wait()


async def run_demo_pbx(
    port: int,
    spool: Path,
    *,
    host: str = "127.0.0.1",
    username: str = DEMO_USERNAME,
    secret: str = DEMO_SECRET,
    pace: float = 1.0,
    stop: asyncio.Event | None = None,
    seed: int | None = None,
) -> None:
    """Serve the demo PBX on ``host:port`` (loopback) and play calls until ``stop`` is set."""
    stop = stop or asyncio.Event()
    server = AmiServer(username=username, secret=secret, port=port, host=host, originate_delay=2.0 * pace)
    await server.start()
    await asyncio.to_thread(spool.mkdir, parents=True, exist_ok=True)
    logger.info("demo PBX listening on %s:%d, voicemail spool %s", host, server.port, spool)
    pbx = DemoPbx(server, spool, pace=pace, rng=random.Random(seed))  # noqa: S311  demo data, not secrets
    try:
        await pbx.run(stop)
    finally:
        await server.stop()


def main(argv: list[str] | None = None) -> None:
    """``python -m telephony.demo --port P --spool DIR``."""
    parser = argparse.ArgumentParser(prog="python -m telephony.demo", description="Sistem 48 demo PBX (AMI)")
    parser.add_argument("--port", type=int, default=15038)
    parser.add_argument("--spool", type=Path, required=True)
    parser.add_argument("--secret", default=DEMO_SECRET)
    parser.add_argument("--pace", type=float, default=1.0, help="multiply every pause (smaller = faster)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = asyncio.Event()

    async def serve() -> None:
        import signal

        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await run_demo_pbx(args.port, args.spool, secret=args.secret, pace=args.pace, stop=stop)

    asyncio.run(serve())


if __name__ == "__main__":
    main()
