"""``islandgrid strategies``: the dispatch strategies a site file or ``--strategy`` may name."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from islandgrid.cli.common import friendly_errors


def register(app: typer.Typer) -> None:
    """Add the ``strategies`` command to ``app``."""

    @app.command("strategies")
    @friendly_errors
    def strategies() -> None:
        """List the dispatch strategies (\\[simulation] strategy, --strategy) and what each does."""
        from islandgrid.dispatch.registry import strategy_summaries

        table = Table(title="dispatch strategies", title_justify="left")
        table.add_column("name", no_wrap=True)
        table.add_column("what it does", overflow="fold")
        for name, summary in strategy_summaries().items():
            table.add_row(name, summary)
        Console().print(table)
