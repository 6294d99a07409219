"""The production live path: a daemon's RedisLivePush → real Redis → the web node's Socket.IO → a client.

Nothing here is faked: a private redis-server, the web node built by ``sistem48.web.build_web`` with
the message queue, served by Werkzeug on loopback, and a python-socketio client over WebSocket.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import socketio
from werkzeug.serving import make_server

from callcenter_ui.sockets import RedisLivePush, get_core_from
from core.config import load_settings
from core.services.accounts import add_user, create_token
from sistem48.web import build_web
from tests.support.database import migrate_and_seed
from tests.support.pg import free_port
from tests.support.redis_server import RedisServer

pytestmark = pytest.mark.integration


def wait_for(predicate: Callable[[], bool], limit: float = 15.0) -> None:
    """Poll until ``predicate`` holds."""
    deadline = time.monotonic() + limit
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.02)


def pop(seq: int, extension: str = "201") -> dict[str, Any]:
    """A minimal committed ``call.ringing`` event for one extension."""
    return {"seq": seq, "type": "call.ringing", "at": "2026-11-28T08:00:00+00:00", "audience": f"ext:{extension}",
            "linkedid": f"1764310000.{seq}", "extension": extension}  # fmt: skip


@pytest.fixture
def listener(tmp_path: Path, redis_server: RedisServer) -> Iterator[tuple[socketio.Client, list[dict[str, Any]]]]:
    """A web node on the Redis queue and an operator (extension 201) connected to it over WebSocket."""
    url = f"sqlite:///{tmp_path / 'web.sqlite3'}"
    migrate_and_seed(url)
    port = free_port()
    settings = load_settings(
        {
            "S48_DATABASE_URL": url,
            "S48_VAR_DIR": str(tmp_path / "var"),
            "S48_HTTP_PORT": str(port),
            "S48_SOCKETIO_QUEUE_URL": redis_server.url,
        }  # fmt: skip
    )
    app, _sio = build_web(settings)
    core = get_core_from(app)
    with core.session_factory() as db:
        add_user(db, "op201", "operator", "lozinka-dovoljno-duga", core.clock.now(), extension="201")
        token = create_token(db, "op201", "test", core.clock.now())
        db.commit()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="redis-push-web", daemon=True)
    thread.start()
    received: list[dict[str, Any]] = []
    client = socketio.Client(reconnection=False)
    client.on("call.ringing", lambda data: received.append(data), namespace="/operator")
    client.connect(f"http://127.0.0.1:{port}", namespaces=["/operator"], transports=["websocket"],
                   headers={"Authorization": f"Bearer {token}"}, wait_timeout=10)  # fmt: skip
    try:
        yield client, received
    finally:
        client.disconnect()
        server.shutdown()
        thread.join(timeout=10)
        core.engine.dispose()
        # The web node's Redis listener is a daemon thread with no stop: once this test's Redis is gone it
        # retries (and logs) for the rest of the session, into streams pytest has closed.
        logging.getLogger("socketio.server").disabled = True


def test_one_commit_of_pops_reaches_the_operator_in_order(
    listener: tuple[socketio.Client, list[dict[str, Any]]], redis_server: RedisServer
) -> None:
    """Twenty pops of one group commit go out in one Redis pipeline and arrive all, in seq order."""
    _client, received = listener
    push = RedisLivePush(redis_server.url)
    push.emit_many([pop(seq) for seq in range(1, 21)] + [pop(21, extension="202")])
    wait_for(lambda: len(received) >= 20)
    time.sleep(0.2)  # anything for another extension would have arrived by now
    assert [e["seq"] for e in received] == list(range(1, 21))
    push.emit(pop(22))
    wait_for(lambda: len(received) == 21)
    assert received[-1]["linkedid"] == "1764310000.22"


def test_serbian_and_hostile_text_arrives_intact_over_resp2(
    listener: tuple[socketio.Client, list[dict[str, Any]]], redis_server: RedisServer
) -> None:
    """Cyrillic, Latin with diacritics, markup and a lone surrogate (a caller ID's bad byte) arrive as sent.

    The web node listens over RESP2 (see ``callcenter_ui.sockets._listening_manager``) and parses
    with orjson, falling back to the json module for what orjson refuses: the surrogate takes that path.
    """
    _client, received = listener
    name = "Грађанин Čaršija <img src=x onerror=alert(1)> \udcc8"
    push = RedisLivePush(redis_server.url)
    push.emit_many([{**pop(1), "history": {"citizen": {"name": name}}}, {**pop(2), "name": "Котор Варош"}])
    wait_for(lambda: len(received) == 2)
    assert received[0]["history"]["citizen"]["name"] == name
    assert received[1]["name"] == "Котор Варош"
    subscribers = [c for c in redis.Redis.from_url(redis_server.url).client_list() if c["sub"] == "1"]
    # The web nodes' listeners (this test's, and those of earlier tests on this server, which never stop).
    assert subscribers
    assert {c["resp"] for c in subscribers} == {"2"}


def test_the_publisher_survives_a_redis_restart(
    listener: tuple[socketio.Client, list[dict[str, Any]]], redis_server: RedisServer
) -> None:
    """With Redis down a publish fails without raising; after the restart it delivers again.

    What is published during the outage is lost to pub/sub by design: clients resync by ``seq``.
    """
    _client, received = listener
    push = RedisLivePush(redis_server.url)
    push.emit_many([pop(1)])
    wait_for(lambda: len(received) == 1)
    redis_server.kill()
    push.emit_many([pop(2), pop(3)])  # lost to the outage, but never an exception into the committer
    redis_server.start()
    probe = 100
    deadline = time.monotonic() + 30
    while not any(e["seq"] >= 100 for e in received):  # the web node resubscribes with its own backoff
        assert time.monotonic() < deadline, "the web node never resubscribed"
        push.emit_many([pop(probe)])
        probe += 1
        time.sleep(0.2)
    before = len(received)
    push.emit_many([pop(seq) for seq in range(200, 205)])
    wait_for(lambda: len(received) == before + 5)
    assert [e["seq"] for e in received[before:]] == list(range(200, 205))


def test_pushes_from_several_threads_each_arrive_whole_and_in_order(
    listener: tuple[socketio.Client, list[dict[str, Any]]], redis_server: RedisServer
) -> None:
    """A daemon pushes from several executor threads at once: no batch loses, mixes or reorders events."""
    _client, received = listener
    push = RedisLivePush(redis_server.url)

    def pusher(thread: int) -> None:
        # Batches long enough (tens of ms to build) for the interpreter to switch threads inside one.
        for batch in range(3):
            first = 10_000 * thread + 1000 * batch
            push.emit_many([pop(seq) for seq in range(first, first + 200)])

    threads = [threading.Thread(target=pusher, args=(n,)) for n in range(1, 5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    wait_for(lambda: len(received) == 2400, limit=60)
    seqs = [e["seq"] for e in received]
    expected = [10_000 * t + 1000 * b + i for t in range(1, 5) for b in range(3) for i in range(200)]
    assert sorted(seqs) == sorted(expected)
    for start in range(0, 2400, 200):  # each batch went out as one contiguous, ordered run
        run = seqs[start : start + 200]
        assert run == list(range(run[0], run[0] + 200))
