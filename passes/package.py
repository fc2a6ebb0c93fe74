"""The .pkpass container: pass.json, resources, manifest.json and signature in a zip.

Wallet hashes every file it finds and compares with manifest.json, then checks the
signature over manifest.json; any mismatch and the pass is refused without a reason, so
the same checks are available here (``check_manifest``) for tests and for reading passes.
"""

from __future__ import annotations

import hashlib
import io
import json
import struct
import threading
import zipfile
import zlib
from collections.abc import Mapping
from functools import lru_cache
from typing import NamedTuple, Protocol

from passes.errors import PassValidationError
from passes.schema import Pass

__all__ = [
    "MAX_PKPASS_SIZE",
    "PKPASS_MEDIA_TYPE",
    "PassParts",
    "Signer",
    "assemble_pkpass",
    "build_pass_parts",
    "build_pkpass",
    "check_manifest",
    "read_pkpass",
    "resources_key",
]

# Anything else and the phone saves the download as a .zip instead of offering Wallet.
PKPASS_MEDIA_TYPE = "application/vnd.apple.pkpass"
PASS_JSON, MANIFEST, SIGNATURE = "pass.json", "manifest.json", "signature"
_GENERATED = frozenset({PASS_JSON, MANIFEST, SIGNATURE})
MAX_PKPASS_SIZE = 20 * 1024 * 1024  # uncompressed; real passes are well under 1 MB
# A fixed timestamp keeps the archive byte-identical for identical content (stable ETags).
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


class Signer(Protocol):
    """Makes the detached DER PKCS#7 signature over manifest.json (passes.signing)."""

    def sign(self, data: bytes) -> bytes: ...


def _check_name(name: object) -> str:
    """Refuse names that escape the archive or that Wallet would not look up."""
    if not isinstance(name, str) or not name:
        raise PassValidationError(repr(name), "file name must be a non-empty string")
    parts = name.split("/")
    if name.startswith("/") or "\\" in name or ":" in parts[0]:
        raise PassValidationError(name, "file name must be relative, with / separators")
    if any(part in ("", ".", "..") for part in parts):
        raise PassValidationError(name, "file name must not contain empty, '.' or '..' parts")
    return name


def _sha1(data: bytes) -> str:
    return hashlib.sha1(data, usedforsecurity=False).hexdigest()


def _is_stored(name: str) -> bool:
    """What is stored rather than deflated.

    PNGs: deflating them again took 50x longer and saved under 1 %. The per-pass files
    (pass.json, manifest.json, signature) are different for every pass, so deflating them
    cannot be cached: it cost 150-250 us per pass (a fifth of an RSA signature, measured
    with bench/pass_build.py: ratio 0.65 -> 0.72) to save about 2 KB of a ~23 KB download.
    Files shared by a whole program (pass.strings) are deflated once and cached.
    """
    return name.endswith(".png") or name in (SIGNATURE, MANIFEST, PASS_JSON)


# The layout zipfile gives these members (no zip64, extra fields or comments), so that
# _write_zip makes byte for byte the archive _zip makes.
_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")
_CENTRAL_HEADER = struct.Struct("<4s4B4HL2L5HL")  # all but the member's offset, the final "<L"
_OFFSET = struct.Struct("<L")
_END_RECORD = struct.Struct("<4s4H2LH")
_VERSION = 20  # zipfile.DEFAULT_VERSION (2.0: deflate)
_UNIX = 3
_UTF8_NAME = 0x800
_DOS_TIME = _ZIP_TIME[3] << 11 | _ZIP_TIME[4] << 5 | _ZIP_TIME[5] // 2
_DOS_DATE = (_ZIP_TIME[0] - 1980) << 9 | _ZIP_TIME[1] << 5 | _ZIP_TIME[2]
_EXTERNAL_ATTR = 0o644 << 16


class _Entry(NamedTuple):
    """One archive member, with all that depends only on its name and bytes."""

    name: str
    data: bytes
    manifest_item: str  # '"name":"sha1"', this member's entry in manifest.json ("" if unlisted)
    payload: bytes  # what the archive holds: ``data`` itself, or deflated
    local_header: bytes  # local file header, then the name
    central_header: bytes  # central directory header without the member's offset
    encoded_name: bytes


