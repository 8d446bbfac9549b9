"""The optional ``[scenarios]`` section: how ``--scenarios N`` draws outage, weather and load years.

Example::

    [scenarios]
    seed = 1
    yield_sd_frac = 0.039          # inter-annual PV yield spread (1 sigma)
    utilisation_sd_frac = 0.05     # year-to-year spread of the mean IT utilisation
    pue_sd = 0.03                  # year-to-year spread of the PUE (absolute)
    epws = ["data/a.epw", "data/b.epw"]   # measured weather years; without them, synthetic years

Every field has a default, so ``--scenarios N`` works on any site file without this section.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


def _fix(text: str) -> dict[str, Any]:
    return {"fix": text}


#: Year-to-year climate variability of PV yield, one standard deviation [-]: 3.9 % in
#: Thevenard & Pelland (2013), "Estimating the uncertainty in long-term photovoltaic yield
#: predictions", Solar Energy 91, 432-445 (a 10 MW system at Toronto). A planning default;
#: give the spread of your site's multi-year record where you have one.
YIELD_SD_FRAC = 0.039


class ScenarioSpec(BaseModel):
    """How scenario years are drawn (all optional)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: int = Field(default=0, ge=0, json_schema_extra=_fix("any non-negative integer"))
    epws: list[Path] = Field(
        default_factory=list, json_schema_extra=_fix("EPW files of measured years at the site, relative to the site")
    )
    pv_csvs: list[Path] = Field(
        default_factory=list,
        json_schema_extra=_fix("measured PV CSVs ('timestamp', 'pv_kw' for the site's kWp), one per year"),
    )
    weather_states: int = Field(
        default=3, ge=2, le=5, json_schema_extra=_fix("daily clear-sky-index states for resampling, 3")
    )
    yield_sd_frac: float = Field(
        default=YIELD_SD_FRAC, ge=0, le=0.3, json_schema_extra=_fix("inter-annual PV yield spread, e.g. 0.039")
    )
    utilisation_sd_frac: float = Field(
        default=0.05, ge=0, le=0.5, json_schema_extra=_fix("spread of the IT load level as a fraction, e.g. 0.05")
    )
    pue_sd: float = Field(default=0.03, ge=0, le=0.5, json_schema_extra=_fix("spread of the PUE, e.g. 0.03"))
    outage_start_hour_weights: Annotated[list[Annotated[float, Field(ge=0)]], Field(min_length=24, max_length=24)] | (
        None
    ) = Field(default=None, json_schema_extra=_fix("24 non-negative weights, local hours 0-23; omit for uniform"))
    fail_to_start: bool = Field(
        default=True, json_schema_extra=_fix("draw the genset's fail-to-start per outage (genset.fail_to_start_prob)")
    )
    batch: int = Field(default=25, ge=1, le=10000, json_schema_extra=_fix("scenarios per task, e.g. 25"))

    @model_validator(mode="after")
    def _one_weather_source(self) -> ScenarioSpec:
        if self.epws and self.pv_csvs:
            raise ValueError("give scenarios.epws or scenarios.pv_csvs, not both")
        w = self.outage_start_hour_weights
        if w is not None and sum(w) <= 0:
            raise ValueError("outage_start_hour_weights must not all be 0")
        return self
