"""``[devices]`` names each device by its address and the SunSpec model it must carry, nothing more."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from typer.testing import CliRunner

import islandgrid
from islandgrid.cli.main import app
from islandgrid.errors import DeviceProtocolError, InputError
from islandgrid.links.base import SunSpecSession, check_expected_models
from islandgrid.twin.twin import Twin, profile_from_inputs

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "horinger-ai-room.toml"
DEVICES = """
[devices]
pv = { host = "192.168.1.20", port = 502, unit_id = 3, model = 701 }
pcs = { host = "192.168.1.21", port = 502, model = 802 }
pcc = { host = "192.168.1.23", port = 502, model = 203 }
"""


def _site_file(tmp_path: Path, devices: str) -> Path:
    p = tmp_path / "site.toml"
    text = EXAMPLE.read_text(encoding="utf-8").replace('epw = "data/', f'epw = "{EXAMPLE.parent}/data/')
    p.write_text(text + devices, encoding="utf-8")
    return p


def test_devices_by_address_and_model(tmp_path: Path) -> None:
    site = islandgrid.load_site(_site_file(tmp_path, DEVICES))
    d = site.devices
    assert (d.pv.host, d.pv.port, d.pv.unit_id, d.pv.model) == ("192.168.1.20", 502, 3, 701)
    assert d.pcs.model == 802 and d.pcc.model == 203
    assert d.genset.model is None and d.genset.port == 5022  # not named: the defaults
    check_expected_models({n: getattr(d, n).model for n in ("pv", "pcs", "genset", "pcc", "load")})


def test_a_model_outside_the_range_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"pv\.model"):
        islandgrid.load_site(_site_file(tmp_path, "\n[devices]\npv = { port = 502, model = 0 }\n"))


def test_a_model_the_role_never_uses_names_the_field_and_the_allowed_models() -> None:
    with pytest.raises(InputError) as exc:
        check_expected_models({"pv": 203}, "site.toml [devices]")
    text = str(exc.value)
    assert "pv.model" in text and "203" in text and "701" in text and "64201" in text


def test_serve_refuses_the_wrong_model_before_starting(tmp_path: Path) -> None:
    site = _site_file(
        tmp_path,
        '\n[devices]\npcs = { host = "127.0.0.1", port = 1502, model = 701 }\n'
        'load = { host = "127.0.0.1", port = 1503, model = 802 }\n',
    )
    r = CliRunner().invoke(app, ["serve", str(site), "--port", "0"], catch_exceptions=False)
    assert r.exit_code == 2 and "load.model" in r.output and "Traceback" not in r.output


def test_a_device_without_the_expected_model_is_refused_at_binding(horinger, inputs) -> None:
    twin = Twin(horinger, start="2025-06-21 11:00", profile=profile_from_inputs(inputs))
    twin.step()

    async def read(address: int, count: int) -> list[int]:
        return twin.read("pv", address, count)

    async def write(address: int, regs: list[int]) -> None:
        twin.write("pv", address, regs)

    ok = SunSpecSession("pv", read, write, expected_model=701)
    assert asyncio.run(ok.read())["p_kw"] >= 0
    wrong = SunSpecSession("pv", read, write, expected_model=713)
    with pytest.raises(DeviceProtocolError, match="expects model 713, the device carries 1, 701, 702, 704, 64201"):
        asyncio.run(wrong.read())


def test_the_devices_table_in_controller_md_names_every_roles_models() -> None:
    from islandgrid.devices.roles import ROLES

    text = (EXAMPLE.parents[1] / "docs" / "controller.md").read_text(encoding="utf-8")
    for name, r in ROLES.items():
        row = next(line for line in text.splitlines() if line.startswith(f"| `{name}` |"))
        required = sorted({b.model for b in r.bindings if b.required})
        assert all(f" {m} " in row for m in r.models), name
        assert row.rstrip(" |").endswith(", ".join(map(str, required))), name
