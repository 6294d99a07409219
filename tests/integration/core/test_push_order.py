"""Live events of one process are pushed in seq order, whichever thread commits them."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from typing_extensions import override

from core.bootstrap import Core
from core.db.uow import UnitOfWork
from core.ports import RecordingLivePush


class SlowFirstPush(RecordingLivePush):
    """Records pushes; the first one stalls after it starts, as a push to a busy Redis does."""

    def __init__(self) -> None:
        super().__init__()
        self.first_started = threading.Event()
        self.calls = 0

    @override
    def emit_many(self, events: Sequence[Mapping[str, Any]]) -> None:
        """Record the events; the first push takes 0.3 s."""
        self.calls += 1
        if self.calls == 1:
            self.first_started.set()
            time.sleep(0.3)
        super().emit_many(events)


def test_a_later_commit_waits_for_the_earlier_push(core: Core) -> None:
    """Two threads (the daemon's two lanes): the second commits while the first still pushes.

    Its higher seq must not reach clients first: one that resyncs after the highest seq it saw would
    never get the lower one.
    """
    push = SlowFirstPush()

    def commit(n: int) -> None:
        uow = UnitOfWork(core.session_factory, clock=core.clock, live=push, tasks=None)
        with uow:
            uow.emit("call.ringing", {"n": n}, audience="ext:201")
            uow.commit()

    first = threading.Thread(target=commit, args=(1,))
    first.start()
    assert push.first_started.wait(10)
    second = threading.Thread(target=commit, args=(2,))
    second.start()
    first.join(10)
    second.join(10)
    assert [event["n"] for event in push.events] == [1, 2]
    seqs = [int(event["seq"]) for event in push.events]
    assert seqs == sorted(seqs)
