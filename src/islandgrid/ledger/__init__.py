"""The tamper-evident carbon ledger: one SHA-256-chained record per site per interval.

::

    open_ledger(path) -> LedgerStore          # SQLite (WAL, synchronous=FULL); ':memory:' for tests
    open_ledger(path, readonly=True)          # mode=ro: reading leaves the file and its folder as they were
    store.append_flows(site, flows, quality="measured", site_id=None) -> int
    store.tip(site_id) -> LedgerRecord | None
    verify_chain(store, site_id) -> VerifyReport   # raises ChainBrokenError on the first bad record or table
    read_records(store, site_id) -> DataFrame
    signing.keygen(default_key_dir(path), site_id)   # Ed25519 key beside the ledger: every append signs the tip

The canonical encoding is documented in ``docs/ledger.md``.
"""

from islandgrid.ledger.backend import LedgerBackend, SqliteBackend
from islandgrid.ledger.record import LedgerRecord
from islandgrid.ledger.store import LedgerStore, open_ledger

__all__ = ["LedgerBackend", "LedgerRecord", "LedgerStore", "SqliteBackend", "open_ledger"]
