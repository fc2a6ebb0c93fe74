"""Members moving in from another platform: CSV checks, batched writes, safe re-runs."""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import threading
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, text

from service.enrolment import imports
from service.enrolment.imports import ImportFileError, import_members
from service.loyalty import engine as loyalty
from service.models import Card, Customer, LedgerEntry, Program
from service.platform import db
from tests.helpers import bearer
from tests.service.campaigns.campaign_helpers import pass_json

HEADER = "name,email,phone,birthday,balance,tier,joined_at,external_id\n"
GOOD = (HEADER
        + "Anna Smith,anna@example.com,+31 6 1234 5678,1990-04-01,250,Gold,2023-05-02,old-1\n"
        + "Boris Ivanov,boris@example.com,,01.02.1985,0,,2022-01-10T09:30:00Z,old-2\n"
        + "Chen Li,,+31 6 0000 0003,,40,silver,,old-3\n")
BAD = (HEADER
       + "Anna Smith,anna@example.com,,1990-04-01,250,Gold,,old-1\n"   # line 2: fine
       + "Bad Email,not-an-email,,,10,,,old-2\n"                        # 3
       + "Bad Date,bad@example.com,,1990-13-45,10,,,old-3\n"            # 4
       + "Negative,neg@example.com,,,-5,,,old-4\n"                      # 5
       + "No Tier,tier@example.com,,,5,Diamond,,old-5\n"                # 6
       + "Anna Again,anna@example.com,,,5,,,old-6\n"                    # 7: same email as line 2
       + "Same Id,other@example.com,,,5,,,old-1\n"                      # 8: same external_id as line 2
       + ",nameless@example.com,,,5,,,old-8\n"                          # 9
       + "Joined Bad,joined@example.com,,,5,,yesterday,old-9\n"         # 10
       + "Fine Too,fine@example.com,,,7,,,old-10\n")                    # 11


def run(app: Flask, csv_text: str, **options: Any) -> Any:
    with app.app_context():
        session = db.session()
        program = session.scalars(select(Program)).one()
        return import_members(session, program, csv_text, **options)


def figures(app: Flask) -> dict[str, Any]:
    with app.app_context():
        session = db.session()
        cards = {card.external_id: card for card in session.scalars(select(Card))}
        return {
            "cards": len(cards),
            "customers": session.scalar(select(func.count()).select_from(Customer)),
            "balances": {key: card.balance for key, card in cards.items()},
            "tiers": {key: card.tier for key, card in cards.items()},
            "ledger_ok": all(card.balance == loyalty.ledger_balance(session, card.id) for card in cards.values()),
            "imports": session.scalar(select(func.count()).select_from(LedgerEntry)
                                      .where(LedgerEntry.kind == "import")),
        }


def test_dry_run_reports_every_bad_row_with_its_line_and_writes_nothing(app: Flask, seeded: dict[str, Any]) -> None:
    report = run(app, BAD, dry_run=True)
    lines = {(error.line, error.field) for error in report.errors}
    assert lines == {(3, "email"), (4, "birthday"), (5, "balance"), (6, "tier"), (7, "email"),
                     (8, "external_id"), (9, "name"), (10, "joined_at")}
    messages = {error.line: error.message for error in report.errors}
    assert "negative" in messages[5] and "Diamond" in messages[6] and "line 2" in messages[7]
    assert "line 2" in messages[8] and "not a date" in messages[4]
    assert (report.rows, report.valid_rows, report.error_rows, report.created) == (10, 2, 8, 2)
    assert figures(app)["cards"] == 0


def test_import_creates_cards_with_balances_as_ledger_entries_and_tiers(app: Flask, seeded: dict[str, Any]) -> None:
    report = run(app, GOOD)
    assert (report.created, report.matched, report.error_rows, report.balances_added) == (3, 0, 0, 2)
    state = figures(app)
    assert state["balances"] == {"old-1": 250, "old-2": 0, "old-3": 40}
    assert state["tiers"] == {"old-1": "Gold", "old-2": None, "old-3": "Silver"}
    assert state["ledger_ok"] and state["imports"] == 2
    with app.app_context():
        session = db.session()
        anna = session.scalar(select(Card).where(Card.external_id == "old-1"))
        assert anna.customer.phone == "+31612345678" and anna.customer.birthday == dt.date(1990, 4, 1)
        assert anna.created_at == dt.datetime(2023, 5, 2, tzinfo=dt.UTC)
        assert anna.lifetime_points >= 500  # Gold's threshold, so the engine keeps the tier
        assert anna.points_expire_at is not None
        entry = session.scalar(select(LedgerEntry).where(LedgerEntry.card_id == anna.id, LedgerEntry.kind == "import"))
        assert (entry.points, entry.idempotency_key) == (250, "import:old-1")
        boris = session.scalar(select(Card).where(Card.external_id == "old-2"))
        assert boris.customer.birthday == dt.date(1985, 2, 1)
        # the tier survives the next transaction
        outcome = loyalty.post_transaction(session, anna.id, loyalty.TransactionRequest(type="earn", points=1), "k1")
        session.commit()
        assert outcome.response["tier"] == "Gold" and outcome.response["balance"] == 251


