"""The APNs double as its own process hands each accepted push to the simulated phones
(`--forward-port`, bench/campaign_storm.py): the token of every 200, one line each, over TCP."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from pathlib import Path

from service.push.apns import AsyncApnsClient, CertificateCredentials
from tests.doubles.pki import make_pki

ROOT = Path(__file__).resolve().parents[3]


def test_accepted_pushes_reach_the_subscriber_and_refused_ones_do_not(tmp_path: Path) -> None:
    pki = make_pki(tmp_path / "pki")
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.doubles.apns", "--port", "0", "--forward-port", "0", "--cert",
         str(pki.server_cert), "--key", str(pki.server_key), "--client-ca", str(pki.ca_cert), "--topic", pki.topic,
         "--answer", f"{'0' * 63}2=bad_token"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert process.stdout is not None
        apns_port, forward_port = (int(process.stdout.readline()) for _ in range(2))
        phone = socket.create_connection(("127.0.0.1", forward_port), timeout=10)

        async def push() -> list[str]:
            async with AsyncApnsClient(CertificateCredentials(str(pki.client_cert), str(pki.client_key)),
                                       endpoint=f"https://127.0.0.1:{apns_port}", ca_file=pki.ca_cert) as client:
                results = await client.send_many([f"{n:064x}" for n in (1, 2, 3)], pki.topic)
            return [result.status for result in results]

        assert asyncio.run(push()) == ["accepted", "failed", "accepted"]
        received = b""
        while received.count(b"\n") < 2:
            received += phone.recv(4096)
        assert received.decode().split() == [f"{1:064x}", f"{3:064x}"]
        phone.close()
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=15)
    assert b'"forwarded": 2' in stderr and b'"dropped": 0' in stderr