def _entry(name: str, data: bytes, listed: bool = True) -> _Entry:
    if _is_stored(name):
        method, payload = zipfile.ZIP_STORED, data
    else:
        compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)  # as zipfile does it
        method, payload = zipfile.ZIP_DEFLATED, compressor.compress(data) + compressor.flush()
    try:
        encoded, flags = name.encode("ascii"), 0
    except UnicodeEncodeError:
        encoded, flags = name.encode("utf-8"), _UTF8_NAME
    crc, sizes = zlib.crc32(data), (len(payload), len(data), len(encoded))
    local = _LOCAL_HEADER.pack(b"PK\x03\x04", _VERSION, 0, flags, method, _DOS_TIME, _DOS_DATE, crc, *sizes, 0)
    central = _CENTRAL_HEADER.pack(b"PK\x01\x02", _VERSION, _UNIX, _VERSION, 0, flags, method, _DOS_TIME,
                                   _DOS_DATE, crc, *sizes, 0, 0, 0, 0, _EXTERNAL_ATTR)
    manifest_item = f'{_json_string(name)}:"{_sha1(data)}"' if listed else ""
    return _Entry(name, data, manifest_item, payload, local + encoded, central, encoded)


# Images and pass.strings are the very same bytes objects for every card of a program
# (service.design.card_design.program_files caches them), so their SHA-1, CRC, deflated form and
# headers are made once per process; a bytes object caches its hash, so a hit is cheap.
_resource_entry = lru_cache(maxsize=4096)(_entry)
_json_string = lru_cache(maxsize=4096)(json.dumps)
_checked_name = lru_cache(maxsize=4096)(_check_name)
_PASS_JSON_ITEM = f"{json.dumps(PASS_JSON)}:"


class _Resources(NamedTuple):
    """A pass's resource files as the archive and manifest hold them: the same for every card
    of a program (and tier), so made once. The archive puts pass.json first, then these."""

    entries: tuple[_Entry, ...]  # sorted by name
    manifest_before: str  # '{' and the manifest items that sort before pass.json's, each with its ','
    manifest_after: str  # the items after pass.json's, each after a ',', and '}'
    local: bytes  # every member's local header, name and payload, in archive order
    central: tuple[tuple[bytes, int, bytes], ...]  # (central header, offset in ``local``, encoded name)


def _make_resources(files: Mapping[str, bytes]) -> _Resources:
    entries = []
    for name in sorted(files, key=str):
        _checked_name(name)
        if name in _GENERATED:
            raise PassValidationError(name, "generated by build_pkpass; do not pass it in")
        data = files[name]
        if not isinstance(data, bytes | bytearray | memoryview):
            raise PassValidationError(name, "content must be bytes")
        entries.append(_resource_entry(name, bytes(data)))
    if "icon.png" not in files:
        raise PassValidationError("icon.png", "missing: Wallet shows it in notifications")
    before = "".join(entry.manifest_item + "," for entry in entries if entry.name < PASS_JSON)
    after = "".join("," + entry.manifest_item for entry in entries if entry.name > PASS_JSON)
    central, offset = [], 0
    for entry in entries:
        central.append((entry.central_header, offset, entry.encoded_name))
        offset += len(entry.local_header) + len(entry.payload)
    local = b"".join(part for entry in entries for part in (entry.local_header, entry.payload))
    return _Resources(tuple(entries), "{" + before, after + "}", local, tuple(central))


# Keyed by the files' (name, bytes) pairs: the bytes objects are the cached ones, whose hash
# Python keeps, so a hit costs a tuple of a dozen pairs. Bounded: a program has a set per tier
# (and per stamp count on a stamp card); each holds a copy of the files (~80 KB).
_cached_resources = lru_cache(maxsize=128)(lambda items: _make_resources(dict(items)))


def _resources(files: Mapping[str, bytes]) -> _Resources:
    items = tuple(files.items())
    try:
        return _cached_resources(items)
    except TypeError:  # a bytearray or memoryview (unhashable): not from a cache anyway
        return _make_resources(files)


def build_pkpass(pass_: Pass, files: Mapping[str, bytes], signer: Signer) -> bytes:
    """Assemble and sign a .pkpass; ``files`` are images and ``xx.lproj/pass.strings``."""
    resources = _resources(files)
    pass_json = _entry(PASS_JSON, pass_.to_json_bytes(), listed=False)
    manifest = (f'{resources.manifest_before}{_PASS_JSON_ITEM}"{_sha1(pass_json.data)}"'
                f"{resources.manifest_after}").encode()
    signature = signer.sign(manifest)
    if not isinstance(signature, bytes) or not signature:
        raise PassValidationError(SIGNATURE, "the signer returned no bytes")
    return _write_zip(pass_json, resources, _entry(MANIFEST, manifest, listed=False),
                      _entry(SIGNATURE, signature, listed=False))


