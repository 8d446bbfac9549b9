"""Entry point: ``islandgrid <command>``. Each command group lives in its own module."""

from __future__ import annotations

import typer

from islandgrid.cli.common import main_guard
from islandgrid.cli.compute import register as register_compute
from islandgrid.cli.devices import register as register_devices
from islandgrid.cli.economics import register as register_economics
from islandgrid.cli.factors import register as register_factors
from islandgrid.cli.fleet import register as register_fleet
from islandgrid.cli.forecast import register as register_forecast
from islandgrid.cli.helpfmt import use_help_classes
from islandgrid.cli.ledger import register as register_ledger
from islandgrid.cli.optimize import register as register_optimize
from islandgrid.cli.regret import register as register_regret
from islandgrid.cli.report import register as register_report
from islandgrid.cli.resilience import register as register_resilience
from islandgrid.cli.serve import register as register_serve
from islandgrid.cli.simulate import register as register_simulate
from islandgrid.cli.size import register as register_size
from islandgrid.cli.strategies import register as register_strategies

app = typer.Typer(
    name="islandgrid",
    help="Plan, run and account for a PV + battery + diesel microgrid feeding a compute room.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _main() -> None:
    """Plan, run and account for a PV + battery + diesel microgrid feeding a compute room."""


register_simulate(app)
register_size(app)
register_resilience(app)
register_economics(app)
register_fleet(app)
register_forecast(app)
register_regret(app)
register_ledger(app)
register_report(app)
register_factors(app)
register_serve(app)
register_optimize(app)
register_strategies(app)
register_compute(app)
register_devices(app)
# Further command groups register here, one line each:
# (ledger / report / factors: carbon; optimize / size / resilience / forecast: planning; serve: controller)
use_help_classes(app)  # last: every command and group registered above


def run() -> None:
    """Console-script entry point."""
    main_guard(app)


if __name__ == "__main__":
    run()
