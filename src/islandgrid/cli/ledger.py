"""``islandgrid ledger build|import|verify|export``: the tamper-evident carbon ledger."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from islandgrid.cli.common import atomic_dir, friendly_errors
from islandgrid.cli.helpfmt import RESOLUTION_HELP, STRATEGY_HELP

if TYPE_CHECKING:
    from islandgrid.ledger.store import LedgerStore

DB = Annotated[Path, typer.Option("--db", help="The ledger database (SQLite).")]
SITE_ID = Annotated[str | None, typer.Option("--site-id", help="The chain; default from the site file.")]
#: ``--site-id`` of the commands that read a ledger and take no site file.
EVERY_CHAIN = Annotated[
    str | None, typer.Option("--site-id", help="Only this chain; default every chain in the ledger.")
]
TIP = Annotated[
    str | None,
    typer.Option("--tip", help="A published tip the chain must hold: SEQ:HASH (tells truncation from a fork) or HASH."),
]
KEY_DIR = Annotated[
    Path | None,
    typer.Option("--key-dir", help="The sites' signing keys (ledger keygen); default DB.keys beside the ledger."),
]
ONE_CHAIN = Annotated[
    str | None, typer.Option("--site-id", help="The chain; needed only when the ledger holds several.")
]


def register(app: typer.Typer) -> None:
    """Add the ``ledger`` command group to ``app``."""
    ledger = typer.Typer(help="The tamper-evident, hash-chained carbon ledger.", no_args_is_help=True)
    app.add_typer(ledger, name="ledger")

    @ledger.command("build")
    @friendly_errors
    def build(
        site_file: Annotated[Path, typer.Argument(help="The TOML site file.")],
        db: DB,
        resolution: Annotated[str | None, typer.Option(help=RESOLUTION_HELP)] = None,
        strategy: Annotated[str | None, typer.Option(help=STRATEGY_HELP)] = None,
        site_id: SITE_ID = None,
        key_dir: KEY_DIR = None,
    ) -> None:
        """Simulate a year and record every interval (quality 'estimated', flagged simulated)."""
        import islandgrid
        from islandgrid.ledger import open_ledger
        from islandgrid.ledger.record import FLAG_SIMULATED

        site = islandgrid.load_site(site_file)
        result = islandgrid.simulate(site, strategy=strategy, resolution=resolution, baseline=False)
        it_kwh = result.inputs.frame["it_kw"].to_numpy() * result.dt_h
        with open_ledger(db, key_dir=key_dir) as store:
            n = store.append_flows(
                site,
                result.flows,
                quality="estimated",
                site_id=site_id,
                grid_co2_kg_per_kwh=result.problem.grid_co2_kg_per_kwh,
                flags=FLAG_SIMULATED,
                it_kwh=it_kwh,
            )
            tip = store.tip(_sid(site, site_id))
        _done(n, db, f"{tip.seq}:{tip.hash}" if tip else "")

    @ledger.command("import")
    @friendly_errors
    def import_(
        meters: Annotated[Path, typer.Argument(help="Meter CSV, one row per interval (docs/ledger.md).")],
        db: DB,
        site_file: Annotated[Path, typer.Option("--site", help="The TOML site file (factors, battery).")],
        site_id: SITE_ID = None,
        key_dir: KEY_DIR = None,
    ) -> None:
        """Import measured interval energies; reject the whole file on any bad row."""
        import islandgrid
        from islandgrid.ledger import open_ledger
        from islandgrid.ledger.meters import read_meters

        site = islandgrid.load_site(site_file)
        data = read_meters(meters, site)  # validated before the ledger is opened: nothing half-written
        with open_ledger(db, key_dir=key_dir) as store:
            n = store.append_flows(
                site,
                data.flows,
                quality=data.quality,
                site_id=site_id,
                grid_co2_kg_per_kwh=data.grid_co2_kg_per_kwh,
                flags=data.flags,
                it_kwh=data.it_kwh,
                dt_s=data.dt_s,
            )
            tip = store.tip(_sid(site, site_id))
        filled = int((data.flags & 1).astype(bool).sum())
        if filled:
            Console(stderr=True).print(f"[yellow]{filled} missing interval(s) filled conservatively, flagged[/]")
        _done(n, db, f"{tip.seq}:{tip.hash}" if tip else "")

    @ledger.command("verify")
    @friendly_errors
    def verify(
        db: DB,
        site_id: EVERY_CHAIN = None,
        tip: TIP = None,
        pubkey: Annotated[
            str | None,
            typer.Option(
                "--pubkey", help="The site's published public key (hex, PEM or a file): the tip must be signed by it."
            ),
        ] = None,
    ) -> None:
        """Check the whole chain; exit 0 only when intact, else name the first bad record."""
        from islandgrid.ledger.signing import parse_public_key
        from islandgrid.ledger.verify import verify_chain

        key = None if pubkey is None else parse_public_key(pubkey)
        with open_existing(db) as store:
            sids = [store.known_site(site_id)] if site_id else store.sites()
            for sid in sids:
                rep = verify_chain(store, sid, tip_hash=tip, pubkey=key)
                signed = "unsigned" if rep.signature is None else f"signed by {rep.signature.public_key.hex()}"
                Console().print(
                    f"[green]intact[/]: {rep.site_id}, {rep.n_records} records, {rep.first} to {rep.last} UTC, "
                    f"{rep.gaps} gap(s) flagged; tip {rep.n_records - 1}:{rep.tip_hash} (seq:hash), {signed}",
                    highlight=False,
                )
                if rep.format_version == 1:
                    Console(stderr=True).print(
                        f"[yellow]{rep.site_id}: a format-1 chain: its site name and time zone (table sites) are not "
                        "covered by the hashes; a new chain covers them (docs/ledger.md)[/]",
                        highlight=False,
                    )

    @ledger.command("keygen")
    @friendly_errors
    def keygen(db: DB, site_id: ONE_CHAIN = None, key_dir: KEY_DIR = None) -> None:
        """Generate the site's Ed25519 key (mode 0600, beside the ledger), sign the tip, print the public key."""
        from islandgrid.ledger import open_ledger
        from islandgrid.ledger.signing import keygen as make_key
        from islandgrid.ledger.signing import public_pem

        open_existing(db).close()  # an existing ledger only: keygen adds no database
        with open_ledger(db, key_dir=key_dir) as store:
            sid = store.known_site(site_id)
            assert store.key_dir is not None
            public = make_key(store.key_dir, sid)
            sig = store.sign_tip(sid)
        Console().print(f"signing key of {sid}: {store.key_dir} (keep it there, mode 0600; never publish it)")
        Console().print(f"public key (publish it): {public.hex()}", highlight=False)
        Console().print(public_pem(public), highlight=False)
        if sig is not None:
            Console().print(f"signed tip {sig.seq}:{sig.tip.hex()}", highlight=False)

    @ledger.command("export")
    @friendly_errors
    def export(
        db: DB,
        out: Annotated[Path, typer.Option("--out", help="FILE.csv or FILE.parquet.")],
        site_id: ONE_CHAIN = None,
    ) -> None:
        """Write every record (all fields, quality, flags, hash) as CSV or Parquet."""
        from islandgrid.ledger.export import check_export_name, export_records

        check_export_name(out)
        with open_existing(db) as store:
            sid = store.known_site(site_id)
            with atomic_dir(out.parent) as tmp:
                n = export_records(store, tmp / out.name, sid)
        Console().print(f"wrote {n} records to {out}")


def _sid(site: object, site_id: str | None) -> str:
    from islandgrid.ledger.batch import site_id_of

    return site_id_of(site, site_id)  # type: ignore[arg-type]


def open_existing(db: Path) -> LedgerStore:
    """Open a ledger that must already exist, read-only: a reading command never creates or changes a file."""
    from islandgrid.errors import InputError
    from islandgrid.ledger import open_ledger

    if not Path(db).is_file():
        raise InputError("ledger not found", field="--db", value=str(db), fix="give the file 'ledger build' wrote")
    return open_ledger(db, readonly=True)


def _done(n: int, db: Path, tip: str) -> None:
    Console().print(f"appended {n} records to {db}; tip {tip} (seq:hash)", highlight=False)
    Console().print("[dim]publish the tip: `ledger verify --tip SEQ:HASH` then finds truncation and forks[/]")
