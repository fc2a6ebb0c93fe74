"""Members moving in from another platform: a CSV -> customers, cards and opening balances.

The CSV (UTF-8, comma-separated, a header line naming the columns, any order):

    name,email,phone,birthday,balance,tier,joined_at,external_id,card_number

- ``name`` required; at least one of ``external_id``, ``email``, ``phone``, ``card_number`` per row.
- ``birthday``: ``YYYY-MM-DD`` (also ``DD.MM.YYYY`` / ``DD/MM/YYYY``); ``joined_at``: ISO 8601
  date or date-time (UTC when it has no offset); ``balance``: whole points, 0 or more;
  ``tier``: one of the program's tier names (any case) or empty; ``external_id``: the member's
  id on the old platform; ``card_number``: the number of the member's plastic card, which the card
  keeps (checked against the program's barcode format, passes/barcodes.py; unique in the brand: a
  number another card already has, or a member whose card already has another one, is an error of
  that row, never overwritten). docs/brands/existing-cards.md.

Re-running the same file is safe: a row finds its card by ``external_id``, then by
``card_number``, then by email, then by phone (within the program), so nobody gets a second card;
the opening balance is a ledger entry of kind ``import`` with the idempotency key
``import:<external_id>`` (or ``import:email:..`` / ``import:phone:..`` / ``import:card:..``), so
it is added once however often the file runs, and the ledger stays the source of truth for the
balance.

Speed (linear in the file: 100 000 rows in about 15 s on PostgreSQL): rows are validated while
streaming and written in batches: per batch one query matches every row against the existing
cards (a join against the batch's values, see `_among`), customers, cards and ledger entries go
in by COPY (PostgreSQL) or one executemany each, and one commit ends it; never a flush per row.
As the tables grow from nothing, ANALYZE keeps the planner's statistics current (`_Statistics`).
Each batch commits on its own, so an interrupted import is finished by running it again, and
two imports into one program at once take turns per batch (`_take_turn`).

An imported tier is kept: the card's tier measure (lifetime points or lifetime spend) is
raised to the tier's threshold so the loyalty engine agrees with it at the next transaction.
With ``tier_basis = points`` the tier follows the balance from the first transaction on.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import secrets
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Select,
    and_,
    bindparam,
    column,
    func,
    insert,
    literal,
    select,
    tuple_,
    union_all,
    update,
)
from sqlalchemy import text as sql
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from passes.barcodes import DEFAULT_FORMAT, normalise_legacy_number
from service.enrolment.contact import normalise_email, normalise_phone
from service.loyalty import legacy_numbers
from service.loyalty.cards import CARD_NUMBER_DIGITS
from service.models import Card, Customer, LedgerEntry, Program, Tier, utcnow
from service.platform.row_locks import lock_row
from service.platform.secrets import random_token
from service.platform.text_rules import bad_character

COLUMNS = ("name", "email", "phone", "birthday", "balance", "tier", "joined_at", "external_id", "card_number")
BATCH = 1000
MAX_ERRORS_KEPT = 1000  # every bad row is counted; the first thousand are listed
_DATE_FORMATS = ("%Y-%m-%d", "%d.%m.%Y", "%d/%m/%Y")


class ImportFileError(ValueError):
    """The file as a whole cannot be imported (no header, unknown columns...)."""


@dataclass(frozen=True)
class MemberRow:
    line: int
    name: str
    email: str | None
    phone: str | None
    birthday: dt.date | None
    balance: int
    tier: Tier | None
    joined_at: dt.datetime | None
    external_id: str | None
    legacy_number: str | None = None  # the card_number column, as the card keeps it

    @property
    def key(self) -> str:
        """The ledger idempotency key of this row's opening balance (the card number last: a file
        imported before it had that column keeps its keys)."""
        if self.external_id:
            return f"import:{self.external_id}"
        if self.email:
            return f"import:email:{self.email}"
        if self.phone:
            return f"import:phone:{self.phone}"
        return f"import:card:{self.legacy_number}"


@dataclass
class RowError:
    line: int
    field: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "field": self.field, "message": self.message}

    def __str__(self) -> str:
        return f"line {self.line}: {self.field}: {self.message}"


@dataclass
class ImportReport:
    dry_run: bool = False
    rows: int = 0
    valid_rows: int = 0
    created: int = 0
    matched: int = 0
    balances_added: int = 0
    error_rows: int = 0
    errors: list[RowError] = field(default_factory=list)

    def add_errors(self, errors: list[RowError]) -> None:
        self.error_rows += 1
        room = MAX_ERRORS_KEPT - len(self.errors)
        self.errors.extend(errors[:max(room, 0)])

    def as_dict(self) -> dict[str, Any]:
        return {"dry_run": self.dry_run, "rows": self.rows, "valid_rows": self.valid_rows,
                "created": self.created, "matched": self.matched, "balances_added": self.balances_added,
                "error_rows": self.error_rows, "errors": [e.as_dict() for e in self.errors]}


# --- reading and validating -------------------------------------------------------------------


def _text(data: bytes | str) -> str:
    if isinstance(data, str):
        return data
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ImportFileError(f"the file is not UTF-8 (byte {error.start})") from None


def _reader(text: str) -> csv.DictReader[str]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = reader.fieldnames
    if not header:
        raise ImportFileError("the file is empty: the first line must name the columns "
                              f"({','.join(COLUMNS)})")
    names = [name.strip().lower() for name in header]
    unknown = [name for name in names if name not in COLUMNS]
    if unknown:
        raise ImportFileError(f"unknown column(s) {', '.join(unknown)}; the columns are {','.join(COLUMNS)}")
    if "name" not in names:
        raise ImportFileError("the header has no name column")
    if not {"email", "phone", "external_id", "card_number"} & set(names):
        raise ImportFileError("the header needs at least one of email, phone, external_id, card_number")
    if len(set(names)) != len(names):
        raise ImportFileError("a column is named twice in the header")
    reader.fieldnames = names
    return reader


def check_header(data: bytes | str) -> int:
    """Raise ImportFileError for a file that cannot be imported at all; returns its data rows."""
    return sum(1 for _ in _reader(_text(data)))


def _date(value: str) -> dt.date:
    for pattern in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(value, pattern).date()
        except ValueError:
            continue
    raise ValueError("not a date (use YYYY-MM-DD)")


def _timestamp(value: str) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError("not a date or date-time (use ISO 8601, e.g. 2024-03-01 or 2024-03-01T09:30:00Z)") from None
    return parsed.replace(tzinfo=dt.UTC) if parsed.tzinfo is None else parsed.astimezone(dt.UTC)


class _Validator:
    """Turns raw CSV records into MemberRows, remembering what was seen to catch duplicates."""

    def __init__(self, tiers: Iterable[Tier], today: dt.date, barcode_format: str = DEFAULT_FORMAT) -> None:
        self.tiers = {tier.name.strip().lower(): tier for tier in tiers}
        self.today = today
        self.barcode_format = barcode_format
        self.seen: dict[str, dict[str, int]] = {"external_id": {}, "email": {}, "phone": {}, "card_number": {}}

    def row(self, line: int, record: dict[str, Any]) -> tuple[MemberRow | None, list[RowError]]:
        errors: list[RowError] = []

        def value(name: str) -> str:
            raw = record.get(name)
            return raw.strip() if isinstance(raw, str) else ""

        def check(name: str, parse: Callable[[str], Any]) -> Any:
            text = value(name)
            if not text:
                return None
            try:
                return parse(text)
            except ValueError as error:
                errors.append(RowError(line, name, f"{error}: {text[:80]!r}"))
                return None

        if record.get(None):  # type: ignore[call-overload]
            errors.append(RowError(line, "row", "more fields than the header has columns"))
        for column_name, raw in record.items():
            # names keep tabs and line breaks as written (quoted CSV); ids, contacts, dates none
            reason = (bad_character(raw, free_text=column_name == "name")
                      if column_name is not None and isinstance(raw, str) else None)
            if reason:  # NUL cannot be stored in PostgreSQL: the row is skipped, not the whole file
                errors.append(RowError(line, column_name, reason))
        if errors:
            return None, errors
        name = value("name")
        if not name:
            errors.append(RowError(line, "name", "is empty"))
        elif len(name) > 200:
            errors.append(RowError(line, "name", "longer than 200 characters"))
        email = check("email", normalise_email)
        phone = check("phone", normalise_phone)
        birthday = check("birthday", _date)
        if birthday is not None and birthday > self.today:
            errors.append(RowError(line, "birthday", f"is in the future: {birthday}"))
        joined_at = check("joined_at", _timestamp)
        legacy_number = check("card_number", lambda text: normalise_legacy_number(text, self.barcode_format))
        external_id = value("external_id") or None
        if external_id is not None and len(external_id) > 100:
            errors.append(RowError(line, "external_id", "longer than 100 characters"))
        balance = 0
        if value("balance"):
            try:
                balance = int(value("balance"))
            except ValueError:
                errors.append(RowError(line, "balance", f"not a whole number: {value('balance')[:40]!r}"))
            else:
                if balance < 0:
                    errors.append(RowError(line, "balance", f"is negative: {balance}"))
        tier = None
        if value("tier"):
            tier = self.tiers.get(value("tier").lower())
            if tier is None:
                known = ", ".join(sorted(t.name for t in self.tiers.values())) or "none"
                errors.append(RowError(line, "tier", f"unknown tier {value('tier')!r} (this program has: {known})"))
        if not (external_id or value("email") or value("phone") or value("card_number")):
            errors.append(RowError(line, "row", "needs an external_id, email, phone or card_number"))
        unique = (("external_id", external_id), ("email", email), ("phone", phone), ("card_number", legacy_number))
        for key, text in unique:
            if text is None:
                continue
            first = self.seen[key].get(text)
            if first is not None:
                errors.append(RowError(line, key, f"duplicate row: the same {key} as line {first}"))
        if errors:
            return None, errors
        for key, text in unique:
            if text is not None:
                self.seen[key][text] = line
        return MemberRow(line, name, email, phone, birthday, balance, tier, joined_at, external_id, legacy_number), []


def read_rows(data: bytes | str, tiers: Iterable[Tier], today: dt.date | None = None,
              barcode_format: str = DEFAULT_FORMAT) -> Iterator[tuple[int, MemberRow | None, list[RowError]]]:
    """(line, row or None, errors) for every data row; line numbers are the file's own (header = 1)."""
    reader = _reader(_text(data))
    validator = _Validator(tiers, today or utcnow().date(), barcode_format)
    for record in reader:
        line = reader.line_num  # the last physical line of this record (quoted fields may span lines)
        if not any((v or "").strip() for k, v in record.items() if k is not None):
            continue  # a blank line
        row, errors = validator.row(line, record)
        yield line, row, errors


