"""The web process: Flask app + Socket.IO, with the right live-push wiring for the deployment."""

from __future__ import annotations

import logging
import socket

from flask import Flask
from flask_socketio import SocketIO
from typing_extensions import override
from werkzeug.serving import WSGIRequestHandler

from callcenter_ui import create_app
from callcenter_ui.sockets import SocketIOLivePush, init_socketio, start_table_relay
from core.config import Settings
from sistem48.runtime import build_core, settle_heap

log = logging.getLogger(__name__)


class NoDelayRequestHandler(WSGIRequestHandler):
    """Werkzeug's request handler with Nagle's algorithm off on the connection.

    A WebSocket connection stays open and the server writes each Engine.IO packet as its own small
    frame. With Nagle on, a frame written while the previous one is still unacknowledged waits for
    that ACK, and the browser delays its ACKs by up to 40 ms: in about half the rounds of
    bench/screen_pop.py one of the twenty pops arrived 40 ms late. Every other link on the pop's
    path (AMI, PostgreSQL, Redis) already sends without delay.
    """

    @override
    def setup(self) -> None:
        """Prepare the connection as the base class does, then turn Nagle off."""
        super().setup()
        if self.connection.family in (socket.AF_INET, socket.AF_INET6):  # not on a Unix socket (unix://)
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def build_web(settings: Settings) -> tuple[Flask, SocketIO]:
    """Create the app and Socket.IO server wired to a fresh core."""
    core = build_core(settings)
    app = create_app(settings, core=core)
    socketio = init_socketio(app, core)
    if settings.socketio_queue_url:
        core.live = SocketIOLivePush(socketio)  # emits go through the Redis queue to every web node
    else:
        start_table_relay(socketio, core)  # one process sees every other process's events via the table
    return app, socketio


def serve(settings: Settings) -> None:
    """Serve HTTP and Socket.IO until interrupted."""
    app, socketio = build_web(settings)
    settle_heap()
    log.info("web on http://%s:%d/", settings.http_host, settings.http_port)
    # Werkzeug's threaded server speaks WebSocket through simple-websocket; a municipal call centre has
    # tens of users, not thousands. It is bound to loopback by default and fronted by a proxy in production.
    socketio.run(
        app,
        host=settings.http_host,
        port=settings.http_port,
        allow_unsafe_werkzeug=True,
        log_output=False,
        request_handler=NoDelayRequestHandler,
    )
