"""The storage seam of the ledger: a small :class:`LedgerBackend` protocol and its SQLite default.

Everything above this seam (encoding, hashing, carbon flow, verification, reports) is
storage-agnostic; a server database only has to implement :class:`LedgerBackend`.

The SQLite backend runs in WAL mode with ``synchronous=FULL``: a commit that returned is
on disk, and a crash in the middle of a write leaves the previous commit intact. Triggers
refuse ``UPDATE`` and ``DELETE`` on records (the chain catches anyone who drops them).
"""

from __future__ import annotations

import sqlite3
import urllib.request
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Protocol

from islandgrid.errors import DataFileError, LedgerError

#: (seq, ts_s, payload, hash)
Row = tuple[int, int, bytes, bytes]

#: A record's key is ``site_key * SITE_STRIDE + seq``: one integer primary key, no second index.
SITE_STRIDE = 1 << 40

#: ``ledger_meta.format`` of every ledger database (the record format is in each payload).
LEDGER_FORMAT = "islandgrid-ledger/1"
#: The tables a ledger database holds.
LEDGER_TABLES = ("battery_state", "factor_sets", "ledger_meta", "records", "sites")
_SQLITE_MAGIC = b"SQLite format 3\x00"

_SCHEMA = f"""
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
CREATE TABLE IF NOT EXISTS tip_signatures (
    site_id TEXT PRIMARY KEY, seq INTEGER NOT NULL, tip BLOB NOT NULL, version INTEGER NOT NULL,
    public_key BLOB NOT NULL, signature BLOB NOT NULL  -- Ed25519 over the tip (ledger.signing)
);
CREATE TRIGGER IF NOT EXISTS records_no_update BEFORE UPDATE ON records
    BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
CREATE TRIGGER IF NOT EXISTS records_no_delete BEFORE DELETE ON records
    BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
INSERT OR IGNORE INTO ledger_meta (key, value) VALUES ('format', '{LEDGER_FORMAT}');
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

    def stray_keys(self, limit: int) -> list[int]:
        """Up to ``limit`` record keys that belong to no stored site (what verify reports as tampering)."""
        ...

    def state_site_ids(self) -> list[str]:
        """Every site with a stored battery state."""
        ...

    def put_signature(self, row: tuple[str, int, bytes, int, bytes, bytes]) -> None:
        """Store a site's tip signature (site_id, seq, tip, version, public_key, signature), replacing the last."""
        ...

    def signatures(self) -> list[tuple[str, int, bytes, int, bytes, bytes]]:
        """Every stored tip signature (none in a ledger written before signing existed)."""
        ...

    def close(self) -> None:
        """Release the connection."""
        ...


