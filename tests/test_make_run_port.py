"""`PORT=8100 make run` serves on 8100, so every link it hands out must point at 8100: the
card's pass URL, the pass's webServiceURL, join and poster links, the till's pairing URL and
the NPS link on the pass (issue 13). PUBLIC_BASE_URL, when set, still wins.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from service.platform.config import Settings
from tests.make_run import call, cannot_make_run, demo_json, free_port, make_run, make_run_env


def test_public_base_url_defaults_to_the_port_served_and_an_explicit_one_wins() -> None:
    assert Settings.from_env({}).public_base_url == "http://127.0.0.1:8000"
    assert Settings.from_env({"PORT": "8100"}).public_base_url == "http://127.0.0.1:8100"
    assert Settings.from_env({"PORT": "8100"}).web_service_url == "http://127.0.0.1:8100/passkit"
    explicit = {"PORT": "8100", "PUBLIC_BASE_URL": "https://cards.example.com"}
    assert Settings.from_env(explicit).public_base_url == "https://cards.example.com"


@pytest.mark.skipif(cannot_make_run() is not None, reason=str(cannot_make_run()))
def test_make_run_on_another_port_links_to_that_port(tmp_path: Path, certs_dir: Path) -> None:
    port = free_port()
    assert port != 8000
    base = f"http://127.0.0.1:{port}"
    env = make_run_env(tmp_path, certs_dir, port)
    with make_run(env, tmp_path / "make-run.log"):
        demo = demo_json(env)
        assert demo["base_url"] == base and demo["join_url"] == f"{base}/join/demo-coffee"
        api, key, program = f"{base}/api/v1", demo["api_key"], demo["program_id"]

        status, card, _ = call("POST", f"{api}/programs/{program}/cards", key,
                               {"customer": {"name": "Port Tester", "email": "port@example.com"}})
        assert status == 201, card
        assert card["apple_pass_url"].startswith(f"{base}/passes/"), card["apple_pass_url"]

        status, survey, _ = call("POST", f"{api}/nps-surveys", key,
                                 {"program_id": program, "question": "Would you recommend us?"})
        assert status == 201, survey
        status, _, pkpass = call("GET", card["apple_pass_url"], key)
        assert status == 200
        pass_json = json.loads(zipfile.ZipFile(io.BytesIO(pkpass)).read("pass.json"))
        assert pass_json["webServiceURL"] == f"{base}/passkit"
        nps = next(field for field in pass_json["storeCard"]["backFields"] if field["key"] == "nps")
        assert f"{base}/nps/" in nps["value"]

        status, enrolment, _ = call("GET", f"{api}/programs/{program}/enrolment", key)
        assert status == 200, enrolment
        assert enrolment["join_url"] == f"{base}/join/demo-coffee"
        assert enrolment["poster_pdf_url"] == f"{base}/join/demo-coffee/poster.pdf"

        status, till, _ = call("POST", f"{api}/tills", key, {"name": "Counter 1", "store_id": demo["store_ids"][0]})
        assert status == 201, till
        assert till["pair_url"] == f"{base}/cashier#till={till['key']}"
