"""Engine and session handling: one engine per app, one session per request or job.

Plain SQLAlchemy 2 rather than an extension, so that the worker and the CLI use the very
same session factory as the web app.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from flask import Flask, current_app, g
from sqlalchemy import Engine, Executable, Row, create_engine, event
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

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
    return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


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
    relationships load on first use as usual. An object of that identity already in the session
    wins, as it does for a query."""
    from sqlalchemy.orm import make_transient_to_detached

    mapper = sa_inspect(model)
    key = mapper.identity_key_from_primary_key([values[column.key] for column in mapper.primary_key])
    existing = session.identity_map.get(key)
    if existing is not None:
        return existing  # type: ignore[no-any-return]
    instance = mapper.class_manager.new_instance()  # as the ORM's loading does: no __init__, no events
    instance.__dict__.update(values)
    make_transient_to_detached(instance)  # its attributes count as loaded, none as changed
    session.add(instance)
    return instance


def result_values(columns: Sequence[Any], row: Sequence[Any], dialect: Any) -> dict[str, Any]:
    """A driver row's values by attribute key, through the columns' own result types (UTC datetimes)."""
    values: dict[str, Any] = {}
    for column, value in zip(columns, row, strict=True):
        process = getattr(column.type, "process_result_value", None)
        values[column.key] = process(value, dialect) if process is not None else value
    return values


def session_factory(app: Flask | None = None) -> sessionmaker[Session]:
    return (app or current_app).extensions["db_sessionmaker"]


def session() -> Session:
    """The session of the current request (or app context), created on first use."""
    if "db_session" not in g:
        g.db_session = session_factory()()
    return g.db_session


def _close_session(_exc: BaseException | None) -> None:
    db_session = g.pop("db_session", None)
    if db_session is not None:
        db_session.close()