# --- writing ---------------------------------------------------------------------------------


def _among(session: Session, query: Select[Any], name: str, columns: dict[Any, list[Any]]) -> Select[Any]:
    """`query` restricted to the rows whose `columns` equal one of the batch's value tuples
    (the lists, equally long, give the tuples position by position).

    PostgreSQL: a join against ``unnest`` of one array parameter per column. Why not ``IN (...)``:
    with a thousand values that is a thousand bind parameters, and once psycopg prepares the
    statement (fifth run) PostgreSQL's generic plan tests them as an array on every row it
    visits; on freshly imported tables (no statistics yet) that plan walked all of the program's
    cards, so each batch cost more than the last (EXPLAIN ANALYZE at 27 000 cards: 0.6 s per
    query, 27 000 rows x 1 000 comparisons). Joined to the batch, the planner probes the indexes
    once per value (5 ms for the three match rules at 60 000 cards, generic plan) as soon as the
    tables have statistics, which `_Statistics` sees to.

    SQLite: ``IN (...)`` (row values for several columns), which SQLite answers from the index;
    a join against ``json_each`` there put the batch on the inner side and scanned it per card.
    """
    if session.get_bind().dialect.name == "postgresql":
        arrays = [bindparam(None, values, type_=ARRAY(column_.type)) for column_, values in columns.items()]
        names = [f"v{index}" for index in range(len(columns))]
        batch = func.unnest(*arrays).table_valued(
            *(column(key, column_.type) for key, column_ in zip(names, columns, strict=True))).render_derived(name=name)
        return query.join(batch, and_(*(column_ == batch.c[key] for key, column_ in zip(names, columns, strict=True))))
    if len(columns) == 1:
        [(column_, values)] = columns.items()
        return query.where(column_.in_(values))
    return query.where(tuple_(*columns).in_(list(zip(*columns.values(), strict=True))))