def _write_zip(pass_json: _Entry, resources: _Resources, manifest: _Entry, signature: _Entry) -> bytes:
    """What _zip makes of pass.json, the resources, manifest.json and signature, in that order,
    without zipfile's per-member cost (most of a build besides RSA), in one join: a second copy
    of the ~80 KB archive took longer than the whole join (malloc giving the block back).

    An archive that would need zip64 (2 GiB, or 65535 members) goes through zipfile.
    """
    pack = _OFFSET.pack
    base = len(pass_json.local_header) + len(pass_json.payload)
    after = base + len(resources.local)
    signature_at = after + len(manifest.local_header) + len(manifest.payload)
    offset = signature_at + len(signature.local_header) + len(signature.payload)
    parts = [pass_json.local_header, pass_json.payload, resources.local, manifest.local_header, manifest.payload,
             signature.local_header, signature.payload, pass_json.central_header, pack(0), pass_json.encoded_name]
    for header, at, name in resources.central:
        parts += (header, pack(base + at), name)
    parts += (manifest.central_header, pack(after), manifest.encoded_name,
              signature.central_header, pack(signature_at), signature.encoded_name)
    central_size = sum(map(len, parts[7:]))
    count = len(resources.entries) + 3
    # Every size and offset is below the total, so checking the total is enough.
    if count > zipfile.ZIP_FILECOUNT_LIMIT or offset + central_size > zipfile.ZIP64_LIMIT:
        return _zip({entry.name: entry.data for entry in (pass_json, *resources.entries, manifest, signature)})
    parts.append(_END_RECORD.pack(b"PK\x05\x06", 0, 0, count, count, central_size, offset, 0))
    return b"".join(parts)


def _zip(contents: Mapping[str, bytes]) -> bytes:
    """The reference writer (zipfile); _write_zip must produce the same bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in contents.items():
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_STORED if _is_stored(name) else zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return buffer.getvalue()


def read_pkpass(data: bytes) -> dict[str, bytes]:
    """Unzip a .pkpass into ``{name: bytes}``, refusing unsafe names and zip bombs."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, TypeError) as exc:
        raise PassValidationError("pkpass", f"not a zip archive: {exc}") from exc
    with archive:
        entries = [info for info in archive.infolist() if not info.is_dir()]
        if sum(info.file_size for info in entries) > MAX_PKPASS_SIZE:
            raise PassValidationError("pkpass", f"larger than {MAX_PKPASS_SIZE} bytes uncompressed")
        files: dict[str, bytes] = {}
        for info in entries:
            name = _check_name(info.filename)
            if name in files:
                raise PassValidationError(name, "appears twice in the archive")
            try:
                files[name] = archive.read(info)
            except (zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError) as exc:
                raise PassValidationError(name, f"cannot be extracted: {exc}") from exc
    return files


def check_manifest(files: Mapping[str, bytes]) -> None:
    """Check manifest.json the way Wallet does: every file listed, every hash right."""
    if MANIFEST not in files:
        raise PassValidationError(MANIFEST, "missing")
    try:
        manifest = json.loads(files[MANIFEST])
    except (UnicodeDecodeError, ValueError) as exc:
        raise PassValidationError(MANIFEST, f"not JSON: {exc}") from exc
    if not isinstance(manifest, dict) or not all(isinstance(value, str) for value in manifest.values()):
        raise PassValidationError(MANIFEST, "must map file names to SHA-1 hex strings")
    for name in (MANIFEST, SIGNATURE):
        if name in manifest:
            raise PassValidationError(name, "must not be listed in manifest.json")
    for name, data in sorted(files.items()):
        if name in (MANIFEST, SIGNATURE):
            continue
        if name not in manifest:
            raise PassValidationError(name, "missing from manifest.json")
        if manifest[name].lower() != _sha1(data):
            raise PassValidationError(name, "SHA-1 does not match manifest.json")
    for name in sorted(manifest):
        if name not in files:
            raise PassValidationError(name, "listed in manifest.json but not in the pass")


