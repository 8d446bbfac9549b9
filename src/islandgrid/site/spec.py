"""Validated, frozen specification of a site: the typed tables everything else reads.

Each section of the TOML site file maps to one model below. Every numeric field
carries its unit in its name and an allowed range; :mod:`islandgrid.site.load`
turns a violation into a :class:`~islandgrid.errors.SiteFileError` that names the
file, the field, the value, the range and the fix.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from islandgrid.carbon.spec import CarbonSpec
from islandgrid.site.compute import ComputeSpec
from islandgrid.site.scenarios import ScenarioSpec
from islandgrid.site.sizing import SizingSpec


def _fix(text: str) -> dict[str, Any]:
    """Attach a fix hint to a field; the site loader prints it with the error."""
    return {"fix": text}


def _rule(message: str, allowed: str, fix: str) -> PydanticCustomError:
    """A broken cross-field rule; the site loader prints ``allowed`` and ``fix`` with it."""
    return PydanticCustomError("site_rule", message, {"allowed": allowed, "fix": fix})


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LocationSpec(_Spec):
    """Where the site is."""

    name: str = "site"
    lat_deg: float = Field(ge=-90, le=90, json_schema_extra=_fix("latitude in decimal degrees, north positive"))
    lon_deg: float = Field(ge=-180, le=180, json_schema_extra=_fix("longitude in decimal degrees, east positive"))
    elevation_m: float = Field(default=0.0, ge=-500, le=6000, json_schema_extra=_fix("metres above sea level"))
    tz: str = Field(default="Asia/Shanghai", json_schema_extra=_fix("an IANA time zone such as 'Asia/Shanghai'"))

    @field_validator("tz")
    @classmethod
    def _known_tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {v!r}") from exc
        return v


class WeatherSpec(_Spec):
    """Weather (EPW, read with pvlib) or measured PV output (CSV, kW AC)."""

    epw: Path | None = Field(
        default=None, json_schema_extra=_fix("path to an EnergyPlus EPW file, relative to the site file")
    )
    pv_csv: Path | None = Field(
        default=None,
        json_schema_extra=_fix("path to a CSV with columns 'timestamp' and 'pv_kw' (AC), relative to the site file"),
    )
    # 100 km moves solar time by < 8 min and the sun's noon elevation by < 1 degree below 60 degrees
    # latitude, well inside the hour a typical-year row covers; a file farther away is another climate
    # (or a sign flip: lat -40.82 with the Hohhot file), so it is refused unless this is raised.
    max_distance_km: float = Field(
        default=100.0,
        gt=0,
        le=20016,
        json_schema_extra=_fix("how far the EPW's station may be from [location], in km (great circle)"),
    )

    @model_validator(mode="after")
    def _one_source(self) -> WeatherSpec:
        if (self.epw is None) == (self.pv_csv is None):
            raise ValueError("give exactly one of 'epw' or 'pv_csv'")
        return self


class PVSpec(_Spec):
    """A fixed-tilt PV array modelled with pvlib's PVWatts chain."""

    kwp: float = Field(ge=0, le=20000, json_schema_extra=_fix("DC nameplate in kWp (not Wp); 0 for no PV"))
    tilt_deg: float = Field(default=35.0, ge=0, le=90, json_schema_extra=_fix("0 = horizontal, 90 = vertical"))
    azimuth_deg: float = Field(default=180.0, ge=0, lt=360, json_schema_extra=_fix("180 = south, 90 = east"))
    losses_frac: float = Field(
        default=0.14, ge=0, le=0.5, json_schema_extra=_fix("PVWatts system losses as a fraction, 0.14 = 14 %")
    )
    dc_ac_ratio: float = Field(default=1.2, ge=0.5, le=2.5, json_schema_extra=_fix("DC kWp over inverter AC kW"))
    gamma_pdc_per_c: float = Field(
        default=-0.0037, ge=-0.01, le=0, json_schema_extra=_fix("temperature coefficient in 1/°C, e.g. -0.0037")
    )
    inverter_eta: float = Field(default=0.96, gt=0.5, le=1, json_schema_extra=_fix("nominal inverter efficiency, 0.96"))
    albedo: float = Field(default=0.2, ge=0, le=1, json_schema_extra=_fix("ground reflectance, 0.2 for grass"))


