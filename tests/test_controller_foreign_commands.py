"""Commands from a second Modbus master (issue 9 §2): detected from the read-back, logged and alarmed as
foreign commands, and a commanded breaker open is not reported as a grid loss."""

from __future__ import annotations

import asyncio

import pytest

from islandgrid.links.inprocess import InProcessLink
from islandgrid.links.modbus import Endpoint, ModbusLink
from islandgrid.twin.rig import SteppedRig
from islandgrid.twin.server import TwinServers
from test_hil_helpers import check_invariants, fast_site

pytestmark = pytest.mark.usefixtures("twin_vendor")  # every test runs against both vendors' layouts


def test_a_foreign_breaker_open_is_not_a_grid_loss(horinger, inputs):
    """A second master writes breaker_req=1 over Modbus TCP: the site islands (the PCS forms the bus), the
    controller logs a foreign command with its alarm, reports no grid loss, and keeps the site islanded
    (somebody opened it on purpose) until an operator asks for the grid."""
    site = fast_site(horinger)
    rig = SteppedRig(site, inputs, "2025-04-01 09:00")

    async def scenario() -> None:
        await rig.run_for(30)
        servers = TwinServers(rig.twin)
        ports = await servers.start()
        other = ModbusLink({n: Endpoint("127.0.0.1", p) for n, p in ports.items()}, timeout_s=2.0)
        await other.connect()
        try:
            await other.write("pcc", {"breaker_req": 1})
        finally:
            await other.close()
            await servers.close()
        await rig.run_for(site.controller.stable_grid_s + 120)

    asyncio.run(scenario())
    svc = rig.service
    ev = svc.event_log
    kinds = ev.kinds()
    assert "unplanned_island" not in kinds and "grid_lost" not in [a["kind"] for a in svc.alarms()]
    assert not any("grid lost" in e["message"] for e in ev.since(None, 10000))
    foreign = ev.of_kind("foreign_command")
    assert (
        len(foreign) == 1 and foreign[0]["data"]["device"] == "pcc" and "another Modbus master" in foreign[0]["message"]
    )
    alarm = next(a for a in svc.alarms() if a["id"] == "foreign_command:pcc")
    assert not alarm["acknowledged"]
    st = svc.status()
    assert st["mode"] == "islanded" and st["want_island"] is True and st["grid_ok"] is True
    assert "reconnected" not in kinds and rig.twin.plant.breaker_closed is False  # not closed back by itself
    svc.request_mode("grid")
    asyncio.run(rig.run_for(site.controller.stable_grid_s + 120))
    assert svc.status()["mode"] == "grid_tied"
    b = rig.twin.plant.cfg.battery
    tr = rig.twin.plant.trace_frame()
    check_invariants(tr, b.soc_min_kwh, b.soc_max_kwh)
    assert tr.unserved_kwh.sum() == 0


def test_a_foreign_setpoint_is_detected_and_overridden(horinger, inputs):
    """A second link writes the PCS's power setpoint and the genset's run request: each is a foreign command
    naming the point, with its alarm; the controller writes its own command again at once."""
    rig = SteppedRig(fast_site(horinger), inputs, "2025-05-10 10:00")
    asyncio.run(rig.run_for(60))
    other = InProcessLink(rig.twin)
    asyncio.run(other.write("pcs", {"p_set_kw": 120.0}))
    asyncio.run(other.write("genset", {"run_req": 1}))
    assert rig.twin.plant.pcs_p_set_kw == 120.0
    asyncio.run(rig.run_for(2))
    svc = rig.service
    foreign = {(e["data"]["device"], e["data"]["point"]): e for e in svc.event_log.of_kind("foreign_command")}
    assert set(foreign) == {("pcs", "p_set_kw"), ("genset", "run_req")}
    assert foreign[("pcs", "p_set_kw")]["data"]["got"] == 120.0
    assert {"foreign_command:pcs", "foreign_command:genset"} <= {a["id"] for a in svc.alarms()}  # latched
    # the controller's own commands are written again at once
    assert rig.twin.plant.pcs_p_set_kw == pytest.approx(svc.controller.last_written[("pcs", "p_set_kw")], abs=0.1)
    assert rig.twin.plant.pcs_p_set_kw != 120.0 and not rig.twin.plant.genset_run_req
    asyncio.run(rig.run_for(30))
    assert len(svc.event_log.of_kind("foreign_command")) == 2  # its own commands are never reported


def test_a_foreign_breaker_close_while_islanded_is_reported_and_followed(horinger, inputs):
    """Islanded, the grid back but not yet stable: a second master closes the breaker (in sync, so the relay
    lets it). The controller reports a foreign command (not a reconnection of its own) and follows the
    devices: grid-tied, the PCS back to following."""
    rig = SteppedRig(fast_site(horinger), inputs, "2025-04-01 09:00")
    asyncio.run(rig.run_for(40, {10.0: ("grid_loss", {}), 30.0: ("grid_restore", {})}))
    assert rig.service.status()["mode"] == "islanded"
    rig.twin.plant.dphi_deg = 0.0
    asyncio.run(InProcessLink(rig.twin).write("pcc", {"breaker_req": 2}))
    assert rig.twin.plant.breaker_closed
    asyncio.run(rig.run_for(10))
    svc = rig.service
    foreign = svc.event_log.of_kind("foreign_command")
    assert len(foreign) == 1 and "closed by a command the controller did not send" in foreign[0]["message"]
    assert "reconnected" not in svc.event_log.kinds() and "breaker_close" not in svc.event_log.kinds()
    assert svc.status()["mode"] == "grid_tied" and any(a["id"] == "foreign_command:pcc" for a in svc.alarms())
    assert rig.twin.plant.pcs_mode_req == 1  # following again
