"""Component models: plain numeric parameters the engine and optimisers read."""

from islandgrid.components.battery import BatteryParams, battery_params
from islandgrid.components.genset import FuelCurve, GensetParams, fit_fuel_curve, genset_params

__all__ = [
    "BatteryParams",
    "FuelCurve",
    "GensetParams",
    "battery_params",
    "fit_fuel_curve",
    "genset_params",
]
