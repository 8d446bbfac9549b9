"""``docs/registers.md``, rendered from the roles (:mod:`islandgrid.devices.roles`) and the model definitions.

The SunSpec models are the SunSpec Alliance's (pysunspec2's JSON); the vendor models are the JSON
files of ``devices/models``, listed here point by point. The twin's addresses are added by
:mod:`islandgrid.twin.registers_doc`.
"""

from __future__ import annotations

from islandgrid.devices.roles import ROLES, Role
from islandgrid.devices.sunspec import ModelDef, model_def, vendor_model_ids

DOC_HEAD = """\
# Device registers: SunSpec models and the controller's points

<!-- Generated from src/islandgrid/devices/roles.py, src/islandgrid/devices/models/*.json and the
     SunSpec model definitions pysunspec2 ships, by
     `python -m islandgrid.twin.registers_doc > docs/registers.md`; tests/test_hil_registers_doc.py
     fails when this file and the code differ. Edit the code or the models, then regenerate. -->

The controller drives five devices over Modbus TCP: a PV inverter, a battery PCS with its BMS, a
genset controller, the PCC meter and breaker, and the compute room's load meter. Each is a
**SunSpec** device: holding registers (read with function code 3, write with 16) from a base
address (40000, 0 or 50000) holding the marker `SunS` (`0x5375 0x6E53`), then a chain of models
(each a header: model ID, length L = registers after the header; then its points), then the end
model (`0xFFFF`, `0`). Model 1 (Common: manufacturer, model, serial number, version) comes first.

The controller finds everything by scanning (`islandgrid devices scan HOST:PORT` shows it): the
marker at 40000, else 0, else 50000; then model IDs and lengths, skipping models it does not know
by their length. It binds each of its points below to the first instance of the model that
carries it, reads the scale factors (`*_SF`, value = integer x 10^SF) with the values, and leaves
out a value the device marks unimplemented (0x8000 int16/sunssf, 0xFFFF uint16/enum16/bitfield16,
0x80000000 int32, 0xFFFFFFFF uint32, 0 accumulators, NaN float32, NUL strings). A model whose length
differs from its definition is non-conformant and not used. So it drives any conformant device,
wherever its vendor put the models and whatever scale factors it chose; a device that lacks a
*required* point (R below) is refused at the first read with one message naming the point and
model.

Standard models (1, 701, 702, 704, 713, 802, 203) have their published layouts: see the SunSpec
Information Model Reference and the model JSON files in pysunspec2 (`sunspec2/models/json`). Where
no SunSpec model fits (available PV power, PCS grid-forming control, the genset, the PCC breaker and
its sync-check relay, the room's load groups) the devices carry **vendor models** (IDs 64201 to
64205), defined below in the same JSON format (`src/islandgrid/devices/models/`), so pysunspec2 and
other SunSpec clients decode them too. The genset model is modelled on the quantities of Deep Sea
Electronics' GenComm map (status page 3, basic instrumentation page 4, accumulated instrumentation
page 7, control page 16) with SunSpec types and scale factors, not on GenComm's fixed addresses.

Conventions: power is + discharge for the PCS, + import for the PCC meter; `p_*` in kW, `e_*` in
kWh, `*_frac` and `*_pu` as fractions, frequencies in Hz. Points marked "reads back 0" are edge
commands: write 1 (or 2), the device acts and the point reads 0 again. A writable point with an
enable flag (e.g. 704 `WMaxLimPct` with `WMaxLimPctEna`) is written together with the flag = 1.
Accumulators count up and roll over (acc32 after 2^32 counts; the twin's 203 counters count whole
Wh, 4.3 GWh before a rollover); the controller counts on across a rollover.
"""


def _role_table(r: Role) -> list[str]:
    lines = [f"## `{r.device}`: {r.title}\n"]
    names = ", ".join(f"{m} ({model_def(m).label})" for m in r.models)
    lines.append(f"Models: {names}.\n")
    lines.append("| point | model | SunSpec point | type | units | scale | R/W | req. | meaning |")
    lines.append("|---|---:|---|---|---|---|---|---|---|")
    for b in r.bindings:
        p = model_def(b.model).point(b.point)
        scale = f"x {b.factor:g}" if b.factor != 1 else ""
        if b.equals is not None:
            scale = f"= {b.equals} -> 1"
        sf = f"{p.sf}" if p.sf is not None else ""
        rw = "RW" if b.writable else "R"
        req = "R" if b.required else ""
        en = "".join(f"; with `{n}` = {v}" for n, v in b.enable)
        lines.append(
            f"| `{b.name}` | {b.model} | `{b.point}`{' (' + sf + ')' if sf else ''} | {p.type} | "
            f"{p.units or '-'} | {scale} | {rw} | {req} | {b.doc}{en} |"
        )
    lines.append("")
    return lines


def _vendor_table(d: ModelDef) -> list[str]:
    lines = [f"### Model {d.model_id}: {d.label} (`{d.name}`)\n", d.description + "\n"]
    lines.append(f"Length L = {d.length} registers.\n")
    lines.append("| offset | point | type | units | SF | R/W | M/O | meaning |")
    lines.append("|---:|---|---|---|---|---|---|---|")
    lines.append(f"| 0 | `ID` | uint16 | | | R | M | model ID = {d.model_id} |")
    lines.append(f"| 1 | `L` | uint16 | | | R | M | model length = {d.length} |")
    for p in d.points:
        span = f"{p.offset}" if p.size == 1 else f"{p.offset}-{p.offset + p.size - 1}"
        sym = "; ".join(f"{k} {v}" for k, v in sorted(p.symbols.items()))
        meaning = p.label + (f" ({sym})" if sym else "")
        lines.append(
            f"| {span} | `{p.name}` | {p.type} | {p.units or ''} | {p.sf or ''} | "
            f"{'RW' if p.writable else 'R'} | {'M' if p.mandatory else 'O'} | {meaning} |"
        )
    lines.append("")
    return lines


def models_markdown() -> str:
    """The roles' point tables and the vendor models' layouts (the twin's addresses are added by the twin)."""
    lines = [DOC_HEAD]
    lines.append("# The controller's points, by device\n")
    lines.append("R/W: RW points are written by the controller; req. R: the controller refuses a device without it.\n")
    for r in ROLES.values():
        lines.extend(_role_table(r))
    lines.append("# Vendor models\n")
    lines.append("Offsets count from the model's ID register (ID = 0, L = 1, the first point at 2).\n")
    for mid in vendor_model_ids():
        lines.extend(_vendor_table(model_def(mid)))
    return "\n".join(lines)
