"""``islandgrid devices scan HOST:PORT``: the commissioning engineer's first look at a SunSpec device."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from islandgrid.cli.common import err_console, friendly_errors
from islandgrid.errors import InputError


def parse_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` -> (host, port); InputError names the argument, the value and the form."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise InputError(
            "not a device address",
            field="HOST:PORT",
            value=text,
            allowed="HOST:PORT with a port 1 to 65535",
            fix="e.g. 192.168.1.20:502",
        )
    return host.strip("[]"), int(port)


def _fmt(value: float | int | str) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def register(app: typer.Typer) -> None:
    """Add the ``devices`` command group to ``app``."""
    devices = typer.Typer(help="Commission SunSpec devices on the site LAN.", no_args_is_help=True)
    app.add_typer(devices, name="devices")

    @devices.command("scan")
    @friendly_errors
    def scan_cmd(
        address: Annotated[str, typer.Argument(metavar="HOST:PORT", help="The device's Modbus TCP address.")],
        unit: Annotated[int, typer.Option("--unit", min=0, max=247, help="Modbus unit (slave) id.")] = 1,
        timeout_s: Annotated[
            float, typer.Option("--timeout", min=0.05, max=60, help="Seconds to wait for an answer.")
        ] = 2.0,
        points: Annotated[bool, typer.Option("--points/--no-points", help="List every point's live value.")] = True,
    ) -> None:
        """Find the SunSpec models of one device, show its live values with units, flag non-conformant layouts.

        Exit code 2 with one message when the connection is refused, the device does not answer, or it is
        not a SunSpec device; 1 when a layout is non-conformant; 0 otherwise.
        """
        import asyncio

        from islandgrid.errors import DeviceError
        from islandgrid.links.commission import commission_scan

        host, port = parse_address(address)
        try:
            report = asyncio.run(commission_scan(host, port, unit, timeout_s))
        except DeviceError as exc:
            err_console().print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        out = Console(highlight=False)
        s = report.scan
        out.print(f"{host}:{port} unit {unit}: SunSpec device, base address {s.base}, {len(s.models)} models")
        table = Table("model", "address", "L", "name", "status")
        for m in report.models:
            f = m.found
            status = (
                f"[red]NON-CONFORMANT: {escape(f.issue)}[/]"
                if f.issue
                else ("ok" if f.definition else "unknown, skipped")
            )
            table.add_row(str(f.model_id), str(f.address), str(f.length), escape(f.label), status)
        out.print(table)
        for issue in report.issues:
            out.print(f"[red]non-conformant:[/] {escape(issue)}")
        fits = [r for r, why in report.roles.items() if not why]
        out.print(f"controller roles it can fill: {', '.join(fits) if fits else 'none'}")
        if points:
            for m in report.models:
                if not m.points:
                    continue
                t = Table(
                    "point", "value", "units", "meaning", title=f"model {m.found.model_id} {escape(m.found.label)}"
                )
                for p in m.points:
                    t.add_row(p.name, escape(_fmt(p.value)), p.units, escape(p.label))
                out.print(t)
        if report.issues:
            raise typer.Exit(1)
