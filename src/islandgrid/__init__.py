"""islandgrid: plan, run and account for a PV + battery + diesel microgrid feeding a compute room.

Data flow: site -> inputs -> strategy -> simulate -> carbon -> reports; the controller on top.
"""

from islandgrid.errors import IslandgridError
from islandgrid.simulate import Result, simulate
from islandgrid.site import Site, load_site

__all__ = ["IslandgridError", "Result", "Site", "load_site", "simulate"]
__version__ = "0.1.0"
