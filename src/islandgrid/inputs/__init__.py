"""Input series: weather -> PV, load, grid availability, tariff and carbon factors."""

from islandgrid.inputs.series import InputSeries, build_inputs, make_index

__all__ = ["InputSeries", "build_inputs", "make_index"]
