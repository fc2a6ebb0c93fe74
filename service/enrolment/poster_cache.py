"""Posters drawn once per version and kept on disk under instance/posters/.

Drawing the A4 poster costs ~100 ms of CPU, and its address is public: without a cache a
handful of requests a second keeps every web process busy. The file name is a digest of
everything the poster depends on (brand and program name, logo, colours, join link, language,
kind, drawing version), so a design change simply makes a new file; files are shared by all
web processes of the machine, written atomically (temporary file + rename), and the oldest
go when there are more than MAX_FILES.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

MAX_FILES = 200


def version(*parts: object) -> str:
    """A digest of the poster's inputs (bytes by content, everything else by repr)."""
    digest = hashlib.sha256()
    for part in parts:
        piece = part if isinstance(part, bytes) else repr(part).encode()
        digest.update(len(piece).to_bytes(8, "big") + piece)
    return digest.hexdigest()[:40]


def get_or_make(directory: Path, key: str, kind: str, make: Callable[[], bytes]) -> bytes:
    path = directory / f"{key}.{kind}"
    with contextlib.suppress(FileNotFoundError):
        return path.read_bytes()
    data = make()
    directory.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".poster-")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.replace(temporary, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        return data  # a full or read-only disk costs speed, not the poster
    _prune(directory)
    return data


def _prune(directory: Path) -> None:
    files = [entry for entry in os.scandir(directory) if entry.is_file() and not entry.name.startswith(".")]
    if len(files) <= MAX_FILES:
        return
    files.sort(key=lambda entry: entry.stat().st_mtime)
    for entry in files[:len(files) - MAX_FILES]:
        with contextlib.suppress(OSError):
            os.unlink(entry.path)
