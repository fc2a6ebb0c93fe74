"""The simulated iPhones of bench/campaign_storm.py: one process, asyncio, raw HTTP/1.1.

Each phone holds one pass and behaves as Wallet does after a pass-update push:

1. list its updatable passes, sending back the tag it kept from its last list
   (GET /v1/devices/<device>/registrations/<type>?passesUpdatedSince=<tag>);
2. fetch each listed pass with If-Modified-Since = the Last-Modified it holds
   (GET /v1/passes/<type>/<serial>, Authorization: ApplePass <token>);
3. accept the new version only if it is what the campaign promised: pass.json's SHA-1 is
   the manifest's, the campaign's message is a field value of pass.json, and the detached
   PKCS#7 signature verifies over manifest.json (`PassVerifier`).

The phones learn of their push from the APNs double (tests/doubles/apns.py `Forwarder`): this
process connects to the double's forward port and reads one accepted token per line, a real
loopback socket between the double and the phones, as APNs reaches a device.

The phones share a pool of keep-alive connections (`--connections`, like many phones behind
a few NAT addresses); a phone whose push arrives while every connection is busy waits for one,
and that wait is part of its delay. The cheapest client there is in Python (no httpx, no
threads): the phones' CPU is reported apart and must stay well below the service's.

Talks to the bench on stdin/stdout, one JSON object per line:
  -> {"ready": {...}}                  after registering (and the first list) of every phone
  <- {"go": {"message": ..., "t0": ..}} the campaign is being sent now (t0: time.time())
  -> {"done": {...}}                   every phone holds the new version (or --timeout)
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import secrets
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

#: messageDigest (1.2.840.113549.1.9.4) followed by its SET { OCTET STRING (32 bytes) }
_MESSAGE_DIGEST = bytes.fromhex("06092a864886f70d010904") + b"\x31\x22\x04\x20"
_FIELD_GROUPS = ("headerFields", "primaryFields", "secondaryFields", "auxiliaryFields", "backFields")


# -- checking a pass as Wallet does --------------------------------------------------------------


def _tlv(data: bytes, at: int) -> tuple[int, int, int]:
    """(tag, first content byte, end) of the DER element starting at `at`."""
    tag, length = data[at], data[at + 1]
    at += 2
    if length & 0x80:
        size = length & 0x7F
        length = int.from_bytes(data[at:at + size], "big")
        at += size
    return tag, at, at + length


def _children(data: bytes, start: int, end: int) -> list[tuple[int, int, int, int]]:
    """(tag, element start, content start, end) of each element in data[start:end]."""
    out = []
    while start < end:
        tag, content, stop = _tlv(data, start)
        out.append((tag, start, content, stop))
        start = stop
    return out


def signed_parts(signature: bytes) -> tuple[bytes, bytes, bytes]:
    """(signedAttrs as signed, i.e. with the SET tag; the RSA signature; the certificates
    field) of a CMS SignedData with one signer. A small DER walk: pyasn1 costs milliseconds."""
    _, content, _ = _tlv(signature, 0)  # ContentInfo SEQUENCE
    _, _, oid_end = _tlv(signature, content)  # contentType OID
    _, explicit, _ = _tlv(signature, oid_end)  # [0] EXPLICIT
    _, inner, inner_end = _tlv(signature, explicit)  # SignedData SEQUENCE
    certificates = b""
    signer_infos: tuple[int, int] | None = None
    for tag, _start, body, stop in _children(signature, inner, inner_end):
        if tag == 0xA0:
            certificates = signature[body:stop]
        elif tag == 0x31 and stop == inner_end:  # the last SET: signerInfos
            signer_infos = (body, stop)
    if signer_infos is None:
        raise ValueError("no signerInfos")
    _, info, info_end = _tlv(signature, signer_infos[0])
    attributes = raw_signature = None
    for tag, start, body, stop in _children(signature, info, info_end):
        if tag == 0xA0:
            attributes = b"\x31" + signature[start + 1:stop]  # [0] IMPLICIT -> SET OF, as signed
        elif tag == 0x04:
            raw_signature = signature[body:stop]
    if attributes is None or raw_signature is None:
        raise ValueError("signerInfo without signedAttrs or signature")
    return attributes, raw_signature, certificates


_END_OF_DIRECTORY = struct.Struct("<4s4H2LH")
_DIRECTORY_ENTRY = struct.Struct("<4s6H3L5H2L")
_LOCAL_HEADER = struct.Struct("<4s5H3L2H")


def zip_members(data: bytes, names: tuple[bytes, ...]) -> dict[bytes, bytes]:
    """The named members of a zip, read through its central directory with `struct`:
    zipfile.ZipFile parses every entry into objects (0.5 ms for a pass's 14 files)."""
    end = data.rfind(b"PK\x05\x06")
    if end < 0:
        raise ValueError("not a zip archive")
    _, _, _, _, count, _, directory, _ = _END_OF_DIRECTORY.unpack_from(data, end)
    found: dict[bytes, bytes] = {}
    at = directory
    for _ in range(count):
        entry = _DIRECTORY_ENTRY.unpack_from(data, at)
        method, compressed, size, name_length, extra_length, comment_length, offset = (
            entry[4], entry[8], entry[9], entry[10], entry[11], entry[12], entry[16])
        name = data[at + 46:at + 46 + name_length]
        at += 46 + name_length + extra_length + comment_length
        if name not in names:
            continue
        local = _LOCAL_HEADER.unpack_from(data, offset)
        start = offset + 30 + local[9] + local[10]
        raw = data[start:start + compressed]
        member = raw if method == 0 else zlib.decompress(raw, -15)
        if len(member) != size:
            raise ValueError(f"{name!r}: {len(member)} bytes, the directory says {size}")
        found[name] = member
    missing = [name for name in names if name not in found]
    if missing:
        raise ValueError(f"missing from the pass: {missing}")
    return found


@dataclass
class PassVerifier:
    """Checks fetched passes against the pass certificate that the first one proved.

    The first pass is checked by `openssl cms -verify` against the dev CA (the whole chain,
    the signingTime, the detached content); every pass must then embed that same certificate,
    carry messageDigest = SHA-256(manifest.json) in its signed attributes, and have an RSA
    signature over those attributes that the certificate's key verifies. Image hashes are not
    checked (pass.json's is): the images are the program's, the same in every pass.
    """

    ca_file: str
    certificate_der: bytes = b""
    public_key: rsa.RSAPublicKey | None = None
    openssl_checked: int = 0

    def check(self, data: bytes, message: str) -> None:
        members = zip_members(data, (b"pass.json", b"manifest.json", b"signature"))
        pass_json, manifest, signature = members[b"pass.json"], members[b"manifest.json"], members[b"signature"]
        if json.loads(manifest).get("pass.json") != hashlib.sha1(pass_json).hexdigest():
            raise ValueError("pass.json does not match the manifest")
        card = json.loads(pass_json).get("storeCard", {})
        if not any(item.get("value") == message for group in _FIELD_GROUPS for item in card.get(group, [])):
            raise ValueError("the campaign's message is not on the pass")
        if self.public_key is None:
            self._first(manifest, signature)
        attributes, raw_signature, certificates = signed_parts(signature)
        if self.certificate_der not in certificates:
            raise ValueError("signed with another certificate")
        if _MESSAGE_DIGEST + hashlib.sha256(manifest).digest() not in attributes:
            raise ValueError("messageDigest is not SHA-256 of manifest.json")
        assert self.public_key is not None
        self.public_key.verify(raw_signature, attributes, padding.PKCS1v15(), hashes.SHA256())

    def _first(self, manifest: bytes, signature: bytes) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "manifest.json").write_bytes(manifest)
            (Path(tmp) / "signature").write_bytes(signature)
            signer = Path(tmp) / "signer.pem"
            result = subprocess.run(
                ["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", str(Path(tmp) / "signature"),
                 "-content", str(Path(tmp) / "manifest.json"), "-CAfile", self.ca_file, "-purpose", "any",
                 "-signer", str(signer), "-out", "/dev/null"],
                capture_output=True, text=True, timeout=30, check=False)
            if result.returncode != 0:
                raise ValueError(f"openssl cms -verify: {result.stderr.strip()}")
            certificate = x509.load_pem_x509_certificate(signer.read_bytes())
        key = certificate.public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            raise ValueError("the pass certificate's key is not RSA")
        self.certificate_der = certificate.public_bytes(serialization.Encoding.DER)
        self.public_key = key
        self.openssl_checked += 1


