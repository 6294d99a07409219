"""The web node sends each WebSocket frame at once: Nagle's algorithm is off on its connections."""

from __future__ import annotations

import socket
import threading
import urllib.request
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from flask_socketio import SocketIO
from werkzeug.serving import WSGIRequestHandler, make_server

from core.bootstrap import Core
from sistem48 import web
from sistem48.web import NoDelayRequestHandler


def _nodelay_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Answer with the TCP_NODELAY flag of the connection this request came on."""
    sock: socket.socket = environ["werkzeug.socket"]  # the socket simple-websocket takes over for WebSocket
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)).encode()]


@pytest.mark.parametrize(("handler", "expected"), [(NoDelayRequestHandler, "1"), (WSGIRequestHandler, "0")])
def test_accepted_connections_send_without_delay(handler: type[WSGIRequestHandler], expected: str) -> None:
    """Werkzeug leaves Nagle on (the control case); the web node's handler turns it off."""
    server = make_server("127.0.0.1", 0, _nodelay_app, threaded=True, request_handler=handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}/", timeout=10) as response:  # noqa: S310  loopback
            assert response.read().decode() == expected
    finally:
        server.shutdown()
        thread.join(10)


def test_the_web_node_serves_with_that_handler(core: Core, monkeypatch: pytest.MonkeyPatch) -> None:
    """``sistem48 web`` hands the handler to the server it runs."""
    seen: dict[str, Any] = {}
    monkeypatch.setattr(web, "settle_heap", lambda: None)  # not this test process's heap
    monkeypatch.setattr(web, "start_table_relay", lambda *_args: None)  # no thread outliving the test
    monkeypatch.setattr(SocketIO, "run", lambda _self, _app, **kwargs: seen.update(kwargs))
    web.serve(core.settings)
    assert seen["request_handler"] is NoDelayRequestHandler
