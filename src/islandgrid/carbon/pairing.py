"""Scope 2 factor pairing: the location- and market-based factors of one year, and the unmatched-load rule.

An auditor rejects a market-based figure whose residual factor is of another year than the
location-based one (issue: the 2023 national residual with the 2022 Inner Mongolia factor made
market-based 11 % lower than location-based). So:

- by default the residual factor is MEE's national average excluding market-traded non-fossil
  power (the only official residual-mix proxy in China) *of the grid factor's year*;
- a residual of another year is refused unless ``carbon.mixed_years_reason`` says why (the
  report prints the reason);
- load not matched by certificates takes the *unmatched factor* = max(residual, location factor)
  of its interval. A region's residual mix is its average with the claimed carbon-free energy
  taken out, so it cannot be below that average; the national proxy is below a coal-heavy
  province's average, and the floor keeps market-based from dropping below location-based without
  certificates (GHG Protocol Scope 2 Guidance (2015), Ch. 6.11 residual mix; the 2025 public
  consultation on its revision: unmatched consumption at a residual-mix or fossil-only factor).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from islandgrid.carbon.factors import FACTORS, EmissionFactor, get_factor
from islandgrid.errors import SiteFileError

if TYPE_CHECKING:  # annotations only: the site package validates with this module
    from islandgrid.site.spec import Site

#: How the market-based factor of unmatched load is formed (stored in the ledger's factor set).
UNMATCHED_RULE = "max(residual, location factor of the interval)"


@dataclass(frozen=True)
class Scope2Factors:
    """The two Scope 2 factors of a site and how they pair.

    Attributes
    ----------
    location : EmissionFactor or None
        The registry grid factor; None for a site-file number or an hourly CSV (no vintage).
    residual : EmissionFactor or float
        The residual factor (registry entry or kg CO2/kWh from the site file).
    mixed_years_reason : str or None
        Why a different year is allowed, when it is.
    """

    location: EmissionFactor | None
    residual: EmissionFactor | float
    mixed_years_reason: str | None

    @property
    def residual_value(self) -> float:
        """The residual factor [kg CO2/kWh]."""
        return self.residual.value if isinstance(self.residual, EmissionFactor) else float(self.residual)


def _residual_of_year(year: int) -> EmissionFactor | None:
    found = [f for f in FACTORS if f.kind == "residual" and f.year == year]
    return max(found, key=lambda f: f.version) if found else None


def scope2_factors(site: Site, source: str | None = None) -> Scope2Factors:
    """Resolve and check the site's Scope 2 factors.

    Raises
    ------
    SiteFileError
        A residual factor of another year than the grid factor without ``carbon.mixed_years_reason``,
        or a grid factor of a year with no residual factor in the registry.
    """
    g, c = site.grid, site.carbon
    named = isinstance(g.carbon_factor, str) and g.carbon_csv is None
    location = get_factor(str(g.carbon_factor), source=source) if named else None
    if c.residual_factor is None:
        residual: EmissionFactor | float | None
        if location is None:
            residual = max((f for f in FACTORS if f.kind == "residual"), key=lambda f: (f.year, f.version))
        else:
            residual = _residual_of_year(location.year)
        if residual is None:
            years = sorted({f.year for f in FACTORS if f.kind == "residual"})
            raise SiteFileError(
                f"no residual factor of the grid factor's year {location.year if location else ''} in the registry",
                source=source,
                field="grid.carbon_factor",
                value=g.carbon_factor,
                allowed=f"grid factors of a year with a residual factor: {', '.join(map(str, years))}",
                fix="pick a grid factor of one of those years, or set carbon.residual_factor and "
                "carbon.mixed_years_reason",
            )
    elif isinstance(c.residual_factor, str):
        residual = get_factor(c.residual_factor, field="carbon.residual_factor", source=source)
    else:
        residual = float(c.residual_factor)
    if (
        location is not None
        and isinstance(residual, EmissionFactor)
        and residual.year != location.year
        and not c.mixed_years_reason
    ):
        raise SiteFileError(
            f"the grid factor is of {location.year} and the residual factor of {residual.year}: an auditor rejects "
            "a mix of years",
            source=source,
            field="grid.carbon_factor, carbon.residual_factor",
            value=f"{location.ref}, {residual.ref}",
            allowed="a grid factor and a residual factor of the same year",
            fix=f"drop carbon.residual_factor (it then defaults to the national residual of {location.year}), pick "
            "factors of one year, or allow the mix with carbon.mixed_years_reason = '...' (printed in the report)",
        )
    return Scope2Factors(location, residual, c.mixed_years_reason)
