"""Starting Passcast the way a newcomer does, `make run`, but on a free port and in a temporary
instance: the developer's instance/, certs/ and .venv are never touched.

`make run` makes and fills .venv when it is missing; here VENV (the Makefile's hook for an
existing virtualenv) names a copy of the interpreter running the tests, with a fresh
`.installed` stamp so make installs nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# What the environment of the developer running the tests may hold that would point the
# service elsewhere (their Redis, their public address, an immediate job queue).
FOREIGN = ("REDIS_URL", "PUBLIC_BASE_URL", "JOBS_IMMEDIATE", "DATABASE_URL", "INSTANCE_DIR", "CERTS_DIR",
           "MAKEFLAGS", "MAKELEVEL", "MFLAGS")


def cannot_make_run() -> str | None:
    """Why `make run` cannot be started here (None: it can): make, curl and a virtualenv with
    python in it are needed (installed_venv links the running one; a system Python would make
    `make` build a venv inside the linked directories)."""
    missing = [tool for tool in ("make", "curl", "bash") if shutil.which(tool) is None]
    if missing:
        return f"not installed: {', '.join(missing)}"
    if sys.prefix == sys.base_prefix or not (Path(sys.prefix) / "bin" / "python").exists():
        return "the tests do not run in a virtualenv"
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def installed_venv(directory: Path) -> Path:
    """A virtualenv that is this interpreter's (its bin/, lib/ and pyvenv.cfg linked) and that
    make takes as installed: its own `.installed` is newer than setup.cfg."""
    real = Path(sys.prefix)
    directory.mkdir(parents=True, exist_ok=True)
    for name in ("bin", "lib", "lib64", "include", "pyvenv.cfg"):
        if (real / name).exists() and not (directory / name).exists():
            (directory / name).symlink_to(real / name)
    (directory / ".installed").touch()
    return directory


def make_run_env(tmp_path: Path, certs_dir: Path, port: int) -> dict[str, str]:
    """The environment of a `make run` on `port` whose database, queues and files live under tmp_path."""
    env = {name: value for name, value in os.environ.items() if name not in FOREIGN}
    instance = tmp_path / "instance"
    instance.mkdir(parents=True, exist_ok=True)
    env.update({
        "PORT": str(port),
        "VENV": str(installed_venv(tmp_path / "venv")),
        "DATABASE_URL": f"sqlite:///{instance / 'passcast.db'}",
        "INSTANCE_DIR": str(instance),
        "CERTS_DIR": str(certs_dir),
        "TMPDIR": str(tmp_path),
        "WEB_CONCURRENCY": "1",
        # gunicorn 27 opens a control socket in ~/.gunicorn (shared with the developer's own `make run`)
        "GUNICORN_CMD_ARGS": "--no-control-socket",
        # the code under test is this checkout's, whatever the venv's editable install points at
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
    })
    return env


def wait_ready(port: int, process: subprocess.Popen[Any], timeout: float = 45.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"make run stopped with {process.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise AssertionError(f"nothing ready on port {port} after {timeout} s")


def stop_group(process: subprocess.Popen[Any]) -> None:
    """TERM to the whole process group (make, serve, gunicorn, the worker), KILL if it lingers."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)
    time.sleep(0.2)  # children of the group may outlive make by a moment
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


@contextmanager
def make_run(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`make run` in the checkout, in its own process group; stopped (all of it) on exit."""
    with log.open("wb") as out:
        process = subprocess.Popen(["make", "run"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        wait_ready(int(env["PORT"]), process)
        yield process
    finally:
        stop_group(process)


def demo_json(env: dict[str, str]) -> dict[str, Any]:
    """`make -s demo-json`: the demo brand's ids and keys, as the README's tour reads them."""
    result = subprocess.run(["make", "-s", "demo-json"], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=60, check=True)
    return dict(json.loads(result.stdout))


def call(method: str, url: str, token: str, body: dict[str, Any] | None = None) -> tuple[int, Any, bytes]:
    """One HTTP request with a Bearer token: (status, parsed JSON or None, raw body)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    try:
        parsed = json.loads(raw)
    except ValueError:
        parsed = None
    return status, parsed, raw
