"""Versioned registry of emission factors, each with its provenance.

Values are from the official MEE/NBS announcements, IPCC 2006 and IPCC AR5 as listed in
GUIDE §3/§4. Every factor carries a ``version``: a correction to a published value is a new
version of the same name (the old one stays, so old ledgers keep resolving), and
``name@version`` is what ledgers and reports cite. :data:`REGISTRY_VERSION` changes whenever
an entry is added or revised.
"""

from __future__ import annotations

from dataclasses import dataclass

from islandgrid.errors import SiteFileError


@dataclass(frozen=True)
class EmissionFactor:
    """One emission factor and where it comes from.

    Attributes
    ----------
    name : str
        Registry key, used in site files.
    value : float
        The factor [unit].
    unit : str
        'kg CO2/kWh' or 'kg CO2/L'.
    year : int
        Data year.
    region : str
        Grid region or 'global'.
    publisher : str
        Who published it.
    source_document : str
        The document it is taken from.
    kind : str
        'location' (grid average), 'residual' (market-based residual proxy),
        'fossil', 'fuel' or 'lifecycle'.
    version : int
        Revision of this name; a corrected value is a new version.
    """

    name: str
    value: float
    unit: str
    year: int
    region: str
    publisher: str
    source_document: str
    kind: str
    version: int = 1

    @property
    def ref(self) -> str:
        """``name@version``, the citation ledgers and reports store."""
        return f"{self.name}@{self.version}"

    def as_dict(self) -> dict[str, object]:
        """All fields, for reports and the ledger's factor sets."""
        return {
            "name": self.name,
            "version": self.version,
            "value": self.value,
            "unit": self.unit,
            "year": self.year,
            "region": self.region,
            "publisher": self.publisher,
            "source_document": self.source_document,
            "kind": self.kind,
        }


#: Changes whenever an entry is added or revised.
REGISTRY_VERSION = "2026.1"

_MEE_2022 = "MEE & NBS announcement on 2022 electricity CO2 emission factors (2024-12-20)"
_MEE_2023 = "MEE & NBS announcement on 2023 electricity CO2 emission factors (2025)"
_MEE_2021 = "MEE & NBS announcement 2024 No. 12 (2021 electricity CO2 emission factors)"

FACTORS: tuple[EmissionFactor, ...] = (
    EmissionFactor("mee-national-2022", 0.5366, "kg CO2/kWh", 2022, "China", "MEE/NBS", _MEE_2022, "location"),
    EmissionFactor("mee-national-2023", 0.5306, "kg CO2/kWh", 2023, "China", "MEE/NBS", _MEE_2023, "location"),
    EmissionFactor(
        "mee-national-residual-2022",
        0.5856,
        "kg CO2/kWh",
        2022,
        "China",
        "MEE/NBS",
        _MEE_2022 + ", national excluding market-traded non-fossil power",
        "residual",
    ),
    EmissionFactor(
        "mee-national-residual-2023",
        0.6096,
        "kg CO2/kWh",
        2023,
        "China",
        "MEE/NBS",
        _MEE_2023 + ", national excluding market-traded non-fossil power",
        "residual",
    ),
    EmissionFactor(
        "mee-national-fossil-2023",
        0.8273,
        "kg CO2/kWh",
        2023,
        "China",
        "MEE/NBS",
        _MEE_2023 + ", fossil-fired only",
        "fossil",
    ),
    EmissionFactor(
        "mee-north-china-2021", 0.7120, "kg CO2/kWh", 2021, "North China grid", "MEE/NBS", _MEE_2021, "location"
    ),
    EmissionFactor(
        "mee-north-china-2022", 0.6776, "kg CO2/kWh", 2022, "North China grid", "MEE/NBS", _MEE_2022, "location"
    ),
    EmissionFactor(
        "mee-north-china-2023", 0.6361, "kg CO2/kWh", 2023, "North China grid", "MEE/NBS", _MEE_2023, "location"
    ),
    EmissionFactor(
        "mee-inner-mongolia-2021", 0.7025, "kg CO2/kWh", 2021, "Inner Mongolia", "MEE/NBS", _MEE_2021, "location"
    ),
    EmissionFactor(
        "mee-inner-mongolia-2022", 0.6849, "kg CO2/kWh", 2022, "Inner Mongolia", "MEE/NBS", _MEE_2022, "location"
    ),
    EmissionFactor("mee-ningxia-2022", 0.6423, "kg CO2/kWh", 2022, "Ningxia", "MEE/NBS", _MEE_2022, "location"),
    EmissionFactor("mee-gansu-2022", 0.4772, "kg CO2/kWh", 2022, "Gansu", "MEE/NBS", _MEE_2022, "location"),
    EmissionFactor("mee-guizhou-2022", 0.4989, "kg CO2/kWh", 2022, "Guizhou", "MEE/NBS", _MEE_2022, "location"),
    EmissionFactor(
        "ipcc-diesel-2006",
        2.68,
        "kg CO2/L",
        2006,
        "global",
        "IPCC",
        "2006 IPCC Guidelines Vol. 2 Ch. 2 Table 2.2: 74100 kg/TJ, at 0.84 kg/L and 43 MJ/kg",
        "fuel",
    ),
    EmissionFactor(
        "ipcc-diesel-2006-co2e",
        2.685,
        "kg CO2e/L",
        2006,
        "global",
        "IPCC",
        "2006 IPCC Guidelines Vol. 2 Ch. 2 Table 2.2 (energy industries): CO2 74100 + CH4 3 x 28 + N2O 0.6 x 265"
        " (AR5 GWP100) = 74343 kg CO2e/TJ, at 0.84 kg/L and 43 MJ/kg",
        "fuel",
    ),
    EmissionFactor(
        "pv-lifecycle-48g",
        0.048,
        "kg CO2/kWh",
        2014,
        "global",
        "IPCC AR5 WG3",
        "IPCC AR5 WG3 Annex III, utility PV median life-cycle 48 g/kWh",
        "lifecycle",
    ),
    EmissionFactor(
        "wind-lifecycle-11g",
        0.011,
        "kg CO2/kWh",
        2014,
        "global",
        "IPCC AR5 WG3",
        "IPCC AR5 WG3 Annex III, onshore wind median life-cycle 11 g/kWh",
        "lifecycle",
    ),
    EmissionFactor(
        "coal-lifecycle-820g",
        0.820,
        "kg CO2/kWh",
        2014,
        "global",
        "IPCC AR5 WG3",
        "IPCC AR5 WG3 Annex III, pulverised coal median life-cycle 820 g/kWh",
        "lifecycle",
    ),
)


def get_factor(name: str, field: str = "grid.carbon_factor", source: str | None = None) -> EmissionFactor:
    """Look up a factor by ``name`` or ``name@version`` (the newest version when none is given).

    Parameters
    ----------
    name : str
        Registry name, optionally with ``@version``.
    field : str
        The site-file field the name came from, for the error message.
    source : str, optional
        The file the name came from, for the error message.

    Raises
    ------
    SiteFileError
        When the name is unknown; the message lists the known names.
    """
    base, _, ver = name.partition("@")
    found = [f for f in FACTORS if f.name == base and (not ver or str(f.version) == ver)]
    if found:
        return max(found, key=lambda f: f.version)
    raise SiteFileError(
        "unknown emission factor",
        source=source,
        field=field,
        value=name,
        allowed=", ".join(f.name for f in FACTORS),
        fix="pick a name from that list or give a number in kg CO2/kWh",
    )
