"""``docs/registers.md``: the register maps (:mod:`islandgrid.devices.registers`) and the twin's PCC relay.

Write it with ``python -m islandgrid.twin.registers_doc > docs/registers.md``.
"""

from __future__ import annotations

import sys

from islandgrid.devices.registers import maps_markdown
from islandgrid.devices.states import REFUSED_NAMES
from islandgrid.twin.twin import relay_sync_limits

_DOC_TAIL = """\
## Breaker sync-check relay (PCC)

A close command (`breaker_req` = 2) onto a **live** bus is refused while the bus and grid sides
differ by more than the relay's limits (IEEE 1547-2018 Table 39, DER <= 500 kVA): **{df:g} Hz**,
**{dv:g} %** voltage, **{dphi:g} degrees**; a close onto a dead or abnormal grid is refused too.
A refused close leaves the breaker open, sets the bits of `close_refused` and counts up
`close_refusals`; the Modbus write itself succeeds. A successful close clears `close_refused`.
A **dead** bus closes without a synchronism check.

| `close_refused` bit | cause |
|---:|---|
{bits}

These limits are the device's own (`PlantConfig.sync_*_max`), set to the defaults of the
controller's `[controller]` `sync_df_hz`, `sync_dv_frac`, `sync_dphi_deg`, which decide when it *asks* to close,
and it logs every refusal as a `breaker_close_refused` event (see [controller.md](controller.md)).
"""


def registers_markdown() -> str:
    """The whole of ``docs/registers.md``."""
    lines = [maps_markdown()]
    limits = relay_sync_limits()
    bits = "\n".join(f"| {bit} | {text} |" for bit, text in REFUSED_NAMES.items())
    lines.append(
        _DOC_TAIL.format(
            df=limits["sync_df_max_hz"],
            dv=100 * limits["sync_dv_max_pu"],
            dphi=limits["sync_dphi_max_deg"],
            bits=bits,
        )
    )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.stdout.write(registers_markdown())
