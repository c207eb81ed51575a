"""Engines and sessions for SQLite (embedded) and PostgreSQL (production)."""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Engine,
    String,
    TextClause,
    any_,
    bindparam,
    create_engine,
    event,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from shared.settings import Settings, get_settings

# Errors that mean "the database is restarting or busy": retry soon, it will pass.
TRANSIENT_ERRORS = (OperationalError, InterfaceError)

# Several processes (web, worker, beat, relay) share one SQLite file in embedded mode.
SQLITE_BUSY_TIMEOUT_MS = 30_000


def create_db_engine(
    url: str, *, foreign_keys: bool = True, read_only: bool = False, **kwargs: Any
) -> Engine:
    """Create an engine with the settings each backend needs for several concurrent processes.

    `foreign_keys=False` is for migrations only: SQLite rebuilds a table to alter it (batch
    mode), and with foreign keys enforced, dropping the old table would cascade into its
    children. Migrations check the keys afterwards instead (migrations/env.py).
    `read_only=True` (SQLite) opens deferred transactions, which read from a WAL snapshot
    without waiting for writers; a write in one may fail with SQLITE_BUSY, so do not write.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **kwargs
        )
        _configure_sqlite(engine, foreign_keys, immediate=not read_only)
        return engine
    # pre_ping: a PostgreSQL restart leaves dead connections in the pool; test them on checkout
    # so workers recover without operator action.
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 5)
    kwargs.setdefault("max_overflow", 10)
    return create_engine(url, **kwargs)


def _configure_sqlite(engine: Engine, foreign_keys: bool, immediate: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from pysqlite so "begin" below is the only BEGIN.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Writers: BEGIN IMMEDIATE takes the write lock up front. A deferred transaction that
        # reads and then writes fails with SQLITE_BUSY (no waiting) when another process
        # wrote meanwhile. Readers: a deferred BEGIN reads its snapshot and waits for nobody.
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class Database:
    """Engines and session factories: one for units of work that write, one for reading."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = create_db_engine(url, **engine_kwargs)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        if self.engine.dialect.name == "sqlite":
            self.read_engine = create_db_engine(url, read_only=True, **engine_kwargs)
        else:
            self.read_engine = self.engine  # PostgreSQL readers never wait for writers anyway
        self.read_sessions = sessionmaker(self.read_engine, expire_on_commit=False)

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    def ping(self) -> None:
        """Raise if the database cannot answer a trivial query."""
        with self.read_engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def session(self, read_only: bool = False) -> Session:
        return self.read_sessions() if read_only else self.sessions()

    def dispose(self) -> None:
        self.engine.dispose()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()


_DATABASES: dict[str, Database] = {}
_DATABASES_LOCK = threading.Lock()


def get_database(settings: Settings | None = None) -> Database:
    """The process-wide database for these settings (one pool per process)."""
    url = (settings or get_settings()).database_url
    with _DATABASES_LOCK:
        if url not in _DATABASES:
            _DATABASES[url] = Database(url)
        return _DATABASES[url]


def reset_after_fork() -> None:
    """In a forked child: forget the parent's pools without closing its connections."""
    with _DATABASES_LOCK:
        for database in _DATABASES.values():
            database.engine.dispose(close=False)
            database.read_engine.dispose(close=False)
        _DATABASES.clear()


def backend(session: Session) -> str:
    """The session's database: "postgresql" or "sqlite"."""
    return session.get_bind().dialect.name


def insert_for(dialect: str) -> Any:
    """The dialect's `insert`, which has ON CONFLICT (both of ours support it; the generic one
    does not)."""
    return pg_insert if dialect == "postgresql" else sqlite_insert


def dialect_insert(session: Session) -> Any:
    """The session's dialect's `insert` (see `insert_for`)."""
    return insert_for(backend(session))


# Statements on hot paths are built once: building one costs more than running it.
_LOCK = text("SELECT pg_advisory_xact_lock(hashtext(:name))")
_LOCK_KEYS = text(
    "SELECT count(pg_advisory_xact_lock(h)) FROM (SELECT DISTINCT "
    "hashtextextended(:namespace || k, 0) AS h "
    "FROM unnest(CAST(:keys AS text[])) AS k ORDER BY h) AS sorted"
)
_LOCK_KEYS_CUSTOM_PLANS = text(
    "SELECT count(pg_advisory_xact_lock(h)), "
    "set_config('plan_cache_mode', 'force_custom_plan', true) FROM (SELECT DISTINCT "
    "hashtextextended(:namespace || k, 0) AS h "
    "FROM unnest(CAST(:keys AS text[])) AS k ORDER BY h) AS sorted"
)
_CUSTOM_PLANS = text("SET LOCAL plan_cache_mode = force_custom_plan")


def serialise(session: Session, name: str) -> None:
    """Hold a lock named `name` until the transaction ends: writers of one kind take turns.

    PostgreSQL: a transaction-scoped advisory lock. SQLite: nothing to do, because a write
    transaction there is already exclusive (BEGIN IMMEDIATE).
    """
    if backend(session) == "postgresql":
        session.execute(_LOCK, {"name": name})


