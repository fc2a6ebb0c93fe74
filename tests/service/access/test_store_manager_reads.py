"""A store manager's reads, like their writes, stop at their stores: GET /api/v1/stores, /cashiers
and /tills (lists and single items) show only their stores' rows, and another store's row is a
404 word for word a missing id's. Owners, other roles and API keys read the whole brand."""

from __future__ import annotations

from typing import Any

from flask import Flask

from tests.console_helpers import as_role
from tests.helpers import bearer

PROBLEM = "application/problem+json"


def _rows(app: Flask, seeded: dict[str, Any]) -> dict[str, Any]:
    """A cashier and a till in the first store, in the second, and brand-wide, made with the owner's key."""
    key, client = bearer(seeded["api_key"]), app.test_client()
    made: dict[str, Any] = {}
    for label, store_id in (("mine", seeded["store_ids"][0]), ("other", seeded["store_ids"][1]), ("wide", None)):
        made[f"cashier_{label}"] = client.post("/api/v1/cashiers", headers=key,
                                               json={"name": f"C {label}", "store_id": store_id}).get_json()["id"]
        made[f"till_{label}"] = client.post("/api/v1/tills", headers=key,
                                            json={"name": f"T {label}", "store_id": store_id}).get_json()["id"]
    return made


def _missing(answer: Any, what: str, row_id: int) -> None:
    assert answer.status_code == 404 and answer.content_type == PROBLEM, answer.get_json()
    assert answer.get_json()["detail"] == f"No {what} {row_id} in your brand."


def test_a_store_manager_lists_and_reads_only_their_stores(app: Flask, seeded: dict[str, Any]) -> None:
    mine, other, third = seeded["store_ids"]
    client = as_role(app, "store_manager", store_ids=[mine])
    assert [store["id"] for store in client.get("/api/v1/stores").get_json()] == [mine]
    assert client.get("/api/v1/stores?q=Demo").get_json()[0]["id"] == mine
    assert client.get(f"/api/v1/stores/{mine}").status_code == 200
    for store_id in (other, third):
        _missing(client.get(f"/api/v1/stores/{store_id}"), "store", store_id)
    assert client.get("/api/v1/stores/999999").get_json()["detail"] == "No store 999999 in your brand."


def test_a_store_manager_of_two_stores_reads_both(app: Flask, seeded: dict[str, Any]) -> None:
    mine, other, third = seeded["store_ids"]
    client = as_role(app, "store_manager", store_ids=[mine, third])
    assert [store["id"] for store in client.get("/api/v1/stores").get_json()] == [mine, third]
    assert client.get(f"/api/v1/stores/{third}").status_code == 200
    _missing(client.get(f"/api/v1/stores/{other}"), "store", other)


def test_a_store_manager_reads_only_their_stores_cashiers_and_tills(app: Flask, seeded: dict[str, Any]) -> None:
    made = _rows(app, seeded)
    client = as_role(app, "store_manager", store_ids=[seeded["store_ids"][0]])
    cashiers = {row["id"] for row in client.get("/api/v1/cashiers").get_json()}
    tills = {row["id"] for row in client.get("/api/v1/tills").get_json()}
    assert made["cashier_mine"] in cashiers and made["till_mine"] in tills
    assert not cashiers & {made["cashier_other"], made["cashier_wide"]}
    assert not tills & {made["till_other"], made["till_wide"]}
    assert {row["store_id"] for row in client.get("/api/v1/cashiers").get_json()} == {seeded["store_ids"][0]}
    assert client.get(f"/api/v1/cashiers/{made['cashier_mine']}").status_code == 200
    for label in ("other", "wide"):
        _missing(client.get(f"/api/v1/cashiers/{made[f'cashier_{label}']}"), "cashier", made[f"cashier_{label}"])


def test_a_store_manager_of_no_store_reads_no_store(app: Flask, seeded: dict[str, Any]) -> None:
    client = as_role(app, "store_manager", store_ids=[])
    assert client.get("/api/v1/stores").get_json() == []
    _missing(client.get(f"/api/v1/stores/{seeded['store_ids'][0]}"), "store", seeded["store_ids"][0])


def test_everyone_else_reads_the_whole_brand(app: Flask, seeded: dict[str, Any]) -> None:
    made = _rows(app, seeded)
    readers = [as_role(app, role) for role in ("owner", "marketer", "analyst")]
    for client, headers in [(reader, {}) for reader in readers] + [(app.test_client(), bearer(seeded["api_key"]))]:
        assert [s["id"] for s in client.get("/api/v1/stores", headers=headers).get_json()] == seeded["store_ids"]
        assert client.get(f"/api/v1/stores/{seeded['store_ids'][1]}", headers=headers).status_code == 200
        cashiers = {row["id"] for row in client.get("/api/v1/cashiers", headers=headers).get_json()}
        assert {made["cashier_mine"], made["cashier_other"], made["cashier_wide"]} <= cashiers
        tills = {row["id"] for row in client.get("/api/v1/tills", headers=headers).get_json()}
        assert {made["till_mine"], made["till_other"], made["till_wide"]} <= tills


def test_a_till_is_read_alone_within_the_managers_stores(app: Flask, seeded: dict[str, Any]) -> None:
    made = _rows(app, seeded)
    client = as_role(app, "store_manager", store_ids=[seeded["store_ids"][0]])
    one = client.get(f"/api/v1/tills/{made['till_mine']}")
    assert one.status_code == 200 and one.get_json()["name"] == "T mine" and "key" not in one.get_json()
    for label in ("other", "wide"):
        _missing(client.get(f"/api/v1/tills/{made[f'till_{label}']}"), "till", made[f"till_{label}"])
    owner = as_role(app, "owner")
    assert owner.get(f"/api/v1/tills/{made['till_other']}").status_code == 200
