"""Host names looked up once every few seconds for the hop clients, not once per new connection: one cache
per process (`gymbox.http_client.ADDRESSES`) serves every PeerClient's pool (`gymbox/http1.py`) and the
pinning of an episode to a replica.

In a container, looking up a compose service's name asks Docker's embedded DNS server, through libuv's
thread pool: about 90 µs of the caller's CPU and 200 µs of wall time, plus the engine's CPU to answer. With
1,024 rollouts in flight an agent opens about 2,000 connections at once, to its model and its environment,
and each of them did a look-up. Here one look-up serves every connection made while it is fresh; callers
that ask while it is under way wait for it rather than starting their own.

Each call hands the addresses out starting one further along, so new connections still spread over a
service's replicas (Docker answers with all of them). A caller that cannot connect `forget`s the name, so
the next connection looks it up again: a replica that went away is gone from Docker's answer.
"""

from __future__ import annotations

import asyncio
import ipaddress
import math
import socket
import time
from dataclasses import dataclass

TTL_S = 5.0  # how soon a new replica gets connections; Docker's own DNS answers carry a TTL of 600 s


@dataclass(slots=True)
class _Entry:
    addresses: list[str]
    expires: float
    turn: int = 0


class HostAddresses:
    """The addresses of the hosts one client connects to, each name looked up at most once per `ttl_s`."""

    def __init__(self, ttl_s: float = TTL_S) -> None:
        self.ttl_s = ttl_s
        self._entries: dict[tuple[str, int], _Entry] = {}
        self._pending: dict[tuple[str, int], asyncio.Future[_Entry]] = {}

    async def addresses(self, host: str, port: int) -> list[str]:
        """Every address of `host` to try, in order; the first is the next one in turn. Raises OSError
        (`socket.gaierror`) when the name cannot be looked up."""
        key = (host, port)
        entry = self._entries.get(key)
        if entry is None or entry.expires <= time.monotonic():
            if _is_ip_literal(host):  # kept for good: parsing it costs more than the look-up table
                self._entries[key] = _Entry([host], math.inf)
                return [host]
            entry = await self._look_up_once(key)
        if len(entry.addresses) == 1:
            return entry.addresses
        first = entry.turn % len(entry.addresses)
        entry.turn += 1
        return entry.addresses[first:] + entry.addresses[:first]

    def forget(self, host: str, port: int) -> None:
        """Look `host` up again at the next connection (one of its addresses did not answer)."""
        self._entries.pop((host, port), None)

    async def _look_up_once(self, key: tuple[str, int]) -> _Entry:
        pending = self._pending.get(key)
        if pending is None:
            pending = asyncio.ensure_future(self._fresh_entry(key))
            self._pending[key] = pending
            pending.add_done_callback(lambda done: self._look_up_done(key, done))
        return await asyncio.shield(pending)  # one caller's timeout must not cancel the others' look-up

    async def _fresh_entry(self, key: tuple[str, int]) -> _Entry:
        entry = _Entry(await _look_up(*key), time.monotonic() + self.ttl_s)
        self._entries[key] = entry
        return entry

    def _look_up_done(self, key: tuple[str, int], done: asyncio.Future[_Entry]) -> None:
        del self._pending[key]
        if not done.cancelled():
            done.exception()  # seen, even when every caller gave up waiting for it


async def _look_up(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: dict[str, None] = {}  # in the resolver's order, each once
    for _, _, _, _, sockaddr in infos:
        address = str(sockaddr[0])
        if len(sockaddr) == 4 and sockaddr[3]:  # an IPv6 link-local address is only usable with its scope
            address = f"{address}%{sockaddr[3]}"
        addresses[address] = None
    if not addresses:
        raise socket.gaierror(f"no address for {host}")
    return list(addresses)


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