def test_rerun_is_idempotent(app: Flask, seeded: dict[str, Any]) -> None:
    run(app, GOOD)
    before = figures(app)
    report = run(app, GOOD)
    assert (report.created, report.matched, report.balances_added) == (0, 3, 0)
    assert figures(app) == before
    # a second file that names the same people by email/phone (no external ids) matches them too
    report = run(app, HEADER + "Anna,ANNA@example.com,,,,,,\nChen,,+31600000003,,,,,\n")
    assert (report.created, report.matched) == (0, 2)
    assert figures(app)["cards"] == 3


def test_existing_member_gets_the_opening_balance_once(app: Flask, client: FlaskClient,
                                                       seeded: dict[str, Any]) -> None:
    issued = client.post(f"/api/v1/programs/{seeded['program_id']}/cards", headers=bearer(seeded["api_key"]),
                         json={"customer": {"name": "Anna", "email": "anna@example.com"}})
    assert issued.status_code == 201
    version = issued.get_json()["version"]
    for _ in range(2):
        report = run(app, HEADER + "Anna Smith,anna@example.com,,,100,,,old-1\n")
        assert (report.created, report.matched) == (0, 1)
    card = client.get(f"/api/v1/cards/{issued.get_json()['id']}", headers=bearer(seeded["api_key"])).get_json()
    assert card["balance"] == 100 and card["version"] == version + 1  # the pass was updated, once
    assert figures(app)["balances"] == {"old-1": 100}


def test_batches_commit_and_report_progress(app: Flask, seeded: dict[str, Any]) -> None:
    rows = "".join(f"Member {i},m{i}@example.com,,,{i},,,ext-{i}\n" for i in range(25))
    seen: list[int] = []
    report = run(app, HEADER + rows, batch=10, progress=lambda done, _report: seen.append(done))
    assert seen == [10, 20, 25] and report.created == 25
    state = figures(app)
    assert state["cards"] == 25 and state["ledger_ok"] and sum(state["balances"].values()) == sum(range(25))


@pytest.mark.parametrize(("text", "message"), [
    ("", "empty"),
    ("name,shoe_size\n", "unknown column"),
    ("email,phone\n", "no name column"),
])
def test_unusable_file_is_refused_whole(app: Flask, seeded: dict[str, Any], text: str, message: str) -> None:
    with pytest.raises(ImportFileError, match=message):
        run(app, text)


def test_api_job_shows_progress_and_errors(client: FlaskClient, app: Flask, seeded: dict[str, Any]) -> None:
    url = f"/api/v1/programs/{seeded['program_id']}/imports"
    headers = {**bearer(seeded["api_key"]), "Content-Type": "text/csv"}
    dry = client.post(url + "?dry_run=true", data=BAD, headers=headers)
    assert dry.status_code == 202, dry.get_json()
    job = client.get(dry.headers["Location"], headers=headers).get_json()
    assert job["status"] == "done" and job["dry_run"] and job["error_rows"] == 8
    assert {e["line"] for e in job["errors"]} == {3, 4, 5, 6, 7, 8, 9, 10}
    assert figures(app)["cards"] == 0
    real = client.post(url, data=GOOD, headers=headers)
    assert real.status_code == 202
    job = client.get(f"/api/v1/imports/{real.get_json()['id']}", headers=headers).get_json()
    assert (job["status"], job["total_rows"], job["processed_rows"], job["progress"]) == ("done", 3, 3, 1.0)
    assert job["created_cards"] == 3 and job["errors"] == []
    assert figures(app)["cards"] == 3
    bad = client.post(url, data="name,shoe_size\nx,1\n", headers=headers)
    assert bad.status_code == 422 and "unknown column" in bad.get_json()["detail"]
    assert client.get("/api/v1/imports/999999", headers=headers).status_code == 404