def _match(session: Session, program: Program, rows: list[MemberRow]) -> dict[int, int]:
    """line -> existing card id: by external_id, then card number, email, phone, within the program.

    One query for the batch (a UNION ALL of the three rules); a line that several rules or cards
    match keeps the first rule, then the lowest card id. Within a file the values of each rule
    are unique (the validator refuses duplicates), so a value names its line.
    """
    rules = (("external_id", Card.external_id), ("legacy_number", Card.legacy_number), ("email", Customer.email),
             ("phone", Customer.phone))
    lines: list[dict[str, int]] = []
    parts = []
    for rank, (attribute, column_) in enumerate(rules):
        wanted = {getattr(row, attribute): row.line for row in rows if getattr(row, attribute)}
        lines.append(wanted)
        if not wanted:
            continue
        query = select(literal(rank), column_, Card.id).select_from(Card)
        if attribute in ("email", "phone"):
            query = query.join(Customer, Card.customer_id == Customer.id)
        parts.append(_among(session, query.where(Card.program_id == program.id), f"k_{attribute}",
                            {column_: list(wanted)}))
    if not parts:
        return {}
    best: dict[int, tuple[int, int]] = {}
    for rank, value, card_id in session.execute(union_all(*parts)):
        line = lines[rank][value]
        best[line] = min(best.get(line, (rank, card_id)), (rank, card_id))
    return {line: card_id for line, (_rank, card_id) in best.items()}