class BatterySpec(_Spec):
    """An LFP battery with a grid-forming PCS, idealised linear model."""

    energy_kwh: float = Field(
        ge=0, le=200000, json_schema_extra=_fix("usable nameplate energy in kWh (not Wh); 0 for none")
    )
    charge_kw: float = Field(ge=0, le=100000, json_schema_extra=_fix("maximum charge power in kW"))
    discharge_kw: float = Field(ge=0, le=100000, json_schema_extra=_fix("maximum discharge power in kW"))
    eta_charge: float = Field(
        default=0.96, gt=0.5, le=1, json_schema_extra=_fix("one-way charge efficiency; HOMER uses sqrt(round trip)")
    )
    eta_discharge: float = Field(default=0.96, gt=0.5, le=1, json_schema_extra=_fix("one-way discharge efficiency"))
    soc_min_frac: float = Field(
        default=0.10, ge=0, le=1, json_schema_extra=_fix("lowest state of charge as a fraction, 0.10")
    )
    soc_max_frac: float = Field(
        default=0.95, ge=0, le=1, json_schema_extra=_fix("highest state of charge as a fraction, 0.95")
    )
    soc_init_frac: float = Field(default=0.5, ge=0, le=1, json_schema_extra=_fix("state of charge at the first step"))
    reserve_frac: float = Field(
        default=0.4, ge=0, le=1, json_schema_extra=_fix("SoC held for islanding while grid-tied")
    )
    self_discharge_frac_per_day: float = Field(
        default=0.0, ge=0, le=0.1, json_schema_extra=_fix("fraction lost per day, e.g. 0.0005")
    )
    cycle_life: float = Field(
        default=6000, gt=0, le=100000, json_schema_extra=_fix("equivalent full cycles to end of life")
    )
    cycle_life_dod_frac: float = Field(
        default=0.8, gt=0, le=1, json_schema_extra=_fix("depth of discharge the cycle life is rated at")
    )

    @model_validator(mode="after")
    def _soc_order(self) -> BatterySpec:
        if self.soc_min_frac >= self.soc_max_frac:
            raise ValueError(
                f"soc_min_frac ({self.soc_min_frac}) must be below soc_max_frac ({self.soc_max_frac}); "
                "Allowed: 0 <= soc_min_frac < soc_max_frac <= 1. Fix: lower soc_min_frac or raise soc_max_frac"
            )
        for name in ("soc_init_frac", "reserve_frac"):
            v = getattr(self, name)
            if not self.soc_min_frac <= v <= self.soc_max_frac:
                raise ValueError(
                    f"{name} ({v}) must lie between soc_min_frac ({self.soc_min_frac}) and "
                    f"soc_max_frac ({self.soc_max_frac}). Fix: set {name} inside that band"
                )
        return self


