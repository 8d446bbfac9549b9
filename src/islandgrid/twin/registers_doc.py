"""``docs/registers.md``: the models and points (:mod:`islandgrid.devices.registers`), the twin's layouts
(:mod:`islandgrid.twin.images`) and its PCC relay.

Write it with ``python -m islandgrid.twin.registers_doc > docs/registers.md``.
"""

from __future__ import annotations

import sys

from islandgrid.devices.registers import models_markdown
from islandgrid.devices.roles import DEVICE_NAMES
from islandgrid.devices.states import REFUSED_NAMES
from islandgrid.devices.sunspec import model_def
from islandgrid.twin.images import UNKNOWN_VENDOR_MODEL, UNKNOWN_VENDOR_MODEL_LEN, VENDORS, layout
from islandgrid.twin.twin import relay_sync_limits

_TWIN_HEAD = """\
# The twin's devices

The twin (`islandgrid serve SITE.toml --twin`) serves the five devices on loopback, one Modbus TCP
server (port) each (default ports 5020 to 5024, the `[devices]` of the site file). It plays one of
two vendors' layouts of the same plant, so the controller is tested against both with no code
change: **conformant** (base 40000, the models in the order above) and **second_vendor** (another
base, another model order, the extra models 120 (nameplate ratings) and 64999 (an undocumented
vendor block the scan must skip), power scale factors one power of ten coarser, frequency ones
finer, and optional points left unimplemented). The twin fits each scale factor to the site's
ratings (the finest at which 1.5 x the rating fits the point's type), so `islandgrid devices scan`
shows the values of a given site. Model chains (address of each model's ID register, length L):
"""

_WIRE = """\
## Errors on the wire

| situation | answer |
|---|---|
| address outside the device's registers, or a write that covers part of a point | exception 2 (illegal data address) |
| write to a read-only or unimplemented point | exception 2 (illegal data address) |
| function code other than 3, 6, 16, 23 | exception 1 (illegal function) |
| injected `modbus_exception` fault | exception 4 (server device failure) |
| injected `modbus_timeout` fault | no answer (the client times out) |
| injected `telemetry_stale` fault | answers with a frozen image (heartbeat frozen) |

A heartbeat (`Hb`) counts 0 to 65534 and wraps (65535 is uint16's unimplemented marker). An
accumulator at 0 would read as unimplemented, so the twin's counters show at least one count.
"""

_DOC_TAIL = """\
## Breaker sync-check relay (PCC)

A close command (`BrkReq` = 2) onto a **live** bus is refused while the bus and grid sides
differ by more than the relay's limits (IEEE 1547-2018 Table 39, DER <= 500 kVA): **{df:g} Hz**,
**{dv:g} %** voltage, **{dphi:g} degrees** (the relay shows them in `SyncDHzMax`, `SyncDVPctMax`,
`SyncDPhiMax`); a close onto a dead or abnormal grid is refused too. A refused close leaves the
breaker open, sets the bits of `CloseRefused` and counts up `NCloseRefused`; the Modbus write
itself succeeds. A successful close clears `CloseRefused`. A **dead** bus closes without a
synchronism check.

| `CloseRefused` value | cause |
|---:|---|
{bits}

These limits are the device's own (`PlantConfig.sync_*_max`), set to the defaults of the
controller's `[controller]` `sync_df_hz`, `sync_dv_frac`, `sync_dphi_deg`, which decide when it *asks* to close,
and it logs every refusal as a `breaker_close_refused` event (see [controller.md](controller.md)).
"""


def twin_layouts_markdown() -> str:
    """The model chain of every twin device for each vendor."""
    lines = [_TWIN_HEAD]
    lines.append("| device | vendor | base | models (ID @ address, L) | end model |")
    lines.append("|---|---|---:|---|---:|")
    for device in DEVICE_NAMES:
        for vendor in VENDORS:
            lay = layout(device, vendor)
            at = lay.base + 2
            chain = []
            for mid in lay.models:
                length = UNKNOWN_VENDOR_MODEL_LEN if mid == UNKNOWN_VENDOR_MODEL else model_def(mid).length
                chain.append(f"{mid} @ {at}, {length}")
                at += 2 + length
            lines.append(f"| `{device}` | {vendor} | {lay.base} | {'; '.join(chain)} | {at} |")
    lines.append("")
    return "\n".join(lines)


def registers_markdown() -> str:
    """The whole of ``docs/registers.md``."""
    limits = relay_sync_limits()
    bits = "\n".join(f"| {bit} | {text} |" for bit, text in REFUSED_NAMES.items())
    tail = _DOC_TAIL.format(
        df=limits["sync_df_max_hz"], dv=100 * limits["sync_dv_max_pu"], dphi=limits["sync_dphi_max_deg"], bits=bits
    )
    return "\n".join([models_markdown(), twin_layouts_markdown(), _WIRE, tail])


if __name__ == "__main__":
    sys.stdout.write(registers_markdown())
