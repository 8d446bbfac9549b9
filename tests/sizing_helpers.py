"""Shared helpers for the sizing, economics and resilience tests."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import islandgrid
from islandgrid.inputs.series import InputSeries, build_inputs
from islandgrid.site.sizing import SearchRange, SizingSpec
from islandgrid.site.spec import Site

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@lru_cache(maxsize=1)
def reference_site() -> Site:
    """examples/reference-100kw-sizing.toml (the 100 kW room with a [sizing] section)."""
    return islandgrid.load_site(EXAMPLES / "reference-100kw-sizing.toml")


@lru_cache(maxsize=1)
def reference_inputs() -> InputSeries:
    """The reference site's input series (built once)."""
    return build_inputs(reference_site())


def small_spec(**targets: float | None) -> SizingSpec:
    """A coarse grid (a few hundred designs) around the reference answer."""
    return SizingSpec(
        pv_kwp=SearchRange(min=0, max=1200, step=200),
        battery_kwh=SearchRange(min=0, max=2500, step=500),
        battery_kw=SearchRange(values=[250, 500]),
        genset_kw=SearchRange(values=[100, 150]),
        **targets,  # type: ignore[arg-type]
    )