class GensetSpec(_Spec):
    """A diesel genset with HOMER's linear fuel curve F = F0*Y_rated + F1*P."""

    rated_kw: float = Field(ge=0, le=20000, json_schema_extra=_fix("prime rating in kW (not W); 0 for no genset"))
    f0_l_per_h_per_kw: float | None = Field(
        default=None, ge=0, le=0.2, json_schema_extra=_fix("HOMER's no-load intercept, e.g. 0.033")
    )
    f1_l_per_kwh: float | None = Field(default=None, ge=0, le=1.0, json_schema_extra=_fix("HOMER's slope, e.g. 0.273"))
    datasheet_load_frac: list[Annotated[float, Field(gt=0, le=1.1)]] | None = Field(
        default=None, json_schema_extra=_fix("load fractions of the data-sheet points, e.g. [0.25, 0.5, 0.75, 1.0]")
    )
    datasheet_fuel_l_per_h: list[Annotated[float, Field(gt=0, le=5000)]] | None = Field(
        default=None, json_schema_extra=_fix("fuel use at those load fractions in L/h")
    )
    min_load_frac: float = Field(
        default=0.3, ge=0, le=1, json_schema_extra=_fix("minimum loading as a fraction of rated, 0.3")
    )
    min_run_min: float = Field(default=30.0, ge=0, le=1440, json_schema_extra=_fix("minimum run time in minutes"))
    # 0 = no minimum off time, as in HOMER Pro's generator model (minimum runtime only; HOMER Pro
    # manual, "Generator Inputs"); set the controller's restart lock-out from its manual where it has one
    min_off_min: float = Field(
        default=0.0, ge=0, le=1440, json_schema_extra=_fix("minimum time stopped before a restart in minutes, 0 = none")
    )
    start_delay_s: float = Field(
        default=10.0, ge=0, le=600, json_schema_extra=_fix("seconds from start command to rated power")
    )
    fuel_price_per_l: float = Field(
        default=7.5, ge=0, le=100, json_schema_extra=_fix("fuel price per litre in the site currency")
    )
    co2_kg_per_l: float = Field(default=2.68, ge=0, le=5, json_schema_extra=_fix("IPCC 2006: 74100 kg/TJ = 2.68 kg/L"))
    altitude_limit_m: float = Field(
        default=1000.0, ge=0, le=6000, json_schema_extra=_fix("altitude the rating holds to")
    )
    derate_frac_per_300m: float = Field(
        default=0.034, ge=0, le=0.2, json_schema_extra=_fix("derate per 300 m above the limit")
    )
    availability: float = Field(default=0.995, gt=0, le=1, json_schema_extra=_fix("REopt default 0.995"))
    fail_to_start_prob: float = Field(default=0.0094, ge=0, lt=1, json_schema_extra=_fix("REopt default 0.0094"))
    mttf_h: float = Field(default=1100.0, gt=0, json_schema_extra=_fix("mean time to failure while running, hours"))

    @field_validator("datasheet_load_frac", "datasheet_fuel_l_per_h")
    @classmethod
    def _rising(cls, v: list[float] | None, info: ValidationInfo) -> list[float] | None:
        """Data-sheet points rise with load: fuel use grows with output on every diesel data sheet."""
        if v is None:
            return v
        what = "load fractions" if info.field_name == "datasheet_load_frac" else "fuel figures"
        for i in range(1, len(v)):
            if v[i] <= v[i - 1]:
                raise _rule(
                    f"the data-sheet {what} must rise from point to point, but point {i + 1} ({v[i]:g}) "
                    f"is not above point {i} ({v[i - 1]:g}).",
                    "strictly increasing values, in order of rising load",
                    "list the points from the lowest to the highest load, with fuel in L/h at each",
                )
        return v

    @model_validator(mode="after")
    def _curve(self) -> GensetSpec:
        pts = (self.datasheet_load_frac, self.datasheet_fuel_l_per_h)
        if (pts[0] is None) != (pts[1] is None):
            raise ValueError("give both datasheet_load_frac and datasheet_fuel_l_per_h, or neither")
        if pts[0] is not None and pts[1] is not None and (len(pts[0]) != len(pts[1]) or len(pts[0]) < 2):
            raise ValueError("datasheet_load_frac and datasheet_fuel_l_per_h need the same length, at least 2 points")
        return self


class TouPeriod(_Spec):
    """One time-of-use band, in local time, hours [start_hour, end_hour)."""

    start_hour: int = Field(ge=0, le=23)
    end_hour: int = Field(ge=1, le=24)
    price_per_kwh: float = Field(ge=-10, le=100, json_schema_extra=_fix("import price per kWh in the site currency"))

    @model_validator(mode="after")
    def _not_empty(self) -> TouPeriod:
        if self.start_hour == self.end_hour:
            raise _rule(
                f"start_hour = end_hour = {self.start_hour}: an empty (or a whole-day) band.",
                "start_hour != end_hour; a band may wrap past midnight (22 to 6)",
                "give the band's first hour and the hour after its last; for a flat price use import_price_per_kwh",
            )
        return self

    def hours(self) -> set[int]:
        """The local hours [0, 24) the band covers (wrapping past midnight when end < start)."""
        if self.start_hour < self.end_hour:
            return set(range(self.start_hour, self.end_hour))
        return set(range(self.start_hour, 24)) | set(range(0, self.end_hour))


class StochasticOutages(_Spec):
    """A seeded outage model from SAIFI (events a year) and SAIDI (hours a year)."""

    events_per_year: float = Field(ge=0, le=2000, json_schema_extra=_fix("SAIFI, e.g. 20"))
    hours_per_year: float = Field(ge=0, le=4000, json_schema_extra=_fix("SAIDI, e.g. 40"))
    seed: int = 1


