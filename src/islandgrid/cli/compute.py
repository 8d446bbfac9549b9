"""``islandgrid compute slurm --api URL``: the Slurm adapter that acts on the controller's compute budget."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from islandgrid.cli.common import friendly_errors
from islandgrid.cli.serve import TOKEN_ENV, read_token
from islandgrid.errors import InputError

if TYPE_CHECKING:
    from islandgrid.scheduler.adapter import Adapter, StepReport

DEFAULT_STATE = Path("~/.local/state/islandgrid/slurm-adapter.json")


def _check(name: str, value: float, lo: float, hi: float, example: str, lo_open: bool = False) -> None:
    bad = not math.isfinite(value) or value > hi or (value <= lo if lo_open else value < lo)
    if bad:
        rng = f"{lo} < {name} <= {hi}" if lo_open else f"{lo} to {hi}"
        raise InputError("out of range", field=name, value=value, allowed=rng, fix=f"e.g. {name} {example}")


def _clock(epoch_s: float | None) -> str:
    return "" if epoch_s is None else time.strftime("%Y-%m-%d %H:%M", time.localtime(epoch_s))


def _print_report(console: Console, adapter: Adapter, report: StepReport) -> None:
    b = adapter.budget
    if b is not None:
        console.print(
            f"signal {b.signal_level} ({b.signal_reason}), budget now {b.budget_kw[0]:.1f} kW "
            f"of which PV surplus {b.green_kw[0]:.1f} kW"
        )
    console.print(
        f"{report.mode}: {report.jobs} jobs, {report.flexible} flexible, {len(report.outcomes)} actions"
        f"{' (dry run: nothing changed)' if adapter.dry_run else ''}"
    )
    if not report.outcomes:
        return
    table = Table("job", "action", "begin", "ok", "reason")
    for o in report.outcomes:
        a = o.action
        table.add_row(a.job_id, a.kind, _clock(a.begin_epoch_s), "yes" if o.ok else "NO", escape(o.error or a.reason))
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add the ``compute`` command group to ``app``."""
    compute = typer.Typer(help="The cluster side: act on the controller's compute budget.", no_args_is_help=True)
    app.add_typer(compute, name="compute")

    @compute.command("slurm")
    @friendly_errors
    def slurm(
        api: Annotated[str, typer.Option("--api", help="The controller's API, e.g. http://127.0.0.1:8080.")],
        token_file: Annotated[
            Path | None, typer.Option("--token-file", help=f"The API token (one line); default ${TOKEN_ENV}.")
        ] = None,
        interval_s: Annotated[float, typer.Option(help="Seconds between two decisions.")] = 60.0,
        fail_open_s: Annotated[
            float, typer.Option(help="Seconds without a budget before undoing every hold and begin time (fail open).")
        ] = 900.0,
        state_file: Annotated[
            Path, typer.Option(help="Where the adapter keeps the holds and begin times it set (JSON).")
        ] = DEFAULT_STATE,
        job_kw: Annotated[float, typer.Option(help="Power of a flexible job without a kw= mark, in kW.")] = 1.0,
        max_delay_h: Annotated[
            float, typer.Option(help="How long a flexible job without flex=DURATION or --deadline may wait, in hours.")
        ] = 24.0,
        green_share: Annotated[
            float, typer.Option(help="Share of a job's energy the PV surplus must cover for it to start, 0 to 1.")
        ] = 0.5,
        runs_file: Annotated[
            Path | None,
            typer.Option(help="Write finished runs (job_id,start,end,kw) here for `islandgrid report jobs --jobs`."),
        ] = None,
        slurm_conf: Annotated[
            Path | None, typer.Option(help="slurm.conf for squeue/scontrol; default Slurm's own lookup.")
        ] = None,
        once: Annotated[bool, typer.Option("--once", help="Decide and act once, print what was done, exit.")] = False,
        dry_run: Annotated[bool, typer.Option("--dry-run", help="Decide and print, change nothing.")] = False,
    ) -> None:
        """Hold, release, defer (begin time) and requeue flexible Slurm jobs by the controller's compute budget.

        A job is flexible only when its comment says so (sbatch --comment="flex ckpt kw=5.6"); no other
        job is ever touched. Without a budget for --fail-open-s the adapter undoes everything it did.
        """
        from islandgrid.scheduler.adapter import Adapter
        from islandgrid.scheduler.client import ApiClient
        from islandgrid.scheduler.decide import Options
        from islandgrid.scheduler.runs import RunsFile
        from islandgrid.scheduler.slurm import Slurm

        if not api.startswith(("http://", "https://")):
            raise InputError("not an http(s) URL", field="--api", value=api, fix="e.g. --api http://127.0.0.1:8080")
        _check("--interval-s", interval_s, 1.0, 3600.0, "60")
        _check("--fail-open-s", fail_open_s, interval_s, 86400.0, "900")
        _check("--job-kw", job_kw, 0.0, 10000.0, "1.0", lo_open=True)
        _check("--max-delay-h", max_delay_h, 0.0, 8760.0, "24", lo_open=True)
        _check("--green-share", green_share, 0.0, 1.0, "0.5")
        token = read_token(token_file)
        env = {"SLURM_CONF": str(slurm_conf)} if slurm_conf is not None else {}
        client = ApiClient(api, token)
        adapter = Adapter(
            client,
            Slurm(env),
            Options(job_kw=job_kw, max_delay_h=max_delay_h, green_share=green_share),
            state_path=state_file.expanduser(),
            fail_open_s=fail_open_s,
            dry_run=dry_run,
            runs=RunsFile(runs_file.expanduser()) if runs_file is not None else None,
        )
        console = Console()
        try:
            if once:
                _print_report(console, adapter, adapter.step())
                return
            logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
            console.print(f"islandgrid compute slurm: every {interval_s:g} s from {escape(api)}; Ctrl-C stops")
            asyncio.run(_run(adapter, interval_s))
        finally:
            client.close()


async def _run(adapter: Adapter, interval_s: float) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    adapter.event("compute_start", f"the Slurm adapter starts (every {interval_s:g} s)")
    await adapter.run(stop, interval_s)
    adapter.event("compute_stop", "the Slurm adapter stops (its holds and begin times stay; see docs/compute-live.md)")
