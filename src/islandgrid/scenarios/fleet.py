"""``islandgrid fleet FLEET.toml``: many sites, or one site at several hub locations, under scenarios.

A fleet file has one ``[fleet]`` section: ``sites`` (a list of site files), or ``site`` (one site
file) with ``[[fleet.hubs]]`` (name, lat/lon/elevation, an EPW and optionally the grid factor), and
``scenarios`` (N). Paths are relative to the fleet file. Each site runs its own design in N scenarios
(:func:`islandgrid.scenarios.study.run_site`).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from islandgrid.errors import SiteFileError
from islandgrid.scenarios.runner import ScenarioProgress
from islandgrid.scenarios.study import run_site
from islandgrid.scenarios.summary import p_targets_met
from islandgrid.site.load import load_site, site_from_dict
from islandgrid.site.spec import Site


class Hub(BaseModel):
    """One location for the fleet's site."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    lat_deg: float = Field(ge=-90, le=90)
    lon_deg: float = Field(ge=-180, le=180)
    elevation_m: float = Field(ge=-500, le=9000)
    epw: Path
    carbon_factor: float | str | None = None


class FleetSpec(BaseModel):
    """The ``[fleet]`` section."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sites: list[Path] = Field(default_factory=list)
    site: Path | None = None
    hubs: list[Hub] = Field(default_factory=list)
    scenarios: int = Field(default=100, ge=1, le=100000)


def load_fleet(path: Path) -> tuple[FleetSpec, list[Site]]:
    """Read a fleet file into its sites (validated like any site file); exit-2 errors name file and field."""
    if not path.is_file():
        raise SiteFileError("fleet file not found", source=str(path), fix="check the path")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        spec = FleetSpec.model_validate(data.get("fleet", {}))
    except tomllib.TOMLDecodeError as exc:
        raise SiteFileError(f"not valid TOML: {exc}", source=str(path), fix="fix the TOML syntax") from None
    except ValidationError as exc:
        e = exc.errors()[0]
        raise SiteFileError(
            e["msg"], source=str(path), field="fleet." + ".".join(str(p) for p in e["loc"]), value=e.get("input"),
            fix="see examples/fleet-hubs.toml",
        ) from None  # fmt: skip
    base = path.parent
    if bool(spec.sites) == (spec.site is not None):
        raise SiteFileError(
            "give either a list of site files or one site with hubs",
            source=str(path), field="fleet.sites, fleet.site",
            allowed="sites = [...] or site = '...' with [[fleet.hubs]]",
            fix="see examples/fleet-hubs.toml",
        )  # fmt: skip
    if spec.sites:
        return spec, [load_site(base / p) for p in spec.sites]
    assert spec.site is not None
    if not spec.hubs:
        raise SiteFileError("a fleet site needs [[fleet.hubs]]", source=str(path), field="fleet.hubs",
                            fix="add one [[fleet.hubs]] table per location")  # fmt: skip
    site_path = base / spec.site
    if not site_path.is_file():
        raise SiteFileError("site file not found", source=str(path), field="fleet.site", value=str(site_path),
                            fix="give a path relative to the fleet file")  # fmt: skip
    raw = tomllib.loads(site_path.read_text(encoding="utf-8"))
    sites = []
    for i, hub in enumerate(spec.hubs):
        d: dict[str, Any] = {k: (dict(v) if isinstance(v, dict) else v) for k, v in raw.items()}
        d["location"] = {**d["location"], "name": hub.name, "lat_deg": hub.lat_deg, "lon_deg": hub.lon_deg,
                         "elevation_m": hub.elevation_m}  # fmt: skip
        epw = hub.epw if hub.epw.is_absolute() else (base / hub.epw).resolve()
        d["weather"] = {**d["weather"], "epw": str(epw)}
        if hub.carbon_factor is not None:
            d["grid"] = {**d.get("grid", {}), "carbon_factor": hub.carbon_factor}
        sites.append(site_from_dict(d, source=f"{path} [fleet.hubs {i + 1}: {hub.name}]", base_dir=site_path.parent))
    return spec, sites


#: The fleet table's quantile columns: KPI, quantiles, scale.
FLEET_KPIS: tuple[tuple[str, tuple[str, ...], float], ...] = (
    ("pv_share", ("p10", "p50", "p90"), 100.0),
    ("diesel_hours", ("p50", "p90"), 1.0),
    ("unserved_critical_kwh", ("p90",), 1.0),
    ("co2_kg", ("p50", "p90"), 1e-3),
)


def run_fleet(
    sites: list[Site],
    n: int,
    *,
    seed: int | None = None,
    cluster: str | None = None,
    workers: int | None = None,
    progress: ScenarioProgress | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(one summary row per site, one row per site and scenario)."""
    rows, long = [], []
    total = n * len(sites)
    for i, site in enumerate(sites):

        def step(done: int, _n: int, off: int = i * n) -> None:
            if progress is not None:
                progress(off + done, total)

        res = run_site(site, n, seed=seed, cluster=cluster, workers=workers, progress=step)
        row: dict[str, Any] = {"site": site.location.name}
        for kpi, qs, _ in FLEET_KPIS:
            v = res.values[kpi]
            for q in qs:
                row[f"{kpi}_{q}"] = float(np.quantile(v, int(q[1:]) / 100.0))
        row["p_all_targets"] = p_targets_met(res.values).get("all", float("nan"))
        rows.append(row)
        long.append(res.frame().reset_index().assign(site=site.location.name))
    return pd.DataFrame(rows), pd.concat(long, ignore_index=True)
