"""uvicorn's httptools protocol, with the writes of one event-loop turn sent together.

uvicorn writes an answer's status line and headers, then its body: two send calls per answer, and on
loopback or a bridge often two wake-ups and two reads for the client too. Here the writes a connection
makes in one turn of the loop are joined and sent at the end of that turn, so a whole JSON answer leaves
in one segment. A streamed answer still leaves chunk by chunk, each at most one turn later.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class _TurnBufferedTransport:
    """A transport whose writes wait for the end of the loop's turn; everything else is the transport's."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        if not self._pending:
            self._loop.call_soon(self._flush)
        self._pending.append(bytes(data))

    def writelines(self, lines: Any) -> None:
        for data in lines:
            self.write(data)

    def close(self) -> None:
        self._flush()  # uvicorn closes right after the last write of a `Connection: close` answer
        self._transport.close()

    def _flush(self) -> None:
        pending, self._pending = self._pending, []
        if pending and not self._transport.is_closing():
            self._transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class BufferedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol over a transport that sends each loop turn's writes as one."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(cast(asyncio.Transport, _TurnBufferedTransport(transport, self.loop)))
