"""The ledger as the rest of islandgrid sees it: :class:`LedgerStore` over a :class:`LedgerBackend`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from islandgrid.carbon.flow import CarbonState
from islandgrid.errors import InputError, LedgerError
from islandgrid.ledger.backend import LedgerBackend, SqliteBackend
from islandgrid.ledger.batch import build_batch, initial_state, site_id_of, validate_flows
from islandgrid.ledger.record import LedgerRecord, decode, genesis_hash, site_info_json
from islandgrid.ledger.signing import TipSignature, default_key_dir, load_key, sign
from islandgrid.site.spec import Site


class LedgerStore:
    """Append-only, hash-chained carbon records, one chain per site.

    Parameters
    ----------
    backend : LedgerBackend
        Where the records live (:class:`~islandgrid.ledger.backend.SqliteBackend` by default).
    key_dir : Path, optional
        The folder of the sites' signing keys (``ledger keygen``): a chain whose site has a key there gets
        its tip signed after every append. None: no signing.
    """

    def __init__(self, backend: LedgerBackend, key_dir: Path | None = None) -> None:
        self.backend = backend
        self.key_dir = key_dir

    # -- writing -----------------------------------------------------------------------------
    def append_flows(
        self,
        site: Site,
        flows: pd.DataFrame,
        quality: str | Sequence[str] = "measured",
        site_id: str | None = None,
        *,
        grid_co2_kg_per_kwh: np.ndarray | None = None,
        flags: np.ndarray | int = 0,
        it_kwh: np.ndarray | None = None,
        dt_s: int | None = None,
    ) -> int:
        """Append intervals that continue the site's chain; returns how many records were written.

        The carbon flow continues from the battery carbon stock and energy held after the
        tip. If the first new interval does not start where the tip's interval ends, it is
        flagged ``after_gap`` (the gap is recorded, never silently joined). All records are
        written in one transaction: all or nothing.

        Parameters
        ----------
        site : Site
            For factors and battery efficiencies.
        flows : pandas.DataFrame
            :data:`~islandgrid.strategy.base.FLOW_COLUMNS` on a tz-aware, constant-step index [kWh, L].
        quality : str or sequence of str
            'measured', 'estimated' or 'default'; one for all rows or one per row.
        site_id : str, optional
            The chain; default :func:`~islandgrid.ledger.batch.site_id_of`.
        grid_co2_kg_per_kwh : ndarray, optional
            Grid factor per interval [kg/kWh]; default the site's.
        flags : int or ndarray
            Extra flag bits per row.
        it_kwh : ndarray, optional
            IT energy per interval [kWh] (for the per-job PUE).
        dt_s : int, optional
            Interval length [s] when ``flows`` has one row, no freq and the chain is new.

        Raises
        ------
        DataFileError
            Bad flows, or intervals that do not come after the tip.
        LedgerError
            The store could not be written.
        """
        validate_flows(flows)
        sid = site_id_of(site, site_id)
        b = self.backend
        with b.transaction():
            tip = self._tip(sid)
            info = site_info_json(sid, site.location.name, site.location.tz)
            if tip is None:
                state = initial_state(site, flows)
                prev = genesis_hash(sid, b.site_info(sid) or info)  # the info as stored is what the chain covers
            else:
                state = self._state(sid, tip)
                prev = bytes.fromhex(tip.hash)
            batch = build_batch(
                site,
                flows,
                tip,
                state,
                quality,
                prev_hash=prev,
                grid_co2_kg_per_kwh=grid_co2_kg_per_kwh,
                flags=flags,
                it_kwh=it_kwh,
                dt_s=dt_s,
            )
            b.put_site(sid, info)
            b.put_factor_set(batch.factor_digest, batch.factor_body)
            b.put_rows(sid, batch.rows())
            b.put_state(sid, batch.last_seq, state_json(batch.state))
            self._sign(sid)
        return batch.n

    def sign_tip(self, site_id: str) -> TipSignature | None:
        """Sign the chain's tip now with the site's key (after ``keygen``); None when it has no key or no records."""
        with self.backend.transaction():
            return self._sign(site_id)

    def _sign(self, site_id: str) -> TipSignature | None:
        key = None if self.key_dir is None else load_key(self.key_dir, site_id)
        tip = self._tip(site_id)
        if key is None or tip is None:
            return None
        sig = sign(key, site_id, tip.seq, bytes.fromhex(tip.hash), tip.version)
        self.backend.put_signature((site_id, sig.seq, sig.tip, sig.version, sig.public_key, sig.signature))
        return sig

    def signature(self, site_id: str) -> TipSignature | None:
        """The stored tip signature of a chain, or None."""
        for row in self.backend.signatures():
            if row[0] == site_id:
                return TipSignature(*row)
        return None

    # -- reading -----------------------------------------------------------------------------
    def _tip(self, site_id: str) -> LedgerRecord | None:
        row = self.backend.last_row(site_id)
        return None if row is None else decode(site_id, row[2], row[3])

    def _state(self, site_id: str, tip: LedgerRecord) -> CarbonState:
        got = self.backend.get_state(site_id)
        if got is not None and got[0] == tip.seq:
            return CarbonState.from_json(json.loads(got[1]))
        # rebuild a pool from the tip's own (hashed) stock; FIFO detail is lost, flagged by the error below
        v = tip.values
        mix = (v["bat_pv_frac"], v["bat_grid_frac"], v["bat_diesel_frac"])
        return CarbonState(((v["bat_energy_kwh"], v["bat_co2_stock_kg"], *mix),))

    def battery_state(self, site_id: str) -> CarbonState | None:
        """The battery's carbon state after the chain's last record (what the next append continues from).

        None for a chain with no records.
        """
        tip = self._tip(site_id)
        return None if tip is None else self._state(site_id, tip)

    def tip(self, site_id: str | None = None) -> LedgerRecord | None:
        """The last record of a site's chain, or None when the chain is empty.

        With ``site_id=None`` the store must hold exactly one site (or none).
        """
        sid = self.resolve_site(site_id, allow_empty=True)
        return None if sid is None else self._tip(sid)

    def sites(self) -> list[str]:
        """Every site id with a chain."""
        return self.backend.site_ids()

    def resolve_site(self, site_id: str | None, allow_empty: bool = False) -> str | None:
        """``site_id`` itself, or the only site in the store."""
        if site_id is not None:
            return site_id
        ids = self.sites()
        if len(ids) == 1:
            return ids[0]
        if not ids:
            if allow_empty:
                return None
            raise LedgerError("the ledger holds no records yet (build or import first)")
        raise LedgerError(f"the ledger holds several sites ({', '.join(ids)}); pass --site-id")

    def known_site(self, site_id: str | None) -> str:
        """``site_id`` if the ledger holds that chain (or the only chain when None).

        Raises
        ------
        InputError
            An unknown site: the message lists the sites the ledger holds.
        LedgerError
            None given and the ledger holds no chain or several.
        """
        sid = self.resolve_site(site_id)
        assert sid is not None
        ids = self.sites()
        if sid not in ids:
            raise InputError(
                "no such site in this ledger",
                field="--site-id",
                value=sid,
                allowed=", ".join(ids) if ids else "none (the ledger is empty)",
                fix="pass one of the sites the ledger holds",
            )
        return sid

    def site_info(self, site_id: str) -> dict[str, str]:
        """What was stored with the site (name, tz)."""
        raw = self.backend.site_info(site_id)
        return json.loads(raw) if raw else {"name": site_id, "tz": "UTC", "site_id": site_id}

    def close(self) -> None:
        """Close the backend."""
        self.backend.close()

    def __enter__(self) -> LedgerStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def state_json(state: CarbonState) -> str:
    """The stored form of a battery carbon state (table ``battery_state``): ``json.dumps`` of its parcels.

    ``ledger verify`` requires this exact text: a hand edit that keeps the values shows.
    """
    return json.dumps(state.to_json())


def open_ledger(path: str | Path, *, readonly: bool = False, key_dir: Path | None = None) -> LedgerStore:
    """Open (and create) an SQLite ledger: WAL mode, ``synchronous=FULL``; ``':memory:'`` for a throw-away one.

    Parameters
    ----------
    path : str or Path
        The database file.
    readonly : bool
        Open an existing ledger for reading only (SQLite ``mode=ro``): the file and its folder are
        left byte for byte as they were, and a file that is not a ledger is a ``DataFileError``.
    key_dir : Path, optional
        The sites' signing keys; default ``<path>.keys`` beside the ledger (:func:`default_key_dir`).
    """
    memory = str(path) == ":memory:" or str(path).startswith("file:")
    keys = key_dir if key_dir is not None else (None if memory else default_key_dir(path))
    return LedgerStore(SqliteBackend(path, readonly=readonly), key_dir=keys)
