"""Versioned registry of emission factors, each with its provenance.

Values are from the official MEE/NBS announcements on electricity CO2 emission factors (the
2021 factors: announcement 2024 No. 12; 2022: 2024-12-20; 2023: announcement 2025 No. 47 of
2025-12-31), the 2006 IPCC Guidelines and IPCC AR5 WG3 Annex III; ``table`` names the table of
the document a value is read from. Every factor carries a ``version``: a correction to a published value is a new
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
    table : str
        The table (or section) of ``source_document`` the value is read from.
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
    table: str = ""

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
            "table": self.table,
        }


#: Changes whenever an entry is added or revised.
REGISTRY_VERSION = "2026.3"

_MEE_2022 = "MEE & NBS announcement on 2022 electricity CO2 emission factors (2024-12-20)"
_MEE_2023 = "MEE & NBS announcement on 2023 electricity CO2 emission factors (2025)"
_MEE_2021 = "MEE & NBS announcement 2024 No. 12 (2021 electricity CO2 emission factors)"

#: Where in each announcement a value is read from (Annex 1 of every MEE/NBS announcement lists the factors
#: by scope: national, regional and provincial grid averages, the national average excluding market-traded
#: non-fossil power, and the national fossil-fired average).
_T_NATIONAL = "Annex 1, national electricity average CO2 emission factor"
_T_REGIONAL = "Annex 1, regional electricity average CO2 emission factors"
_T_PROVINCIAL = "Annex 1, provincial electricity average CO2 emission factors"
_T_RESIDUAL = "Annex 1, national average excluding market-traded non-fossil power"
_T_FOSSIL = "Annex 1, national fossil-fired electricity CO2 emission factor"


def _mee(
    name: str, value: float, year: int, region: str, doc: str, table: str, kind: str = "location"
) -> EmissionFactor:
    return EmissionFactor(name, value, "kg CO2/kWh", year, region, "MEE/NBS", doc, kind, table=table)


#: The 2023 provincial factors: MEE & NBS announcement 2025 No. 47 (2025-12-31), attachment "2023 electricity CO2
#: emission factors" (www.mee.gov.cn/xxgk2018/xxgk/xxgk01/202512/W020251231726284332528.pdf), Table 3. Caveat: the
#: PDF could not be fetched where this release was prepared; the four values are read from a public transcription of
#: the complete Table 3 that reproduces every 2023 value of this registry it also lists (national 0.5306, Table 1)
#: and agrees with independent transcriptions of other Table 3 rows (Guangdong 0.4419, Sichuan 0.1564, Beijing
#: 0.5554, Shandong 0.6191). Check them against the PDF before a verified inventory (``islandgrid factors``).
_MEE_2023_NO47 = "MEE & NBS announcement 2025 No. 47 (2025-12-31): 2023 electricity CO2 emission factors"
_T3_PROVINCIAL_2023 = "Attachment Table 3, provincial electricity average CO2 emission factors (public transcription)"
FACTORS: tuple[EmissionFactor, ...] = (
    _mee("mee-national-2022", 0.5366, 2022, "China", _MEE_2022, _T_NATIONAL),
    _mee("mee-national-2023", 0.5306, 2023, "China", _MEE_2023, _T_NATIONAL),
    _mee("mee-national-residual-2022", 0.5856, 2022, "China",
         _MEE_2022 + ", national excluding market-traded non-fossil power", _T_RESIDUAL, "residual"),
    _mee("mee-national-residual-2023", 0.6096, 2023, "China",
         _MEE_2023 + ", national excluding market-traded non-fossil power", _T_RESIDUAL, "residual"),
    _mee("mee-national-fossil-2023", 0.8273, 2023, "China", _MEE_2023 + ", fossil-fired only", _T_FOSSIL, "fossil"),
    _mee("mee-north-china-2021", 0.7120, 2021, "North China grid", _MEE_2021, _T_REGIONAL),
    _mee("mee-north-china-2022", 0.6776, 2022, "North China grid", _MEE_2022, _T_REGIONAL),
    _mee("mee-north-china-2023", 0.6361, 2023, "North China grid", _MEE_2023, _T_REGIONAL),
    _mee("mee-northeast-2023", 0.5122, 2023, "Northeast China grid", _MEE_2023, _T_REGIONAL),
    _mee("mee-east-china-2023", 0.5500, 2023, "East China grid", _MEE_2023, _T_REGIONAL),
    _mee("mee-central-china-2023", 0.5271, 2023, "Central China grid", _MEE_2023, _T_REGIONAL),
    _mee("mee-northwest-2023", 0.5543, 2023, "Northwest China grid", _MEE_2023, _T_REGIONAL),
    _mee("mee-south-2023", 0.4042, 2023, "China Southern grid", _MEE_2023, _T_REGIONAL),
    _mee("mee-southwest-2023", 0.2472, 2023, "Southwest China grid", _MEE_2023, _T_REGIONAL),
    _mee("mee-inner-mongolia-2021", 0.7025, 2021, "Inner Mongolia", _MEE_2021, _T_PROVINCIAL),
    _mee("mee-inner-mongolia-2022", 0.6849, 2022, "Inner Mongolia", _MEE_2022, _T_PROVINCIAL),
    _mee("mee-ningxia-2022", 0.6423, 2022, "Ningxia", _MEE_2022, _T_PROVINCIAL),
    _mee("mee-gansu-2022", 0.4772, 2022, "Gansu", _MEE_2022, _T_PROVINCIAL),
    _mee("mee-guizhou-2022", 0.4989, 2022, "Guizhou", _MEE_2022, _T_PROVINCIAL),
    _mee("mee-inner-mongolia-2023", 0.6479, 2023, "Inner Mongolia", _MEE_2023_NO47, _T3_PROVINCIAL_2023),
    _mee("mee-ningxia-2023", 0.6187, 2023, "Ningxia", _MEE_2023_NO47, _T3_PROVINCIAL_2023),
    _mee("mee-gansu-2023", 0.4471, 2023, "Gansu", _MEE_2023_NO47, _T3_PROVINCIAL_2023),
    _mee("mee-guizhou-2023", 0.5683, 2023, "Guizhou", _MEE_2023_NO47, _T3_PROVINCIAL_2023),
    EmissionFactor(
        "ipcc-diesel-2006",
        2.68,
        "kg CO2/L",
        2006,
        "global",
        "IPCC",
        "2006 IPCC Guidelines Vol. 2 Ch. 2: 74100 kg CO2/TJ, at 0.84 kg/L and 43 MJ/kg",
        "fuel",
        table="Vol. 2 Ch. 2 Table 2.2 (gas/diesel oil, CO2)",
    ),
    EmissionFactor(
        "ipcc-diesel-2006-co2e",
        2.685,
        "kg CO2e/L",
        2006,
        "global",
        "IPCC",
        "2006 IPCC Guidelines Vol. 2 Ch. 2 (energy industries): CO2 74100 + CH4 3 x 28 + N2O 0.6 x 265"
        " (AR5 GWP100) = 74343 kg CO2e/TJ, at 0.84 kg/L and 43 MJ/kg",
        "fuel",
        table="Vol. 2 Ch. 2 Table 2.2 (energy industries, gas/diesel oil)",
    ),
    EmissionFactor(
        "pv-lifecycle-48g", 0.048, "kg CO2/kWh", 2014, "global", "IPCC AR5 WG3",
        "IPCC AR5 WG3 Annex III, utility PV median life-cycle 48 g/kWh", "lifecycle", table="Annex III Table A.III.2",
    ),
    EmissionFactor(
        "wind-lifecycle-11g", 0.011, "kg CO2/kWh", 2014, "global", "IPCC AR5 WG3",
        "IPCC AR5 WG3 Annex III, onshore wind median life-cycle 11 g/kWh", "lifecycle", table="Annex III Table A.III.2",
    ),
    EmissionFactor(
        "coal-lifecycle-820g", 0.820, "kg CO2/kWh", 2014, "global", "IPCC AR5 WG3",
        "IPCC AR5 WG3 Annex III, pulverised coal median life-cycle 820 g/kWh", "lifecycle",
        table="Annex III Table A.III.2",
    ),
)  # fmt: skip


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
