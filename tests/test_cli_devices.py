"""``islandgrid devices scan HOST:PORT``: models and live values of a twin device; one clear exit-2 message
when the connection is refused, the device does not answer, or it is not a SunSpec device."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from typer.testing import CliRunner

from helpers_served_twin import served
from islandgrid.cli.main import app
from islandgrid.twin.twin import Twin, profile_from_inputs

RUNNER = CliRunner()


def _scan(*args: str):
    return RUNNER.invoke(app, ["devices", "scan", *args], catch_exceptions=False, terminal_width=200)


@pytest.fixture(scope="module")
def twin(horinger, inputs) -> Twin:
    t = Twin(horinger, start="2025-06-21 11:00", profile=profile_from_inputs(inputs))
    for _ in range(60):
        t.step()
    return t


def test_scan_lists_models_and_live_values_with_units(twin: Twin) -> None:
    with served(twin) as ports:
        r = _scan(f"127.0.0.1:{ports['pv']}")
    assert r.exit_code == 0, r.output
    out = r.output
    assert "SunSpec device, base address 40000, 5 models" in out
    for line in ("1 ", "701", "702", "704", "64201"):
        assert line in out
    assert "controller roles it can fill: pv" in out
    # the live AC power, in W with the device's scale factor applied (10 W steps at W_SF = 1)
    pv_w = 1e3 * twin.plant.m["pv_kw"]
    row = next(line for line in out.splitlines() if line.startswith("│ W ") or line.startswith("┃ W "))
    shown = float(row.split("│")[2])
    assert abs(shown - pv_w) <= 5.0 + 1e-6 and "│ W " in row
    assert "IG-TWIN-PV" in out and "3 RUNNING" in out


def test_scan_of_the_pcs_finds_the_battery_models(twin: Twin) -> None:
    with served(twin) as ports:
        r = _scan(f"127.0.0.1:{ports['pcs']}", "--unit", "1", "--no-points")
    assert r.exit_code == 0, r.output
    assert "713" in r.output and "802" in r.output and "roles it can fill: pcs" in r.output


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _silent_server() -> Iterator[int]:
    """A TCP server that accepts and never answers (a hung device or a wrong service)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    conns: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        srv.settimeout(0.1)
        while not stop.is_set():
            try:
                conns.append(srv.accept()[0])
            except OSError:
                continue

    th = threading.Thread(target=accept, daemon=True)
    th.start()
    try:
        yield int(srv.getsockname()[1])
    finally:
        stop.set()
        th.join(2)
        for c in conns:
            c.close()
        srv.close()


def test_refused_connection_is_exit_2_with_one_message() -> None:
    r = _scan(f"127.0.0.1:{_free_port()}", "--timeout", "0.5")
    assert r.exit_code == 2
    assert "cannot connect" in r.output and "Traceback" not in r.output


def test_no_answer_is_exit_2_with_one_message() -> None:
    with _silent_server() as port:
        r = _scan(f"127.0.0.1:{port}", "--timeout", "0.3")
    assert r.exit_code == 2
    assert "no answer" in r.output and "Traceback" not in r.output


def test_a_device_that_is_not_sunspec_is_exit_2(twin: Twin) -> None:
    """A device answering every read with an exception has no 'SunS' marker at 40000, 0 or 50000."""
    twin.inject_fault("modbus_exception", {"device": "genset"})
    try:
        with served(twin) as ports:
            r = _scan(f"127.0.0.1:{ports['genset']}")
    finally:
        twin.inject_fault("clear_faults", {})
    assert r.exit_code == 2
    assert "not a SunSpec device" in r.output and "40000, 0, 50000" in r.output


@pytest.mark.parametrize("bad", ["localhost", "127.0.0.1:99999", ":502", "host:port"])
def test_a_malformed_address_is_exit_2_naming_the_form(bad: str) -> None:
    r = _scan(bad)
    assert r.exit_code == 2 and "HOST:PORT" in r.output


def test_a_non_conformant_layout_is_flagged_and_exit_1(twin: Twin) -> None:
    """The old twin's mistake: a standard model ID with a shortened layout. The scan says so, decodes nothing
    of that model, and the device fits no role; the exit code is 1."""
    from test_devices_scan import COMMON, SFS, VALUES, chain, genset_body

    dev = twin.devices["genset"]
    saved = (dev.image, dev.fault)
    dev.image = [*chain([(1, COMMON), (64203, genset_body(VALUES, SFS)[:-4])])]
    dev.fault, dev.dirty = "stale", False  # answers with this image as it is
    try:
        with served(twin) as ports:
            r = _scan(f"127.0.0.1:{ports['genset']}")
    finally:
        dev.image, dev.fault, dev.dirty = saved[0], saved[1], True
    assert r.exit_code == 1, r.output
    assert "non-conformant: model 64203 at 40070: length L = 20, model 64203 defines 24" in r.output
    assert "controller roles it can fill: none" in r.output and "model 64203 Genset" not in r.output