def _card_numbers(session: Session, brand_id: int, count: int) -> list[int]:
    """`count` distinct card numbers no card of the brand has (one query per round of draws)."""
    low, high = 10 ** (CARD_NUMBER_DIGITS - 1), 10**CARD_NUMBER_DIGITS
    numbers: set[int] = set()
    while len(numbers) < count:
        draw = {secrets.randbelow(high - low) + low for _ in range(count - len(numbers))} - numbers
        taken = set(session.scalars(_among(session, select(Card.number).where(Card.brand_id == brand_id),
                                           "k_number", {Card.number: list(draw)})))
        numbers |= draw - taken
    return list(numbers)


def _tier_measures(program: Program, row: MemberRow) -> tuple[int, Decimal]:
    """Lifetime points and spend that put the card in its imported tier (see the module doc)."""
    points, spend = row.balance, Decimal("0.00")
    if row.tier is not None:
        if program.tier_basis == "lifetime_points":
            points = max(points, int(row.tier.threshold))
        elif program.tier_basis == "lifetime_spend":
            spend = Decimal(row.tier.threshold)
    return points, spend


def _copy(session: Session, table: Any, values: list[dict[str, Any]]) -> None:
    """Write rows (dicts with the same keys) into `table` in the session's transaction.

    PostgreSQL: COPY ... FROM STDIN, one stream per table and batch (30 000 members: the batches'
    writes took 4.2-4.6 s, against 5.3-7.2 s as a pipelined executemany of prepared INSERTs).
    Elsewhere: one executemany INSERT. The values are already what the columns hold (UTC-aware
    datetimes); psycopg escapes them for COPY.
    """
    if not values:
        return
    if session.get_bind().dialect.name != "postgresql":
        session.execute(insert(table), values)
        return
    columns = list(values[0])
    cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor, cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in values:
            copy.write_row([row[name] for name in columns])


def _insert(session: Session, table: Any, values: list[dict[str, Any]]) -> list[int]:
    """Insert rows, returning their ids in order.

    PostgreSQL: the ids are taken from the table's sequence first, then the rows go in by COPY
    (see `_copy`). Elsewhere: INSERT ... RETURNING.
    """
    if session.get_bind().dialect.name == "postgresql":
        ids = list(session.scalars(sql("SELECT nextval(pg_get_serial_sequence(:table, 'id')) "
                                        "FROM generate_series(1, :n)"), {"table": table.name, "n": len(values)}))
        _copy(session, table, [{"id": id_, **row} for row, id_ in zip(values, ids, strict=True)])
        return ids
    return list(session.scalars(insert(table).returning(table.c.id, sort_by_parameter_order=True), values))


