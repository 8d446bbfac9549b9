"""Every twin device is a conformant SunSpec device, as pysunspec2's own Modbus client sees it.

pysunspec2 (the SunSpec Alliance's Python library, 1.3.7) scans each device over Modbus TCP: it must
find the expected models with no length error, and decode values equal to the twin's physics within
half a count of the scale factor the device shows (the rounding of ``value / 10**SF`` to an integer).
Both vendors' layouts are scanned (the ``twin_vendor`` fixture).
"""

from __future__ import annotations

import pytest
import sunspec2.device as ssdevice
import sunspec2.mb as mb
from sunspec2.modbus.client import SunSpecModbusClientDeviceTCP

from helpers_served_twin import served
from islandgrid.devices.roles import DEVICE_NAMES
from islandgrid.devices.sunspec import VENDOR_MODEL_DIR
from islandgrid.twin.images import UNKNOWN_VENDOR_MODEL, layout
from islandgrid.twin.twin import Twin, profile_from_inputs


@pytest.fixture
def pysunspec2_with_vendor_models():
    """pysunspec2 reads its own model JSON and, as any client given a vendor's files, ours."""
    old = list(ssdevice.get_model_defs_path())
    ssdevice.set_model_defs_path([str(VENDOR_MODEL_DIR), *old])
    yield
    ssdevice.set_model_defs_path(old)


def _defined_len(group: dict) -> int:
    """Registers of a (fixed) group per pysunspec2's type table: the length L a conformant device declares."""
    regs = sum(mb.point_type_info[p["type"]].len or p["size"] for p in group["points"])
    return regs + sum(_defined_len(g) * int(g.get("count", 1)) for g in group.get("groups", []))


def _scan(port: int, unit: int) -> SunSpecModbusClientDeviceTCP:
    d = SunSpecModbusClientDeviceTCP(slave_id=unit, ipaddr="127.0.0.1", ipport=port, timeout=2)
    d.scan()
    d.close()
    return d


def _point(d: SunSpecModbusClientDeviceTCP, model_id: int, name: str) -> tuple[float, float]:
    """(computed value, half a count) of one point: value x 10^SF and 0.5 x 10^SF."""
    model = d.models[model_id][0]
    p = getattr(model, name)
    sf_name = p.pdef.get("sf")
    sf = getattr(model, sf_name).value if sf_name else 0
    return p.cvalue, 0.5 * 10.0**sf


def _close(d: SunSpecModbusClientDeviceTCP, model_id: int, name: str, truth: float, *, counter: bool = False) -> None:
    value, half = _point(d, model_id, name)
    assert value is not None, (model_id, name)
    # a counter at 0 shows one count (0 is an accumulator's 'unimplemented' marker)
    tol = 2 * half if counter and truth < 2 * half else half
    assert abs(value - truth) <= tol + 1e-9 * max(abs(truth), 1.0), (model_id, name, value, truth, tol)


def test_pysunspec2_scans_every_twin_device(horinger, inputs, twin_vendor, pysunspec2_with_vendor_models):
    twin = Twin(horinger, start="2025-06-21 11:00", profile=profile_from_inputs(inputs), vendor=twin_vendor)
    twin.plant.pcs_p_set_kw = -40.0  # charge, so the PCS's power and counters move
    for _ in range(300):
        twin.step()
    with served(twin) as ports:
        found = {name: _scan(ports[name], twin.devices[name].unit_id) for name in DEVICE_NAMES}
        # the models each layout puts on the wire, in its order, each without a length or decoding error
        # (pysunspec2 steps over the undocumented vendor block 64999 by its length and lists it not)
        for name, d in found.items():
            lay = layout(name, twin_vendor)
            assert [m.model_id for m in d.model_list] == [mid for mid in lay.models if mid != UNKNOWN_VENDOR_MODEL]
            assert d.base_addr == lay.base
            for m in d.model_list:
                assert m.error_info == "", (name, m.model_id, m.error_info)
                assert m.model_def is not None
                assert m.model_len == _defined_len(m.model_def["group"]) - 2, (name, m.model_id)
            common = d.models[1][0]
            assert common.Mn.value == "islandgrid" and common.SN.value == f"IG-TWIN-{name.upper()}"
        p, c, m = twin.plant, twin.plant.counters, twin.plant.m
        pv, pcs, pcc, load, gen = (found[n] for n in ("pv", "pcs", "pcc", "load", "genset"))
        assert m["pv_kw"] > 10 and m["bat_kw"] < -10  # a sunny noon, charging: the values are not trivial
        _close(pv, 701, "W", 1e3 * m["pv_kw"])
        _close(pv, 701, "TotWhInj", 1e3 * c["pv_e"], counter=True)
        _close(pv, 64201, "WAvail", 1e3 * m["pv_avail_kw"])
        _close(pcs, 701, "W", 1e3 * m["bat_kw"])
        _close(pcs, 701, "TotWhAbs", 1e3 * c["bat_in_e"], counter=True)
        soc_pct = 100 * p.soc_kwh / p.cfg.battery.energy_kwh
        _close(pcs, 802, "SoC", soc_pct)
        _close(pcs, 713, "SoC", soc_pct)
        _close(pcs, 713, "WHAvail", 1e3 * p.soc_kwh)
        assert pcs.models[802][0].State.value == 3  # CONNECTED
        _close(pcc, 203, "W", 1e3 * m["grid_kw"])
        _close(pcc, 203, "TotWhImp", 1e3 * c["imp_e"], counter=True)
        _close(load, 203, "W", 1e3 * m["served_kw"])
        _close(load, 203, "TotWhImp", 1e3 * c["load_e"], counter=True)
        _close(load, 64205, "WCrit", 1e3 * m["crit_served_kw"])
        assert gen.models[64203][0].St.value == 0
        _close(gen, 64203, "TotFuel", c["fuel_l"], counter=True)
        assert pcc.models[64204][0].BrkSt.value == 1
        # the breaker opens on a grid loss, and the device says so
        with twin.lock:
            twin.inject_fault("grid_loss")
            twin.step()
        after = _scan(ports["pcc"], twin.devices["pcc"].unit_id)
        assert after.models[64204][0].BrkSt.value == 0 and after.models[64204][0].TripCause.value == 1
