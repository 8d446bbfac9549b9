"""Site description: the TOML file and its validated, frozen specification."""

from islandgrid.site.load import load_site, site_from_dict
from islandgrid.site.spec import Site

__all__ = ["Site", "load_site", "site_from_dict"]