def _create(session: Session, program: Program, rows: list[MemberRow], now: dt.datetime) -> int:
    customers, cards = Customer.__table__, Card.__table__  # Core: no ORM rows
    customer_ids = _insert(session, customers, [
        {"brand_id": program.brand_id, "name": row.name, "email": row.email, "phone": row.phone,
         "birthday": row.birthday, "language": "en", "created_at": row.joined_at or now} for row in rows])
    numbers = _card_numbers(session, program.brand_id, len(rows))
    generated: dict[int, str] = {}  # row index -> the EAN-13 a card without a number gets
    if legacy_numbers.needs_number(program):
        bare = [index for index, row in enumerate(rows) if not row.legacy_number]
        generated = dict(zip(bare, legacy_numbers.free_numbers(
            session, program.brand_id, [numbers[index] for index in bare],
            reserved=[row.legacy_number for row in rows if row.legacy_number]), strict=True))
    expire_at = now + dt.timedelta(days=program.points_expire_days) if program.points_expire_days else None
    card_values = []
    for index, (row, customer_id, number) in enumerate(zip(rows, customer_ids, numbers, strict=True)):
        lifetime_points, lifetime_spend = _tier_measures(program, row)
        card_values.append({
            "program_id": program.id, "customer_id": customer_id, "brand_id": program.brand_id,
            "number": number, "serial_number": str(uuid.uuid4()), "authentication_token": random_token(32),
            "balance": row.balance, "lifetime_points": lifetime_points, "lifetime_spend": lifetime_spend,
            "tier_id": row.tier.id if row.tier else None, "tier": row.tier.name if row.tier else None,
            "points_expire_at": expire_at if row.balance > 0 else None, "external_id": row.external_id,
            "legacy_number": row.legacy_number or generated.get(index),
            "version": 1, "updated_at": now, "created_at": row.joined_at or now, "voided": False,
        })
    card_ids = _insert(session, cards, card_values)
    entries = []
    for row, card_id in zip(rows, card_ids, strict=True):
        entries.append({"card_id": card_id, "kind": "issue", "points": 0, "idempotency_key": None,
                        "reason": "card imported", "created_at": now})
        if row.balance > 0:
            entries.append({"card_id": card_id, "kind": "import", "points": row.balance,
                            "idempotency_key": row.key, "reason": f"opening balance (import line {row.line})",
                            "created_at": now})
    _copy(session, LedgerEntry.__table__, entries)
    return sum(1 for row in rows if row.balance > 0)


def _merge(session: Session, program: Program, rows: list[MemberRow], matches: dict[int, int],
           now: dt.datetime) -> tuple[int, list[int]]:
    """Existing cards: add each row's opening balance once, fill external_id, raise the tier.

    Two queries read what the batch needs (which rows' `import` entries the ledger already has;
    the cards' balances and tier thresholds); changed cards are written by one executemany.
    """
    card_ids, keys = [matches[row.line] for row in rows], [row.key for row in rows]
    done = {(card_id, key) for card_id, key in session.execute(_among(
        session, select(LedgerEntry.card_id, LedgerEntry.idempotency_key), "k_entry",
        {LedgerEntry.card_id: card_ids, LedgerEntry.idempotency_key: keys}))}
    query = select(Card.id, Card.balance, Card.lifetime_points, Card.lifetime_spend, Card.points_expire_at,
                   Card.external_id, Card.tier_id, Card.tier, Card.legacy_number, Card.number).select_from(Card)
    cards = {state.id: state for state in session.execute(
        _among(session, query, "k_card", {Card.id: card_ids})
        .add_columns(Tier.threshold).outerjoin(Tier, Tier.id == Card.tier_id))}
    expire_at = now + dt.timedelta(days=program.points_expire_days) if program.points_expire_days else None
    entries: list[dict[str, Any]] = []
    changes: list[dict[str, Any]] = []
    changed: list[int] = []
    for row in rows:
        card = cards[matches[row.line]]
        values: dict[str, Any] = {
            "card_id": card.id, "external_id": card.external_id, "balance": card.balance,
            "lifetime_points": card.lifetime_points, "lifetime_spend": card.lifetime_spend or Decimal(0),
            "points_expire_at": card.points_expire_at, "tier_id": card.tier_id, "tier": card.tier,
            "legacy_number": card.legacy_number}
        before = dict(values)
        if row.external_id and card.external_id is None:
            values["external_id"] = row.external_id
        visible = False
        # a differing one was refused in `_numbers_taken`; one Passcast derived gives way to the plastic's
        if row.legacy_number and (card.legacy_number is None
                                  or legacy_numbers.is_generated(card.number, card.legacy_number)):
            values["legacy_number"] = row.legacy_number
            visible = True  # the pass now shows the plastic card's number
        if row.balance > 0 and (card.id, row.key) not in done:
            entries.append({"card_id": card.id, "kind": "import", "points": row.balance, "idempotency_key": row.key,
                            "reason": f"opening balance (import line {row.line})", "created_at": now})
            values["balance"] += row.balance
            values["lifetime_points"] += row.balance
            if card.points_expire_at is None and expire_at is not None:
                values["points_expire_at"] = expire_at
            visible = True
        if row.tier is not None and (card.threshold is None or card.threshold < row.tier.threshold):
            lifetime_points, lifetime_spend = _tier_measures(program, row)
            values.update(tier_id=row.tier.id, tier=row.tier.name,
                          lifetime_points=max(values["lifetime_points"], lifetime_points),
                          lifetime_spend=max(values["lifetime_spend"], lifetime_spend))
            visible = True
        if values != before:
            changes.append(values)
        if visible:
            changed.append(card.id)
    if entries:
        _copy(session, LedgerEntry.__table__, entries)
    if changes:
        table = Card.__table__
        session.execute(update(table).where(table.c.id == bindparam("b_card_id")).values(
            {name: bindparam(f"b_{name}") for name in changes[0] if name != "card_id"}),
            [{f"b_{name}": value for name, value in values.items()} for values in changes])
    return len(entries), changed