class GridSpec(_Spec):
    """The weak grid behind the point of common coupling."""

    import_kw: float = Field(
        default=1000.0, ge=0, le=100000, json_schema_extra=_fix("import limit in kW; 0 for an off-grid site")
    )
    export_kw: float = Field(
        default=0.0, ge=0, le=100000, json_schema_extra=_fix("export limit in kW; 0 when export is not allowed")
    )
    import_price_per_kwh: float = Field(
        default=0.55, ge=-10, le=100, json_schema_extra=_fix("flat price, used where no TOU band applies")
    )
    export_price_per_kwh: float = Field(default=0.0, ge=-10, le=100)
    tou: list[TouPeriod] = Field(default_factory=list)
    carbon_factor: float | str = Field(
        default="mee-inner-mongolia-2022",
        json_schema_extra=_fix("kg CO2/kWh as a number, or a factor name from `islandgrid factors`"),
    )
    carbon_csv: Path | None = Field(
        default=None, json_schema_extra=_fix("hourly CSV with 'timestamp' and 'kg_per_kwh' (a proxy)")
    )
    outages_csv: Path | None = Field(default=None, json_schema_extra=_fix("CSV with 'start' and 'end' in local time"))
    outages: StochasticOutages | None = None

    @field_validator("tou")
    @classmethod
    def _disjoint(cls, bands: list[TouPeriod]) -> list[TouPeriod]:
        for j, b in enumerate(bands):
            for i in range(j):
                common = sorted(bands[i].hours() & b.hours())
                if common:
                    raise _rule(
                        f"TOU bands {i + 1} ({bands[i].start_hour}-{bands[i].end_hour} h) and {j + 1} "
                        f"({b.start_hour}-{b.end_hour} h) overlap at hour(s) {', '.join(map(str, common))}.",
                        "bands that share no hour (hours not in any band use import_price_per_kwh)",
                        "make each band end where the next begins",
                    )
        return bands

    @model_validator(mode="after")
    def _one_outage_source(self) -> GridSpec:
        if self.outages_csv is not None and self.outages is not None:
            raise ValueError("give outages_csv or [grid.outages], not both")
        if isinstance(self.carbon_factor, float | int) and not 0 <= float(self.carbon_factor) <= 2:
            raise ValueError(
                f"carbon_factor {self.carbon_factor} kg/kWh is out of range. Allowed: 0 to 2 kg/kWh. "
                "Fix: give kg per kWh (0.6849), not g per kWh"
            )
        return self


class PueSpec(_Spec):
    """Cooling overhead: constant, or linear in outdoor dry-bulb between two temperatures."""

    kind: Literal["constant", "temperature"] = "temperature"
    value: float = Field(default=1.25, ge=1, le=3)
    winter: float = Field(default=1.15, ge=1, le=3, json_schema_extra=_fix("PUE at or below t_low_c"))
    summer: float = Field(default=1.35, ge=1, le=3, json_schema_extra=_fix("PUE at or above t_high_c"))
    t_low_c: float = Field(default=0.0, ge=-50, le=50)
    t_high_c: float = Field(default=25.0, ge=-50, le=60)

    @model_validator(mode="after")
    def _order(self) -> PueSpec:
        if self.kind == "temperature" and self.t_low_c >= self.t_high_c:
            raise ValueError("t_low_c must be below t_high_c")
        return self


class LoadSpec(_Spec):
    """IT load of the compute room plus cooling (via PUE)."""

    profile: Literal["constant", "csv", "ai_training"] = "ai_training"
    it_kw: float = Field(gt=0, le=50000, json_schema_extra=_fix("rated IT load in kW (not W)"))
    csv: Path | None = Field(
        default=None, json_schema_extra=_fix("CSV with 'timestamp' and 'it_kw' for profile = 'csv'")
    )
    utilisation_frac: float = Field(
        default=0.8, gt=0, le=1, json_schema_extra=_fix("mean IT draw over rated, for 'ai_training'")
    )
    seed: int = 7
    pue: PueSpec = Field(default_factory=PueSpec)
    critical_frac: float = Field(
        default=0.6, ge=0, le=1, json_schema_extra=_fix("share of the load that must never be shed")
    )

    @model_validator(mode="after")
    def _csv_given(self) -> LoadSpec:
        if self.profile == "csv" and self.csv is None:
            raise ValueError("profile = 'csv' needs load.csv")
        return self


