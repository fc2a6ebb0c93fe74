"""Checks a .pkpass the way a phone would: unzip, manifest hashes, signature by openssl."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

from passes.package import check_manifest, read_pkpass


def openssl_verify(
    signature: bytes, content: bytes, ca_file: str | Path, workdir: Path
) -> subprocess.CompletedProcess[str]:
    """The exact command Apple's docs and wallet-protocols.md give for checking a pass."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "signature").write_bytes(signature)
    (workdir / "manifest.json").write_bytes(content)
    return subprocess.run(
        ["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", str(workdir / "signature"),
         "-content", str(workdir / "manifest.json"), "-CAfile", str(ca_file), "-purpose", "any",
         "-out", "/dev/null"],
        capture_output=True, text=True, timeout=30)


def verified_pass(data: bytes, ca_file: str | Path, workdir: Path) -> tuple[dict[str, Any], dict[str, bytes]]:
    """pass.json and all files of a pass that verifies; raises AssertionError otherwise."""
    files = read_pkpass(data)
    check_manifest(files)
    result = openssl_verify(files["signature"], files["manifest.json"], ca_file, workdir)
    assert result.returncode == 0, result.stderr
    return json.loads(files["pass.json"]), files


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def terminate_backend(admin: Any, pid: int) -> None:
    """Kill a PostgreSQL backend from another connection and wait until it is gone (at most 2 s):
    what a database restart or a firewall's idle timeout does to a pooled connection."""
    from sqlalchemy import text

    admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    for _ in range(100):
        if admin.execute(text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"),
                         {"pid": pid}).scalar_one() == 0:
            return
        time.sleep(0.02)
