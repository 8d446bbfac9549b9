"""The ``[carbon]`` section of the site file: battery rule, market-based factors, certificates."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


def _fix(text: str) -> dict[str, Any]:
    return {"fix": text}


class CarbonSpec(BaseModel):
    """How carbon is attributed and reported.

    Attributes
    ----------
    battery_rule : {'pool', 'fifo'}
        The battery mixes what it stores (pool, GUIDE §4) or releases the oldest first.
    residual_factor : str or float
        Scope 2 market-based factor for everything not backed by certificates: a registry
        name or kg CO2/kWh. The default is MEE's national figure excluding market-traded
        non-fossil power, the only official residual-mix proxy in China.
    gec_frac : float
        Share of the PV energy delivered to the load that is backed by Green Electricity
        Certificates the site keeps and cancels [-]. 1 = all (PV at 0 in market-based Scope 2);
        PV whose certificates were sold counts at the residual factor.
    site_id : str or None
        The ledger's site key; by default derived from ``location.name``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    battery_rule: Literal["pool", "fifo"] = Field(
        default="pool", json_schema_extra=_fix("'pool' (mixes what it stores, GUIDE §4) or 'fifo'")
    )
    residual_factor: float | str = Field(
        default="mee-national-residual-2023",
        json_schema_extra=_fix("a factor name from `islandgrid factors` or kg CO2/kWh, e.g. 0.6096"),
    )
    gec_frac: float = Field(
        default=1.0, ge=0, le=1, json_schema_extra=_fix("share of PV-to-load backed by kept GECs, 0 to 1")
    )
    site_id: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$",
        json_schema_extra=_fix("lower-case letters, digits, '.', '_' or '-', e.g. 'horinger-ai-room'"),
    )

    @field_validator("residual_factor")
    @classmethod
    def _residual(cls, v: float | str) -> float | str:
        if isinstance(v, str):
            from islandgrid.carbon.factors import get_factor

            try:
                get_factor(v, field="carbon.residual_factor")
            except Exception as exc:
                raise ValueError(str(exc)) from None
        elif not 0 <= float(v) <= 2:
            raise ValueError(f"residual_factor {v} kg/kWh is out of range 0 to 2. Fix: give kg per kWh, not g")
        return v
