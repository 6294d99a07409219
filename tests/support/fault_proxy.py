"""Asyncio TCP fault proxy between the connector and the fake AMI server (toxiproxy is unavailable).

Modes, switchable at any time with :meth:`FaultProxy.set_mode`:

* ``pass``      forward both directions unchanged;
* ``blackhole`` keep the sockets open but silently drop every byte both ways (a half-open link);
* ``slice``     forward server→client bytes in ``slice_size``-byte writes (1 = split at every byte).

Actions: :meth:`reset` sends a TCP RST to the client (``SO_LINGER(1, 0)`` + ``abort()``) and
closes the upstream side; :meth:`inject` writes raw bytes to the client(s) as if Asterisk sent them.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from dataclasses import dataclass, field
from typing import Literal

Mode = Literal["pass", "blackhole", "slice"]


@dataclass
class _Link:
    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


@dataclass
class FaultProxy:
    """Listen on 127.0.0.1:0 and forward to ``target_port``; see the module docstring."""

    target_port: int
    target_host: str = "127.0.0.1"
    mode: Mode = "pass"
    slice_size: int = 1
    port: int = 0
    connections: int = 0
    links: list[_Link] = field(default_factory=list)
    _server: asyncio.Server | None = None

    async def start(self) -> int:
        """Start listening and return the proxy port."""
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        """Close the listener and every proxied connection."""
        if self._server is not None:
            self._server.close()
        for link in list(self.links):
            await self._close_link(link)
        if self._server is not None:
            await self._server.wait_closed()

    def set_mode(self, mode: Mode, slice_size: int = 1) -> None:
        """Switch the fault mode for current and future connections."""
        self.mode = mode
        self.slice_size = slice_size

    async def reset(self) -> None:
        """Send a TCP RST to every client and close the upstream side."""
        for link in list(self.links):
            sock = link.client.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    # Linger on with a zero timeout turns close into an RST instead of a FIN.
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            link.client.transport.abort()
            await self._close_link(link)

    async def inject(self, data: bytes) -> None:
        """Write raw bytes to every client, as if they came from the server."""
        for link in list(self.links):
            if not link.client.is_closing():
                link.client.write(data)
                with contextlib.suppress(ConnectionError, OSError):
                    await link.client.drain()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(self.target_host, self.target_port)
        except OSError:
            writer.close()
            return
        link = _Link(writer, up_writer)
        self.links.append(link)
        link.tasks = [
            asyncio.ensure_future(self._pump(reader, up_writer, link, to_client=False)),
            asyncio.ensure_future(self._pump(up_reader, writer, link, to_client=True)),
        ]
        # Keep the accept callback alive while pumping, so the server can await it on close.
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*link.tasks, return_exceptions=True)
        await self._close_link(link)

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, link: _Link, *, to_client: bool
    ) -> None:
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                if self.mode == "blackhole":
                    continue
                if to_client and self.mode == "slice":
                    for start in range(0, len(data), self.slice_size):
                        writer.write(data[start : start + self.slice_size])
                        await writer.drain()
                        await asyncio.sleep(0)
                else:
                    writer.write(data)
                    await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            # One side ended: end the other too, as a real TCP path would.
            if not writer.is_closing():
                writer.close()

    async def _close_link(self, link: _Link) -> None:
        if link in self.links:
            self.links.remove(link)
        for task in link.tasks:
            if task is not asyncio.current_task():
                task.cancel()
        for writer in (link.client, link.upstream):
            if not writer.is_closing():
                writer.close()
            with contextlib.suppress(ConnectionError, OSError, asyncio.CancelledError):
                await writer.wait_closed()
