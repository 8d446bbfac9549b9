"""The ``[carbon]`` section of the site file: battery rule, market-based factors, certificates."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


def _fix(text: str) -> dict[str, Any]:
    return {"fix": text}


class CarbonSpec(BaseModel):
    """How carbon is attributed and reported.

    Attributes
    ----------
    battery_rule : {'pool', 'fifo'}
        How the battery passes on the carbon intensity it stores (the ledger's physical
        attribution): 'pool' mixes what it stores (Kang et al., Sci. Rep. 2012), 'fifo' releases
        the oldest first.
    claims_rule : {'fifo', 'pool'}
        The storage rule for claims (certificate matching, CFE score, certified PV share):
        'fifo' by default, first in, first out with losses (EnergyTag Granular Certificate
        Scheme Standard, storage), from an empty tracked stock; discharge beyond the tracked
        stock counts as fossil, never as PV.
    residual_factor : str or float or None
        Scope 2 market-based factor for load not backed by certificates: a registry name or
        kg CO2/kWh. None (the default) takes MEE's national figure excluding market-traded
        non-fossil power (the only official residual-mix proxy in China) of the grid factor's year.
    mixed_years_reason : str or None
        Allows a grid factor and a residual factor of different years; the reason is printed in
        the report. Without it such a pair is refused.
    gec_frac : float
        Share of the PV energy delivered to the load the site claims as backed by Green
        Electricity Certificates it keeps and cancels [-]. Only what ``certificates`` holds counts:
        without a register this changes nothing.
    certificates : Path or None
        The certificate register (CSV: certificate_id, mwh, period_start, period_end, retired_for).
    grid_cfe_share : float or None
        Carbon-free share of the grid's supply [-], for the hourly CFE score; None counts grid
        import as not carbon-free.
    site_id : str or None
        The ledger's site key; by default derived from ``location.name``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    battery_rule: Literal["pool", "fifo"] = Field(
        default="pool", json_schema_extra=_fix("'pool' (mixes what it stores) or 'fifo' (oldest first)")
    )
    claims_rule: Literal["fifo", "pool"] = Field(
        default="fifo", json_schema_extra=_fix("'fifo' (oldest stored energy first, with losses) or 'pool'")
    )
    residual_factor: float | str | None = Field(
        default=None,
        json_schema_extra=_fix("a factor name from `islandgrid factors` of the grid factor's year, or kg CO2/kWh"),
    )
    mixed_years_reason: str | None = Field(
        default=None,
        min_length=10,
        max_length=500,
        json_schema_extra=_fix("a sentence saying why factors of different years are used (printed in the report)"),
    )
    gec_frac: float = Field(
        default=0.0, ge=0, le=1, json_schema_extra=_fix("share of PV-to-load claimed as backed by kept GECs, 0 to 1")
    )
    certificates: Path | None = Field(
        default=None,
        json_schema_extra=_fix("CSV with certificate_id, mwh, period_start, period_end, retired_for"),
    )
    grid_cfe_share: float | None = Field(
        default=None, ge=0, le=1, json_schema_extra=_fix("carbon-free share of grid supply, 0 to 1")
    )
    site_id: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$",
        json_schema_extra=_fix("lower-case letters, digits, '.', '_' or '-', e.g. 'horinger-ai-room'"),
    )

    @field_validator("residual_factor")
    @classmethod
    def _residual(cls, v: float | str | None) -> float | str | None:
        if v is None:
            return v
        if isinstance(v, str):
            from islandgrid.carbon.factors import get_factor

            try:
                get_factor(v, field="carbon.residual_factor")
            except Exception as exc:
                raise ValueError(str(exc)) from None
        elif not 0 <= float(v) <= 2:
            raise ValueError(f"residual_factor {v} kg/kWh is out of range 0 to 2. Fix: give kg per kWh, not g")
        return v
