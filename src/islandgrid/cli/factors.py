"""``islandgrid factors``: the emission-factor registry with provenance."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from islandgrid.cli.common import friendly_errors


def register(app: typer.Typer) -> None:
    """Add the ``factors`` command to ``app``."""

    @app.command("factors")
    @friendly_errors
    def factors(
        kind: Annotated[
            str | None, typer.Option(help="Only one kind: location, residual, fossil, fuel, lifecycle.")
        ] = None,
    ) -> None:
        """List the bundled emission factors (name@version, value, unit, year, region, publisher, source, table)."""
        from islandgrid.carbon.factors import FACTORS, REGISTRY_VERSION

        table = Table(title=f"emission factors, registry {REGISTRY_VERSION}", title_justify="left")
        for col in ("name@version", "value", "unit", "year", "region", "kind", "publisher", "source document, table"):
            table.add_column(col, overflow="fold")
        for f in FACTORS:
            if kind and f.kind != kind:
                continue
            source = f"{f.source_document}; {f.table}" if f.table else f.source_document
            table.add_row(f.ref, f"{f.value:g}", f.unit, str(f.year), f.region, f.kind, f.publisher, source)
        Console().print(table)
