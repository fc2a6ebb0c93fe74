"""Migration 0012 moves the stamp cards' earned rewards into `held_rewards` (one table for every
reward a card holds), keeping their ids, and its downgrade moves them back."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import create_engine, inspect, text

from service.platform import migrate
from tests.test_migrations import _load_release_data, empty_database  # noqa: F401


def test_0012_moves_stamp_rewards_into_held_rewards_and_back(empty_database: str, tmp_path: Path) -> None:  # noqa: F811
    config = migrate.alembic_config(empty_database)
    command.upgrade(config, "0001")
    fixture = _load_release_data(empty_database)
    card = fixture["tables"]["cards"][0]
    command.upgrade(config, "0011")
    engine = create_engine(empty_database)
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO stamp_rewards (id, brand_id, card_id, ledger_entry_id, name, card_cycle, at_stamp, full_card, "
            "created_at) VALUES (7, :brand, :card, NULL, 'A pastry', 1, 5, false, '2026-11-01 10:00:00+00'), "
            "(8, :brand, :card, NULL, 'A coffee', 1, 10, true, '2026-11-02 10:00:00+00')"),
            {"brand": card["brand_id"], "card": card["id"]})
    command.upgrade(config, "0012")
    assert "stamp_rewards" not in inspect(engine).get_table_names()
    with engine.begin() as connection:
        rows = connection.execute(text(
            "SELECT id, source, name, card_cycle, at_stamp, redeemed_at = created_at, expires_at FROM held_rewards "
            "ORDER BY id")).all()
        # handed over at the till when earned (before 0012 nothing was held): copied as redeemed then
        assert [tuple(row) for row in rows] == [(7, "ladder", "A pastry", 1, 5, True, None),
                                                (8, "full_card", "A coffee", 1, 10, True, None)]
        # new rows get new ids after the copied ones (PostgreSQL's sequence was moved past them)
        connection.execute(text(
            "INSERT INTO held_rewards (brand_id, card_id, source, name, created_at) "
            "VALUES (:brand, :card, 'coupon', 'Cake', '2026-11-03 10:00:00+00')"),
            {"brand": card["brand_id"], "card": card["id"]})
        assert connection.execute(text("SELECT max(id) FROM held_rewards")).scalar() == 9
    command.downgrade(config, "0011")
    with engine.begin() as connection:
        back = connection.execute(text("SELECT id, name, full_card FROM stamp_rewards ORDER BY id")).all()
        assert [(row[0], row[1], bool(row[2])) for row in back] == [(7, "A pastry", False), (8, "A coffee", True)]
    assert "held_rewards" not in inspect(engine).get_table_names()
    engine.dispose()
