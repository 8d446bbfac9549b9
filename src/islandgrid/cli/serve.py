"""``islandgrid serve SITE.toml [--twin [--speed 60] [--start T]] [--host H] [--allow-host NAME ...] [--port P]
[--token-file F] [--protect-reads] [--db LEDGER]``: device twin + controller + API in one event loop.

With ``--twin`` the five simulated devices are served over Modbus TCP on loopback (free
ports) and run ``--speed`` times faster than real time; without it the controller
connects to the ``[devices]`` addresses of the site file (real hardware, real time).
SIGINT/SIGTERM stop everything cleanly: API, controller, links, Modbus servers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from islandgrid.cli.common import err_console, friendly_errors
from islandgrid.errors import InputError, IslandgridError

TOKEN_ENV = "ISLANDGRID_API_TOKEN"
log = logging.getLogger(__name__)


def read_token(token_file: Path | None) -> str | None:
    """The API token from ``--token-file`` or ``$ISLANDGRID_API_TOKEN``; None when neither is set.

    A token file other users may read is used, with a warning saying how to fix it.
    """
    if token_file is not None:
        from islandgrid.api.auth import token_file_warning

        warning = token_file_warning(token_file)
        if warning is not None:
            err_console().print(f"[yellow]warning:[/] {warning}")
        try:
            text = token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise InputError(
                f"cannot read the token file: {exc.strerror}",
                field="--token-file",
                value=str(token_file),
                fix="give a readable file holding one line, the API token",
            ) from None
        if len(text) < 16:
            raise InputError(
                "the token is too short",
                field="--token-file",
                value=f"{len(text)} characters",
                allowed="at least 16 characters",
                fix="generate one, e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))' > token.txt`",
            )
        return text
    env = os.environ.get(TOKEN_ENV, "").strip()
    return env or None


def _check_options(speed: float, port: int) -> None:
    if not (0 < speed <= 3600):
        raise InputError(
            "speed out of range", field="--speed", value=speed, allowed="0 < speed <= 3600", fix="e.g. --speed 60"
        )
    if not (0 <= port <= 65535):
        raise InputError("not a TCP port", field="--port", value=port, allowed="0 to 65535", fix="e.g. --port 8080")


def _check_auth(token: str | None, protect_reads: bool) -> None:
    if protect_reads and token is None:
        raise InputError(
            "--protect-reads needs an API token, and none is set",
            field="--protect-reads",
            value=True,
            fix=f"give --token-file FILE (or set ${TOKEN_ENV}), or drop --protect-reads to keep reads public",
        )


def _make_server(app: Any, host: str, port: int) -> Any:
    import uvicorn

    class _Server(uvicorn.Server):
        """uvicorn without its own signal capture: serve owns SIGINT/SIGTERM for every part."""

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    return _Server(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on", access_log=False))


async def run_serve(
    site_file: Path,
    *,
    twin_mode: bool,
    speed: float,
    host: str,
    port: int,
    token: str | None,
    db: Path | None,
    start: str | None,
    protect_reads: bool = False,
    allow_hosts: tuple[str, ...] = (),
    ready: asyncio.Event | None = None,
    stop: asyncio.Event | None = None,
    bound: list[str] | None = None,
) -> None:
    """Everything ``serve`` runs, in the current event loop, until ``stop`` or a signal.

    ``protect_reads`` makes every read route need the token too (it needs one). The API
    answers requests whose ``Host`` names 127.0.0.1, localhost, [::1], ``host`` or one of
    ``allow_hosts`` (DNS rebinding). When ``bound`` is given, the API's URL is appended to it
    once it listens (tests, port 0).
    """
    _check_auth(token, protect_reads)
    import islandgrid
    from islandgrid.controller.metering import FlowSink, LedgerSink, MemorySink
    from islandgrid.controller.service import ControllerService
    from islandgrid.devices.clock import Clock, SimClock, WallClock
    from islandgrid.inputs.series import build_inputs
    from islandgrid.links.base import check_expected_models
    from islandgrid.links.modbus import Endpoint, ModbusLink
    from islandgrid.twin.server import TwinServers
    from islandgrid.twin.twin import Twin, profile_from_inputs

    console = err_console()
    site = islandgrid.load_site(site_file)
    if not twin_mode:  # before anything starts: a [devices] model the role never uses is a typo
        names = ports_of(site.devices)
        check_expected_models({n: getattr(site.devices, n).model for n in names}, f"{site.source} [devices]")
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    handled = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
            handled.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread (tests)
            pass

    servers: TwinServers | None = None
    twin: Twin | None = None
    clock: Clock
    sink: FlowSink = MemorySink()
    tasks: list[asyncio.Task[None]] = []
    link: ModbusLink | None = None
    web: Any = None
    try:
        if db is not None:
            try:
                sink = LedgerSink(str(db))
            except ImportError:
                console.print("[yellow]warning:[/] islandgrid.ledger is not installed; metered flows stay in memory")
        resume = resume_start(site, start, ledger_end_epoch_s(sink, site), twin_mode)
        if resume is not None and start is None:
            console.print(f"the ledger's last record ends at {resume.isoformat()}: the twin starts there")
            start = resume.isoformat()
        inputs = build_inputs(site)
        if twin_mode:
            twin = Twin(site, start=start, profile=profile_from_inputs(inputs))
            servers = TwinServers(twin, host="127.0.0.1")
            ports = await servers.start()
            endpoints = {name: Endpoint("127.0.0.1", p, twin.devices[name].unit_id) for name, p in ports.items()}
            clock = SimClock(twin.start_epoch_s, speed)
            tasks.append(asyncio.create_task(twin.run(clock, stop), name="islandgrid-twin"))
            for name, p in ports.items():
                console.print(f"twin {name:<6} Modbus TCP 127.0.0.1:{p} unit {endpoints[name].unit_id}")
        else:
            d = site.devices
            addrs = {n: getattr(d, n) for n in ports_of(d)}
            endpoints = {n: Endpoint(a.host, a.port, a.unit_id, a.model) for n, a in addrs.items()}
            clock = WallClock()
        link = ModbusLink(endpoints, timeout_s=site.devices.timeout_s)
        await link.connect()
        service = ControllerService(site, link, clock, inputs, twin=twin, sink=sink)
        tasks.append(asyncio.create_task(service.run(stop), name="islandgrid-controller"))
        try:
            from islandgrid.api import create_app as make_app
            from islandgrid.api.server import exposure_warning
        except ImportError:
            console.print("[yellow]warning:[/] islandgrid.api is not installed; running without the API")
            make_app = None  # type: ignore[assignment]
        if make_app is not None:
            app = make_app(
                service,
                token=token,
                public_reads=not protect_reads,
                ledger_path=db,
                host=host,
                allow_hosts=allow_hosts,
            )
            sock = _bind(host, port)
            bound_port = int(sock.getsockname()[1])
            web = _make_server(app, host, bound_port)
            tasks.append(asyncio.create_task(_serve_web(web, sock), name="islandgrid-api"))
            while not web.started and not stop.is_set() and not tasks[-1].done():
                await asyncio.sleep(0.02)
            if tasks[-1].done() and tasks[-1].exception() is not None:
                raise InputError(
                    f"the API could not start: {tasks[-1].exception()}",
                    field="--port",
                    value=port,
                    fix="pick a free port, e.g. --port 8081",
                )
            mode = f"twin at {speed:g}x" if twin_mode else "real devices"
            auth = "token set" if token else "no token: writes refused"
            reads = "reads need the token" if protect_reads else "reads public"
            console.print(f"islandgrid serving {site.location.name} ({mode}; {auth}; {reads})")
            warning = exposure_warning(host)
            if warning is not None:
                console.print(f"[yellow]warning:[/] {warning}")
            url = f"http://{'[' + host + ']' if ':' in host else host}:{bound_port}/"
            typer.echo(url, err=False)
            if bound is not None:
                bound.append(url)
        if ready is not None:
            ready.set()
        died = await _watch(tasks, stop)
        if died is not None:
            raise IslandgridError(f"{died} stopped unexpectedly; serve stopped everything (see the log above)")
    finally:
        stop.set()
        if web is not None:
            web.should_exit = True
        await finish_tasks(tasks, console)
        if link is not None:
            await link.close()
        if servers is not None:
            await servers.close()
        sink.close()
        for sig in handled:
            loop.remove_signal_handler(sig)
        console.print("islandgrid stopped")


async def _watch(tasks: list[asyncio.Task[None]], stop: asyncio.Event) -> str | None:
    """Wait for ``stop``; a task that ends before it (it crashed) is named, and everything stops."""
    stopper = asyncio.create_task(stop.wait(), name="islandgrid-stop")
    try:
        done, _ = await asyncio.wait([stopper, *tasks], return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
    early = [t for t in done if t is not stopper]
    return early[0].get_name() if early and not stop.is_set() else None


async def finish_tasks(tasks: list[asyncio.Task[None]], console: Any, timeout_s: float = 5.0) -> list[str]:
    """Wait for every task to stop; log each one that crashed or hung instead of hiding it.

    Returns the messages printed (one per task that did not stop cleanly).
    """
    out = []
    for t in tasks:
        try:
            await asyncio.wait_for(t, timeout=timeout_s)
        except asyncio.CancelledError:
            continue
        except TimeoutError:
            out.append(f"task {t.get_name()} did not stop within {timeout_s:g} s; cancelled")
        except Exception as exc:
            log.error("task %s crashed", t.get_name(), exc_info=exc)
            out.append(f"task {t.get_name()} crashed: {type(exc).__name__}: {exc}")
    for msg in out:
        console.print(f"[bold red]error:[/] {escape(msg)}", highlight=False, soft_wrap=True)
    return out


def ledger_end_epoch_s(sink: Any, site: Any) -> float | None:
    """UNIX time the ledger's last record of the site ends [s]; None without a ledger or records."""
    store = getattr(sink, "store", None)
    if store is None:
        return None
    from islandgrid.ledger.batch import site_id_of

    tip = store.tip(site_id_of(site))
    return None if tip is None else float(tip.ts.timestamp() + tip.dt_s)


