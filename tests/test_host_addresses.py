"""Looked-up host names: one look-up per name while it is fresh, addresses handed out in turn, a name that
failed looked up again; and the connection pool's use of them against real servers on loopback addresses."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from gymbox.host_addresses import HostAddresses
from gymbox.http1 import ConnectFailed, ConnectionPool


class FakeResolver:
    """A test double for the event loop's getaddrinfo (no DNS server here): names map to IPv4 addresses;
    it counts its look-ups and can hold them until released."""

    def __init__(self, names: dict[str, list[str]]) -> None:
        self.names = names
        self.look_ups: list[str] = []
        self.release = asyncio.Event()
        self.release.set()

    async def getaddrinfo(self, host: str, port: int, **_: Any) -> list[Any]:
        self.look_ups.append(host)
        await self.release.wait()
        if host not in self.names:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port)) for ip in self.names[host]]


@pytest.fixture
def resolver(monkeypatch: pytest.MonkeyPatch) -> Callable[[dict[str, list[str]]], FakeResolver]:
    def install(names: dict[str, list[str]]) -> FakeResolver:
        fake = FakeResolver(names)
        monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", fake.getaddrinfo)
        return fake

    return install


async def test_a_name_is_looked_up_once_while_fresh_and_its_addresses_taken_in_turn(resolver) -> None:
    fake = resolver({"env": ["10.0.0.1", "10.0.0.2", "10.0.0.3"]})
    hosts = HostAddresses(ttl_s=60)
    firsts = [(await hosts.addresses("env", 8000))[0] for _ in range(6)]
    assert firsts == ["10.0.0.1", "10.0.0.2", "10.0.0.3"] * 2
    assert await hosts.addresses("env", 8000) == ["10.0.0.1", "10.0.0.2", "10.0.0.3"]  # the rest follow
    assert fake.look_ups == ["env"]


async def test_callers_during_a_look_up_share_it_and_one_giving_up_does_not_end_it(resolver) -> None:
    fake = resolver({"model": ["10.0.0.7"]})
    fake.release.clear()
    hosts = HostAddresses()
    impatient = asyncio.create_task(hosts.addresses("model", 8000))
    waiting = [asyncio.create_task(hosts.addresses("model", 8000)) for _ in range(50)]
    await asyncio.sleep(0)
    impatient.cancel()
    fake.release.set()
    assert [await task for task in waiting] == [["10.0.0.7"]] * 50
    assert fake.look_ups == ["model"]


async def test_an_expired_or_forgotten_name_is_looked_up_again_and_an_ip_never(resolver) -> None:
    fake = resolver({"env": ["10.0.0.1"]})
    hosts = HostAddresses(ttl_s=0.05)
    await hosts.addresses("env", 8000)
    await asyncio.sleep(0.1)
    await hosts.addresses("env", 8000)
    hosts.forget("env", 8000)
    await hosts.addresses("env", 8000)
    assert await hosts.addresses("10.1.2.3", 8000) == ["10.1.2.3"]
    assert fake.look_ups == ["env"] * 3


async def test_an_unknown_name_fails_every_time_it_is_asked_for(resolver) -> None:
    fake = resolver({})
    hosts = HostAddresses()
    for _ in range(2):
        with pytest.raises(socket.gaierror):
            await hosts.addresses("nowhere", 8000)
    assert fake.look_ups == ["nowhere"] * 2


# -- the pool, against servers on 127.0.0.1 and 127.0.0.2 (both loopback on Linux)


@pytest.fixture
async def replicas() -> AsyncIterator[tuple[int, list[str]]]:
    """Two servers on one port, at 127.0.0.1 and 127.0.0.2, answering with the address they listen on."""
    servers: list[asyncio.Server] = []

    def handler(ip: str) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Any]:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while True:
                    await reader.readuntil(b"\r\n\r\n")
                    await asyncio.sleep(0.05)  # long enough for the other request to need a connection too
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(ip), ip.encode()))
                    await writer.drain()
            except (asyncio.IncompleteReadError, ConnectionError):
                pass
            finally:
                writer.close()

        return handle

    first = await asyncio.start_server(handler("127.0.0.1"), "127.0.0.1", 0)
    port = first.sockets[0].getsockname()[1]
    servers.append(first)
    try:
        servers.append(await asyncio.start_server(handler("127.0.0.2"), "127.0.0.2", port))
    except OSError:
        first.close()
        pytest.skip("127.0.0.2 is not a loopback address here")
    yield port, ["127.0.0.1", "127.0.0.2"]
    for server in servers:
        server.close()


async def test_new_connections_spread_over_a_services_replicas(resolver, replicas) -> None:
    port, ips = replicas
    fake = resolver({"env": ips})
    pool = ConnectionPool(connect_timeout_s=5)
    try:
        answers = await asyncio.gather(*(pool.request("POST", f"http://env:{port}/verify") for _ in range(4)))
    finally:
        await pool.close()
    assert sorted(answer.body.decode() for answer in answers) == sorted(ips * 2)
    assert fake.look_ups == ["env"]


async def test_an_address_that_refuses_is_skipped_and_the_name_looked_up_again(resolver, replicas) -> None:
    port, _ = replicas
    fake = resolver({"env": ["127.0.0.3", "127.0.0.1"]})  # nothing listens on 127.0.0.3: a stopped replica
    pool = ConnectionPool(connect_timeout_s=5)
    try:
        first = await pool.request("POST", f"http://env:{port}/verify")
        fake.names["env"] = ["127.0.0.1"]  # Docker's answer once the replica is gone
        await asyncio.gather(*(pool.request("POST", f"http://env:{port}/verify") for _ in range(2)))
    finally:
        await pool.close()
    assert first.body == b"127.0.0.1"
    assert fake.look_ups == ["env", "env"]


async def test_a_name_with_no_address_that_answers_is_a_connect_failure(resolver) -> None:
    resolver({"gone": ["127.0.0.3"]})
    pool = ConnectionPool(connect_timeout_s=5)
    with pytest.raises(ConnectFailed):
        await pool.request("POST", "http://gone:9/verify")