# -- a signed pass stored without its resources (issue 18) ------------------------------------
#
# Every card of a program (and tier) carries the very same ~80 KB of images and pass.strings;
# only pass.json, manifest.json and signature (~5 KB) are its own. Stored whole, a campaign of a
# million cards wrote and read 80 GB through the database. `build_pass_parts` signs a pass as
# `build_pkpass` does and returns only the card's own members plus the key of its resource set;
# `assemble_pkpass` puts the archive back together, byte for byte what `build_pkpass` gave, from
# the resource sets this process has built (a process that has not seen the set gets None and must
# build it from the program with `resources_key`, or sign afresh: it never guesses).

_PARTS_HEADER = struct.Struct("<4sII")  # magic, len(pass.json), len(manifest.json); the signature follows
_PARTS_MAGIC = b"PKp1"
_KNOWN_RESOURCES_MAX = 256  # resource sets remembered by key (each ~80 KB, shared with _cached_resources)
_known_resources: dict[str, _Resources] = {}
_known_lock = threading.Lock()


class PassParts(NamedTuple):
    """A signed pass without its resource files: those are named by ``resources``, the key of
    the set (a SHA-256 of every resource file's name and bytes)."""

    resources: str
    pass_json: bytes
    manifest: bytes
    signature: bytes

    def to_bytes(self) -> bytes:
        """The three members in one value (what pass_files stores beside the key)."""
        return b"".join((_PARTS_HEADER.pack(_PARTS_MAGIC, len(self.pass_json), len(self.manifest)),
                         self.pass_json, self.manifest, self.signature))

    @classmethod
    def from_bytes(cls, resources: str, data: bytes) -> PassParts:
        """What `to_bytes` made; PassValidationError for anything else."""
        size = _PARTS_HEADER.size
        if len(data) < size:
            raise PassValidationError("parts", "too short")
        magic, json_size, manifest_size = _PARTS_HEADER.unpack_from(data)
        if magic != _PARTS_MAGIC or size + json_size + manifest_size >= len(data):
            raise PassValidationError("parts", "not stored pass parts")
        view = memoryview(data)
        manifest_at = size + json_size
        signature_at = manifest_at + manifest_size
        return cls(resources, bytes(view[size:manifest_at]), bytes(view[manifest_at:signature_at]),
                   bytes(view[signature_at:]))


def _resources_digest(resources: _Resources) -> str:
    digest = hashlib.sha256(b"passcast pkpass resources 1\0")
    for entry in resources.entries:
        digest.update(b"%d:%d:" % (len(entry.encoded_name), len(entry.data)))
        digest.update(entry.encoded_name)
        digest.update(entry.data)
    return digest.hexdigest()


_digest_of: dict[int, tuple[_Resources, str]] = {}  # id(resources) -> (resources, key): the object keeps the id


def _key_of(resources: _Resources) -> str:
    known = _digest_of.get(id(resources))
    if known is not None and known[0] is resources:
        return known[1]
    key = _resources_digest(resources)
    with _known_lock:
        if len(_known_resources) >= _KNOWN_RESOURCES_MAX:
            _known_resources.clear()
            _digest_of.clear()
        _known_resources.setdefault(key, resources)
        _digest_of[id(resources)] = (resources, key)
    return key


def resources_key(files: Mapping[str, bytes]) -> str:
    """The key of these resource files (images, pass.strings), remembered by this process so that
    `assemble_pkpass` can use them for every pass stored with this key."""
    return _key_of(_resources(files))


def build_pass_parts(pass_: Pass, files: Mapping[str, bytes], signer: Signer) -> PassParts:
    """Sign the pass as `build_pkpass` does; keep only what is this pass's own."""
    resources = _resources(files)
    key = _key_of(resources)
    pass_json = pass_.to_json_bytes()
    manifest = (f'{resources.manifest_before}{_PASS_JSON_ITEM}"{_sha1(pass_json)}"'
                f"{resources.manifest_after}").encode()
    signature = signer.sign(manifest)
    if not isinstance(signature, bytes) or not signature:
        raise PassValidationError(SIGNATURE, "the signer returned no bytes")
    return PassParts(key, pass_json, manifest, signature)


def assemble_pkpass(parts: PassParts) -> bytes | None:
    """The .pkpass `build_pkpass` made when these parts were signed, or None if this process
    does not know the resource set (call `resources_key` with the card's files, then again)."""
    resources = _known_resources.get(parts.resources)
    if resources is None:
        return None
    return _write_zip(_entry(PASS_JSON, parts.pass_json, listed=False), resources,
                      _entry(MANIFEST, parts.manifest, listed=False), _entry(SIGNATURE, parts.signature, listed=False))
