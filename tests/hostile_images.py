"""Image files a brand could upload to break passes, made small: giant sizes are claimed in a
PNG IHDR or JPEG SOF header over a tiny body, never allocated."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image

#: Formats Pillow reads that are not PNG or JPEG (all were accepted as "PNG or JPEG").
OTHER_FORMATS = ("GIF", "BMP", "TIFF", "ICO", "WEBP", "PPM", "TGA", "PCX")


def encoded(fmt: str, size: tuple[int, int] = (64, 32), colour: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, fmt)
    return buffer.getvalue()


def eps() -> bytes:
    """Pillow writes EPS itself; reading it back runs Ghostscript on the brand's PostScript."""
    return encoded("EPS")


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _chunks(png: bytes) -> list[tuple[bytes, bytes]]:
    chunks, offset = [], 8
    while offset < len(png):
        (length,) = struct.unpack(">I", png[offset:offset + 4])
        chunks.append((png[offset + 4:offset + 8], png[offset + 8:offset + 8 + length]))
        offset += 12 + length
    return chunks


def corrupt_idat_png() -> bytes:
    """A real PNG whose compressed pixels are damaged, with the chunk CRC recomputed so only
    decoding (not Pillow's verify()) notices."""
    buffer = io.BytesIO()
    Image.effect_noise((128, 128), 60).convert("RGB").save(buffer, "PNG")
    out = buffer.getvalue()[:8]
    for kind, data in _chunks(buffer.getvalue()):
        if kind == b"IDAT":
            middle = len(data) // 2
            data = data[:middle] + bytes(b ^ 0xFF for b in data[middle:middle + 64]) + data[middle + 64:]
        out += _chunk(kind, data)
    return out


def png_claiming(width: int, height: int) -> bytes:
    """A PNG header saying width x height RGB, followed by a few rows of real data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = zlib.compress((b"\x00" + b"\x80" * 3 * min(width, 1024)) * 4)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", rows) + _chunk(b"IEND", b"")


def jpeg_claiming(width: int, height: int) -> bytes:
    """A small real JPEG whose start-of-frame marker is rewritten to claim width x height."""
    data = bytearray(encoded("JPEG", (16, 16)))
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)