# -- HTTP/1.1 keep-alive, by hand ----------------------------------------------------------------


class Http:
    """One keep-alive connection. gunicorn closes idle ones after its keep-alive (2 s): a
    request that finds the connection closed before any answer byte is sent again on a new
    one (all the phones' requests may be repeated: GETs, and a registration answers 200)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.reconnects = 0

    async def _open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def request(self, method: str, path: str, headers: str = "", body: bytes = b"",
                      ) -> tuple[int, dict[str, str], bytes]:
        raw = (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}"
               f"Content-Length: {len(body)}\r\n\r\n").encode("latin-1") + body
        for attempt in (1, 2):
            if self.writer is None:
                await self._open()
            assert self.reader is not None and self.writer is not None
            try:
                self.writer.write(raw)
                head = await self.reader.readuntil(b"\r\n\r\n")
            except (ConnectionError, asyncio.IncompleteReadError):
                self.close()
                if attempt == 2:
                    raise
                self.reconnects += 1
                continue
            break
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0][9:12])
        answer = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name:
                answer[name.lower()] = value.strip()
        length = int(answer.get("content-length", "0"))
        data = await self.reader.readexactly(length) if length else b""
        if answer.get("connection", "").lower() == "close":
            self.close()
        return status, answer, data


# -- the phones ----------------------------------------------------------------------------------


@dataclass
class Phone:
    __slots__ = ("index", "serial", "authorization", "device", "token", "tag", "last_modified", "pushes",
                 "pushed_at", "held_at", "fetched", "listed", "not_listed", "not_modified")
    index: int
    serial: str
    authorization: str
    device: str
    token: str
    tag: str | None
    last_modified: str
    pushes: int
    pushed_at: float
    held_at: float
    fetched: int  # 200s with the new version
    listed: int
    not_listed: int  # lists answered 204 after a push
    not_modified: int  # fetches answered 304 after a push


@dataclass
class Storm:
    args: argparse.Namespace
    phones: list[Phone]
    verifier: PassVerifier
    by_token: dict[str, Phone] = field(default_factory=dict)
    pool: asyncio.Queue[Http] = field(default_factory=asyncio.Queue)
    connections: list[Http] = field(default_factory=list)
    message: str = ""
    t0: float = 0.0
    held: int = 0
    unknown_tokens: int = 0
    errors: list[str] = field(default_factory=list)
    all_held: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def list_path(self, phone: Phone) -> str:
        path = f"/passkit/v1/devices/{phone.device}/registrations/{self.args.pass_type}"
        return path + (f"?passesUpdatedSince={quote(phone.tag)}" if phone.tag else "")

    async def register(self, phone: Phone, http: Http) -> None:
        path = f"/passkit/v1/devices/{phone.device}/registrations/{self.args.pass_type}/{phone.serial}"
        status, _, _ = await http.request("POST", path, phone.authorization + "Content-Type: application/json\r\n",
                                          json.dumps({"pushToken": phone.token}).encode())
        if status != 201:
            raise RuntimeError(f"registration of {phone.serial}: HTTP {status}")
        status, _, body = await http.request("GET", self.list_path(phone))  # Wallet's first list: its tag
        if status != 200 or json.loads(body)["serialNumbers"] != [phone.serial]:
            raise RuntimeError(f"first list of {phone.device}: HTTP {status} {body[:200]!r}")
        phone.tag = json.loads(body)["lastUpdated"]

    async def on_push(self, phone: Phone) -> None:
        http = await self.pool.get()
        try:
            status, _, body = await http.request("GET", self.list_path(phone))
            if status == 204:
                phone.not_listed += 1
                return
            if status != 200:
                raise RuntimeError(f"list: HTTP {status}")
            listed = json.loads(body)
            phone.tag = listed["lastUpdated"]
            phone.listed += 1
            for serial in listed["serialNumbers"]:
                if serial != phone.serial:
                    raise RuntimeError(f"device {phone.device} was listed another pass {serial}")
                status, headers, data = await http.request(
                    "GET", f"/passkit/v1/passes/{self.args.pass_type}/{serial}",
                    phone.authorization + f"If-Modified-Since: {phone.last_modified}\r\n")
                if status == 304:
                    phone.not_modified += 1
                    continue
                if status != 200 or headers.get("content-type") != "application/vnd.apple.pkpass":
                    raise RuntimeError(f"fetch: HTTP {status} {headers.get('content-type')}")
                self.verifier.check(data, self.message)
                phone.last_modified = headers["last-modified"]
                phone.fetched += 1
                if phone.fetched == 1:
                    phone.held_at = time.time()
                    self.held += 1
                    if self.held == len(self.phones):
                        self.all_held.set()
        except Exception as exc:  # noqa: BLE001 - counted; the run fails on any
            self.errors.append(f"{phone.serial}: {type(exc).__name__}: {exc}")
            http.close()
        finally:
            self.pool.put_nowait(http)

    async def read_pushes(self, reader: asyncio.StreamReader) -> None:
        while True:
            line = await reader.readline()
            if not line:
                return
            phone = self.by_token.get(line[:-1].decode("ascii").lower())
            if phone is None:
                self.unknown_tokens += 1
                continue
            phone.pushes += 1
            if phone.pushes == 1:
                phone.pushed_at = time.time()
            task = asyncio.get_running_loop().create_task(self.on_push(phone))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    if not ordered:
        return {}

    def at(fraction: float) -> float:
        return ordered[max(0, min(len(ordered) - 1, int(round(fraction * len(ordered) + 0.5)) - 1))]

    return {"p50": at(0.50), "p90": at(0.90), "p99": at(0.99), "max": ordered[-1]}


def summary(storm: Storm) -> dict[str, Any]:
    phones = storm.phones
    held = [p for p in phones if p.fetched]
    return {
        "phones": len(phones),
        "held": len(held),
        "seconds_to_all": (max(p.held_at for p in held) - storm.t0) if len(held) == len(phones) else None,
        "first_push_s": min((p.pushed_at - storm.t0 for p in phones if p.pushes), default=None),
        "last_push_s": max((p.pushed_at - storm.t0 for p in phones if p.pushes), default=None),
        "push_to_held": percentiles([p.held_at - p.pushed_at for p in held]),
        "send_to_held": percentiles([p.held_at - storm.t0 for p in held]),
        "pushes": sum(p.pushes for p in phones),
        "phones_pushed_twice": sum(1 for p in phones if p.pushes > 1),
        "fetched_200": sum(p.fetched for p in phones),
        "phones_fetched_twice": sum(1 for p in phones if p.fetched > 1),
        "lists_200": sum(p.listed for p in phones),
        "lists_204": sum(p.not_listed for p in phones),
        "fetches_304": sum(p.not_modified for p in phones),
        "unknown_tokens": storm.unknown_tokens,
        "reconnects": sum(http.reconnects for http in storm.connections),
        "openssl_checked": storm.verifier.openssl_checked,
        "errors": len(storm.errors),
        "error_examples": storm.errors[:5],
        "cpu_s": time.process_time(),
    }


def emit(kind: str, value: Any) -> None:
    sys.stdout.write(json.dumps({kind: value}) + "\n")
    sys.stdout.flush()


async def main_async(args: argparse.Namespace) -> None:
    rows = json.loads(Path(args.cards).read_text())
    phones = [Phone(i, serial, f"Authorization: ApplePass {auth}\r\n", device or secrets.token_hex(16),
                    token or secrets.token_hex(32), None, last_modified, 0, 0.0, 0.0, 0, 0, 0, 0)
              for i, (serial, auth, device, token, last_modified) in enumerate(rows)]
    storm = Storm(args, phones, PassVerifier(args.ca_file))
    storm.by_token = {phone.token: phone for phone in phones}
    storm.connections = [Http(args.server_port) for _ in range(args.connections)]
    for http in storm.connections:
        storm.pool.put_nowait(http)
    reader, _writer = await asyncio.open_connection("127.0.0.1", args.forward_port)
    pushes = asyncio.get_running_loop().create_task(storm.read_pushes(reader))

    began = time.perf_counter()
    if args.register == "http":
        work = iter(phones)

        async def registrar(http: Http) -> None:
            for phone in work:
                await storm.register(phone, http)

        await asyncio.gather(*(registrar(http) for http in storm.connections))
    emit("ready", {"register_s": time.perf_counter() - began, "cpu_s": time.process_time(),
                   "registered_over_http": args.register == "http"})

    stdin = asyncio.StreamReader()
    await asyncio.get_running_loop().connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    command = json.loads(await stdin.readline())
    storm.message, storm.t0 = command["go"]["message"], command["go"]["t0"]
    try:
        await asyncio.wait_for(storm.all_held.wait(), args.timeout)
    except TimeoutError:
        pass
    if args.linger:  # late duplicates (a second push, a second 200) would show up now
        await asyncio.sleep(args.linger)
    pushes.cancel()
    emit("done", summary(storm))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server-port", type=int, required=True)
    parser.add_argument("--forward-port", type=int, required=True, help="the APNs double's forward port")
    parser.add_argument("--cards", required=True, help="JSON [[serial, auth token, device|null, push token|null, "
                                                       "Last-Modified], ...]")
    parser.add_argument("--register", choices=("http", "none"), default="http",
                        help="http: register every phone through the PassKit web service first")
    parser.add_argument("--pass-type", required=True)
    parser.add_argument("--ca-file", required=True, help="the dev CA the pass certificate chains to")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--linger", type=float, default=1.0)
    args = parser.parse_args()
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
