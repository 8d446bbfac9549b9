"""``islandgrid factors``: the emission-factor registry with provenance."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from islandgrid.cli.common import friendly_errors
from islandgrid.cli.helpfmt import FACTOR_KINDS


def register(app: typer.Typer) -> None:
    """Add the ``factors`` command to ``app``."""

    @app.command("factors")
    @friendly_errors
    def factors(
        kind: Annotated[str | None, typer.Option(help=f"Only one kind: {', '.join(FACTOR_KINDS)}.")] = None,
    ) -> None:
        """List the bundled emission factors (name@version, value, unit, year, region, publisher, source, table)."""
        from islandgrid.carbon.factors import FACTORS, REGISTRY_VERSION
        from islandgrid.errors import InputError

        if kind is not None and kind not in FACTOR_KINDS:
            raise InputError(
                "unknown kind of emission factor",
                field="--kind",
                value=kind,
                allowed=", ".join(FACTOR_KINDS),
                fix="pick one of those kinds, or drop --kind to list every factor",
            )

        table = Table(title=f"emission factors, registry {REGISTRY_VERSION}", title_justify="left")
        for col in ("name@version", "value", "unit", "year", "region", "kind", "publisher", "source document, table"):
            table.add_column(col, overflow="fold")
        for f in FACTORS:
            if kind and f.kind != kind:
                continue
            source = f"{f.source_document}; {f.table}" if f.table else f.source_document
            table.add_row(f.ref, f"{f.value:g}", f.unit, str(f.year), f.region, f.kind, f.publisher, source)
        Console().print(table)
