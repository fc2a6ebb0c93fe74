"""Engine and session handling: one engine per app, one session per request or job.

Plain SQLAlchemy 2 rather than an extension, so that the worker and the CLI use the very
same session factory as the web app.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from flask import Flask, current_app, g
from sqlalchemy import Engine, Executable, Row, create_engine, event
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.attributes import instance_state

_T = TypeVar("_T")


def make_engine(url: str, *, autocommit: bool = False) -> Engine:
    """`autocommit`: every statement commits on its own, without waiting for PostgreSQL's disk, and
    no liveness ping precedes each use (the rate-limit counters: one round trip per request; the
    caller retries a dead connection)."""
    options: dict[str, Any] = {"isolation_level": "AUTOCOMMIT"} if autocommit else {}
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **options)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # WAL lets the worker read while the web process writes; foreign keys are off
            # by default in SQLite and we rely on them.
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    if autocommit:
        # A lost counter increment after a crash is harmless; waiting for the WAL flush on every
        # request is not (10+ ms a commit on a busy disk). Set at connect time: no extra round trip.
        return create_engine(url, pool_size=10, max_overflow=20, connect_args={"options": "-c synchronous_commit=off"},
                             **options)
    engine = create_engine(url, pool_size=10, max_overflow=20)
    _ping_when_idle(engine)
    return engine


#: A pooled connection back in the pool for longer than this is pinged before it is handed out again.
PING_AFTER_IDLE_SECONDS = 1.0


def _ping_when_idle(engine: Engine) -> None:
    """`pool_pre_ping`, for connections that sat idle: one used less than PING_AFTER_IDLE_SECONDS ago
    is handed out without the round trip (issue 18: under load every request paid a `SELECT 1`, one
    of the four round trips of a till's scan beside its one real query, and the Python around it).

    What a dead connection does is unchanged in kind: an idle one (a database restart, a firewall's
    idle timeout) is found by the ping and replaced before use (the pool tries again with a fresh
    connection, as with pre_ping); one used within the last second that died since fails the
    statement as an in-flight request does when the database goes away, and SQLAlchemy then
    invalidates it and every older connection of the pool, so the next request connects afresh."""

    @event.listens_for(engine, "connect")
    def _connected(_dbapi_connection: Any, record: Any) -> None:
        record.info["passcast_returned_at"] = time.monotonic()

    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_connection: Any, record: Any) -> None:
        record.info["passcast_returned_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        returned = record.info.get("passcast_returned_at")
        if returned is not None and time.monotonic() - returned < PING_AFTER_IDLE_SECONDS:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except Exception as error:  # noqa: BLE001 - any failure: the pool replaces the connection
            raise DisconnectionError(f"pooled connection failed its ping: {error}") from error
        if not alive:
            raise DisconnectionError("pooled connection failed its ping")


def init_app(app: Flask, url: str) -> None:
    engine = make_engine(url)
    app.extensions["db_engine"] = engine
    app.extensions["db_sessionmaker"] = sessionmaker(engine, expire_on_commit=False)
    # The hot read paths (a phone's pass fetch and updatable-passes list): one statement each,
    # so no BEGIN, COMMIT or ROLLBACK round trips and no liveness ping (see `lean_rows`).
    lean = make_engine(url, autocommit=True)
    if lean.dialect.name == "postgresql":
        event.listen(lean, "connect", _binary_results)
    app.extensions["db_lean_engine"] = lean
    # the same pool, each statement committing on its own (`statement_by_statement`); PostgreSQL only
    app.extensions["db_autocommit_engine"] = (engine.execution_options(isolation_level="AUTOCOMMIT")
                                              if engine.dialect.name == "postgresql" else None)
    event.listen(engine, "engine_disposed", lambda _engine: lean.dispose())
    app.teardown_appcontext(_close_session)


def _binary_results(dbapi_connection: Any, _record: Any) -> None:
    """Rows in PostgreSQL's binary format on the lean engine: a stored .pkpass (80+ kB) comes
    as its bytes rather than as hex text twice its size, which the server encodes and psycopg
    decodes on every pass fetch (about 0.3 ms of the two processes' CPU per fetch). Every
    other type reads into the same Python values in either format."""
    dbapi_connection.cursor_factory = _binary_cursor()


@functools.cache
def _binary_cursor() -> type:
    from psycopg import Cursor
    from psycopg.pq import Format

    class BinaryCursor(Cursor[Any]):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.format = Format.BINARY

    return BinaryCursor


def engine() -> Engine:
    return current_app.extensions["db_engine"]


def lean_engine() -> Engine:
    """The autocommit engine of the hot read paths (see `init_app`)."""
    return current_app.extensions["db_lean_engine"]


def lean_rows(statement: Executable, parameters: dict[str, Any] | None = None,
              engine: Engine | None = None) -> Sequence[Row[Any]]:
    """The rows of one SELECT on the app's autocommit engine, without the request's Session.

    For the few requests every phone makes after a push: a Session costs a liveness ping,
    BEGIN and ROLLBACK/COMMIT round trips and its own bookkeeping around a single SELECT.
    `engine`: that engine, given by a caller outside an app context (service/apple/lean_wsgi.py).
    """
    return _lean(statement, parameters, lambda result: result.all(), engine)


def lean_write(statement: Executable, parameters: dict[str, Any] | None = None,
               engine: Engine | None = None) -> int:
    """One UPDATE/INSERT/DELETE on the autocommit engine: it commits on its own, without
    waiting for PostgreSQL's WAL flush (see `make_engine`). The rows it touched."""
    return _lean(statement, parameters, lambda result: result.rowcount, engine)


def _lean(statement: Executable, parameters: dict[str, Any] | None, take: Callable[[Any], _T],
          engine: Engine | None) -> _T:
    """No pre-ping on this engine: a pooled connection that died (a database restart) is
    invalidated by the first attempt and the statement runs once more on a fresh one, so
    only statements that may run twice belong here (reads, idempotent UPDATEs). What `take`
    reads is read before the connection goes back to the pool."""
    lean = engine or lean_engine()
    for attempt in (1, 2):
        try:
            with lean.connect() as connection:
                return take(connection.execute(statement, parameters or {}))
        except DBAPIError as error:
            if attempt == 2 or not error.connection_invalidated:
                raise
    raise AssertionError("unreachable")


def driver_rows(statement: Executable, parameters: dict[str, Any],
                engine: Engine | None = None) -> list[tuple[Any, ...]] | None:
    """The rows of `statement` straight from the PostgreSQL driver, or None on another database.

    For the phones' pass fetch and updatable-passes list: SQLAlchemy's execution layer (cache
    key, execution context, result processing) was about 0.3 ms of CPU per fetch, a third of
    the request. The SQL is compiled once; the values come as psycopg makes them (timestamps
    aware, in the session's time zone: the caller normalises them; bind values are passed as
    they are, so datetimes must be aware). A dead pooled connection is replaced as in
    `lean_rows`. The engine's before/after_cursor_execute listeners are called (with no
    Connection and no context; what they return is ignored), so the statement counters of
    the tests and benches still see this statement.
    """
    return _driver(statement, parameters, engine, _fetch_all)


def driver_write(statement: Executable, parameters: dict[str, Any], engine: Engine | None = None) -> int | None:
    """One idempotent UPDATE straight from the driver on the autocommit engine (it commits on
    its own, as `lean_write`): the rows it touched, or None on another database."""
    return _driver(statement, parameters, engine, _row_count)


def _fetch_all(cursor: Any) -> list[tuple[Any, ...]]:
    return cursor.fetchall()  # type: ignore[no-any-return]


def _row_count(cursor: Any) -> int:
    return cursor.rowcount  # type: ignore[no-any-return]


def _driver(statement: Executable, parameters: dict[str, Any], engine: Engine | None,
            take: Callable[[Any], _T]) -> _T | None:
    lean = engine or lean_engine()
    if lean.dialect.name != "postgresql":
        return None
    from psycopg import Error as DriverError

    sql, defaults = _driver_sql(statement, lean.dialect)
    values = {**defaults, **parameters}
    dispatch = lean.dispatch
    for attempt in (1, 2):
        try:
            fairy = lean.raw_connection()
        except DriverError as error:  # as SQLAlchemy's: a database that is down answers 503 (web/health.py)
            raise DBAPIError.instance(sql, values, error, DriverError) from error
        try:
            with fairy.driver_connection.cursor() as cursor:  # type: ignore[union-attr]
                if dispatch.before_cursor_execute:  # statement counters and timers still see it
                    dispatch.before_cursor_execute(None, cursor, sql, values, None, False)
                cursor.execute(sql, values)
                taken = take(cursor)
                if dispatch.after_cursor_execute:
                    dispatch.after_cursor_execute(None, cursor, sql, values, None, False)
                return taken
        except DriverError as error:
            if attempt == 1 and fairy.driver_connection.closed:  # type: ignore[union-attr]
                fairy.invalidate(error)  # a pooled connection the database dropped: once more
                continue
            raise DBAPIError.instance(sql, values, error, DriverError) from error
        finally:
            fairy.close()
    raise AssertionError("unreachable")


@functools.lru_cache(maxsize=32)  # a few statements x the engines of one process
def _driver_sql(statement: Executable, dialect: Any) -> tuple[str, dict[str, Any]]:
    compiled = statement.compile(dialect=dialect)  # type: ignore[attr-defined]
    return compiled.string, {name: value for name, value in compiled.params.items() if value is not None}


@functools.lru_cache(maxsize=32)
def _driver_statement(statement: Executable, dialect: Any) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """SQL, default values and each bind parameter's type processor (UTC datetimes, JSON, ...)."""
    compiled = statement.compile(dialect=dialect)  # type: ignore[attr-defined]
    defaults = {name: value for name, value in compiled.params.items() if value is not None}
    return compiled.string, defaults, dict(compiled._bind_processors)  # noqa: SLF001 - what execute applies


def session_driver_rows(session: Session, statement: Executable,
                        parameters: dict[str, Any]) -> list[tuple[Any, ...]] | None:
    """The rows of `statement` (a SELECT, or a write with RETURNING) run by the PostgreSQL driver on
    `session`'s connection, in its transaction; None on another database (the caller runs it
    through SQLAlchemy instead).

    For the till's reads and writes, where SQLAlchemy's execution layer (cache key, execution context, result
    set-up) cost more Python than the rest of the statement's work: about 800 function calls for a
    one-row INSERT ... RETURNING (issue 18). `statement` must be a module-level constant (its SQL is
    compiled once); bind values go through their types' processors as SQLAlchemy's would; errors
    come as SQLAlchemy's (IntegrityError, ...); the engine's before/after_cursor_execute listeners
    see the statement, as with `driver_rows`.
    """
    bind = session.get_bind()
    if bind.dialect.name != "postgresql":
        return None
    from psycopg import Error as DriverError

    sql, defaults, processors = _driver_statement(statement, bind.dialect)
    values = {**defaults, **parameters}
    for name, process in processors.items():
        if name in values:
            values[name] = process(values[name])
    connection = session.connection()  # the session's transaction, begun if it was not
    dispatch = connection.engine.dispatch
    driver = connection.connection.driver_connection
    try:
        with driver.cursor() as cursor:  # type: ignore[union-attr]
            if dispatch.before_cursor_execute:
                dispatch.before_cursor_execute(connection, cursor, sql, values, None, False)
            cursor.execute(sql, values)
            rows = cursor.fetchall()  # (not .description: it builds a Column object per column)
            if dispatch.after_cursor_execute:
                dispatch.after_cursor_execute(connection, cursor, sql, values, None, False)
            return rows
    except DriverError as error:
        raise DBAPIError.instance(sql, values, error, DriverError) from error


def as_loaded(session: Session, model: type[_T], values: dict[str, Any]) -> _T:
    """`values` (a row's columns by attribute key, as `session_driver_rows` gives them) as the
    persistent `model` object a query would have put in `session`: no SQL, nothing pending, and
    deferred columns and relationships load on first use as usual. An object of that identity
    already in the session wins, as it does for a query.

    Made as the ORM's own loading makes an object from a row (`orm/loading.py`: a new instance with
    no __init__ and no events, its identity key set, entered in the identity map), not through
    `make_transient_to_detached` + `Session.add`, whose cascade walk over every relationship of the
    class was half of this function's cost, for objects that have no related object yet (issue 18).
    """
    mapper, primary_key, new_instance = _loading_of(model)
    key = (mapper.class_, tuple(values[name] for name in primary_key), None)
    identity_map = session.identity_map
    existing = identity_map.get(key)
    if existing is not None:
        return existing  # type: ignore[no-any-return]
    instance = new_instance()
    instance.__dict__.update(values)
    state = instance_state(instance)
    state.key = key
    state.identity_token = None
    state.session_id = session.hash_key
    identity_map._add_unpresent(state, key)  # noqa: SLF001 - as the ORM's loading does
    return instance  # type: ignore[no-any-return]


@functools.cache
def _loading_of(model: type) -> tuple[Any, tuple[str, ...], Callable[[], Any]]:
    mapper = sa_inspect(model)
    if mapper.inherits is not None or mapper.polymorphic_on is not None:
        raise TypeError(f"as_loaded: {model.__name__} is not a plain single-table model")
    return mapper, tuple(column.key for column in mapper.primary_key), mapper.class_manager.new_instance


def result_values(columns: Sequence[Any], row: Sequence[Any], dialect: Any) -> dict[str, Any]:
    """A driver row's values by attribute key, through the columns' own result types (UTC datetimes)."""
    values: dict[str, Any] = {}
    for column, value in zip(columns, row, strict=True):
        process = getattr(column.type, "process_result_value", None)
        values[column.key] = process(value, dialect) if process is not None else value
    return values


@functools.lru_cache(maxsize=64)  # a few column lists x the dialect
def row_reader(columns: tuple[Any, ...], dialect: Any) -> Callable[[Sequence[Any]], dict[str, Any]]:
    """`result_values` for rows of these columns, with each column's result processor looked up once."""
    keys = tuple(column.key for column in columns)
    processors = tuple((index, column.type.process_result_value) for index, column in enumerate(columns)
                       if getattr(column.type, "process_result_value", None) is not None)
    if not processors:
        return lambda row: dict(zip(keys, row, strict=True))

    def read(row: Sequence[Any]) -> dict[str, Any]:
        values = list(row)
        for index, process in processors:
            values[index] = process(values[index], dialect)
        return dict(zip(keys, values, strict=True))

    return read


def session_factory(app: Flask | None = None) -> sessionmaker[Session]:
    return (app or current_app).extensions["db_sessionmaker"]


def session() -> Session:
    """The session of the current request (or app context), created on first use."""
    if "db_session" not in g:
        g.db_session = session_factory()()
    return g.db_session


def statement_by_statement() -> None:
    """Make this request's session (if not made yet) run each statement in a transaction of its own:
    no BEGIN, COMMIT or ROLLBACK round trips, on PostgreSQL (elsewhere: the usual session).

    For requests that only read, or write with single statements (a till's scan: its four reads and
    the one upsert of a partner card's presentation), where nothing depends on statements sharing a
    transaction: at READ COMMITTED each statement takes its own snapshot in any case. The session's
    connection comes from the same pool; its isolation level is put back when it returns there.
    """
    engine = current_app.extensions.get("db_autocommit_engine")
    if engine is not None and "db_session" not in g:
        g.db_session = session_factory()(bind=engine)


def _close_session(_exc: BaseException | None) -> None:
    db_session = g.pop("db_session", None)
    if db_session is not None:
        db_session.close()