def resume_start(site: Any, start: str | None, ledger_end_s: float | None, twin_mode: bool) -> Any:
    """Where the clock must start so that metered intervals follow the ledger's last record.

    Returns the ledger's end (a site-local ``pandas.Timestamp``) when the twin would otherwise start
    before it (``--start`` not given: the twin resumes there), else None.

    Raises
    ------
    InputError
        ``--start`` before the ledger's end, or real devices (wall clock) behind it: nothing could be
        written, so ``serve`` refuses to start (exit 2) instead of logging a ledger error every interval.
    """
    import pandas as pd

    if ledger_end_s is None:
        return None
    end = pd.Timestamp(ledger_end_s, unit="s", tz="UTC").tz_convert(site.location.tz)
    if not twin_mode:
        if pd.Timestamp.now(tz="UTC").timestamp() < ledger_end_s:
            raise InputError(
                "the ledger's last record ends after now: this clock is behind it, nothing could be appended",
                field="--db",
                value=f"last record ends {end.isoformat()}",
                fix="set the clock right, or give a new ledger file with --db",
            )
        return None
    if start is not None:
        ts = pd.Timestamp(start)
        ts = ts.tz_localize(site.location.tz) if ts.tzinfo is None else ts
        if ts.timestamp() < ledger_end_s:
            raise InputError(
                "the twin would start before the ledger's last record, so nothing could be appended",
                field="--start",
                value=start,
                allowed=f"at or after {end.isoformat()} (where the ledger's last record ends)",
                fix=f"--start {end.strftime('%Y-%m-%dT%H:%M:%S')} or drop --start (it resumes there), or a new --db",
            )
        return None
    if pd.Timestamp.now(tz="UTC").floor("s").timestamp() < ledger_end_s:
        return end
    return None