class SqliteBackend:
    """SQLite, WAL mode, ``synchronous=FULL``; ``':memory:'`` for tests."""

    def __init__(self, path: str | Path, *, readonly: bool = False) -> None:
        self.path = str(path)
        self.readonly = readonly
        try:
            if readonly:
                self._con = _connect_readonly(Path(path))
                _check_ledger(self._con)
            else:
                if self.path != ":memory:" and not self.path.startswith("file:"):
                    p = Path(self.path)
                    if p.is_file() and p.stat().st_size > 0:  # someone's SQLite file gets no ledger tables added
                        probe = _connect_readonly(p)
                        try:
                            _check_ledger(probe)
                        finally:
                            probe.close()
                    p.parent.mkdir(parents=True, exist_ok=True)
                self._con = sqlite3.connect(self.path, isolation_level=None, timeout=30.0)
                self._con.execute("PRAGMA page_size=65536")  # large blobs, append-heavy: fewer pages to write
                self._con.execute("PRAGMA journal_mode=WAL")
                self._con.execute("PRAGMA synchronous=FULL")
                self._con.execute("PRAGMA journal_size_limit=67108864")
                self._con.executescript(_SCHEMA)
        except (sqlite3.DatabaseError, _NotALedgerError) as exc:  # a wrong file given as --db: bad input, exit 2
            raise DataFileError(
                f"not a usable ledger database ({exc})",
                source=self.path,
                fix="pass the SQLite file written by 'islandgrid ledger build/import' or 'serve --db'"
                + ("" if readonly else ", or a path that does not exist yet for a new ledger"),
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

    def stray_keys(self, limit: int) -> list[int]:
        keys = [int(r[0]) for r in self._con.execute("SELECT site_key FROM sites ORDER BY site_key")]
        # the gaps around the sites' key ranges, one index seek each: no scan of the records
        los = [None, *((k + 1) * SITE_STRIDE for k in keys)]
        his = [*(k * SITE_STRIDE for k in keys), None]
        found: list[int] = []
        for lo, hi in zip(los, his, strict=True):
            where = " AND ".join(c for c, v in (("key >= ?", lo), ("key < ?", hi)) if v is not None) or "1"
            args = [v for v in (lo, hi) if v is not None]
            sql = f"SELECT key FROM records WHERE {where} ORDER BY key LIMIT ?"
            found += [int(r[0]) for r in self._con.execute(sql, (*args, limit - len(found)))]
            if len(found) >= limit:
                break
        return found

    def state_site_ids(self) -> list[str]:
        return [str(r[0]) for r in self._con.execute("SELECT site_id FROM battery_state ORDER BY site_id")]

    def put_signature(self, row: tuple[str, int, bytes, int, bytes, bytes]) -> None:
        self._con.execute("INSERT OR REPLACE INTO tip_signatures VALUES (?, ?, ?, ?, ?, ?)", row)

    def signatures(self) -> list[tuple[str, int, bytes, int, bytes, bytes]]:
        if self._one("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'tip_signatures'", ()) is None:
            return []  # a ledger from before signed tips, opened read-only
        rows = self._con.execute("SELECT * FROM tip_signatures ORDER BY site_id").fetchall()
        return [(str(a), int(b), bytes(c), int(d), bytes(e), bytes(f)) for a, b, c, d, e, f in rows]

    def close(self) -> None:
        self._con.close()


class _NotALedgerError(Exception):
    """A readable file that is not an islandgrid ledger."""


def _connect_readonly(path: Path) -> sqlite3.Connection:
    """Open ``path`` so that nothing can write to it, nor leave a file beside it.

    SQLite's ``mode=ro`` never writes the database, but on a WAL database that no process has open
    it creates the ``-wal`` and ``-shm`` files and cannot remove them again. So a WAL database
    without a ``-wal`` file (everything is in the main file: the last writer checkpointed and
    closed) is opened ``immutable=1`` (no locks, no side files); with a ``-wal`` file (a writer
    has it open, e.g. ``serve``) ``mode=ro`` uses the files that writer keeps.
    """
    with open(path, "rb") as f:  # FileNotFoundError, IsADirectoryError: the caller's message
        header = f.read(100)
    if len(header) < 100 or not header.startswith(_SQLITE_MAGIC):
        raise _NotALedgerError("not an SQLite database")
    wal = header[18] == 2 or header[19] == 2  # file format write/read version 2: WAL mode
    uri = "file:" + urllib.request.pathname2url(str(path.resolve()))
    uri += "?mode=ro&immutable=1" if wal and not Path(f"{path}-wal").exists() else "?mode=ro"
    return sqlite3.connect(uri, uri=True, isolation_level=None, timeout=30.0)


def _check_ledger(con: sqlite3.Connection) -> None:
    """Raise :class:`_NotALedgerError` unless ``con`` holds the ledger's tables and format tag."""
    tables = {str(r[0]) for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    missing = [t for t in LEDGER_TABLES if t not in tables]
    if missing:
        raise _NotALedgerError(f"no table {', '.join(missing)}: not an islandgrid ledger")
    row = con.execute("SELECT value FROM ledger_meta WHERE key = 'format'").fetchone()
    if row is None or row[0] != LEDGER_FORMAT:
        raise _NotALedgerError(f"ledger_meta format is {None if row is None else row[0]!r}, expected {LEDGER_FORMAT!r}")
