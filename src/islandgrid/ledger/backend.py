"""The storage seam of the ledger: a small :class:`LedgerBackend` protocol and its SQLite default.

Everything above this seam (encoding, hashing, carbon flow, verification, reports) is
storage-agnostic; a server database only has to implement :class:`LedgerBackend`.

The SQLite backend runs in WAL mode with ``synchronous=FULL``: a commit that returned is
on disk, and a crash in the middle of a write leaves the previous commit intact. Triggers
refuse ``UPDATE`` and ``DELETE`` on records (the chain catches anyone who drops them).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Protocol

from islandgrid.errors import DataFileError, LedgerError

#: (seq, ts_s, payload, hash)
Row = tuple[int, int, bytes, bytes]

#: A record's key is ``site_key * SITE_STRIDE + seq``: one integer primary key, no second index.
SITE_STRIDE = 1 << 40

_SCHEMA = """
CREATE TABLE IF NOT EXISTS ledger_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sites (site_key INTEGER PRIMARY KEY, site_id TEXT UNIQUE NOT NULL, info TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS factor_sets (digest BLOB PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    key INTEGER PRIMARY KEY,          -- site_key * 2^40 + seq
    ts INTEGER NOT NULL,              -- interval start, Unix seconds UTC (also inside the payload)
    payload BLOB NOT NULL,            -- the canonical record (docs/ledger.md)
    hash BLOB NOT NULL                -- SHA-256(previous hash || payload)
);
CREATE TABLE IF NOT EXISTS battery_state (site_id TEXT PRIMARY KEY, seq INTEGER NOT NULL, state TEXT NOT NULL);
CREATE TRIGGER IF NOT EXISTS records_no_update BEFORE UPDATE ON records
    BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
CREATE TRIGGER IF NOT EXISTS records_no_delete BEFORE DELETE ON records
    BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
INSERT OR IGNORE INTO ledger_meta (key, value) VALUES ('format', 'islandgrid-ledger/1');
"""


class LedgerBackend(Protocol):
    """Storage primitives; every write happens inside :meth:`transaction`."""

    def transaction(self) -> AbstractContextManager[None]:
        """A context manager: one exclusive write transaction, rolled back on any exception."""
        ...

    def last_row(self, site_id: str) -> Row | None:
        """The highest-seq record of a site."""
        ...

    def rows(self, site_id: str) -> list[Row]:
        """All records of a site in seq order."""
        ...

    def row_chunks(self, site_id: str, size: int) -> Iterator[list[Row]]:
        """All records of a site in seq order, ``size`` at a time, from one consistent snapshot."""
        ...

    def put_rows(self, site_id: str, rows: Iterable[Row]) -> None:
        """Insert records (inside a transaction)."""
        ...

    def get_state(self, site_id: str) -> tuple[int, str] | None:
        """(seq, JSON) of the battery carbon state after record ``seq``."""
        ...

    def put_state(self, site_id: str, seq: int, state_json: str) -> None:
        """Replace the battery carbon state (inside a transaction)."""
        ...

    def factor_sets(self) -> dict[bytes, str]:
        """Every factor set, digest -> canonical JSON."""
        ...

    def put_factor_set(self, digest: bytes, body: str) -> None:
        """Store a factor set if new (inside a transaction)."""
        ...

    def site_info(self, site_id: str) -> str | None:
        """The JSON stored with the site on its first append."""
        ...

    def put_site(self, site_id: str, info_json: str) -> None:
        """Store the site's JSON if the site is new (inside a transaction)."""
        ...

    def site_ids(self) -> list[str]:
        """Every site with a chain."""
        ...

    def close(self) -> None:
        """Release the connection."""
        ...


class SqliteBackend:
    """SQLite, WAL mode, ``synchronous=FULL``; ``':memory:'`` for tests."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        try:
            self._con = sqlite3.connect(self.path, isolation_level=None, timeout=30.0)
            self._con.execute("PRAGMA page_size=65536")  # large blobs, append-heavy: fewer pages to write
            self._con.execute("PRAGMA journal_mode=WAL")
            self._con.execute("PRAGMA synchronous=FULL")
            self._con.execute("PRAGMA journal_size_limit=67108864")
            self._con.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:  # a wrong file given as --db: bad input, exit 2, file untouched
            raise DataFileError(
                f"not a usable ledger database ({exc})",
                source=self.path,
                fix="pass the SQLite file written by 'islandgrid ledger build/import' or 'serve --db', "
                "or a path that does not exist yet for a new ledger",
            ) from None
        self._keys: dict[str, int] | None = None  # site keys looked up inside the current write transaction

    def transaction(self) -> AbstractContextManager[None]:
        return self._transaction()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        con = self._con
        try:
            con.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise LedgerError(f"{self.path}: cannot start a write ({exc})") from None
        self._keys = {}  # the write lock is held: no one else can add a site until COMMIT
        try:
            try:
                yield
            except BaseException:
                con.execute("ROLLBACK")
                raise
            try:
                con.execute("COMMIT")
            except sqlite3.DatabaseError as exc:
                con.execute("ROLLBACK")
                raise LedgerError(f"{self.path}: commit failed ({exc})") from None
        finally:
            self._keys = None

    def _one(self, sql: str, args: tuple[object, ...]) -> tuple[Any, ...] | None:
        try:
            row = self._con.execute(sql, args).fetchone()
        except sqlite3.DatabaseError as exc:
            raise LedgerError(f"{self.path}: read failed ({exc})") from None
        return tuple(row) if row is not None else None

    def _site_key(self, site_id: str) -> int | None:
        keys = self._keys
        if keys is not None and site_id in keys:
            return keys[site_id]
        row = self._one("SELECT site_key FROM sites WHERE site_id = ?", (site_id,))
        if row is None:
            return None
        key = int(row[0])
        if keys is not None:
            keys[site_id] = key
        return key

    def last_row(self, site_id: str) -> Row | None:
        k = self._site_key(site_id)
        if k is None:
            return None
        base = k * SITE_STRIDE
        row = self._one(
            "SELECT key - ?, ts, payload, hash FROM records WHERE key >= ? AND key < ? ORDER BY key DESC LIMIT 1",
            (base, base, base + SITE_STRIDE),
        )
        return None if row is None else (int(row[0]), int(row[1]), bytes(row[2]), bytes(row[3]))

    def _select_rows(self, site_id: str) -> sqlite3.Cursor | None:
        k = self._site_key(site_id)
        if k is None:
            return None
        base = k * SITE_STRIDE
        try:
            return self._con.execute(
                "SELECT key - ?, ts, payload, hash FROM records WHERE key >= ? AND key < ? ORDER BY key",
                (base, base, base + SITE_STRIDE),
            )
        except sqlite3.DatabaseError as exc:
            raise LedgerError(f"{self.path}: read failed ({exc})") from None

    def rows(self, site_id: str) -> list[Row]:
        cur = self._select_rows(site_id)
        if cur is None:
            return []
        try:
            return cur.fetchall()
        except sqlite3.DatabaseError as exc:
            raise LedgerError(f"{self.path}: read failed ({exc})") from None

    def row_chunks(self, site_id: str, size: int) -> Iterator[list[Row]]:
        cur = self._select_rows(site_id)  # one statement: one read snapshot, however long the walk
        if cur is None:
            return
        try:
            while rows := cur.fetchmany(size):
                yield rows
        except sqlite3.DatabaseError as exc:
            raise LedgerError(f"{self.path}: read failed ({exc})") from None
        finally:
            cur.close()

    def put_rows(self, site_id: str, rows: Iterable[Row]) -> None:
        k = self._site_key(site_id)
        if k is None:
            raise LedgerError(f"site {site_id!r} must be stored (put_site) before its records")
        base = int(k) * SITE_STRIDE
        try:
            # the key offset is an integer literal: the rows go to SQLite as they are, no per-row Python
            self._con.executemany(f"INSERT INTO records (key, ts, payload, hash) VALUES ({base} + ?, ?, ?, ?)", rows)
        except sqlite3.DatabaseError as exc:
            raise LedgerError(f"{self.path}: write failed ({exc})") from None

    def get_state(self, site_id: str) -> tuple[int, str] | None:
        row = self._one("SELECT seq, state FROM battery_state WHERE site_id = ?", (site_id,))
        return None if row is None else (int(row[0]), str(row[1]))

    def put_state(self, site_id: str, seq: int, state_json: str) -> None:
        self._con.execute(
            "INSERT OR REPLACE INTO battery_state (site_id, seq, state) VALUES (?, ?, ?)", (site_id, seq, state_json)
        )

    def factor_sets(self) -> dict[bytes, str]:
        return {bytes(d): str(b) for d, b in self._con.execute("SELECT digest, body FROM factor_sets").fetchall()}

    def put_factor_set(self, digest: bytes, body: str) -> None:
        self._con.execute("INSERT OR IGNORE INTO factor_sets (digest, body) VALUES (?, ?)", (digest, body))

    def site_info(self, site_id: str) -> str | None:
        row = self._one("SELECT info FROM sites WHERE site_id = ?", (site_id,))
        return None if row is None else str(row[0])

    def put_site(self, site_id: str, info_json: str) -> None:
        self._con.execute("INSERT OR IGNORE INTO sites (site_id, info) VALUES (?, ?)", (site_id, info_json))
        if self._site_key(site_id) is None or int(self._site_key(site_id) or 0) >= (1 << 22):
            raise LedgerError("too many sites in one ledger (limit 4 million)")

    def site_ids(self) -> list[str]:
        return [str(r[0]) for r in self._con.execute("SELECT site_id FROM sites ORDER BY site_id").fetchall()]

    def close(self) -> None:
        self._con.close()