#: Step lengths: any whole number of minutes that divides an hour (the same hours start every step).
Resolution = Literal["1h", "60min", "30min", "15min", "10min", "5min", "1min"]


class SimulationSpec(_Spec):
    """What to simulate and how."""

    resolution: Resolution = "1h"
    year: int = Field(default=2025, ge=1990, le=2100)
    strategy: str = Field(default="pv_first", json_schema_extra=_fix("see `islandgrid strategies`"))
    cycle_charging_setpoint_frac: float = Field(
        default=0.8, ge=0, le=1, json_schema_extra=_fix("SoC the genset charges to")
    )
    # hysteresis below the setpoint: after reaching it the genset charges again only once the SoC is this
    # far below it. At least 0.005: above the most self-discharge a battery may have in an hour
    # (self_discharge_frac_per_day <= 0.1, i.e. 0.42 %), so self-discharge alone never restarts a charge
    cycle_charging_band_frac: float = Field(
        default=0.02,
        ge=0.005,
        le=0.5,
        json_schema_extra=_fix("fraction of the battery energy below the setpoint before charging again, 0.02"),
    )


class EconomicsSpec(_Spec):
    """Costs in the site currency, real (inflation-free) terms. Set your own quotes.

    The defaults are rough 2025 China commercial figures, each with its basis below; they
    are placeholders for a project's quotes, not market data islandgrid vouches for.
    """

    currency: str = "CNY"
    # a real discount rate; HOMER's default is 8 % nominal less 2 % inflation = ~6 % real
    discount_rate_frac: float = Field(default=0.06, ge=0, le=0.5, json_schema_extra=_fix("real rate, 0.06 = 6 %"))
    project_life_years: int = Field(default=25, ge=1, le=60, json_schema_extra=_fix("HOMER's default is 25 years"))
    # CPIA PV roadmap 2023-24: distributed C&I systems ~3 CNY/Wp; O&M ~1.3 % of capex a year
    pv_capex_per_kwp: float = Field(default=3000.0, ge=0, json_schema_extra=_fix("installed cost per kWp"))
    pv_om_per_kwp_year: float = Field(default=40.0, ge=0)
    pv_life_years: float = Field(default=25.0, gt=0, le=60, json_schema_extra=_fix("module + inverter life, years"))
    # C&I LFP cabinets in China, 2024-25 tenders: ~0.9 CNY/Wh cells+racks plus ~0.3 CNY/W PCS
    battery_capex_per_kwh: float = Field(default=900.0, ge=0)
    battery_capex_per_kw: float = Field(default=300.0, ge=0)
    battery_om_per_kwh_year: float = Field(default=10.0, ge=0)
    battery_calendar_life_years: float = Field(
        default=15.0, gt=0, json_schema_extra=_fix("years before the cells are replaced regardless of cycling")
    )
    battery_pcs_life_years: float = Field(default=15.0, gt=0, json_schema_extra=_fix("power converter life, years"))
    # cycle ageing: N(DoD) = cycle_life * (cycle_life_dod_frac / DoD)^k over rainflow-counted cycles.
    # k = 1 is HOMER's lifetime-throughput model (each kWh through the cells ages them equally).
    battery_dod_exponent: float = Field(
        default=1.0, ge=0.5, le=3.0, json_schema_extra=_fix("1.0 = throughput model; > 1 ages deep cycles faster")
    )
    # ~1500 CNY/kW for a 100-200 kW Cummins-engined prime set; HOMER's default genset life 15,000 h
    genset_capex_per_kw: float = Field(default=1500.0, ge=0)
    genset_om_per_hour: float = Field(default=15.0, ge=0, json_schema_extra=_fix("O&M per running hour"))
    genset_life_hours: float = Field(default=15000.0, gt=0, json_schema_extra=_fix("HOMER default 15,000 h"))
    genset_calendar_life_years: float = Field(default=20.0, gt=0)
    replacement_cost_frac: float = Field(
        default=1.0, ge=0, le=2, json_schema_extra=_fix("replacement cost as a fraction of capex, 1.0")
    )
    carbon_price_eur_per_t: float = Field(
        default=75.36, ge=0, json_schema_extra=_fix("CBAM certificate price Q1 2026: 75.36 EUR/t")
    )
    eur_to_currency: float = Field(default=7.9, gt=0, json_schema_extra=_fix("site currency per EUR, ~7.9 CNY"))


