"""A real asyncio TCP loopback AMI server for tests, replaying ``tests/fixtures/ami/*.ami`` transcripts.

The server and the transcript format live in :mod:`telephony.demo` (the demo PBX is the same server);
this module adds the fixture directory, so ``FakeAmi().play("direct_dial")`` replays
``tests/fixtures/ami/direct_dial.ami``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from typing_extensions import override

from telephony.demo import (
    AmiServer,
    Frame,
    Restart,
    Session,
    Sleep,
    Step,
    frame_bytes,
    parse_transcript,
    substitute,
)
from telephony.frames import AmiFrame

__all__ = [
    "FIXTURES",
    "FakeAmi",
    "Frame",
    "Restart",
    "Session",
    "Sleep",
    "Step",
    "frame_bytes",
    "load_transcript",
    "parse_transcript",
    "transcript_frames",
]

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "ami"


def load_transcript(name: str) -> list[Step]:
    """Load ``tests/fixtures/ami/<name>`` (``.ami`` added when missing)."""
    path = FIXTURES / (name if name.endswith(".ami") else f"{name}.ami")
    return parse_transcript(path.read_text(encoding="utf-8"))


def transcript_frames(name: str, substitutions: Mapping[str, str] | None = None) -> list[AmiFrame]:
    """Return the frames of a transcript as the client would parse them (for translator tests)."""
    frames = []
    for step in load_transcript(name):
        if isinstance(step, Frame):
            frames.append(AmiFrame(substitute(step.headers, substitutions or {})))
    return frames


@dataclass
class FakeAmi(AmiServer):
    """The loopback AMI server, replaying fixture transcripts by name."""

    @override
    def load(self, name: str) -> list[Step]:
        """Return a fixture transcript's steps."""
        return load_transcript(name)
