"""The shared rate limits: a key's budget is spent only once its secret matched (failures count per
client address), every web process counts into one store (database or Redis), and X-Forwarded-For
is read only from trusted proxies."""

from __future__ import annotations

import dataclasses
import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter
from sqlalchemy import insert, select

from service import create_app
from service.models import RateLimitCounter
from service.platform import db
from service.platform.config import Settings
from service.web.client_address import resolve, trusted_networks
from service.web.rate_limit_storage import DatabaseCounters
from tests.helpers import bearer

ATTACKER, VICTIM = "203.0.113.66", "198.51.100.7"
REDIS_TEST_URL = "redis://127.0.0.1:6379/13"  # a database of its own, keys prefixed passcast-rate:


def _redis_up() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
    except OSError:
        return False
    return True


def wrong_secret(key: str) -> str:
    kind, prefix, _secret = key.split("_", 2)
    return f"{kind}_{prefix}_{'x' * 32}"


def test_wrong_secrets_with_a_victims_prefix_spend_the_senders_budget_not_the_keys(
        client: FlaskClient, seeded: dict[str, Any]) -> None:
    """650 requests with the victim key's public prefix and a wrong secret (default limits: 600/minute per
    key, 60/minute failed authentications per address): the sender is refused, the key keeps working."""
    forged = bearer(wrong_secret(seeded["api_key"]))
    answers = [client.get("/api/v1/programs", headers=forged, environ_base={"REMOTE_ADDR": ATTACKER}).status_code
               for _ in range(650)]
    assert answers[:60] == [401] * 60 and set(answers[60:]) == {429}
    refused = client.get("/api/v1/programs", headers=forged, environ_base={"REMOTE_ADDR": ATTACKER})
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert refused.get_json()["type"] == "/problems/rate-limited" and int(refused.headers["Retry-After"]) >= 1
    victim = client.get("/api/v1/programs", headers=bearer(seeded["api_key"]), environ_base={"REMOTE_ADDR": VICTIM})
    assert victim.status_code == 200 and victim.headers["X-RateLimit-Remaining"] == "599"
    # the same holds for a cashier token (the scan path), and from the attacker's own address
    scan = client.post("/api/v1/cashier/scan", json={"code": "nothing"}, headers=bearer(seeded["cashier_token"]),
                       environ_base={"REMOTE_ADDR": ATTACKER})
    assert scan.status_code != 429 and scan.headers["X-RateLimit-Limit"] == "600"


def test_requests_without_a_credential_count_as_failures(app: Flask, client: FlaskClient,
                                                         seeded: dict[str, Any]) -> None:
    answers = [client.get("/api/v1/programs").status_code for _ in range(61)]
    assert answers[:60] == [401] * 60 and answers[60] == 429


@pytest.fixture(params=["database", "redis"])
def shared_settings(request: pytest.FixtureRequest, settings: Settings) -> Settings:
    limited = dataclasses.replace(settings, api_rate_limit="10/minute", join_rate_limit="4/minute")
    if request.param == "redis":
        if not _redis_up():
            pytest.skip("no Redis on 127.0.0.1:6379")
        limited = dataclasses.replace(limited, redis_url=REDIS_TEST_URL)
    return limited


@pytest.fixture
def two_processes(shared_settings: Settings, app: Flask) -> Iterator[tuple[Flask, Flask]]:
    """Two apps on one database (what two gunicorn workers are); `app` empties the tables afterwards."""
    first, second = create_app(shared_settings), create_app(shared_settings)
    yield first, second
    for each in (first, second):
        each.extensions["db_engine"].dispose()


def test_two_processes_share_one_budget(two_processes: tuple[Flask, Flask], shared_settings: Settings) -> None:
    first, second = two_processes
    with first.app_context():
        from service import demo

        key = demo.seed(db.session(), shared_settings)["api_key"]
    clients = [first.test_client(), second.test_client()]
    answers = [clients[n % 2].get("/api/v1/programs", headers=bearer(key)).status_code for n in range(30)]
    assert answers.count(200) == 10 and answers[:10] == [200] * 10 and set(answers[10:]) == {429}
    # the join page too (same mechanism, per address): 4 in total across both processes
    address = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.9"
    verdicts = []
    for n in range(8):
        with clients[n % 2].application.test_request_context(environ_base={"REMOTE_ADDR": address}):
            from service.web import rate_limits
            from service.web.client_address import client_address

            verdicts.append(rate_limits.spend(shared_settings.join_rate_limit, "join", client_address()).allowed)
    assert verdicts == [True] * 4 + [False] * 4


@pytest.fixture
def proxied_settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, trusted_proxies=("10.0.0.0/8", "::1"), auth_failure_rate_limit="3/minute")


@pytest.fixture
def proxied_client(proxied_settings: Settings, app: Flask) -> Iterator[FlaskClient]:
    proxied = create_app(proxied_settings)
    yield proxied.test_client()
    proxied.extensions["db_engine"].dispose()


