"""Device states as the registers carry them: genset, PCS, grid former and the PCC's refusal bits.

Both sides of the wire use these codes: the twin writes them, the controller reads them.
"""

from __future__ import annotations

GENSET_OFF, GENSET_STARTING, GENSET_RUNNING, GENSET_FAILED = 0, 1, 2, 3
#: Bits of the PCC's ``close_refused`` register: why the last close command was refused.
REFUSED_GRID, REFUSED_DF, REFUSED_DV, REFUSED_DPHI = 1, 2, 4, 8
REFUSED_NAMES: dict[int, str] = {
    REFUSED_GRID: "grid dead or outside the normal band",
    REFUSED_DF: "frequency difference above the sync-check limit",
    REFUSED_DV: "voltage difference above the sync-check limit",
    REFUSED_DPHI: "phase difference above the sync-check limit",
}
PCS_OFF, PCS_FOLLOW, PCS_FORM = 0, 1, 2
FORMER_DEAD, FORMER_GRID, FORMER_PCS, FORMER_GENSET = 0, 1, 2, 3
