"""A lean HTTP/2 client on asyncio + `h2`, made for APNs: one TLS connection, many streams.

Why not httpx: httpcore spends about 2.5 ms of CPU per request (locks, pools, events per
stream), which caps one worker process at a few hundred pushes a second. This module does
only what an APNs provider needs, and does it cheaply:

- one TLS connection (ALPN h2) per H2Client, opened lazily and replaced when it dies or
  has been idle longer than `idle_timeout`;
- as many concurrent streams as the server's SETTINGS_MAX_CONCURRENT_STREAMS allows
  (APNs starts token-auth connections at 1 and raises it later); requests beyond that
  wait for a free slot, in order;
- flow control in both directions (request bodies wait for the window, response data is
  acknowledged);
- socket writes batched, but not too much: frames are produced by h2 as requests are
  issued and written every FLUSH_EVERY_STREAMS streams and at the end of the event-loop
  iteration, not once per stream, and not a whole window at once (that made client and
  server take turns, issue 18);
- the peer's stream limit is checked against our own count of open streams (h2 walks
  all its streams for that on every request; see _H2Connection);
- header blocks without Huffman coding (see _LiteralEncoder);
- GOAWAY / connection loss: streams the server says it never processed (id above the
  GOAWAY last_stream_id, REFUSED_STREAM, or never written to the socket) are retried once
  on a new connection; the others fail with ConnectionLost (their fate is unknown);
- a per-request timeout covering the wait for a connection, a stream slot and the answer.

Responses come back as H2Response(status, headers, body): header names lower-case str,
values str (latin-1), body bytes.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings
import hpack
from hpack import NeverIndexedHeaderTuple

_CONFIG = h2.config.H2Configuration(
    client_side=True,
    header_encoding=None,
    # We build our own headers (lower-case, no connection-specific ones) and only read
    # :status, apns-id and retry-after: h2's generic validation would double the CPU cost.
    validate_outbound_headers=False,
    normalize_outbound_headers=False,
    validate_inbound_headers=False,
    normalize_inbound_headers=False,
)
#: Our receive window: responses are tiny, but a generous window avoids stalls on bursts.
_RECEIVE_WINDOW = 1 << 20
#: Streams started between two socket writes, at most. Without a bound, every request of an
#: event-loop iteration went out in one write after the last one was built: the server
#: got the whole window at once, answered it at once, and client and server took turns
#: (one idle while the other worked) instead of overlapping. 16 requests are ~1.3 KB, one
#: TLS record; its write costs tens of microseconds against ~2 ms of building them.
FLUSH_EVERY_STREAMS = 16
#: New streams between two of h2's own counts of its open streams (see _H2Connection).
RECOUNT_EVERY_STREAMS = 1000


class H2Error(Exception):
    """No HTTP answer for this request (a transport problem)."""


class ConnectError(H2Error):
    """The connection could not be opened (TCP, TLS or ALPN)."""


class ConnectionLost(H2Error):
    """The connection ended while the request was in flight; the server may have processed it."""


class StreamReset(H2Error):
    """The server reset the stream (RST_STREAM) before answering."""


class RequestTimeout(H2Error, TimeoutError):
    """No complete answer within the request's timeout."""


class _Unprocessed(H2Error):
    """The server did not process this stream (GOAWAY last_stream_id, REFUSED_STREAM): safe to resend."""


@dataclass(frozen=True, slots=True)
class H2Response:
    status: int
    headers: dict[str, str]
    body: bytes


class _LiteralEncoder(hpack.Encoder):
    """HPACK without Huffman coding of literal strings (RFC 7541 leaves it to the encoder).

    The only literal in an APNs request after the first is the :path (the device token
    differs every time; the other headers are indexed). hpack's pure-Python Huffman coder
    spent 34 of the 57 us of a request's header block on those ~75 bytes (23 us without it,
    measured on the shared machine at load 15), about a tenth of the client's CPU per push,
    to save ~18 bytes on the wire.
    """

    def encode(self, headers: Any, huffman: bool = False) -> bytes:
        return super().encode(headers, huffman=huffman)