def _numbers_taken(session: Session, program: Program, rows: list[MemberRow],
                   matches: dict[int, int]) -> list[RowError]:
    """The rows whose card_number another card of the brand has, or whose matched card already has
    another number: errors of those rows (one query for the batch)."""
    numbered = [row for row in rows if row.legacy_number]
    if not numbered:
        return []
    holders: dict[str, int] = {number: card_id for number, card_id in session.execute(_among(
        session, select(Card.legacy_number, Card.id).where(Card.brand_id == program.brand_id), "k_legacy",
        {Card.legacy_number: [row.legacy_number for row in numbered]}))}
    matched_ids = [matches[row.line] for row in numbered if row.line in matches]
    current: dict[int, str | None] = {  # a number Passcast derived counts as none: the plastic's replaces it
        card_id: None if legacy_numbers.is_generated(card_number, number) else number
        for card_id, number, card_number in session.execute(_among(
            session, select(Card.id, Card.legacy_number, Card.number), "k_held", {Card.id: matched_ids}))
    } if matched_ids else {}
    errors = []
    for row in numbered:
        holder, matched = holders.get(row.legacy_number), matches.get(row.line)
        if holder is not None and holder != matched:
            errors.append(RowError(row.line, "card_number", f"{row.legacy_number!r} is already the number of "
                                                            f"card {holder} of this brand"))
        elif matched is not None and current.get(matched) not in (None, row.legacy_number):
            errors.append(RowError(row.line, "card_number", f"this member's card {matched} already has the "
                                                            f"number {current[matched]!r}, not {row.legacy_number!r}"))
    return errors


def _announce(session: Session, card_ids: list[int]) -> None:
    """Existing cards whose pass changed: a new version, pushes, and a Google Wallet patch."""
    if not card_ids:
        return
    from service.google_wallet.tasks import queue_sync
    from service.push.fanout import bump_cards

    bump_cards(session, card_ids)
    queue_sync(session, card_ids)


_LOCK_NAMESPACE = 0x494D  # "IM": first key of the per-program advisory lock below