def test_cli_import_with_dry_run(app: Flask, seeded: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "members.csv"
    path.write_text(BAD)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["import-members", str(path), "--dry-run", "--program", "demo-coffee"])
    assert result.exit_code == 1
    assert "line 5: balance: is negative: -5" in result.output and "dry run: nothing written" in result.output
    assert figures(app)["cards"] == 0
    path.write_text(GOOD)
    result = runner.invoke(args=["import-members", str(path)])
    assert result.exit_code == 0, result.output
    assert "created 3 cards" in result.output
    result = runner.invoke(args=["import-members", str(path)])
    assert "created 0 cards, matched 3 existing; 0 opening balances added" in result.output


def members(count: int) -> str:
    return HEADER + "".join(f"Member {i},m{i}@example.com,+316000{i:05d},,{i + 1},,,ext-{i}\n" for i in range(count))


def test_rerun_finishes_an_import_that_died_between_batches(app: Flask, seeded: dict[str, Any]) -> None:
    def die(done: int, _report: Any) -> None:
        if done == 20:
            raise RuntimeError("worker killed")

    with pytest.raises(RuntimeError, match="worker killed"):
        run(app, members(25), batch=10, progress=die)
    assert figures(app)["cards"] == 20  # the two committed batches stay
    report = run(app, members(25), batch=10)
    assert (report.created, report.matched, report.balances_added, report.error_rows) == (5, 20, 5, 0)
    state = figures(app)
    assert (state["cards"], state["customers"], state["imports"]) == (25, 25, 25)
    assert state["ledger_ok"] and state["balances"] == {f"ext-{i}": i + 1 for i in range(25)}


