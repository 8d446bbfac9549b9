"""The SunSpec scan and point binding against hand-made register images (each rule seeded with its violation)."""

from __future__ import annotations

import asyncio

import pytest

from islandgrid.devices.roles import role
from islandgrid.devices.scan import BoundDevice, NotSunSpecError, plan_reads, scan
from islandgrid.devices.sunspec import (
    MAX_READ_REGS,
    SUNS_MARKER,
    decode_raw,
    encode_raw,
    model_def,
    to_raw,
)
from islandgrid.errors import DeviceProtocolError


class Image:
    """Registers from ``base``; reads outside raise DeviceProtocolError as a Modbus exception 2 would."""

    def __init__(self, base: int, regs: list[int]) -> None:
        self.base, self.regs = base, regs

    async def read(self, address: int, count: int) -> list[int]:
        at = address - self.base
        if at < 0 or at + count > len(self.regs):
            raise DeviceProtocolError(f"illegal data address {address}")
        return self.regs[at : at + count]


def chain(models: list[tuple[int, list[int]]]) -> list[int]:
    regs = list(SUNS_MARKER)
    for mid, body in models:
        regs += [mid, len(body), *body]
    return [*regs, 0xFFFF, 0]


def genset_body(values: dict[str, float | None], sfs: dict[str, int]) -> list[int]:
    """Model 64203 with the given engineering values (None: unimplemented) and scale factors."""
    d = model_def(64203)
    body = [0] * d.length
    for p in d.points:
        if p.type == "sunssf":
            raw = sfs.get(p.name)
        else:
            v = values.get(p.name)
            sf = sfs.get(p.sf) if isinstance(p.sf, str) else None
            raw = None if v is None else to_raw(v, sf)
        body[p.offset - 2 : p.offset - 2 + p.size] = encode_raw(p, raw)
    return body


COMMON = [0] * model_def(1).length
SFS = {"W_SF": 1, "Hz_SF": -2, "TotWh_SF": -3, "Fuel_SF": -3}
VALUES = {"Hb": 7, "St": 2, "W": 81230.0, "TotWh": 1234.5, "TotFuel": 77.5, "RunReq": 1, "WSet": 0.0, "AlmRst": 0}


def test_scan_finds_the_marker_at_any_base_and_skips_unknown_models() -> None:
    for base in (40000, 0, 50000):
        regs = chain([(1, COMMON), (64999, [0] * 9), (64203, genset_body(VALUES, SFS))])
        found = asyncio.run(scan(Image(base, regs).read))
        assert found.base == base
        assert [m.model_id for m in found.models] == [1, 64999, 64203]
        assert found.models[1].definition is None and found.models[1].issue == ""  # unknown: skipped by length
        assert found.models[2].address == base + 2 + 68 + 11 and found.issues == []


def test_scan_refuses_a_device_without_the_marker_or_with_a_broken_chain() -> None:
    with pytest.raises(NotSunSpecError, match="no SunSpec marker"):
        asyncio.run(scan(Image(40000, [0x1234] * 200).read))
    broken = chain([(1, COMMON)])[:-2]  # no end model: the chain runs off the device
    with pytest.raises(NotSunSpecError, match="no end model"):
        asyncio.run(scan(Image(40000, broken).read))


def test_a_shortened_model_is_flagged_and_not_used() -> None:
    """The twin's old layouts (203 with L = 23) are what a conformant client must not decode as garbage."""
    short = genset_body(VALUES, SFS)[:-4]
    found = asyncio.run(scan(Image(40000, chain([(1, COMMON), (64203, short)])).read))
    assert found.models[1].issue == "length L = 20, model 64203 defines 24"
    assert found.find(64203) is None
    with pytest.raises(DeviceProtocolError, match="lacks required points"):
        BoundDevice.bind(role("genset"), found)
    missing_common = asyncio.run(scan(Image(40000, chain([(64203, genset_body(VALUES, SFS))])).read))
    assert "not 1 (Common)" in missing_common.issues[0]


@pytest.mark.parametrize("sfs", [SFS, {"W_SF": 2, "Hz_SF": -1, "TotWh_SF": 0, "Fuel_SF": -1}])
def test_values_decode_with_the_devices_own_scale_factors(sfs: dict[str, int]) -> None:
    img = Image(40000, chain([(1, COMMON), (64203, genset_body(VALUES, sfs))]))
    dev = BoundDevice.bind(role("genset"), asyncio.run(scan(img.read)))
    regs = {a: img.regs[a - 40000] for a in range(40000, 40000 + len(img.regs))}
    got = dev.decode(regs)
    half_w = 0.5 * 10.0 ** sfs["W_SF"] / 1e3  # half a count [kW]
    assert got["p_kw"] == pytest.approx(81.23, abs=half_w)
    assert got["e_kwh"] == pytest.approx(1.2345, abs=0.5 * 10.0 ** sfs["TotWh_SF"] / 1e3)
    assert got["state"] == 2 and got["run_req"] == 1 and got["heartbeat"] == 7