def _take_turn(session: Session, program_id: int) -> None:
    """Concurrent imports into one program (a job queued again while it still runs, the CLI
    beside the API) take turns batch by batch: each batch matches and writes under a transaction
    lock, so the second one sees what the first committed instead of creating the same members
    again. PostgreSQL: an advisory lock per program. SQLite: the database's write lock, taken before
    the batch matches (one writer at a time is not enough when both read first, then write)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sql("SELECT pg_advisory_xact_lock(:namespace, :program)"),
                        {"namespace": _LOCK_NAMESPACE, "program": program_id})
    else:
        lock_row(session, Program, program_id)


class _Statistics:
    """Keeps PostgreSQL's planner statistics up with tables that an import makes grow.

    A brand moving in fills customers, cards and ledger_entries from (nearly) nothing; without
    fresh statistics the planner keeps costing them as tiny, and autovacuum may be off or simply
    late (pg_stat showed no autoanalyze at 44 000 rows). So the import runs ANALYZE itself each
    time the cards table has doubled since its statistics were taken (after 1 000, 2 000, 4 000...
    cards: 7 times for 100 000 rows, each well under a second). Cached plans are invalidated by
    it. A user that does not own the tables gets a warning from PostgreSQL, not an error.
    """

    TABLES = ", ".join(model.__tablename__ for model in (Customer, Card, LedgerEntry))

    def __init__(self, session: Session, minimum: int) -> None:
        self.enabled = session.get_bind().dialect.name == "postgresql"
        self.minimum = minimum
        self.known = self.size = 0
        if self.enabled:
            tuples = session.scalar(sql("SELECT reltuples FROM pg_class WHERE oid = CAST(:name AS regclass)"),
                                    {"name": Card.__tablename__})
            self.known = self.size = max(int(tuples or 0), 0)  # -1: never analyzed

    def grew(self, session: Session, rows: int) -> None:
        """`rows` cards were just committed; ANALYZE once the table has doubled."""
        self.size += rows
        if self.enabled and self.size - self.known >= max(self.known, self.minimum):
            session.execute(sql(f"ANALYZE {self.TABLES}"))
            session.commit()
            self.known = self.size


def import_members(session: Session, program: Program, data: bytes | str, *, dry_run: bool = False,
                   batch: int = BATCH, progress: Callable[[int, ImportReport], None] | None = None,
                   now: dt.datetime | None = None) -> ImportReport:
    """Import (or with `dry_run`, only check) a members CSV into `program`; commits per batch.

    `progress(rows_done, report)` is called after each batch. Raises ImportFileError when the
    file as a whole is unusable (nothing is written then).
    """
    now = (now or utcnow()).replace(microsecond=0)
    report = ImportReport(dry_run=dry_run)
    program_id = program.id
    tiers = list(session.scalars(select(Tier).where(Tier.program_id == program_id)))
    pending: list[MemberRow] = []
    matched_lines: dict[int, int] = {}  # existing card id -> the line that matched it
    statistics = _Statistics(session, minimum=min(batch, BATCH))

    def flush_batch() -> None:
        if not dry_run:
            _take_turn(session, program_id)
        fresh = session.get(Program, program_id)
        assert fresh is not None
        matches = _match(session, fresh, pending)
        for row in list(pending):  # two rows of the file naming one existing member: keep the first
            card_id = matches.get(row.line)
            if card_id is None:
                continue
            if card_id in matched_lines:
                report.valid_rows -= 1
                report.add_errors([RowError(row.line, "row", "duplicate row: the same member as line "
                                                             f"{matched_lines[card_id]}")])
                pending.remove(row)
                del matches[row.line]
            else:
                matched_lines[card_id] = row.line
        for error in _numbers_taken(session, fresh, pending, matches):
            report.valid_rows -= 1
            report.add_errors([error])
            pending[:] = [row for row in pending if row.line != error.line]
            matches.pop(error.line, None)
        new = [row for row in pending if row.line not in matches]
        old = [row for row in pending if row.line in matches]
        report.created += len(new)
        report.matched += len(old)
        if not dry_run:
            added = _create(session, fresh, new, now) if new else 0
            merged, changed = _merge(session, fresh, old, matches, now) if old else (0, [])
            report.balances_added += added + merged
            _announce(session, changed)
            session.commit()
            statistics.grew(session, len(new))
        pending.clear()
        if progress is not None:
            progress(report.rows, report)

    for _line, row, errors in read_rows(data, tiers, now.date(), program.barcode_format or DEFAULT_FORMAT):
        report.rows += 1
        if row is None:
            report.add_errors(errors)
        else:
            report.valid_rows += 1
            pending.append(row)
        if len(pending) >= batch:
            flush_batch()
    flush_batch()
    if dry_run:
        session.rollback()
    return report