class DeviceAddress(_Spec):
    """Where one Modbus TCP device answers, and the SunSpec model it must carry (its points are found by scanning)."""

    host: str = Field(default="127.0.0.1", json_schema_extra=_fix("an IP address or host name, e.g. '192.168.1.20'"))
    port: int = Field(ge=0, le=65535, json_schema_extra=_fix("the Modbus TCP port, usually 502; 0 = any free port"))
    unit_id: int = Field(default=1, ge=0, le=247, json_schema_extra=_fix("the Modbus unit (slave) id, 1 to 247"))
    model: int | None = Field(
        default=None,
        ge=1,
        le=65534,
        json_schema_extra=_fix("the SunSpec model ID the device must carry, e.g. 701 (PV inverter), 802 (battery)"),
    )


class DevicesSpec(_Spec):
    """The five Modbus TCP devices the controller talks to (the twin serves the same maps)."""

    pv: DeviceAddress = Field(default_factory=lambda: DeviceAddress(port=5020))
    pcs: DeviceAddress = Field(default_factory=lambda: DeviceAddress(port=5021))
    genset: DeviceAddress = Field(default_factory=lambda: DeviceAddress(port=5022))
    pcc: DeviceAddress = Field(default_factory=lambda: DeviceAddress(port=5023))
    load: DeviceAddress = Field(default_factory=lambda: DeviceAddress(port=5024))
    timeout_s: float = Field(
        default=0.5, gt=0, le=30, json_schema_extra=_fix("seconds to wait for a Modbus answer, e.g. 0.5")
    )