class _H2Connection(h2.connection.H2Connection):
    """h2's connection, without a walk over every stream it holds for each new request.

    Before sending HEADERS on a new stream, h2 checks the peer's stream limit against
    `open_outbound_streams`, which counts by looking at every stream in its table (and
    forgets the closed ones on the way). With a thousand in flight that is ~500 checks per
    request: cProfile of 10 000 pushes at 1000 in flight showed 5 million `H2Stream.open`
    calls, the client's largest cost. _Connection already knows the count (it starts a
    stream only when has_slot(), and its own table holds exactly the unanswered streams),
    so that is the answer; h2's own count still runs every RECOUNT_EVERY_STREAMS streams,
    so closed streams do not pile up in its table.
    """

    def __init__(self, open_streams: Callable[[], int]) -> None:
        super().__init__(config=_CONFIG)
        self.encoder = _LiteralEncoder()  # before any header block: the table starts empty
        self._open_streams_now = open_streams
        self._since_recount = 0

    @property
    def open_outbound_streams(self) -> int:
        self._since_recount += 1
        if self._since_recount >= RECOUNT_EVERY_STREAMS:
            self._since_recount = 0
            return super().open_outbound_streams
        return self._open_streams_now()


class _Stream:
    __slots__ = ("future", "status", "headers", "body", "pending")

    def __init__(self, future: asyncio.Future[H2Response]) -> None:
        self.future = future
        self.status = 0
        self.headers: dict[str, str] = {}
        self.body = b""
        self.pending = b""  # request body still waiting for flow-control window