_TRY_SESSION_LOCK = text("SELECT pg_try_advisory_lock(hashtext(:name))")
_SESSION_UNLOCK = text("SELECT pg_advisory_unlock(hashtext(:name))")
_LOCAL_LOCKS: dict[str, threading.Lock] = {}


@contextlib.contextmanager
def exclusive(database: Database, name: str) -> Iterator[bool]:
    """Whether this caller is the only one doing `name` now (False: another is; do not wait).
    Held across transactions, so work can commit in steps under it.

    PostgreSQL: a session advisory lock on a connection of its own, which the server releases
    if the process dies. SQLite: a lock of this process (the embedded mode has one worker).
    """
    if database.backend != "postgresql":
        with _DATABASES_LOCK:
            lock = _LOCAL_LOCKS.setdefault(name, threading.Lock())
        taken = lock.acquire(blocking=False)
        try:
            yield taken
        finally:
            if taken:
                lock.release()
        return
    with database.engine.connect() as conn:
        taken = bool(conn.execute(_TRY_SESSION_LOCK, {"name": name}).scalar())
        conn.commit()  # the lock outlives the transaction; the connection holds it
        try:
            yield taken
        finally:
            if taken:
                conn.execute(_SESSION_UNLOCK, {"name": name})
                conn.commit()


def serialise_keys(
    session: Session, namespace: str, keys: list[str], custom_plans: bool = False
) -> None:
    """Hold a lock on each of `keys` until the transaction ends: writers sharing a key take
    turns, the others go ahead in parallel. Locks are taken in one statement, in sorted order,
    so two writers with overlapping keys cannot deadlock each other. (A hash collision between
    two keys only makes two writers take turns needlessly.) SQLite: nothing to do, as above.
    `custom_plans=True`: also `custom_plans(session)`, in the same statement.
    """
    if backend(session) != "postgresql":
        return
    if not keys:
        if custom_plans:
            session.execute(_CUSTOM_PLANS)
        return
    lock = _LOCK_KEYS_CUSTOM_PLANS if custom_plans else _LOCK_KEYS
    session.execute(lock, {"namespace": f"{namespace}:", "keys": keys})


@functools.cache
def _insert_pairs(dialect: str, table: str, key: str, owner: str) -> TextClause:
    if dialect == "postgresql":
        return text(
            f"INSERT INTO {table} ({key}, {owner}) SELECT value, :owner_id "  # noqa: S608
            "FROM unnest(CAST(:values AS text[])) AS value ON CONFLICT DO NOTHING"
        )
    return text(
        f"INSERT INTO {table} ({key}, {owner}) VALUES (:value, :owner_id) "  # noqa: S608
        "ON CONFLICT DO NOTHING"
    )


def insert_pairs(session: Session, table: str, key: str, values: list[str], owner: str,
                 owner_id: int) -> None:  # fmt: skip
    """Insert rows (`key` = each of `values`, `owner` = `owner_id`), skipping ones that exist,
    in one statement whatever their number: PostgreSQL unnests an array (executemany there is
    a round trip per row, and a multi-row VALUES is compiled anew for every row count); SQLite,
    in process, takes executemany with one cached statement."""
    if not values:
        return
    dialect = backend(session)
    statement = _insert_pairs(dialect, table, key, owner)
    if dialect == "postgresql":
        session.execute(statement, {"values": values, "owner_id": owner_id})
    else:
        session.execute(statement, [{"value": value, "owner_id": owner_id} for value in values])


def any_of(dialect: str, column: Any, name: str) -> ColumnElement[bool]:
    """`one_of` for a statement built once: the list is the parameter `name`, given when the
    statement runs."""
    if dialect == "postgresql":
        return column == any_(bindparam(name, type_=ARRAY(String)))  # type: ignore[no-any-return]
    return column.in_(bindparam(name, expanding=True))  # type: ignore[no-any-return]


def one_of(session: Session, column: Any, values: list[str]) -> ColumnElement[bool]:
    """`column IN values` for a long list of strings, as one statement text whatever the count.

    PostgreSQL: `column = ANY(array)`, one parameter. SQLAlchemy renders `IN` with a parameter
    per value, so every count is a new statement text, and psycopg neither caches its parsing
    nor prepares it beyond 50 parameters (measured: 1 ms of parsing per story lookup of 51 band
    keys). SQLite, in process, takes the plain `IN`.
    """
    if backend(session) == "postgresql":
        return column == any_(bindparam(None, values, type_=ARRAY(String)))  # type: ignore[no-any-return]
    return column.in_(values)  # type: ignore[no-any-return]


def custom_plans(session: Session) -> None:
    """Plan this transaction's statements for their actual parameters (PostgreSQL).

    psycopg prepares a statement after five runs, and PostgreSQL may then reuse a generic plan
    that ignores the values; for a lookup by a list of keys that plan can be far worse
    (measured on the story index: 20 ms instead of 3 ms per story).
    """
    if backend(session) == "postgresql":
        session.execute(_CUSTOM_PLANS)
