"""The HTTP/2 client's writes, seen on the wire: a burst of requests leaves in pieces.

Issue 18: with a thousand pushes in flight the client wrote them in one 80 KB write once
the last was built, the double answered all of them in one write once the last was
answered, and the two processes took turns (wall time = the sum of their CPU times, and
worse when the machine was busy). Which bytes go out together is decided by the writes,
not by timing, and the TLS records show it: each write becomes its own records (at most
16 KB of plaintext each). So a relay between client and double that reads the record
headers checks the fix deterministically: no record carries more than a few requests'
(or answers') worth of bytes.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from service.push.apns import AsyncApnsClient, CertificateCredentials
from service.push.h2conn import FLUSH_EVERY_STREAMS, RECOUNT_EVERY_STREAMS
from tests.doubles.apns import FLUSH_EVERY_ANSWERS, ApnsDouble
from tests.doubles.pki import Pki, make_pki

APPLICATION_DATA = 23
BURST = 1000
#: Generous bytes per request or answer inside one record (a request is ~100 bytes on the
#: wire, an answer ~60): a record over FLUSH_EVERY_* times this held a whole burst.
BYTES_PER_ITEM = 200


@dataclass
class _Direction:
    """TLS records seen in one direction: (content type, length) in order."""

    records: list[tuple[int, int]] = field(default_factory=list)
    buffer: bytearray = field(default_factory=bytearray)

    def feed(self, data: bytes) -> None:
        self.buffer += data
        while len(self.buffer) >= 5:
            length = int.from_bytes(self.buffer[3:5], "big")
            if len(self.buffer) < 5 + length:
                return
            self.records.append((self.buffer[0], length))
            del self.buffer[: 5 + length]


class RecordRelay:
    """A loopback TCP relay to `upstream_port` that notes the TLS record headers both ways."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.to_server = _Direction()
        self.to_client = _Direction()
        self.threads: list[threading.Thread] = []
        accept = threading.Thread(target=self._accept, daemon=True)
        accept.start()
        self.threads.append(accept)

    def _accept(self) -> None:
        client, _ = self.listener.accept()
        server = socket.create_connection(("127.0.0.1", self.upstream_port))
        for source, target, direction in ((client, server, self.to_server), (server, client, self.to_client)):
            pump = threading.Thread(target=self._pump, args=(source, target, direction), daemon=True)
            pump.start()
            self.threads.append(pump)

    @staticmethod
    def _pump(source: socket.socket, target: socket.socket, direction: _Direction) -> None:
        try:
            while data := source.recv(65536):
                direction.feed(data)
                target.sendall(data)
            target.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def close(self) -> None:
        self.listener.close()
        for thread in self.threads:
            thread.join(5)


@dataclass
class Burst:
    accepted: int
    to_server: list[int]  # application-data record lengths during the burst
    to_client: list[int]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("h2conn-pki"))


@pytest.fixture(scope="module")
def burst(pki: Pki) -> Iterator[Burst]:
    """BURST pushes at once (max_in_flight=BURST) through the relay to the double."""
    with ApnsDouble(pki.server_cert, pki.server_key, topic=pki.topic, client_ca=pki.ca_cert, record=False) as double:
        relay = RecordRelay(double.port)

        async def run() -> tuple[int, int, int]:
            client = AsyncApnsClient(
                CertificateCredentials(str(pki.client_cert), str(pki.client_key)),
                endpoint=f"https://127.0.0.1:{relay.port}",
                ca_file=pki.ca_cert,
                max_in_flight=BURST,
            )
            async with client:
                warm = await client.send(f"{BURST:064x}", pki.topic)  # TLS handshake, SETTINGS
                assert warm.ok
                marks = len(relay.to_server.records), len(relay.to_client.records)
                results = await client.send_many([f"{n:064x}" for n in range(BURST)], pki.topic)
            return sum(result.ok for result in results), *marks

        try:
            accepted, server_mark, client_mark = asyncio.run(run())
        finally:
            relay.close()
        yield Burst(
            accepted=accepted,
            to_server=[n for kind, n in relay.to_server.records[server_mark:] if kind == APPLICATION_DATA],
            to_client=[n for kind, n in relay.to_client.records[client_mark:] if kind == APPLICATION_DATA],
        )


def test_a_burst_of_requests_leaves_the_client_in_pieces_the_server_can_start_on(burst: Burst) -> None:
    assert burst.accepted == BURST
    assert max(burst.to_server) <= FLUSH_EVERY_STREAMS * BYTES_PER_ITEM  # not 16 KB records
    assert len(burst.to_server) >= BURST // FLUSH_EVERY_STREAMS


def test_the_double_answers_a_burst_in_pieces_not_all_at_the_end(burst: Burst) -> None:
    assert max(burst.to_client) <= FLUSH_EVERY_ANSWERS * BYTES_PER_ITEM
    assert len(burst.to_client) >= BURST // FLUSH_EVERY_ANSWERS


def test_h2_forgets_closed_streams_though_it_no_longer_counts_them_per_request(pki: Pki) -> None:
    """The stream limit is checked against the client's own count (h2's walk over every
    stream cost ~500 checks per request at 1000 in flight); h2's walk still runs every
    RECOUNT_EVERY_STREAMS streams, so its table holds about that many closed streams at most."""
    with ApnsDouble(pki.server_cert, pki.server_key, topic=pki.topic, client_ca=pki.ca_cert, record=False) as double:

        async def run() -> tuple[int, int, int]:
            client = AsyncApnsClient(
                CertificateCredentials(str(pki.client_cert), str(pki.client_key)),
                endpoint=double.url,
                ca_file=pki.ca_cert,
                max_in_flight=BURST,
            )
            async with client:
                results = await client.send_many([f"{n:064x}" for n in range(3 * RECOUNT_EVERY_STREAMS)], pki.topic)
                connection = client._client._conn
                assert connection is not None
                return sum(result.ok for result in results), len(connection.streams), len(connection.h2.streams)

        accepted, unanswered, held_by_h2 = asyncio.run(run())
    assert accepted == 3 * RECOUNT_EVERY_STREAMS
    assert unanswered == 0
    assert held_by_h2 <= RECOUNT_EVERY_STREAMS + BURST  # not all 3000: closed ones are dropped