class _Connection(asyncio.Protocol):
    """One HTTP/2 connection; the protocol object asyncio feeds bytes to."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.streams: dict[int, _Stream] = {}
        self.h2 = _H2Connection(open_streams=lambda: len(self.streams))
        self.h2.local_settings = h2.settings.Settings(
            client=True,
            initial_values={
                h2.settings.SettingCodes.ENABLE_PUSH: 0,
                h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: _RECEIVE_WINDOW,
            },
        )
        self.transport: asyncio.Transport | None = None
        self.slot_waiters: deque[asyncio.Future[None]] = deque()
        self.flush_scheduled = False
        self.unflushed_streams = 0  # started since the last write
        self.written_upto = 0  # highest stream id whose headers reached the socket
        self.goaway_last_stream: int | None = None
        self.closed = False
        self.close_exc: BaseException | None = None
        self.blocked = False  # some stream has body data waiting for window
        self.last_used = time.monotonic()
        # Set at the server's first SETTINGS: until then its stream limit is unknown (APNs
        # allows token-auth connections one stream), so no request is started before it.
        self.settings_received: asyncio.Future[None] = loop.create_future()

    # asyncio.Protocol -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.h2.initiate_connection()
        self.h2.increment_flow_control_window(_RECEIVE_WINDOW - 65535)
        self._flush()

    def connection_lost(self, exc: Exception | None) -> None:
        self._terminate(exc or ConnectionResetError("connection closed by the server"))

    def data_received(self, data: bytes) -> None:
        try:
            events = self.h2.receive_data(data)
        except h2.exceptions.ProtocolError as exc:
            self._flush()
            self._terminate(exc)
            if self.transport is not None:
                self.transport.close()
            return
        streams = self.streams
        for event in events:
            kind = type(event)
            if kind is h2.events.ResponseReceived:
                stream = streams.get(event.stream_id)
                if stream is not None:
                    headers = stream.headers
                    for name, value in event.headers:
                        if name == b":status":
                            stream.status = int(value)
                        else:
                            headers[name.decode("latin-1")] = value.decode("latin-1")
            elif kind is h2.events.DataReceived:
                stream = streams.get(event.stream_id)
                if stream is not None:
                    stream.body += event.data
                if event.flow_controlled_length:
                    self.h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif kind is h2.events.StreamEnded:
                stream = streams.pop(event.stream_id, None)
                if stream is not None:
                    if not stream.future.done():
                        stream.future.set_result(H2Response(stream.status, stream.headers, stream.body))
                    self._release_slot()
            elif kind is h2.events.StreamReset:
                stream = streams.pop(event.stream_id, None)
                if stream is not None:
                    if not stream.future.done():
                        if event.error_code == h2.errors.ErrorCodes.REFUSED_STREAM:
                            stream.future.set_exception(_Unprocessed("stream refused"))
                        else:
                            stream.future.set_exception(StreamReset(f"stream reset: {event.error_code!r}"))
                    self._release_slot()
            elif kind is h2.events.WindowUpdated:
                if self.blocked:
                    self._send_pending_bodies()
            elif kind is h2.events.RemoteSettingsChanged:
                if not self.settings_received.done():
                    self.settings_received.set_result(None)
                if self.blocked:
                    self._send_pending_bodies()
                self._wake_slot_waiters()
            elif kind is h2.events.ConnectionTerminated:
                self._goaway(event.last_stream_id, event.error_code)
        self._flush()

    # used by H2Client ---------------------------------------------------------------------

    @property
    def usable(self) -> bool:
        return not self.closed and self.goaway_last_stream is None

    def has_slot(self) -> bool:
        return len(self.streams) < self.h2.remote_settings.max_concurrent_streams

    async def wait_for_slot(self) -> None:
        while self.usable and not self.has_slot():
            waiter = self.loop.create_future()
            self.slot_waiters.append(waiter)
            try:
                await waiter
            finally:
                if not waiter.done():
                    waiter.cancel()

    def start(self, headers: list[tuple[bytes, bytes]], body: bytes) -> tuple[int, asyncio.Future[H2Response]]:
        """Open a stream for one request (a slot must be free); frames go out at the next flush."""
        stream_id = self.h2.get_next_available_stream_id()
        stream = _Stream(self.loop.create_future())
        self.h2.send_headers(stream_id, headers, end_stream=not body)  # before it counts as open
        self.streams[stream_id] = stream
        if body:
            stream.pending = body
            self._send_body(stream_id, stream)
        self.last_used = time.monotonic()
        self.unflushed_streams += 1
        if self.unflushed_streams >= FLUSH_EVERY_STREAMS:
            self._write()  # the server starts on these while we build the rest
        else:
            self._schedule_flush()
        return stream_id, stream.future

    def cancel(self, stream_id: int) -> None:
        """Give up on a stream (timeout, cancellation): reset it and free the slot."""
        stream = self.streams.pop(stream_id, None)
        if stream is None:
            return
        self._release_slot()
        if not self.closed:
            try:
                self.h2.reset_stream(stream_id, h2.errors.ErrorCodes.CANCEL)
            except h2.exceptions.H2Error:
                pass
            self._schedule_flush()

    def close(self) -> None:
        if self.closed:
            return
        if self.transport is not None and not self.transport.is_closing():
            try:
                self.h2.close_connection()
                self._flush()
            except h2.exceptions.H2Error:
                pass
            self.transport.close()
        self._terminate(ConnectionAbortedError("connection closed by the client"))

    # internals ----------------------------------------------------------------------------

    def _schedule_flush(self) -> None:
        if not self.flush_scheduled:
            self.flush_scheduled = True
            self.loop.call_soon(self._flush)

    def _flush(self) -> None:
        self.flush_scheduled = False
        self._write()

    def _write(self) -> None:
        """Hand what h2 has produced to the transport (one write; asyncio sends it at once)."""
        self.unflushed_streams = 0
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        data = self.h2.data_to_send()
        if data:
            transport.write(data)
            self.written_upto = self.h2.highest_outbound_stream_id or 0

    def _send_body(self, stream_id: int, stream: _Stream) -> None:
        h2conn = self.h2
        while stream.pending:
            room = min(h2conn.local_flow_control_window(stream_id), h2conn.max_outbound_frame_size)
            if room <= 0:
                self.blocked = True
                return
            chunk, stream.pending = stream.pending[:room], stream.pending[room:]
            h2conn.send_data(stream_id, chunk, end_stream=not stream.pending)

    def _send_pending_bodies(self) -> None:
        self.blocked = False
        for stream_id, stream in list(self.streams.items()):
            if stream.pending:
                try:
                    self._send_body(stream_id, stream)
                except h2.exceptions.H2Error as exc:  # stream closed meanwhile
                    self.streams.pop(stream_id, None)
                    if not stream.future.done():
                        stream.future.set_exception(StreamReset(str(exc)))
                    self._release_slot()

    def _release_slot(self) -> None:
        self.last_used = time.monotonic()
        waiters = self.slot_waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def _wake_slot_waiters(self) -> None:
        # Settings changed (e.g. the limit was raised): let every waiter re-check.
        waiters, self.slot_waiters = self.slot_waiters, deque()
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def _goaway(self, last_stream_id: int, error_code: object) -> None:
        self.goaway_last_stream = last_stream_id
        for stream_id, stream in list(self.streams.items()):
            if stream_id > last_stream_id:
                del self.streams[stream_id]
                if not stream.future.done():
                    stream.future.set_exception(_Unprocessed(f"GOAWAY ({error_code!r}) before this stream"))
        self._wake_slot_waiters()
        if not self.streams and self.transport is not None:
            self.transport.close()

    def _terminate(self, exc: BaseException) -> None:
        if self.closed:
            return
        self.closed = True
        self.close_exc = exc
        if not self.settings_received.done():
            lost = ConnectionLost(f"connection lost: {exc}")
            lost.__cause__ = exc  # keeps a refused TLS handshake visible to the caller
            self.settings_received.set_exception(lost)
            self.settings_received.exception()  # retrieved: _open may not be waiting any more
        last = self.goaway_last_stream
        written = self.written_upto if last is None else min(last, self.written_upto)
        streams, self.streams = self.streams, {}
        for stream_id, stream in streams.items():
            if stream.future.done():
                continue
            if stream_id > written:
                error: H2Error = _Unprocessed("connection closed before the request was sent")
            else:
                error = ConnectionLost(f"connection lost: {exc}")
            error.__cause__ = exc
            stream.future.set_exception(error)
        self._wake_slot_waiters()


class H2Client:
    """Requests to one origin over one HTTP/2 connection (re-opened as needed)."""

    def __init__(
        self,
        base_url: str,
        ssl_context: ssl.SSLContext,
        *,
        timeout: float = 10.0,
        idle_timeout: float = 3600.0,
        default_headers: Iterable[tuple[str, str]] = (),
        send_content_length: bool = True,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "https" or not parts.hostname:
            raise ValueError(f"{base_url!r}: an https:// URL is required")
        self.host = parts.hostname
        self.port = parts.port or 443
        self.authority = parts.netloc.encode("ascii")
        ssl_context.set_alpn_protocols(["h2"])
        self.ssl_context = ssl_context
        self.timeout = timeout
        self.idle_timeout = idle_timeout
        self.default_headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in default_headers]
        # optional in HTTP/2 (the DATA frames' END_STREAM ends the body); one header less to encode
        self.send_content_length = send_content_length
        self._conn: _Connection | None = None
        self._connecting: asyncio.Future[_Connection] | None = None
        self._closed = False
        self.connections_opened = 0

    async def request(
        self,
        method: str,
        path: str,
        headers: Iterable[tuple[bytes, bytes]] = (),
        body: bytes = b"",
        *,
        timeout: float | None = None,
    ) -> H2Response:
        """One request; raises H2Error (or ssl/OS errors chained into ConnectError) without an answer."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (self.timeout if timeout is None else timeout)
        all_headers = [
            (b":method", method.encode("ascii")),
            (b":scheme", b"https"),
            (b":authority", self.authority),
            # A path differs on every request (APNs: one per device token): never indexed, so
            # it does not churn the HPACK dynamic table that the repeated headers live in.
            NeverIndexedHeaderTuple(b":path", path.encode("latin-1")),
            *self.default_headers,
            *headers,
        ]
        if body and self.send_content_length:
            all_headers.append((b"content-length", str(len(body)).encode("ascii")))
        resent = False
        while True:
            try:
                return await self._attempt(loop, deadline, all_headers, body)
            except _Unprocessed as exc:
                if resent:
                    raise ConnectionLost(f"not processed twice: {exc}") from exc
                resent = True

    async def _attempt(
        self,
        loop: asyncio.AbstractEventLoop,
        deadline: float,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
    ) -> H2Response:
        conn = self._conn
        while conn is None or not conn.usable or not conn.has_slot():
            # Slow path: connect and/or wait for a free stream slot, under the deadline. The
            # condition is re-checked after the wait: other requests may have taken the slot.
            conn = await self._with_deadline(loop, deadline, self._ready_connection())
        stream_id, future = conn.start(headers, body)
        remaining = deadline - loop.time()
        timer = loop.call_later(max(0.0, remaining), _expire, future)
        try:
            return await future
        except RequestTimeout:
            conn.cancel(stream_id)
            raise
        except asyncio.CancelledError:
            conn.cancel(stream_id)
            raise
        finally:
            timer.cancel()

    async def _with_deadline(self, loop: asyncio.AbstractEventLoop, deadline: float, coroutine: object) -> _Connection:
        try:
            return await asyncio.wait_for(coroutine, max(0.0, deadline - loop.time()))  # type: ignore[arg-type]
        except TimeoutError as exc:
            raise RequestTimeout("timed out waiting for a connection or a stream slot") from exc

    async def _ready_connection(self) -> _Connection:
        while True:
            conn = await self._connection()
            if conn.has_slot():
                return conn
            await conn.wait_for_slot()
            if conn.usable and conn.has_slot():
                return conn

    async def _connection(self) -> _Connection:
        if self._closed:
            raise ConnectError("client is closed")
        conn = self._conn
        if conn is not None:
            if conn.usable and not (not conn.streams and time.monotonic() - conn.last_used > self.idle_timeout):
                return conn
            if conn.usable:  # idle too long: APNs may have dropped it silently
                conn.close()
            self._conn = None
        if self._connecting is None:
            self._connecting = asyncio.ensure_future(self._open())
        connecting = self._connecting
        try:
            return await asyncio.shield(connecting)
        finally:
            if connecting.done() and self._connecting is connecting:
                self._connecting = None

    async def _open(self) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            transport, conn = await loop.create_connection(
                lambda: _Connection(loop), self.host, self.port, ssl=self.ssl_context, server_hostname=self.host
            )
        except (OSError, ssl.SSLError) as exc:
            raise ConnectError(f"{type(exc).__name__}: {exc}") from exc
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is None or ssl_object.selected_alpn_protocol() != "h2":
            transport.close()
            raise ConnectError("the server did not negotiate HTTP/2 (ALPN h2)")
        try:
            await conn.settings_received
        except ConnectionLost as exc:
            raise ConnectError(str(exc)) from exc.__cause__
        except BaseException:
            conn.close()
            raise
        if self._closed:
            conn.close()
            raise ConnectError("client is closed")
        self.connections_opened += 1
        self._conn = conn
        return conn

    async def aclose(self) -> None:
        self._closed = True
        if self._connecting is not None and not self._connecting.done():
            self._connecting.cancel()
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
            await asyncio.sleep(0)


def _expire(future: asyncio.Future[H2Response]) -> None:
    if not future.done():
        future.set_exception(RequestTimeout("no answer within the request timeout"))