def test_unimplemented_values_are_left_out() -> None:
    values = {**VALUES, "RunTms": None, "NStarts": None, "Hz": None}
    img = Image(40000, chain([(1, COMMON), (64203, genset_body(values, SFS))]))
    dev = BoundDevice.bind(role("genset"), asyncio.run(scan(img.read)))
    got = dev.decode({a: img.regs[a - 40000] for a in range(40000, 40000 + len(img.regs))})
    assert "run_s" not in got and "start_attempts" not in got and got["state"] == 2
    # and the markers are SunSpec's: 0xFFFF uint16, 0xFFFFFFFF uint32, 0x8000 int16 and sunssf, 0 acc
    d = model_def(64203)
    assert encode_raw(d.point("NStarts"), None) == [0xFFFF]
    assert encode_raw(d.point("RunTms"), None) == [0xFFFF, 0xFFFF]
    assert encode_raw(d.point("W_SF"), None) == [0x8000]
    assert encode_raw(d.point("TotWh"), None) == [0, 0, 0, 0]
    assert decode_raw(d.point("W"), [0x8000, 0]) is None


def test_a_moved_model_is_detected_on_the_next_reading() -> None:
    img = Image(40000, chain([(1, COMMON), (64203, genset_body(VALUES, SFS))]))
    dev = BoundDevice.bind(role("genset"), asyncio.run(scan(img.read)))
    regs = {a: img.regs[a - 40000] for a in range(40000, 40000 + len(img.regs))}
    regs[40070] = 64999
    with pytest.raises(DeviceProtocolError, match="layout changed"):
        dev.decode(regs)


def test_writes_scale_and_carry_their_enable_flag() -> None:
    img = Image(40000, chain([(1, COMMON), (64203, genset_body(VALUES, SFS))]))
    dev = BoundDevice.bind(role("genset"), asyncio.run(scan(img.read)))
    sf_addr = dev.points["p_set_kw"].sf_address
    assert sf_addr is not None
    (addr, regs), *_ = dev.encode({"p_set_kw": 55.0}, {sf_addr: 1})
    assert addr == dev.points["p_set_kw"].address and regs == [0, 5500]
    with pytest.raises(ValueError, match="read-only"):
        dev.encode({"p_kw": 1.0}, {})


def test_read_plan_never_exceeds_125_registers() -> None:
    spans = [(40000 + 7 * i, 2) for i in range(100)]
    blocks = plan_reads(spans)
    assert all(n <= MAX_READ_REGS for _, n in blocks)
    covered = {a for start, n in blocks for a in range(start, start + n)}
    assert all(a in covered and a + 1 in covered for a, _ in spans)


def test_a_32_bit_accumulator_rolling_over_keeps_counting() -> None:
    """A 203 meter's TotWhImp (acc32, Wh) rolls over at 2^32: the controller's counter keeps growing, so the
    metered interval across the rollover is the energy that flowed; a counter reset is not taken as one."""
    meter = model_def(203)
    body = [0] * meter.length
    sf = meter.point("TotWh_SF")
    body[sf.offset - 2] = 0  # Wh

    def image(imp_wh: int) -> Image:
        p = meter.point("TotWhImp")
        body[p.offset - 2 : p.offset] = encode_raw(p, imp_wh)
        for name in ("W", "W_SF", "A", "A_SF"):
            q = meter.point(name)
            body[q.offset - 2] = 0
        return Image(40000, chain([(1, COMMON), (203, body), (64205, [0] * model_def(64205).length)]))

    img = image(2**32 - 500)
    dev = BoundDevice.bind(role("load"), asyncio.run(scan(img.read)))

    def e_kwh(imp_wh: int) -> float:
        im = image(imp_wh)
        return dev.decode({a: im.regs[a - 40000] for a in range(40000, 40000 + len(im.regs))})["e_kwh"]

    before = e_kwh(2**32 - 500)
    after = e_kwh(700)  # 500 Wh to the top, then 700 Wh after the rollover
    assert after - before == pytest.approx(1.2)
    assert e_kwh(800) - after == pytest.approx(0.1)
    # a device that resets its counter (from the middle of the range) is not a rollover
    fresh = BoundDevice.bind(role("load"), asyncio.run(scan(image(2**31).read)))
    im = image(2**31)
    fresh.decode({a: im.regs[a - 40000] for a in range(40000, 40000 + len(im.regs))})
    im = image(10)
    assert fresh.decode({a: im.regs[a - 40000] for a in range(40000, 40000 + len(im.regs))})["e_kwh"] == 0.01