def _bind(host: str, port: int) -> socket.socket:
    """Bind the API socket here, so that a busy port is a clear error (exit 2), not a uvicorn exit."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise InputError(
            f"cannot listen there: {exc.strerror}",
            field="--port",
            value=f"{host}:{port}",
            fix="pick a free port (e.g. --port 8081) or stop the process holding it",
        ) from None
    sock.set_inheritable(True)
    return sock


async def _serve_web(web: Any, sock: socket.socket) -> None:
    try:
        await web.serve(sockets=[sock])
    except SystemExit as exc:  # uvicorn exits on startup failure
        raise RuntimeError(f"uvicorn stopped with code {exc.code}") from None
    finally:
        sock.close()


def ports_of(devices: Any) -> list[str]:
    """The device names of a [devices] section."""
    from islandgrid.devices.roles import DEVICE_NAMES

    return list(DEVICE_NAMES)


def register(app: typer.Typer) -> None:
    """Add the ``serve`` command to ``app``."""

    @app.command()
    @friendly_errors
    def serve(
        site_file: Annotated[Path, typer.Argument(help="The TOML site file.")],
        twin: Annotated[
            bool, typer.Option("--twin", help="Serve simulated devices on loopback and control them.")
        ] = False,
        speed: Annotated[float, typer.Option(help="Twin time per real time, e.g. 60 (--twin only).")] = 1.0,
        host: Annotated[str, typer.Option(help="API bind address.")] = "127.0.0.1",
        allow_host: Annotated[
            list[str] | None,
            typer.Option(
                help="Another name clients use in the Host header (repeatable); 127.0.0.1, localhost, [::1] "
                "and --host are always answered, any other name gets 400 (DNS rebinding)."
            ),
        ] = None,
        port: Annotated[int, typer.Option(help="API port.")] = 8080,
        token_file: Annotated[
            Path | None, typer.Option(help=f"File with the API token (else ${TOKEN_ENV}); no token: read-only.")
        ] = None,
        db: Annotated[Path | None, typer.Option(help="Carbon ledger SQLite file for the metered flows.")] = None,
        start: Annotated[
            str | None, typer.Option(help="Twin start time, e.g. '2025-06-21T06:00' (site time zone); default now.")
        ] = None,
        protect_reads: Annotated[
            bool,
            typer.Option(
                "--protect-reads", help="Reads (status, history, ledger, ...) need the token too; default public."
            ),
        ] = False,
    ) -> None:
        """Run the controller (and with --twin the device twin) with the API and dashboard."""
        _check_options(speed, port)
        if not twin and speed != 1.0:
            raise InputError(
                "--speed only applies to the twin", field="--speed", value=speed, fix="add --twin, or drop --speed"
            )
        if start is not None:
            import pandas as pd

            try:
                pd.Timestamp(start)
            except (ValueError, TypeError):
                raise InputError(
                    "not a date-time", field="--start", value=start, fix="e.g. --start 2025-06-21T06:00"
                ) from None
        token = read_token(token_file)
        _check_auth(token, protect_reads)
        asyncio.run(
            run_serve(
                site_file,
                twin_mode=twin,
                speed=speed,
                host=host,
                port=port,
                token=token,
                db=db,
                start=start,
                protect_reads=protect_reads,
                allow_hosts=tuple(allow_host or ()),
            )
        )