def test_rerun_finishes_an_import_that_died_inside_a_batch(app: Flask, seeded: dict[str, Any],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The second batch dies after its customers and cards went in, before its ledger entries:
    nothing of that batch stays, and running the file again completes it exactly."""
    real_copy = imports._copy
    ledger_writes = []

    def dying_copy(session: Any, table: Any, values: list[dict[str, Any]]) -> None:
        if table.name == "ledger_entries":
            ledger_writes.append(len(values))
            if len(ledger_writes) == 2:
                raise ConnectionError("server closed the connection unexpectedly")
        real_copy(session, table, values)

    monkeypatch.setattr(imports, "_copy", dying_copy)
    with pytest.raises(ConnectionError):
        run(app, members(25), batch=10)
    state = figures(app)
    assert (state["cards"], state["customers"], state["imports"]) == (10, 10, 10)
    monkeypatch.setattr(imports, "_copy", real_copy)
    report = run(app, members(25), batch=10)
    assert (report.created, report.matched, report.balances_added) == (15, 10, 15)
    state = figures(app)
    assert (state["cards"], state["customers"], state["imports"]) == (25, 25, 25)
    assert state["ledger_ok"] and sum(state["balances"].values()) == sum(range(1, 26))


def test_duplicates_within_one_file_are_reported_across_batches(app: Flask, seeded: dict[str, Any]) -> None:
    text = (HEADER
            + "Anna,anna@example.com,+31 6 1111 1111,,10,,,a-1\n"   # line 2
            + "Anna Upper,ANNA@Example.com,,,10,,,a-2\n"             # 3: the same email, other case
            + "Phone Twin,,+31611111111,,10,,,a-3\n"                 # 4: the same phone without spaces
            + "Id Twin,twin@example.com,,,10,,,a-1\n"                # 5: the same external id
            + "Fine,fine@example.com,,,10,,,a-5\n")                  # 6
    report = run(app, text, batch=2)
    assert {(error.line, error.field) for error in report.errors} == {(3, "email"), (4, "phone"), (5, "external_id")}
    assert all("line 2" in error.message for error in report.errors)
    assert (report.created, report.error_rows, report.balances_added) == (2, 3, 2)
    # two rows naming one existing member by different contacts, in different batches: the first wins
    report = run(app, HEADER + "By Mail,anna@example.com,,,5,,,\nBy Phone,,+31611111111,,7,,,\n", batch=1)
    assert (report.created, report.matched, report.error_rows) == (0, 1, 1)
    assert "the same member as line 2" in report.errors[0].message
    state = figures(app)
    assert state["cards"] == 2 and state["balances"]["a-1"] == 15 and state["ledger_ok"]


def test_match_prefers_external_id_then_email_then_phone(app: Flask, seeded: dict[str, Any]) -> None:
    run(app, HEADER + "A,a@example.com,+31600000001,,0,,,a\nB,b@example.com,+31600000002,,0,,,b\n"
        + "C,c@example.com,+31600000003,,0,,,c\n")
    # external id a beats phone of C; email of B beats phone of C
    assert run(app, HEADER + "X,,+31600000003,,7,,,a\n").matched == 1
    assert run(app, HEADER + "Y,b@example.com,+31600000003,,3,,,\n").matched == 1
    state = figures(app)
    assert state["balances"] == {"a": 7, "b": 3, "c": 0} and state["cards"] == 3 and state["ledger_ok"]


def test_existing_cards_gain_balances_tiers_and_external_ids(app: Flask, client: FlaskClient,
                                                             seeded: dict[str, Any]) -> None:
    url, key = f"/api/v1/programs/{seeded['program_id']}/cards", bearer(seeded["api_key"])
    issued = {name: client.post(url, headers=key, json={"customer": {"name": name, "email": f"{name}@example.com"}})
              .get_json() for name in ("x", "y", "z")}
    text = (HEADER + "X,x@example.com,,,40,,,old-x\n"   # a balance
            + "Y,y@example.com,,,0,Gold,,old-y\n"        # a tier
            + "Z,z@example.com,,,0,,,old-z\n")           # only the external id
    for _ in range(2):
        report = run(app, text)
        assert (report.created, report.matched) == (0, 3)
    after = {name: client.get(f"/api/v1/cards/{card['id']}", headers=key).get_json() for name, card in issued.items()}
    assert [after[name]["balance"] for name in "xyz"] == [40, 0, 0]
    assert [after[name]["tier"] for name in "xyz"] == [None, "Gold", None]
    # the pass changed once for x and y (new version, pushes); z's pass shows nothing new
    assert [after[name]["version"] - issued[name]["version"] for name in "xyz"] == [1, 1, 0]
    state = figures(app)
    assert set(state["balances"]) == {"old-x", "old-y", "old-z"} and state["ledger_ok"] and state["imports"] == 1
    with app.app_context():
        gold = db.session().scalar(select(Card).where(Card.external_id == "old-y"))
        assert gold.lifetime_points >= 500


def test_imported_cards_are_complete_passes(app: Flask, client: FlaskClient, seeded: dict[str, Any]) -> None:
    run(app, GOOD)
    with app.app_context():
        cards = list(db.session().scalars(select(Card).order_by(Card.id)))
        assert len({card.serial_number for card in cards}) == len({card.number for card in cards}) == 3
        assert all(card.version == 1 and len(card.authentication_token) >= 16 and 10**8 <= card.number < 10**9
                   and card.brand_id == card.customer.brand_id for card in cards)
        issues = db.session().scalar(select(func.count()).select_from(LedgerEntry).where(LedgerEntry.kind == "issue"))
        assert issues == 3
        anna = next(card for card in cards if card.external_id == "old-1")
        anna_id, serial = anna.id, anna.serial_number
    api = client.get(f"/api/v1/cards/{anna_id}", headers=bearer(seeded["api_key"])).get_json()
    assert api["balance"] == 250 and api["tier"] == "Gold"
    pass_data = pass_json(client, app, anna_id)  # fetched as the phone does, with its auth token
    assert pass_data["serialNumber"] == serial
    assert pass_data["barcodes"][0]["message"] == api["barcode_message"]
    assert pass_data["storeCard"]["primaryFields"][0]["value"] == 250


def test_postgresql_statistics_follow_the_growing_tables(app: Flask, seeded: dict[str, Any]) -> None:
    """ANALYZE each time the cards table doubled (here: 10 and 20 cards), so the planner drives
    the batch look-ups through the indexes instead of walking every card of the program."""
    if not app.config["PASSCAST"].database_url.startswith("postgresql"):
        pytest.skip("planner statistics are PostgreSQL's")
    with app.app_context():
        session = db.session()
        session.execute(text("ANALYZE cards"))
        session.commit()
    run(app, members(25), batch=10)
    with app.app_context():
        assert db.session().scalar(text("SELECT reltuples FROM pg_class WHERE relname = 'cards'")) == 20


def test_two_imports_of_one_file_at_once_create_each_member_once(app: Flask, seeded: dict[str, Any]) -> None:
    """A job queued twice, or the CLI beside the API: the batches take turns (PostgreSQL advisory
    lock, SQLite's write lock taken before matching), so rows without an external id (nothing
    unique to stop them) are not created twice. On both databases."""
    text_ = HEADER + "".join(f"Member {i},m{i}@example.com,,,{i + 1},,,\n" for i in range(30))
    barrier = threading.Barrier(2)

    def one_import() -> Any:
        with app.app_context(), app.extensions["db_sessionmaker"]() as session:
            program = session.scalars(select(Program)).one()
            barrier.wait(timeout=30)
            return import_members(session, program, text_, batch=5)

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        reports = [future.result() for future in [pool.submit(one_import) for _ in range(2)]]
    assert sum(report.created for report in reports) == 30
    assert sum(report.matched for report in reports) == 30
    assert sum(report.balances_added for report in reports) == 30
    with app.app_context():
        session = db.session()
        cards = list(session.scalars(select(Card)))
        assert len(cards) == len({card.customer.email for card in cards}) == 30
        assert all(card.balance == loyalty.ledger_balance(session, card.id) for card in cards)
        assert sum(card.balance for card in cards) == sum(range(1, 31))


def test_names_and_contacts_arrive_exactly_as_written(app: Flask, seeded: dict[str, Any]) -> None:
    """Whatever a quoted CSV field may hold (tab, backslash, a line break, quotes, non-Latin
    letters) reaches the database unchanged, on PostgreSQL through COPY too."""
    name = 'Zoë "Z" O\'Brien\\Петрова\tJr\nthe second'
    report = run(app, HEADER + '"' + name.replace('"', '""') + '",zoe+1@example.com,,,3,,,\\N\n')
    assert (report.created, report.error_rows) == (1, 0)
    with app.app_context():
        card = db.session().scalars(select(Card)).one()
        assert (card.customer.name, card.customer.email, card.external_id) == (name, "zoe+1@example.com", "\\N")
        assert card.balance == 3


def test_a_job_whose_worker_died_is_run_again_by_the_sweeper(app: Flask, client: FlaskClient,
                                                             seeded: dict[str, Any]) -> None:
    """A worker killed mid-import leaves its job "running" with a heartbeat that stops; the
    minute sweeper runs it again (the import is idempotent) and gives up after MAX_STARTS."""
    from service.enrolment import import_tasks
    from service.models import ImportJob, utcnow

    url = f"/api/v1/programs/{seeded['program_id']}/imports"
    headers = {**bearer(seeded["api_key"]), "Content-Type": "text/csv"}
    assert client.post(url, data=GOOD, headers=headers).status_code == 202
    before = figures(app)
    assert before["cards"] == 3
    long_ago = utcnow() - import_tasks.LEASE - dt.timedelta(seconds=5)
    with app.app_context():
        session = db.session()
        program_id, brand_id = seeded["program_id"], session.get(Program, seeded["program_id"]).brand_id
        # died after two of its three rows; a fresh one still beating; one lost before it started
        dead = ImportJob(brand_id=brand_id, program_id=program_id, status="running", csv_data=GOOD.encode(),
                         total_rows=3, processed_rows=2, starts=1, heartbeat_at=long_ago, created_at=long_ago)
        alive = ImportJob(brand_id=brand_id, program_id=program_id, status="running", csv_data=GOOD.encode(),
                          starts=1, heartbeat_at=utcnow(), created_at=long_ago)
        never = ImportJob(brand_id=brand_id, program_id=program_id, status="queued", csv_data=GOOD.encode(),
                          created_at=long_ago)
        hopeless = ImportJob(brand_id=brand_id, program_id=program_id, status="running", csv_data=GOOD.encode(),
                             starts=import_tasks.MAX_STARTS, heartbeat_at=long_ago, created_at=long_ago)
        session.add_all([dead, alive, never, hopeless])
        session.commit()
        ids = dead.id, alive.id, never.id, hopeless.id
        assert import_tasks.resume_lost_imports.call_local() == 2
    for job_id, status in zip(ids, ("done", "running", "done", "failed"), strict=True):
        job = client.get(f"/api/v1/imports/{job_id}", headers=headers).get_json()
        assert job["status"] == status, job
    assert "stopped 3 times" in client.get(f"/api/v1/imports/{ids[3]}", headers=headers).get_json()["failure"]
    assert figures(app) == before  # nothing twice: same cards, balances and opening entries
    with app.app_context():  # a second sweep finds nothing to take
        assert import_tasks.resume_lost_imports.call_local() == 0