def test_forwarded_for_from_an_untrusted_peer_is_ignored(proxied_client: FlaskClient) -> None:
    answers = [proxied_client.get("/api/v1/programs", environ_base={"REMOTE_ADDR": ATTACKER},
                                  headers={"X-Forwarded-For": f"192.0.2.{n}"}).status_code for n in range(4)]
    assert answers == [401, 401, 401, 429]  # one budget: the peer's, whatever it claims to forward


def test_forwarded_for_from_a_trusted_proxy_is_honoured(proxied_client: FlaskClient) -> None:
    def through_proxy(forwarded_for: str) -> int:
        return proxied_client.get("/api/v1/programs", environ_base={"REMOTE_ADDR": "10.0.0.2"},
                                  headers={"X-Forwarded-For": forwarded_for}).status_code

    # A client prepending a made-up address is still counted as itself (the right-most untrusted one).
    assert [through_proxy(f"192.0.2.{n}, {ATTACKER}") for n in range(4)] == [401, 401, 401, 429]
    assert through_proxy(VICTIM) == 401  # another client behind the same proxy: its own budget


@pytest.mark.parametrize(("peer", "forwarded", "expected"), [
    ("203.0.113.5", ["198.51.100.1"], "203.0.113.5"),             # untrusted peer: header ignored
    ("10.0.0.2", ["198.51.100.1"], "198.51.100.1"),               # trusted proxy: its client
    ("10.0.0.2", ["1.2.3.4, 198.51.100.1, 10.0.0.9"], "198.51.100.1"),  # two proxies, a forged first hop
    ("10.0.0.2", ["1.2.3.4", "198.51.100.1"], "198.51.100.1"),    # several header lines read as one list
    ("10.0.0.2", [], "10.0.0.2"),                                 # the proxy itself calling
    ("10.0.0.2", ["10.0.0.3, 10.0.0.4"], "10.0.0.3"),             # only proxies: the farthest one
    ("10.0.0.2", ["bogus, 198.51.100.1"], "198.51.100.1"),
    ("10.0.0.2", ["198.51.100.1, bogus"], "10.0.0.2"),            # unreadable right-most hop: stop there
    ("::1", ["2001:db8::5"], "2001:db8::5"),
    ("::ffff:10.0.0.2", ["198.51.100.1"], "198.51.100.1"),        # IPv4 seen through a dual-stack socket
])
def test_resolve(peer: str, forwarded: list[str], expected: str) -> None:
    assert resolve(peer, forwarded, trusted_networks(["10.0.0.0/8", "::1"])) == expected


def test_bad_trusted_proxies_stop_start_up(settings: Settings) -> None:
    with pytest.raises(ValueError, match="TRUSTED_PROXIES"):
        create_app(dataclasses.replace(settings, trusted_proxies=("10.0.0.300",)))


def test_settings_from_environment() -> None:
    settings = Settings.from_env({"TRUSTED_PROXIES": "10.0.0.1, 172.16.0.0/12", "AUTH_FAILURE_RATE_LIMIT": "5/second"})
    assert settings.trusted_proxies == ("10.0.0.1", "172.16.0.0/12") and settings.auth_failure_rate_limit == "5/second"
    assert Settings.from_env({}).trusted_proxies == () and Settings.from_env({}).auth_failure_rate_limit == "60/minute"


def test_ended_windows_restart_and_are_swept(app: Flask) -> None:
    counters = app.extensions["passcast_rate_counters"]
    assert isinstance(counters, DatabaseCounters)
    past = time.time() - 5
    with counters.engine.connect() as connection:
        connection.execute(insert(RateLimitCounter.__table__), [
            {"key": "api:pk:ended:5/60", "hits": 99, "expires_at": past},
            {"key": "api:pk:other:5/60", "hits": 7, "expires_at": past}])
    counters._next_sweep = 0.0  # noqa: SLF001 - the first hit of a process sweeps
    [(hits, ends)] = counters.hit([("api:pk:ended:5/60", 60)])
    assert hits == 1 and ends > time.time() + 50  # an ended window starts again from this hit
    with counters.engine.connect() as connection:
        keys = connection.execute(select(RateLimitCounter.key)).scalars().all()
    assert keys == ["api:pk:ended:5/60"]  # the other ended window is gone


def test_the_database_store_is_a_limits_storage(settings: Settings, app: Flask) -> None:
    """Registered as a `limits` scheme, so limits' own strategies count in it too."""
    storage = storage_from_string("sqlalchemy+" + settings.database_url)
    assert isinstance(storage, DatabaseCounters) and storage.check()
    limiter, item = FixedWindowRateLimiter(storage), parse("2/minute")
    assert [limiter.hit(item, "x") for _ in range(3)] == [True, True, False]
    assert limiter.get_window_stats(item, "x").remaining == 0
    storage.clear(item.key_for("x"))
    assert storage.get(item.key_for("x")) == 0
    storage.engine.dispose()