class ControllerSpec(_Spec):
    """The live controller: loop periods, transition limits, genset start and load shedding.

    The synchronism limits default to IEEE 1547-2018 Table 39 for small DER
    (<= 500 kVA): 0.3 Hz, 10 % voltage and 20 degrees.
    """

    fast_loop_s: float = Field(default=1.0, ge=0.05, le=60, json_schema_extra=_fix("fast-loop period in seconds, 1"))
    planning_period_min: float = Field(
        default=15.0, ge=1, le=1440, json_schema_extra=_fix("how often the strategy re-plans, in minutes, 15")
    )
    planning_horizon_h: float = Field(default=24.0, ge=1, le=168, json_schema_extra=_fix("plan length in hours"))
    nominal_hz: float = Field(
        default=50.0, ge=45, le=65, json_schema_extra=_fix("50 in China and Europe, 60 in the US")
    )
    grid_v_min_pu: float = Field(default=0.88, ge=0.5, le=1, json_schema_extra=_fix("IEEE 1547 normal band 0.88"))
    grid_v_max_pu: float = Field(default=1.10, ge=1, le=1.5, json_schema_extra=_fix("IEEE 1547 normal band 1.10"))
    grid_df_max_hz: float = Field(
        default=0.5, gt=0, le=5, json_schema_extra=_fix("largest grid frequency deviation still 'normal', 0.5 Hz")
    )
    sync_df_hz: float = Field(default=0.3, gt=0, le=2, json_schema_extra=_fix("IEEE 1547 small DER: 0.3 Hz"))
    sync_dv_frac: float = Field(default=0.10, gt=0, le=0.5, json_schema_extra=_fix("IEEE 1547 small DER: 0.10"))
    sync_dphi_deg: float = Field(default=20.0, gt=0, le=180, json_schema_extra=_fix("IEEE 1547 small DER: 20 degrees"))
    stable_grid_s: float = Field(
        default=300.0, ge=0, le=86400, json_schema_extra=_fix("seconds the grid must be normal before reconnecting")
    )
    resync_timeout_s: float = Field(
        default=120.0, gt=0, le=3600, json_schema_extra=_fix("seconds to find synchronism before giving up")
    )
    planned_island_pcc_kw: float = Field(
        default=2.0, ge=0, le=10000, json_schema_extra=_fix("PCC flow treated as zero before opening, kW")
    )
    planned_island_timeout_s: float = Field(default=60.0, gt=0, le=3600)
    genset_start_soc_frac: float = Field(
        default=0.30, ge=0, le=1, json_schema_extra=_fix("islanded: start the genset at or below this SoC")
    )
    genset_stop_soc_frac: float = Field(
        default=0.80, ge=0, le=1, json_schema_extra=_fix("islanded: stop the genset at or above this SoC")
    )
    genset_start_timeout_s: float = Field(
        default=30.0, gt=0, le=600, json_schema_extra=_fix("seconds after a start command before the attempt fails")
    )
    genset_start_retries: int = Field(default=2, ge=0, le=10, json_schema_extra=_fix("retries after a failed start"))
    genset_retry_wait_s: float = Field(default=10.0, ge=0, le=600)
    genset_retry_cooldown_s: float = Field(
        default=120.0,
        ge=0,
        le=86400,
        json_schema_extra=_fix(
            "seconds after a failed start sequence before the controller retries by itself while islanded "
            "with load at risk, e.g. 120 (0: at once)"
        ),
    )
    shed_groups: list[str] = Field(
        default_factory=lambda: ["batch", "dev", "comfort"],
        json_schema_extra=_fix("names of the non-critical load groups, the first shed first"),
    )
    shed_shares_frac: list[Annotated[float, Field(ge=0, le=1)]] = Field(
        default_factory=lambda: [0.5, 0.3, 0.2],
        json_schema_extra=_fix("each group's share of the non-critical load; they sum to 1"),
    )
    shed_autonomy_h: float = Field(
        default=2.0, ge=0, le=100, json_schema_extra=_fix("shed while the battery cannot carry the load this long")
    )
    shed_hold_s: float = Field(default=10.0, ge=0, le=3600, json_schema_extra=_fix("seconds between shed steps"))
    stale_after_s: float = Field(
        default=5.0, gt=0, le=600, json_schema_extra=_fix("telemetry older than this is stale, seconds")
    )
    blind_after_s: float = Field(
        default=10.0, gt=0, le=3600, json_schema_extra=_fix("stale this long on the PCS or PCC: safe state")
    )
    meter_interval_s: float = Field(
        default=60.0, ge=1, le=3600, json_schema_extra=_fix("ledger interval in seconds, 60")
    )

    @model_validator(mode="after")
    def _consistent(self) -> ControllerSpec:
        if len(self.shed_groups) != len(self.shed_shares_frac):
            raise ValueError(
                f"shed_groups has {len(self.shed_groups)} names but shed_shares_frac has "
                f"{len(self.shed_shares_frac)} shares. Fix: give one share per group"
            )
        if len(set(self.shed_groups)) != len(self.shed_groups):
            raise ValueError("shed_groups names must be unique. Fix: rename the duplicate")
        if self.shed_groups and abs(sum(self.shed_shares_frac) - 1.0) > 1e-6:
            raise ValueError(
                f"shed_shares_frac sums to {sum(self.shed_shares_frac):g}. Allowed: a sum of 1. "
                "Fix: give fractions of the non-critical load that add up to 1"
            )
        if len(self.shed_groups) > 16:
            raise ValueError("at most 16 shed groups (one bit each in the load meter's shed register)")
        if self.genset_start_soc_frac >= self.genset_stop_soc_frac:
            raise ValueError(
                f"genset_start_soc_frac ({self.genset_start_soc_frac}) must be below genset_stop_soc_frac "
                f"({self.genset_stop_soc_frac}). Fix: lower the start or raise the stop threshold"
            )
        return self


class Site(_Spec):
    """A whole site: one validated, frozen object built from one TOML file."""

    location: LocationSpec
    weather: WeatherSpec
    pv: PVSpec
    battery: BatterySpec
    genset: GensetSpec
    grid: GridSpec = Field(default_factory=GridSpec)
    load: LoadSpec
    simulation: SimulationSpec = Field(default_factory=SimulationSpec)
    economics: EconomicsSpec = Field(default_factory=EconomicsSpec)
    carbon: CarbonSpec = Field(default_factory=CarbonSpec)
    sizing: SizingSpec | None = None
    compute: ComputeSpec | None = None
    scenarios: ScenarioSpec = Field(default_factory=ScenarioSpec)
    controller: ControllerSpec = Field(default_factory=ControllerSpec)
    devices: DevicesSpec = Field(default_factory=DevicesSpec)
    source: Path | None = Field(default=None, exclude=True)
